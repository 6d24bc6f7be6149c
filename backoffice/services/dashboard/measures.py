"""Durations and percentiles in SQL, the same on PostgreSQL and SQLite.

A duration is a whole number of milliseconds between two stored (naive UTC) times: PostgreSQL
subtracts the timestamps exactly; SQLite subtracts julianday() values (an error far below a
millisecond at today's dates), both rounded to the millisecond.

Percentiles are the continuous ones (PostgreSQL's percentile_cont): over the n values sorted, the
value at position p × (n − 1), interpolated between its two neighbours. PostgreSQL computes them
in the aggregate itself; on SQLite one window query numbers each series' sorted values and keeps
only the (at most four) values around the median's and the 90th percentile's positions, which
`interpolate` then combines: the same definition, a bounded read.
"""

from collections import defaultdict

from sqlalchemy import Float, Integer, and_, cast, func, literal, or_, select, union_all

from ...extensions import db

MEDIAN, P90 = 0.5, 0.9
PERCENTILES = (MEDIAN, P90)


def postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def milliseconds(later, earlier):
    """later − earlier in whole milliseconds (NULL when either is NULL)."""
    if postgresql():
        return func.round(func.extract("epoch", later - earlier) * 1000)
    return func.round((func.julianday(later) - func.julianday(earlier)) * 86_400_000.0)


def percentile(fraction: float, value):
    """PostgreSQL only: percentile_cont(fraction) WITHIN GROUP (ORDER BY value), NULLs ignored."""
    return func.percentile_cont(fraction).within_group(cast(value, Float))


def interpolate(values: dict[int, float], count: int, fraction: float) -> float | None:
    """percentile_cont from the sorted values at the positions it reads ({position: value})."""
    if not count:
        return None
    position = fraction * (count - 1)
    low = int(position)
    share = position - low
    if share == 0:
        return float(values[low])
    return float(values[low]) + (float(values[low + 1]) - float(values[low])) * share


def window_percentiles(series) -> dict[tuple, dict[float, float | None]]:
    """SQLite: the median and 90th percentile of each series, in one statement.

    `series`: selects of three columns (kind, grp, value), value not NULL. Returns
    {(kind, grp): {MEDIAN: …, P90: …}} for the series that have values."""
    if not series:
        return {}
    values = union_all(*series).subquery()
    ranked = select(
        values.c.kind,
        values.c.grp,
        values.c.value,
        (func.row_number().over(partition_by=(values.c.kind, values.c.grp), order_by=values.c.value) - 1).label("rn"),
        func.count().over(partition_by=(values.c.kind, values.c.grp)).label("n"),
    ).subquery()
    wanted = []
    for fraction in PERCENTILES:
        low = cast(literal(fraction) * (ranked.c.n - 1), Integer)
        wanted.append(or_(ranked.c.rn == low, ranked.c.rn == low + 1))
    rows = db.session.execute(select(ranked).where(and_(or_(*wanted)))).all()
    found: dict[tuple, dict[int, float]] = defaultdict(dict)
    counts: dict[tuple, int] = {}
    for row in rows:
        found[(row.kind, row.grp)][row.rn] = row.value
        counts[(row.kind, row.grp)] = row.n
    return {key: {f: interpolate(found[key], counts[key], f) for f in PERCENTILES} for key in found}
