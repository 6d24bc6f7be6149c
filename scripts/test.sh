#!/usr/bin/env bash
# The whole suite twice: on SQLite (embedded default), then on PostgreSQL (production).
# Without PostgreSQL the second leg is skipped with a message, except with CI=true where it fails.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PG_SERVER_URL="${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}"

echo "=== Static checks: ruff lint (with bandit's S rules) and format, mypy (models and services) ==="
.venv/bin/ruff check .
ruff_status=$?
.venv/bin/ruff format --check .
format_status=$?
.venv/bin/mypy
mypy_status=$?
static_status=$(( ruff_status || format_status || mypy_status ))

echo "=== Test leg 1/2: SQLite ==="
TEST_DB=sqlite "$PY" -m pytest "$@"
sqlite_status=$?

echo "=== Test leg 2/2: PostgreSQL (${PG_SERVER_URL%%@*}@…) ==="
if "$PY" - <<'PY'
import os, sys
from sqlalchemy import create_engine, text
from config import normalize_database_url
try:
    with create_engine(normalize_database_url(os.environ["PG_SERVER_URL"])).connect() as c:
        c.execute(text("select 1"))
except Exception as exc:  # noqa: BLE001 - any failure means "not available"
    print(f"PostgreSQL not reachable: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    sys.exit(1)
PY
then
  TEST_DB=postgresql "$PY" -m pytest "$@"
  pg_status=$?
else
  if [ "${CI:-}" = "true" ]; then
    echo "CI=true and PostgreSQL is not available: failing."
    pg_status=1
  else
    echo "PostgreSQL is not available: the PostgreSQL leg is SKIPPED (set TEST_DATABASE_URL)."
    pg_status=0
  fi
fi

[ "$static_status" -eq 0 ] && [ "$sqlite_status" -eq 0 ] && [ "$pg_status" -eq 0 ]
