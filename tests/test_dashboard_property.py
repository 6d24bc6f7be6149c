"""The dashboard's figures equal a naive recomputation from the raw rows (issue 14), for random
requests moved through the real services (filing, take, answer from "Nouveau" or after a take,
cancellation, Q/R rounds) at random times across the autumn DST change, over random periods and
filters, on both databases."""

from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from backoffice.demo import factories
from backoffice.extensions import db
from backoffice.models import ExchangeMessage, Request, RequestNote, StatusChange
from backoffice.services import dashboard as board
from backoffice.services.dashboard import Filters
from tests.dashboard_helpers import answer, at, cancel, custom, file, message, naive, reply, take

BASE = datetime(2026, 10, 12, 6, 0)  # a Monday; the DST change of 25/10 falls in the window
MINUTE = timedelta(minutes=1)
DELAY = st.one_of(st.integers(0, 6 * 24 * 60), st.sampled_from([47 * 60, 48 * 60, 48 * 60 + 1, 24 * 60]))

one_request = st.fixed_dictionaries(
    {
        "deposit": st.integers(0, 30 * 24 * 60),
        "code": st.sampled_from(["file_review", "contact"]),
        "motive": st.integers(0, 2),
        "fate": st.sampled_from(["new", "cancel", "take", "answer", "take_answer"]),
        "first": DELAY,
        "second": st.integers(0, 4 * 24 * 60),
        "rounds": st.integers(0, 4),
        "taker": st.integers(0, 2),
        "answerer": st.integers(0, 2),
        "reason": st.integers(0, 3),
    }
)


def _clear():
    for model in (ExchangeMessage, StatusChange, RequestNote, Request):
        db.session.execute(delete(model))
    db.session.commit()


def _play(case, tech, caisse, staff):
    deposited = BASE + case["deposit"] * MINUTE
    r = file(tech, caisse, deposited, code=case["code"], motive_index=case["motive"])
    first = deposited + case["first"] * MINUTE
    fate = case["fate"]
    if fate == "cancel":
        cancel(tech, r, first, case["reason"])
    elif fate == "answer":
        answer(staff[case["answerer"]], r, first)
    elif fate in ("take", "take_answer"):
        take(staff[case["taker"]], r, first)
    if fate == "take_answer":
        # The owner (or the caisse admin, staff[0]) answers.
        who = staff[case["taker"]] if case["answerer"] else staff[0]
        answer(who, r, first + (1 + case["second"]) * MINUTE)
    if fate in ("answer", "take_answer"):
        moment = r.resolved_at
        for _ in range(case["rounds"]):
            moment += 3 * 60 * MINUTE
            message(tech, r, moment)
            moment += 60 * MINUTE
            reply(r.taken_by, r, moment) if r.taken_by is not None else None
            if r.status == "closed":
                break


@pytest.fixture
def staff(gironde):
    extra = factories.agent("agent2.gironde", caisse=gironde["caisse"], first_name="Julie", last_name="FAURE")
    db.session.commit()
    return [gironde["admin"], gironde["agent"], extra]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    cases=st.lists(one_request, min_size=1, max_size=8),
    start=st.integers(0, 34),
    length=st.integers(0, 30),
    later=st.integers(0, 40 * 24),
    filter_kind=st.sampled_from(["none", "offer", "motive", "structure"]),
)
def test_every_figure_equals_the_naive_recomputation(
    gironde, oise, tech, staff, cases, start, length, later, filter_kind
):
    _clear()
    caisse = gironde["caisse"]
    made = [_play(case, tech, caisse, staff) for case in cases]
    del made
    first = date(2026, 10, 12) + timedelta(days=start)
    period = custom(first, first + timedelta(days=length))
    moment = BASE + timedelta(days=3) + later * 60 * MINUTE
    sample = db.session.query(Request).first()
    filters = Filters()
    if sample is not None and filter_kind == "offer":
        filters = Filters(offer_id=sample.service_offer_id)
    elif sample is not None and filter_kind == "motive":
        filters = Filters(motive_id=sample.motive_id)
    elif filter_kind == "structure":
        filters = Filters(structure_id=gironde["structure"].id)
    with at(moment):
        d = board.dashboard(staff[0], period, filters)
        expected = naive(period, moment, caisse_id=caisse.id, **filters._asdict())
        national = board.dashboard(oise["admin"], period, filters)  # another caisse's: nothing of GIRONDE
    s = d.summary
    for name in ("filed", "within", "late_taken", "late_pending", "pending", "cancelled_untaken"):
        assert getattr(s, name) == expected[name], name
    for name in ("taken", "resolved", "cancelled"):
        assert getattr(s, name) == expected[name], name
    for name in ("take_p50", "take_p90", "resolve_p50", "resolve_p90"):
        assert getattr(s, name) == pytest.approx(expected[name], abs=1e-6), name
    assert d.per_week == expected["per_week"]
    assert d.cancellations == expected["cancellations"]
    assert d.rounds == expected["rounds"]
    assert d.backlog == expected["backlog"]
    got = {row[0]: (row[4], row[5], row[6]) for row in d.agents if row[4] or row[5]}
    assert got.keys() == expected["agents"].keys()
    for key, (taken, resolved, median) in expected["agents"].items():
        assert got[key][:2] == (taken, resolved)
        assert got[key][2] == pytest.approx(median, abs=1e-6)
    assert national.summary.filed == 0 and national.backlog == {}
