"""Report the locked dependencies that have a newer release on the package index.

A report, not a check: `make outdated` prints it and always exits 0, so a release published
upstream never turns the build red. Upgrading is a deliberate change: `make upgrade-lock`, then
`make test` (README, "Dependencies").
"""

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]+\])?==([^\s#;\\]+)")
LOCKS = ("requirements.txt", "requirements-dev.txt")


def locked() -> dict[str, str]:
    """Every exact pin of the lock files, transitive dependencies included."""
    found = {}
    for name in LOCKS:
        for line in (ROOT / name).read_text().splitlines():
            match = PIN.match(line.strip())
            if match:
                found[match.group(1).lower()] = match.group(3)
    return found


def direct() -> set[str]:
    """The names listed in the input files (the ones a person chose)."""
    names = set()
    for name in ("requirements.in", "requirements-dev.in"):
        for line in (ROOT / name).read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.\-]+)", line.strip())
            if match:
                names.add(match.group(1).lower())
    return names


def newest(package: str) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - fixed command, package names from our own files
            [sys.executable, "-m", "pip", "index", "versions", package, "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"^\S+ \(([^)]+)\)", result.stdout, re.M)
    return match.group(1) if match else None


def main() -> int:
    pins = locked()
    chosen = direct()
    with ThreadPoolExecutor(max_workers=8) as pool:
        latest = dict(zip(pins, pool.map(newest, pins), strict=True))
    behind = [(p, v, latest[p]) for p, v in sorted(pins.items()) if latest[p] and latest[p] != v]
    unknown = [p for p in sorted(pins) if latest[p] is None]
    print(f"locked dependencies: {len(pins)}, with a newer release: {len(behind)}, index silent: {len(unknown)}")
    for package, version, new in behind:
        kind = "direct" if package in chosen else "transitive"
        print(f"  {package:<28} {version:<14} -> {new:<14} ({kind})")
    for package in unknown:
        print(f"  {package:<28} the package index did not answer")
    if behind:
        print("To upgrade: make upgrade-lock (or edit requirements*.in, then make lock), then make test.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
