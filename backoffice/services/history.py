"""R-HIS-1..3: the partner's request history with its eight criteria, sort, order and pages."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, NamedTuple

from sqlalchemy import Boolean, Integer, String, bindparam, func, literal, null, or_, select, union_all

from ..clock import PARIS
from ..extensions import db
from ..models import CaisseMotive, Motive, PartnerAccount, Request, RequestStatus, ServiceOffer, convention_offer
from . import caisse_cache

PAGE_SIZES = (10, 20, 50)
SORTS = {
    "deposited_at": ("Date de dépôt", Request.deposited_at),
    "number": ("Numéro de demande", Request.number),
    "status": ("Statut", Request.status),
    "requester": ("Demandeur", Request.requester_name),
    "person": ("Personne concernée", Request.person_last_name),
    "offer": ("Offre de service", Request.service_offer_id),
}
PARTNER_STATUSES = [s for s in RequestStatus if s is not RequestStatus.CANCELLED]


@dataclass
class Criteria:
    number: str = ""
    requester_id: int | None = None
    person: str = ""
    offer_id: int | None = None
    status: str = ""
    motive_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "deposited_at"
    order: str = "desc"
    page: int = 1
    per_page: int = 10
    errors: dict = field(default_factory=dict)


def _utc_bound(day: date, end: bool) -> datetime:
    """Midnight in Paris (the next one for an end date), as stored UTC."""
    local = datetime.combine(day + timedelta(days=1) if end else day, time.min, tzinfo=PARIS)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def conditions(structure_id: int, caisse_id: int, c: Criteria) -> list:
    """The WHERE clauses of the history: the structure's requests for the caisse, but cancelled
    ones, narrowed by the criteria."""
    where = [
        Request.structure_id == structure_id,
        Request.caisse_id == caisse_id,
        Request.status != RequestStatus.CANCELLED.value,
    ]
    if c.number:
        where.append(Request.number.startswith(c.number))
    if c.requester_id:
        where.append(Request.requester_account_id == c.requester_id)
    if c.person:
        pattern = f"%{c.person.upper()}%"
        where.append(or_(Request.person_last_name.like(pattern), func.upper(Request.person_first_name).like(pattern)))
    if c.offer_id:
        where.append(Request.service_offer_id == c.offer_id)
    if c.status:
        where.append(Request.status == c.status)
    if c.motive_id:
        where.append(Request.motive_id == c.motive_id)
    if c.date_from:
        where.append(Request.deposited_at >= _utc_bound(c.date_from, end=False))
    if c.date_to:
        where.append(Request.deposited_at < _utc_bound(c.date_to, end=True))
    return where


class HistoryRow(NamedTuple):
    """A request as its history card shows it: the columns the card prints, not the whole request
    (its comment and form details stay in the database until the detail page)."""

    number: str
    status: str
    deposited_at: datetime
    requester_name: str
    person_civility: str | None
    person_last_name: str | None
    person_first_name: str | None
    offer_label: str

    @property
    def status_label(self) -> str:
        return RequestStatus(self.status).label


_CARD_COLUMNS = (
    Request.number,
    Request.status,
    Request.deposited_at,
    Request.requester_name,
    Request.person_civility,
    Request.person_last_name,
    Request.person_first_name,
    ServiceOffer.label,
)


def page(structure_id: int, caisse_id: int, c: Criteria) -> tuple[list[HistoryRow], int]:
    """One page of cards and the true total, in one statement.

    The total rides along each row (count(*) OVER ()). A page past the end (the criteria changed)
    has no row to carry it: then the total is counted and c.page moves to the last page.
    """
    where = conditions(structure_id, caisse_id, c)
    column = SORTS.get(c.sort, SORTS["deposited_at"])[1]
    ordering = column.asc() if c.order == "asc" else column.desc()
    tie = Request.id.asc() if c.order == "asc" else Request.id.desc()
    listed = (
        select(*_CARD_COLUMNS, func.count().over().label("total"))
        .join(ServiceOffer, ServiceOffer.id == Request.service_offer_id)
        .where(*where)
        .order_by(ordering, tie)
        .limit(c.per_page)
        .offset((c.page - 1) * c.per_page)
    )
    result = db.session.execute(listed).all()
    if not result and c.page > 1:
        result = _last_page(where, (ordering, tie), c.per_page)
        c.page = max((result[0][-1] + c.per_page - 1) // c.per_page, 1) if result else 1
    if not result:
        return [], 0
    return [HistoryRow(*row[:-1]) for row in result], result[0][-1]


def _last_page(where, ordering, per_page: int) -> Sequence[Any]:
    """The last page's cards with the total, in one statement: each match numbered in the order."""
    numbered = (
        select(
            *_CARD_COLUMNS, func.row_number().over(order_by=ordering).label("rn"), func.count().over().label("total")
        )
        .join(ServiceOffer, ServiceOffer.id == Request.service_offer_id)
        .where(*where)
        .subquery()
    )
    columns = list(numbered.c)
    return db.session.execute(
        select(*columns[:-2], numbered.c.total)
        .where(numbered.c.rn > (numbered.c.total - 1) // per_page * per_page)
        .order_by(numbered.c.rn)
    ).all()


class Choice(NamedTuple):
    """An option of a criterion list: what the page shows of an offer or a motive."""

    id: int
    label: str


class Requester(NamedTuple):
    """An option of the 'Demandeur' list (the attributes the page reads of a PartnerAccount)."""

    id: int
    display_name: str
    first_name: str
    active: bool


# The option lists of the criteria 'Demandeur', 'Offre de service' and 'Motif' have a fixed shape:
# one statement, built once (bound parameters) rather than on every page, reads the three: building
# a statement costs about as much as running it, and each statement is a round trip.
_ENABLED_MOTIVES = (
    select(Motive.id, Motive.label, Motive.position, Motive.service_offer_id)
    .join(CaisseMotive, CaisseMotive.motive_id == Motive.id)
    .where(CaisseMotive.caisse_id == bindparam("caisse_id"))
    .subquery()
)
_NO_TEXT = null().cast(String)
_NO_INT = null().cast(Integer)
_OPTIONS = union_all(
    select(
        literal(0).label("kind"),
        PartnerAccount.id,
        func.coalesce(PartnerAccount.usage_name, PartnerAccount.birth_name, "").label("label"),
        PartnerAccount.first_name.label("first_name"),
        PartnerAccount.active.label("active"),
        _NO_INT.label("motive_id"),
        _NO_TEXT.label("motive_label"),
        PartnerAccount.usage_name.label("t1"),
        PartnerAccount.birth_name.label("t2"),
        PartnerAccount.first_name.label("t3"),
        _NO_INT.label("i1"),
        _NO_INT.label("i2"),
        _NO_INT.label("i3"),
        _NO_INT.label("i4"),
    ).where(PartnerAccount.structure_id == bindparam("structure_id"), PartnerAccount.role == "technician"),
    select(
        literal(1),
        ServiceOffer.id,
        ServiceOffer.label,
        _NO_TEXT,
        null().cast(Boolean),
        _ENABLED_MOTIVES.c.id,
        _ENABLED_MOTIVES.c.label,
        _NO_TEXT,
        _NO_TEXT,
        _NO_TEXT,
        ServiceOffer.position,
        ServiceOffer.id,
        _ENABLED_MOTIVES.c.position,
        _ENABLED_MOTIVES.c.id,
    )
    .join(convention_offer, convention_offer.c.service_offer_id == ServiceOffer.id)
    .outerjoin(_ENABLED_MOTIVES, _ENABLED_MOTIVES.c.service_offer_id == ServiceOffer.id)
    .where(convention_offer.c.convention_id == bindparam("convention_id")),
).subquery()
_OPTIONS_STATEMENT = select(
    _OPTIONS.c.kind,
    _OPTIONS.c.id,
    _OPTIONS.c.label,
    _OPTIONS.c.first_name,
    _OPTIONS.c.active,
    _OPTIONS.c.motive_id,
    _OPTIONS.c.motive_label,
).order_by(*(_OPTIONS.c[name] for name in ("kind", "t1", "t2", "t3", "i1", "i2", "i3", "i4")))


class CriteriaOptions(NamedTuple):
    """The choices of the lists: the structure's technicians, active or not ('Demandeur'); the
    convention's offers, each with the motives the caisse offers ('Offre de service', 'Motif'), in
    the order of convention.service_offers and requests.motives_for."""

    requesters: list[Requester]
    offers_with_motives: list[tuple[Choice, list[Choice]]]


def criteria_options(structure_id: int, convention_id: int, caisse) -> CriteriaOptions:
    """The three option lists in one statement, as plain rows (a list of options needs no ORM objects).

    Each worker keeps them under the caisse's options stamp (services/caisse_cache.kept), which
    any change of what they list renews: the structure's technicians (name, state, arrival), the
    convention's offers, the caisse's motives, the catalogue.
    """
    return caisse_cache.kept(
        caisse, ("history", structure_id, convention_id), lambda: _read_options(structure_id, convention_id, caisse.id)
    )


def _read_options(structure_id: int, convention_id: int, caisse_id: int) -> CriteriaOptions:
    rows = db.session.execute(
        _OPTIONS_STATEMENT, {"structure_id": structure_id, "convention_id": convention_id, "caisse_id": caisse_id}
    )
    requesters: list[Requester] = []
    grouped: dict[int, tuple[Choice, list[Choice]]] = {}
    for kind, id_, label, first_name, active, motive_id, motive_label in rows:
        if kind == 0:
            requesters.append(Requester(id_, label, first_name, bool(active)))
            continue
        entry = grouped.setdefault(id_, (Choice(id_, label), []))
        if motive_id is not None:
            entry[1].append(Choice(motive_id, motive_label))
    return CriteriaOptions(requesters, list(grouped.values()))
