"""The dashboard's period: Paris calendar days, turned into UTC storage bounds, and its weeks.

A period is a range of whole days in Europe/Paris, first and last included. Its bounds in storage
time (naive UTC) are the Paris midnights that open its first day and follow its last one: on the
day of a DST change (2026-10-25, 2027-03-28) the day lasts 25 or 23 hours, and the bounds follow.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ...clock import format_date, paris_to_utc
from ...inputs import date_in_range
from ..errors import ValidationFailed

WEEK = "semaine"
FOUR_WEEKS = "4semaines"
YEAR = "annee"
CUSTOM = "dates"
PERIOD_KINDS = {
    WEEK: "Cette semaine",
    FOUR_WEEKS: "Les 4 dernières semaines",
    YEAR: "Cette année",
    CUSTOM: "Dates choisies",
}
DEFAULT_KIND = FOUR_WEEKS
MAX_DAYS = 3 * 366  # a custom period spans at most three years (its weeks are one CASE in SQL)


def paris_midnight(day: date) -> datetime:
    """The storage time (naive UTC) of 00h00 in Paris on `day`."""
    return paris_to_utc(datetime.combine(day, time.min))


@dataclass(frozen=True)
class Days:
    """Whole Paris days, first and last included, and their bounds in storage time."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        """Naive UTC, included: the Paris midnight that opens the first day."""
        return paris_midnight(self.first)

    @property
    def end(self) -> datetime:
        """Naive UTC, excluded: the Paris midnight that follows the last day."""
        return paris_midnight(self.last + timedelta(days=1))


@dataclass(frozen=True)
class Week(Days):
    """One calendar week (Monday to Sunday, Paris) of a period, clipped to the period's days."""

    label: str  # « Semaine du 30/11/2026 », its Monday's date even when clipped


@dataclass(frozen=True)
class Period(Days):
    kind: str

    @property
    def label(self) -> str:
        return f"du {format_date(self.first)} au {format_date(self.last)}"

    def weeks(self) -> list[Week]:
        """The calendar weeks the period touches, each clipped to the period."""
        weeks = []
        monday = self.first - timedelta(days=self.first.weekday())
        while monday <= self.last:
            sunday = monday + timedelta(days=6)
            weeks.append(Week(max(monday, self.first), min(sunday, self.last), f"Semaine du {format_date(monday)}"))
            monday += timedelta(days=7)
        return weeks


def period_for(kind: str | None, today: date, first: date | None = None, last: date | None = None) -> Period:
    """The period a person chose: this week (Monday to today), the last 4 weeks (the 28 days
    ending today), this year (1 January to today) or custom dates (both included). Custom dates
    out of order, out of range or spanning more than MAX_DAYS are refused in French."""
    kind = kind if kind in PERIOD_KINDS else DEFAULT_KIND
    if kind == WEEK:
        return Period(today - timedelta(days=today.weekday()), today, kind)
    if kind == YEAR:
        return Period(date(today.year, 1, 1), today, kind)
    if kind == FOUR_WEEKS:
        return Period(today - timedelta(days=27), today, kind)
    errors = {}
    if first is None or not date_in_range(first):
        errors["debut"] = "Saisissez une date de début valide (JJ/MM/AAAA)."
    if last is None or not date_in_range(last):
        errors["fin"] = "Saisissez une date de fin valide (JJ/MM/AAAA)."
    if not errors and first is not None and last is not None:
        if last < first:
            errors["fin"] = "La date de fin doit être postérieure ou égale à la date de début."
        elif (last - first).days + 1 > MAX_DAYS:
            errors["fin"] = "La période ne peut pas dépasser trois ans."
    if errors or first is None or last is None:
        raise ValidationFailed(errors)
    return Period(first, last, kind)
