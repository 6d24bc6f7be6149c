"""The dashboard's figures (issue 14) on hand-built cases, through the real request services."""

from datetime import date, datetime, timedelta

import pytest

from backoffice.services import dashboard as board
from backoffice.services.dashboard import Filters, period_for
from backoffice.services.errors import DomainError, ValidationFailed
from tests.dashboard_helpers import REASONS, answer, at, cancel, custom, file, message, naive, reply, take
from tests.helpers import make_account

HOUR = timedelta(hours=1)
# A Monday: Paris is at UTC+1 in November.
T = datetime(2026, 11, 2, 9, 0)  # 10h00 in Paris
NOVEMBER = custom(date(2026, 11, 2), date(2026, 11, 29))


def figures(agent, period=NOVEMBER, moment=datetime(2026, 11, 30, 12, 0), **kwargs):
    with at(moment):
        return board.dashboard(agent, period, **kwargs)


def test_48_hours_exactly_is_within_one_second_more_is_late(gironde, tech):
    agent, caisse = gironde["agent"], gironde["caisse"]
    on_time, late = file(tech, caisse, T), file(tech, caisse, T)
    take(agent, on_time, T + 48 * HOUR)
    take(agent, late, T + 48 * HOUR + timedelta(seconds=1))
    s = figures(agent).summary
    assert (s.filed, s.within, s.late_taken, s.counted, s.within_share) == (2, 1, 1, 2, 0.5)
    assert s.take_p50 == pytest.approx(48 * 3_600_000 + 500)
    assert s.take_p90 == pytest.approx(48 * 3_600_000 + 900)


def test_answered_from_new_counts_as_taken_at_the_answer(gironde, tech):
    admin, agent, caisse = gironde["admin"], gironde["agent"], gironde["caisse"]
    r = file(tech, caisse, T)
    answer(agent, r, T + 10 * HOUR)
    d = figures(admin)
    s = d.summary
    assert (s.filed, s.taken, s.within, s.resolved) == (1, 1, 1, 1)
    # The take is recorded one microsecond before the answer: 10 h to the millisecond.
    assert (s.take_p50, s.resolve_p50, s.resolve_p90) == (36_000_000, 36_000_000, 36_000_000)
    rows = {row[0]: row for row in d.agents}
    assert rows[agent.id][4:] == (1, 1, 0.0)
    assert rows[admin.id][4:] == (0, 0, None)


def test_cancelled_before_take_and_young_pending_are_left_out_old_pending_missed(gironde, tech):
    agent, caisse = gironde["agent"], gironde["caisse"]
    cancelled = file(tech, caisse, T)
    cancel(tech, cancelled, T + HOUR, reason_index=2)
    file(tech, caisse, T + 24 * HOUR)  # still "Nouveau" on 30/11: missed
    young = file(tech, caisse, datetime(2026, 11, 29, 20, 0))  # 16 h old at noon on the 30th
    s = figures(agent).summary
    assert (s.filed, s.cancelled, s.cancelled_untaken, s.late_pending, s.pending) == (3, 1, 1, 1, 1)
    assert (s.counted, s.within_share, s.take_p50) == (1, 0.0, None)
    d = figures(agent)
    assert d.cancellations == {REASONS[2]: 1}
    assert d.backlog == {("new", 0): 1, ("new", 3): 1}
    assert young.status == "new"


def test_period_edges_are_paris_midnights(gironde, tech):
    agent, caisse = gironde["agent"], gironde["caisse"]
    file(tech, caisse, datetime(2026, 11, 1, 22, 59, 59))  # 23h59min59 on 01/11 in Paris: before
    first = file(tech, caisse, datetime(2026, 11, 1, 23, 0))  # 00h00 on 02/11 in Paris: in
    last = file(tech, caisse, datetime(2026, 11, 29, 22, 59, 59))  # 23h59min59 on 29/11: in
    file(tech, caisse, datetime(2026, 11, 29, 23, 0))  # 00h00 on 30/11: after
    d = figures(agent, moment=datetime(2026, 12, 1, 12))
    assert d.summary.filed == 2
    offer_id = first.service_offer_id
    assert d.per_week == {(0, offer_id): 1, (3, offer_id): 1}
    assert [w.label for w in d.weeks] == [
        "Semaine du 02/11/2026",
        "Semaine du 09/11/2026",
        "Semaine du 16/11/2026",
        "Semaine du 23/11/2026",
    ]
    assert last.status == "new"


