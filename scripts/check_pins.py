"""Every pinned dependency is at the newest release the package index serves to this Python.

A vulnerability database cannot be reached from these machines, so staying current is the check.
Exit 1 on an outdated pin or when the index cannot answer (the check never silently skips).
"""
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]+\])?==([^\s#;]+)")


def pins() -> dict[str, str]:
    found = {}
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            match = PIN.match(line.strip())
            if match:
                found[match.group(1)] = match.group(3)
    return found


def latest(package: str) -> str | None:
    result = subprocess.run(  # noqa: S603 - fixed command, package names from our own files
        [sys.executable, "-m", "pip", "index", "versions", package, "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=120,
    )
    match = re.search(r"^\S+ \(([^)]+)\)", result.stdout, re.M)
    return match.group(1) if match else None


def main() -> int:
    wanted = pins()
    with ThreadPoolExecutor(max_workers=8) as pool:
        newest = dict(zip(wanted, pool.map(latest, wanted), strict=True))
    problems = []
    for package, version in sorted(wanted.items()):
        if newest[package] is None:
            problems.append(f"{package}: the package index did not answer")
        elif newest[package] != version:
            problems.append(f"{package}: pinned {version}, newest {newest[package]}")
    print(f"dependency pins: {len(wanted)} checked, {len(problems)} not at the newest release")
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
