"""R-REQ-4: request numbers = 2-digit year + caisse code + 5-digit per-caisse, per-year sequence.

The counter row is incremented with one INSERT … ON CONFLICT DO UPDATE … RETURNING in the filing
transaction: concurrent filings serialise on that row and never get the same number.
"""

from sqlalchemy.dialects import postgresql, sqlite

from ..clock import now, to_paris
from ..extensions import db
from ..models import Caisse, RequestCounter
from .errors import DomainError

MAX_SEQUENCE = 99_999


def next_number(caisse: Caisse) -> str:
    year = to_paris(now()).year
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(RequestCounter)
        .values(caisse_id=caisse.id, year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=[RequestCounter.caisse_id, RequestCounter.year],
            set_={"last_value": RequestCounter.last_value + 1},
        )
        .returning(RequestCounter.last_value)
    )
    sequence = db.session.execute(statement).scalar_one()
    if sequence > MAX_SEQUENCE:
        raise DomainError("Le nombre maximal de demandes pour cette année est atteint.")
    return f"{year % 100:02d}{caisse.code}{sequence:05d}"
