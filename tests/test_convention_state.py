"""R-CONV-4 exists once, in Python (state_of) and in SQL (state_condition), side by side in
models/partners.py: on every boundary date both give the same state, and exactly one state."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Convention, ConventionState
from backoffice.models.partners import ENDING_SOON_DAYS, open_condition, state_condition, state_of

START, END = date(2030, 1, 10), date(2030, 12, 20)
BOUNDARIES = sorted(
    {
        START - timedelta(days=1),
        START,
        START + timedelta(days=1),
        END - timedelta(days=ENDING_SOON_DAYS + 1),
        END - timedelta(days=ENDING_SOON_DAYS),
        END - timedelta(days=ENDING_SOON_DAYS - 1),
        END - timedelta(days=1),
        END,
        END + timedelta(days=1),
    }
)


@pytest.fixture
def conventions(world):
    """The boundary convention, and a short one that is 'ending' from its first day."""
    g = world["gironde"]
    long = Convention(structure_id=g["structure"].id, caisse_id=g["caisse"].id, start_date=START, end_date=END)
    short = Convention(
        structure_id=world["oise"]["structure"].id,
        caisse_id=g["caisse"].id,
        start_date=START,
        end_date=START + timedelta(days=ENDING_SOON_DAYS - 10),
    )
    db.session.add_all([long, short])
    db.session.commit()
    return [long, short]


@pytest.mark.parametrize("day", BOUNDARIES + [START + timedelta(days=ENDING_SOON_DAYS - 10 + k) for k in (0, 1)])
def test_python_and_sql_give_the_same_state_on_every_boundary(conventions, day):
    for convention in conventions:
        matched = [
            state
            for state in ConventionState
            if db.session.scalar(
                select(Convention.id).where(Convention.id == convention.id, state_condition(state, day))
            )
        ]
        assert matched == [state_of(convention, day)], (convention.start_date, convention.end_date, day)
        is_open = db.session.scalar(select(Convention.id).where(Convention.id == convention.id, open_condition(day)))
        assert (is_open is not None) == (state_of(convention, day) is not ConventionState.ENDED)
        assert convention.state(day) is state_of(convention, day)


def test_every_state_is_reached_on_the_boundaries(conventions):
    long = conventions[0]
    assert [state_of(long, day) for day in BOUNDARIES] == [
        ConventionState.UPCOMING,  # the day before the start
        ConventionState.CURRENT,
        ConventionState.CURRENT,  # the start, the next day
        ConventionState.CURRENT,
        ConventionState.CURRENT,  # 31 and 30 days before the end
        ConventionState.ENDING,
        ConventionState.ENDING,
        ConventionState.ENDING,  # 29, 1, 0 days before
        ConventionState.ENDED,  # the day after the end
    ]
