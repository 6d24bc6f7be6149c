"""The one clock of the application: UTC for storage, Europe/Paris for people.

Everything reads the time through these helpers so tests can travel with time-machine.
"""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def now() -> datetime:
    """Current UTC time as a naive datetime (the storage convention on SQLite and PostgreSQL)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def today() -> date:
    """Today's date in Paris: conventions and caisse rules are in local dates."""
    return datetime.now(timezone.utc).astimezone(PARIS).date()


def to_paris(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc).astimezone(PARIS)


def format_date(value) -> str:
    """JJ/MM/AAAA as in the seeds."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_paris(value).date()
    return value.strftime("%d/%m/%Y")


def format_datetime(value: datetime | None) -> str:
    """'16/02/2022 16h30min' as in the seeds, in Paris time."""
    if value is None:
        return ""
    local = to_paris(value)
    return f"{local:%d/%m/%Y} {local:%H}h{local:%M}min"


def paris_to_utc(value: datetime) -> datetime:
    """A wall-clock time typed by a person in Paris → the naive UTC storage convention."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=PARIS)
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def utc_to_paris_naive(value: datetime) -> datetime:
    """The stored naive UTC time as a naive Paris wall-clock time (to prefill a form field)."""
    return to_paris(value).replace(tzinfo=None)
