"""The lock files pin every dependency, transitive included, with hashes (issue 11 §7)."""

import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)")
NAME = re.compile(r"^([A-Za-z0-9_.\-]+)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _entries(lock: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of each requirement of a pip-compile lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = None
    for raw in (ROOT / lock).read_text().splitlines():
        line = raw.strip()
        match = PIN.match(line)
        if match:
            current = _canonical(match.group(1))
            entries[current] = (match.group(2).rstrip("\\").strip(), [])
        elif line.startswith("--hash=") and current:
            entries[current][1].append(line.removeprefix("--hash=").rstrip("\\").strip())
        elif line and not line.startswith("#"):
            current = None
    return entries


def _inputs(name: str) -> set[str]:
    names = set()
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(_canonical(NAME.match(line).group(1)))
    return names


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_every_locked_requirement_is_exact_and_hashed(lock):
    entries = _entries(lock)
    assert entries, f"{lock} pins nothing"
    unhashed = [name for name, (_version, hashes) in entries.items() if not hashes]
    assert unhashed == []
    assert all(h.startswith("sha256:") for _v, hashes in entries.values() for h in hashes)


def test_every_direct_dependency_is_in_its_lock():
    assert _inputs("requirements.in") - set(_entries("requirements.txt")) == set()
    assert _inputs("requirements-dev.in") - set(_entries("requirements-dev.txt")) == set()


def test_runtime_and_dev_locks_agree_on_every_shared_version():
    runtime, dev = _entries("requirements.txt"), _entries("requirements-dev.txt")
    assert {n: runtime[n][0] for n in runtime} == {n: dev[n][0] for n in runtime if n in dev}
    assert set(runtime) <= set(dev)


def test_the_environment_running_the_tests_is_exactly_the_dev_lock():
    """Whatever is installed came from the lock: no floating transitive package, none missing."""
    locked = {name: version for name, (version, _h) in _entries("requirements-dev.txt").items()}
    installed = {_canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    missing = {n: v for n, v in locked.items() if installed.get(n) != v and n not in {"pip", "setuptools"}}
    assert missing == {}, f"locked but not installed at that version: {missing}"
    unlocked = sorted(set(installed) - set(locked) - {"pip", "setuptools", "wheel"})
    assert unlocked == [], f"installed but not in the lock: {unlocked}"