def test_autumn_dst_day_lasts_25_hours(gironde, tech):
    agent, caisse = gironde["agent"], gironde["caisse"]
    period = custom(date(2026, 10, 25), date(2026, 10, 26))
    assert (period.start, period.end) == (datetime(2026, 10, 24, 22), datetime(2026, 10, 26, 23))
    # Monday 26/10 00h00 in Paris is 25/10 23h00 UTC (UTC+1 again).
    assert [(w.start, w.end) for w in period.weeks()] == [
        (datetime(2026, 10, 24, 22), datetime(2026, 10, 25, 23)),
        (datetime(2026, 10, 25, 23), datetime(2026, 10, 26, 23)),
    ]
    sunday = file(tech, caisse, datetime(2026, 10, 24, 22, 30))  # 00h30 on Sunday 25/10 (UTC+2)
    file(tech, caisse, datetime(2026, 10, 25, 22, 30))  # 23h30 on Sunday 25/10 (UTC+1)
    file(tech, caisse, datetime(2026, 10, 25, 23, 30))  # 00h30 on Monday 26/10
    file(tech, caisse, datetime(2026, 10, 24, 21, 59))  # 23h59 on Saturday 24/10: before
    d = figures(agent, period, moment=datetime(2026, 10, 27, 12))
    o = sunday.service_offer_id
    assert d.summary.filed == 3 and d.per_week == {(0, o): 2, (1, o): 1}


def test_spring_dst_day_lasts_23_hours(gironde, tech):
    agent, caisse = gironde["agent"], gironde["caisse"]
    period = custom(date(2027, 3, 28), date(2027, 3, 29))
    assert (period.start, period.end) == (datetime(2027, 3, 27, 23), datetime(2027, 3, 29, 22))
    assert period.weeks()[1].start == datetime(2027, 3, 28, 22)
    r = file(tech, caisse, datetime(2027, 3, 28, 21, 59))  # 23h59 on Sunday 28/03 (UTC+2)
    file(tech, caisse, datetime(2027, 3, 28, 22, 0))  # 00h00 on Monday 29/03
    take(gironde["agent"], r, datetime(2027, 3, 30, 21, 59))  # 48 h of elapsed time exactly
    d = figures(agent, period, moment=datetime(2027, 3, 31, 12))
    assert d.per_week == {(0, r.service_offer_id): 1, (1, r.service_offer_id): 1}
    assert (d.summary.within, d.summary.late_pending) == (1, 1)


def test_backlog_age_buckets_and_message_waits_since_the_message(gironde, tech):
    agent, caisse = gironde["agent"], gironde["caisse"]
    now = datetime(2026, 11, 30, 12)
    file(tech, caisse, now - 24 * HOUR + timedelta(seconds=1))  # < 24 h
    file(tech, caisse, now - 24 * HOUR)  # 24 h exactly: 24–48 h
    file(tech, caisse, now - 48 * HOUR)  # 48 h exactly: 24–48 h
    taken = file(tech, caisse, now - 48 * HOUR - timedelta(seconds=1))  # 2–7 jours
    take(agent, taken, now - 47 * HOUR)
    file(tech, caisse, now - 7 * 24 * HOUR - timedelta(seconds=1))  # > 7 jours
    asked = file(tech, caisse, now - 10 * 24 * HOUR)
    answer(agent, asked, now - 9 * 24 * HOUR)
    message(tech, asked, now - 2 * HOUR)  # "Message envoyé" for 2 h: < 24 h
    d = figures(agent, moment=now)
    assert d.backlog == {("new", 0): 1, ("new", 1): 2, ("taken", 2): 1, ("new", 3): 1, ("message_sent", 0): 1}
    assert d.rounds == {1: 1} and d.with_exchange == 1


def test_rounds_structures_and_percentiles(gironde, tech):
    agent, caisse = gironde["agent"], gironde["caisse"]
    other = make_account(gironde["structure"], "a.durand", first_name="Anne", usage_name="DURAND")
    durations = [1, 2, 3, 4, 10]  # hours to take
    made = []
    for i, hours in enumerate(durations):
        r = file(tech if i % 2 else other, caisse, T + i * HOUR)
        take(agent, r, T + i * HOUR + hours * HOUR)
        made.append(r)
    answer(agent, made[0], T + 20 * HOUR)
    message(other, made[0], T + 21 * HOUR)
    reply(agent, made[0], T + 22 * HOUR)
    message(other, made[0], T + 23 * HOUR)
    d = figures(agent)
    assert d.summary.take_p50 == 3 * 3_600_000
    assert d.summary.take_p90 == pytest.approx((4 + 0.6 * 6) * 3_600_000)
    assert d.rounds == {2: 1}
    [(structure_id, name, filed, technicians, last)] = d.structures
    assert (structure_id, name, filed, technicians, last) == (
        gironde["structure"].id,
        "Association Gironde",
        5,
        2,
        T + 4 * HOUR,
    )
    assert d.agents is None  # an agent sees the caisse's figures, not the per-agent table


