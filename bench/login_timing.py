"""How long a refused login takes for a known login with a wrong password and for an unknown login,
with the production argon2 profile: the two must be indistinguishable (issue 11 §4).

The test suite proves the structure (same statements, one argon2 verification of the same cost:
tests/test_login_throttle.py); this script measures the wall time, as a benchmark, not a test.

    .venv/bin/python bench/login_timing.py [--rounds 20]

It builds the app on a throw-away SQLite database, creates one agent, then interleaves refusals
from a fresh address each time (so the throttle never answers instead) and prints the medians.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backoffice import create_app  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.models import Agent, AgentRole  # noqa: E402
from backoffice.services.auth import authenticate_agent  # noqa: E402
from backoffice.services.errors import DomainError  # noqa: E402
from backoffice.services.passwords import hash_password  # noqa: E402
from config import Config  # noqa: E402


def refuse(login: str, address: str) -> float:
    started = time.perf_counter()
    try:
        authenticate_agent(login, "mauvais mot de passe", address)
    except DomainError:
        db.session.rollback()
    else:  # pragma: no cover - the password is wrong
        raise SystemExit("a wrong password was accepted")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:

        class TimingConfig(Config):
            SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp}/timing.db"

        app = create_app(TimingConfig)
        with app.app_context():
            db.create_all()
            db.session.add(
                Agent(
                    username="agent.mesure",
                    first_name="Paul",
                    last_name="MESURE",
                    email="mesure@example.fr",
                    role=AgentRole.NATIONAL_ADMIN.value,
                    password_hash=hash_password("Une phrase de passe 2026"),
                )
            )
            db.session.commit()
            refuse("personne", "198.51.100.250")  # the dummy hash is made once per worker
            durations: dict[str, list[float]] = {"wrong password": [], "unknown login": []}
            for n in range(args.rounds):
                address = f"198.51.{n // 250}.{n % 250}"
                durations["wrong password"].append(refuse("agent.mesure", address))
                durations["unknown login"].append(refuse(f"inconnu{n}", address))
            medians = {label: statistics.median(values) * 1000 for label, values in durations.items()}
    ratio = medians["unknown login"] / medians["wrong password"]
    print(
        f"refused login, production argon2, {args.rounds} rounds: wrong password "
        f"{medians['wrong password']:.0f} ms, unknown login {medians['unknown login']:.0f} ms (ratio {ratio:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
