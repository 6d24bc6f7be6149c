"""Helpers of the dashboard tests: requests moved through the real services at chosen times, and the
naive recomputation of every dashboard figure from the raw rows (requests, history, messages)."""

from datetime import datetime, timedelta, timezone

import time_machine
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import ExchangeMessage, Request, ServiceOffer, StatusChange
from backoffice.services import access, requests
from backoffice.services.dashboard import period_for
from backoffice.services.dashboard.queries import AGE_BUCKETS, TARGET_MS

REASONS = requests.CANCEL_REASONS


def at(moment: datetime):
    """time_machine at a naive UTC moment, not ticking."""
    return time_machine.travel(moment.replace(tzinfo=timezone.utc), tick=False)


def offer(code: str = "file_review") -> ServiceOffer:
    return db.session.scalars(select(ServiceOffer).filter_by(code=code)).one()


def file(tech, caisse, moment: datetime, code: str = "file_review", motive_index: int = 0) -> Request:
    """A request filed by `tech` with `caisse` at `moment` (naive UTC), through file_request."""
    with at(moment):
        acc = access.access_for(tech, caisse.id)
        o = offer(code)
        motives = requests.motives_for(caisse.id, o)
        data = {
            "person_civility": "Madame",
            "person_last_name": "tutu",
            "person_first_name": "joséphine",
            "person_birth_date": datetime(1971, 10, 10).date(),
            "person_birth_place": "44",
            "person_phone": "0700000000",
            "comment": "Hospitalisation en cours",
            "motive_id": motives[motive_index % len(motives)].id,
            "appointment_modes": [requests.APPOINTMENT_MODES[0]],
        }
        return requests.file_request(tech, acc, o, data, [])


def take(agent, request, moment):
    with at(moment):
        requests.take_request(agent, request)


def answer(agent, request, moment):
    with at(moment):
        requests.answer_request(agent, request, "Voici notre réponse à votre demande.", [])


def cancel(tech, request, moment, reason_index=0):
    with at(moment):
        requests.cancel_request(tech, request, REASONS[reason_index % len(REASONS)], True)


def message(tech, request, moment):
    with at(moment):
        requests.partner_message(tech, request, "Une précision sur notre demande.", [])


def reply(agent, request, moment):
    with at(moment):
        requests.caisse_reply(agent, request, "Voici la précision demandée.", [])


# --- the naive recomputation ------------------------------------------------------------------------


def ms(later, earlier) -> int:
    return round((later - earlier) / timedelta(milliseconds=1))


def percentile(values, fraction):
    """percentile_cont, by the textbook."""
    if not values:
        return None
    values = sorted(values)
    position = fraction * (len(values) - 1)
    low = int(position)
    if position == low:
        return float(values[low])
    return values[low] + (values[low + 1] - values[low]) * (position - low)


def naive(period, now, caisse_id=None, offer_id=None, motive_id=None, structure_id=None) -> dict:
    """Every figure, from every row read into Python: the take is the first "Pris en charge"
    history row, the resolution the "Résolu" one, the rounds the partner's messages."""
    history: dict[int, list[StatusChange]] = {}
    for change in db.session.scalars(select(StatusChange).order_by(StatusChange.changed_at, StatusChange.id)):
        history.setdefault(change.request_id, []).append(change)
    messages: dict[int, int] = {}
    for m in db.session.scalars(select(ExchangeMessage).where(ExchangeMessage.side == "partner")):
        messages[m.request_id] = messages.get(m.request_id, 0) + 1

    def matches(r):
        return (
            (caisse_id is None or r.caisse_id == caisse_id)
            and (offer_id is None or r.service_offer_id == offer_id)
            and (motive_id is None or r.motive_id == motive_id)
            and (structure_id is None or r.structure_id == structure_id)
        )

    every = [r for r in db.session.scalars(select(Request)) if matches(r)]
    cohort = [r for r in every if period.start <= r.deposited_at < period.end]
    out = {"filed": len(cohort), "within": 0, "late_taken": 0, "late_pending": 0, "pending": 0}
    out.update(cancelled_untaken=0, taken=0, resolved=0, cancelled=0)
    takes, resolves, per_week, cancels, rounds = [], [], {}, {}, {}
    agents: dict[int, dict] = {}
    weeks = period.weeks()
    for r in cohort:
        changes = history.get(r.id, [])
        taken = next((c for c in changes if c.status == "taken"), None)
        resolved = next((c for c in changes if c.status == "resolved"), None)
        if taken is not None:
            out["taken"] += 1
            duration = ms(taken.changed_at, r.deposited_at)
            takes.append(duration)
            out["within" if duration <= TARGET_MS else "late_taken"] += 1
            agents.setdefault(taken.agent_id, {"taken": 0, "resolved": 0, "handling": []})["taken"] += 1
        elif r.status == "new":
            out["late_pending" if now - r.deposited_at > timedelta(hours=48) else "pending"] += 1
        elif r.status == "cancelled":
            out["cancelled_untaken"] += 1
        if resolved is not None:
            out["resolved"] += 1
            resolves.append(ms(resolved.changed_at, r.deposited_at))
            entry = agents.setdefault(resolved.agent_id, {"taken": 0, "resolved": 0, "handling": []})
            entry["resolved"] += 1
            entry["handling"].append(ms(resolved.changed_at, taken.changed_at))
        if r.status == "cancelled":
            out["cancelled"] += 1
            cancels[r.cancel_reason] = cancels.get(r.cancel_reason, 0) + 1
        week = next(i for i, w in enumerate(weeks) if w.start <= r.deposited_at < w.end)
        per_week[(week, r.service_offer_id)] = per_week.get((week, r.service_offer_id), 0) + 1
        if messages.get(r.id):
            rounds[messages[r.id]] = rounds.get(messages[r.id], 0) + 1
    backlog = {}
    for r in every:
        if r.status not in ("new", "taken", "message_sent"):
            continue
        since = r.status_changed_at if r.status == "message_sent" else r.deposited_at
        age = now - since
        if age < timedelta(hours=24):
            bucket = 0
        elif age <= timedelta(hours=48):
            bucket = 1
        elif age <= timedelta(days=7):
            bucket = 2
        else:
            bucket = 3
        backlog[(r.status, bucket)] = backlog.get((r.status, bucket), 0) + 1
    out.update(
        take_p50=percentile(takes, 0.5),
        take_p90=percentile(takes, 0.9),
        resolve_p50=percentile(resolves, 0.5),
        resolve_p90=percentile(resolves, 0.9),
        per_week=per_week,
        cancellations=cancels,
        rounds=rounds,
        backlog=backlog,
        agents={a: (v["taken"], v["resolved"], percentile(v["handling"], 0.5)) for a, v in agents.items()},
    )
    assert len(AGE_BUCKETS) == 4
    return out


def custom(first, last):
    return period_for("dates", first, first, last)