def test_scope_filters_and_national_comparison(world, gironde, oise, tech):
    caisse = gironde["caisse"]
    a = file(tech, caisse, T, code="file_review")
    b = file(tech, caisse, T, code="file_review", motive_index=1)
    take(gironde["agent"], a, T + HOUR)
    assert figures(oise["admin"]).summary.filed == 0
    assert figures(oise["admin"], caisse_id=caisse.id).summary.filed == 0  # their own, whatever they ask
    assert figures(gironde["agent"], filters=Filters(motive_id=b.motive_id)).summary.filed == 1
    assert figures(gironde["agent"], filters=Filters(offer_id=a.service_offer_id)).summary.filed == 2
    national = figures(world["national"])
    assert national.summary.filed == 2 and national.agents is None
    rows = {row.name: row for row in national.caisses}
    assert (rows["CPAM GIRONDE"].summary.filed, rows["CPAM GIRONDE"].summary.within) == (2, 1)
    assert (rows["CPAM GIRONDE"].backlog, rows["CPAM GIRONDE"].overdue) == (2, 1)
    assert rows["CPAM OISE"].summary.filed == 0
    one = figures(world["national"], caisse_id=caisse.id)
    assert one.caisses is None and one.summary.filed == 2
    with pytest.raises(DomainError):
        figures(world["national"], caisse_id=999_999)


def test_matches_the_naive_recomputation_and_stays_within_five_statements(gironde, tech, count_queries):
    admin, agent, caisse = gironde["admin"], gironde["agent"], gironde["caisse"]
    for i in range(6):
        r = file(tech, caisse, T + i * 7 * HOUR, motive_index=i)
        if i % 3:
            take(agent, r, T + i * 9 * HOUR)
        if i % 2:
            answer(agent if i % 3 else admin, r, T + i * 11 * HOUR)
    moment = datetime(2026, 11, 30, 12)
    assert admin.is_caisse_admin  # loaded, as the page's own login check loads it
    with count_queries() as statements:
        d = figures(admin, moment=moment)
    assert len(statements) <= 5
    with at(moment):
        expected = naive(NOVEMBER, moment, caisse_id=caisse.id)
    s = d.summary
    for name in ("filed", "within", "late_taken", "late_pending", "pending", "taken", "resolved", "cancelled"):
        assert getattr(s, name) == expected[name], name
    for name in ("take_p50", "take_p90", "resolve_p50", "resolve_p90"):
        assert getattr(s, name) == pytest.approx(expected[name]), name
    assert d.per_week == expected["per_week"] and d.backlog == expected["backlog"]
    got = {row[0]: (row[4], row[5], row[6]) for row in d.agents if row[4] or row[5]}
    assert got.keys() == expected["agents"].keys()
    for key, (taken, resolved, median) in expected["agents"].items():
        assert got[key][:2] == (taken, resolved) and got[key][2] == pytest.approx(median)


def test_periods_and_refused_dates():
    monday = date(2026, 11, 30)
    assert (period_for("semaine", date(2026, 12, 3)).first, period_for("semaine", date(2026, 12, 3)).last) == (
        monday,
        date(2026, 12, 3),
    )
    assert period_for("4semaines", date(2026, 12, 3)).first == date(2026, 11, 6)
    assert period_for("annee", date(2026, 12, 3)).first == date(2026, 1, 1)
    assert period_for("nimporte", date(2026, 12, 3)).kind == "4semaines"
    assert custom(date(2026, 1, 1), date(2026, 1, 1)).label == "du 01/01/2026 au 01/01/2026"
    with pytest.raises(ValidationFailed) as refused:
        custom(date(2026, 2, 1), date(2026, 1, 1))
    assert refused.value.errors == {"fin": "La date de fin doit être postérieure ou égale à la date de début."}
    with pytest.raises(ValidationFailed) as refused:
        custom(date(2020, 1, 1), date(2026, 1, 1))
    assert refused.value.errors == {"fin": "La période ne peut pas dépasser trois ans."}
    with pytest.raises(ValidationFailed) as refused:
        period_for("dates", monday, None, date(1, 1, 1))
    assert set(refused.value.errors) == {"debut", "fin"}
