"""R-ORG-1..5: which caisses a partner account may select, and what it may do there.

The situation is recomputed on every portal request, so access ends the moment a rule says so.
"""

import enum
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

from ..clock import today
from ..extensions import db
from ..models import AWAITING_CAISSE, Caisse, Convention, ConventionState, PartnerAccount, Request, RequestStatus
from ..models.partners import state_of
from . import statements

GRACE_DAYS = 30


class Situation(str, enum.Enum):
    CURRENT = "current"
    ENDING = "ending"  # R-ORG-3
    UPCOMING = "upcoming"  # R-ORG-2
    ENDED_PENDING = "ended_pending"  # R-ORG-4
    GRACE = "grace"  # R-ORG-5


@dataclass(frozen=True)
class CaisseAccess:
    caisse: Caisse
    convention: Convention
    situation: Situation
    limit_date: date  # start (upcoming), end (ending / ended)
    grace_until: date | None = None

    @property
    def special(self) -> bool:
        """Shown in red with an asterisk in the selection list (R-ORG-1)."""
        return self.situation is not Situation.CURRENT

    @property
    def history_only(self) -> bool:
        return self.situation in (Situation.ENDED_PENDING, Situation.GRACE)

    @property
    def can_file_requests(self) -> bool:
        """R-REQ-5: a current (or ending) convention."""
        return self.situation in (Situation.CURRENT, Situation.ENDING)

    def blocks(self, is_manager: bool) -> bool:
        """R-ORG-2: before the start a technician can only read the message and log out."""
        return self.situation is Situation.UPCOMING and not is_manager

    def notice(self, is_manager: bool) -> str | None:
        """The alert shown after 'Valider' (a manager preparing an upcoming convention gets none)."""
        if self.situation is Situation.UPCOMING and is_manager:
            return None
        return self.alert()

    def alert(self) -> str | None:
        """The exact messages of the manuals (R-ORG-2..5)."""
        day = self.limit_date.strftime("%d/%m/%Y")
        if self.situation is Situation.UPCOMING:
            return f"Le conventionnement avec l'organisme {self.caisse.name} débutera le {day}."
        if self.situation is Situation.ENDING:
            return f"Le conventionnement arrive à échéance le {day} - Veuillez contacter l'organisme concerné."
        if self.situation is Situation.ENDED_PENDING:
            return f"Le conventionnement s'est terminé le {day} mais il reste des demandes en cours de traitement."
        if self.situation is Situation.GRACE:
            return (
                f"Le conventionnement s'est terminé le {day}. Vous disposez d'un délai supplémentaire "
                "pour consulter les réponses apportées à vos demandes."
            )
        return None


def _situation(structure_id: int, caisse: Caisse, conventions: list[Convention], day: date) -> CaisseAccess | None:
    states = {c: state_of(c, day) for c in conventions}
    running = [c for c in conventions if states[c] in (ConventionState.CURRENT, ConventionState.ENDING)]
    if running:
        convention = max(running, key=lambda c: c.end_date)
        if states[convention] is ConventionState.ENDING:  # R-ORG-3 is R-CONV-4's 'arrive à échéance'
            return CaisseAccess(caisse, convention, Situation.ENDING, convention.end_date)
        return CaisseAccess(caisse, convention, Situation.CURRENT, convention.end_date)
    upcoming = [c for c in conventions if states[c] is ConventionState.UPCOMING]
    if upcoming:
        convention = min(upcoming, key=lambda c: c.start_date)
        return CaisseAccess(caisse, convention, Situation.UPCOMING, convention.start_date)
    convention = max(conventions, key=lambda c: c.end_date)
    pending = statements.count(
        Request,
        Request.structure_id == structure_id,
        Request.caisse_id == caisse.id,
        Request.status.in_(AWAITING_CAISSE),
    )
    if pending:
        return CaisseAccess(caisse, convention, Situation.ENDED_PENDING, convention.end_date)
    grace_until = grace_end(structure_id, caisse.id, convention.end_date)
    if day <= grace_until:
        return CaisseAccess(caisse, convention, Situation.GRACE, convention.end_date, grace_until)
    return None


def grace_end(structure_id: int, caisse_id: int, end_date: date) -> date:
    """30 days after the last resolution (or after the end, when nothing was resolved later)."""
    from ..clock import to_paris

    last = db.session.scalar(
        select(func.max(Request.resolved_at)).where(
            Request.structure_id == structure_id,
            Request.caisse_id == caisse_id,
            Request.status != RequestStatus.CANCELLED.value,
        )
    )
    reference = max(end_date, to_paris(last).date()) if last else end_date
    return reference + timedelta(days=GRACE_DAYS)


# Every portal page reads them: built once, run with bound parameters.
_CONVENTIONS = (
    select(Convention)
    .options(joinedload(Convention.caisse))
    .where(Convention.structure_id == bindparam("structure_id"))
)
_CONVENTIONS_WITH = _CONVENTIONS.where(Convention.caisse_id == bindparam("caisse_id"))


def accesses(
    account: PartnerAccount,
    day: date | None = None,
    caisse_id: int | None = None,
    conventions: list[Convention] | None = None,
) -> list[CaisseAccess]:
    """Caisses the account may select, by name. Managers: upcoming or current only (R-ORG-1).

    With caisse_id, only that caisse's situation is computed (every portal page checks one caisse:
    the others' conventions, pending counts and grace periods need not be read each time); the
    caller may hand over that caisse's conventions of the structure when it read them already in
    this transaction (the portal's guard: those load_user read with the account,
    services/auth.prefetched_conventions).
    """
    day = day or today()
    if caisse_id is None:
        conventions = list(db.session.scalars(_CONVENTIONS, {"structure_id": account.structure_id}))
    else:
        if conventions is None:
            conventions = list(
                db.session.scalars(_CONVENTIONS_WITH, {"structure_id": account.structure_id, "caisse_id": caisse_id})
            )
    by_caisse: dict[int, list[Convention]] = {}
    for convention in conventions:
        by_caisse.setdefault(convention.caisse_id, []).append(convention)
    result = []
    for items in by_caisse.values():
        access = _situation(account.structure_id, items[0].caisse, items, day)
        if access is None:
            continue
        if account.is_manager and access.history_only:
            continue
        result.append(access)
    return sorted(result, key=lambda a: a.caisse.name)


def access_for(
    account: PartnerAccount,
    caisse_id: int | None,
    day: date | None = None,
    conventions: list[Convention] | None = None,
) -> CaisseAccess | None:
    """The account's access to that caisse, or None; conventions: as in `accesses`."""
    if caisse_id is None:
        return None
    for access in accesses(account, day, caisse_id=caisse_id, conventions=conventions):
        if access.caisse.id == caisse_id:
            return access
    return None


def structure_has_any_access(structure_id: int, day: date | None = None) -> bool:
    """R-LIFE-1: False once every convention has ended and no history access remains."""
    day = day or today()
    conventions = list(db.session.scalars(select(Convention).where(Convention.structure_id == structure_id)))
    by_caisse: dict[int, list[Convention]] = {}
    for convention in conventions:
        by_caisse.setdefault(convention.caisse_id, []).append(convention)
    return any(_situation(structure_id, items[0].caisse, items, day) for items in by_caisse.values())


def select_caisse(
    account: PartnerAccount, caisse_id: int, conventions: list[Convention] | None = None
) -> CaisseAccess | None:
    """Record the choice (default next time, R-ORG-1) and audit the switch; conventions: as in `accesses`."""
    from . import audit

    access = access_for(account, caisse_id, conventions=conventions)
    if access is None:
        return None
    if account.last_caisse_id != caisse_id:
        account.last_caisse_id = caisse_id
    audit.record("caisse.select", actor=account, target=account, caisse_id=caisse_id, situation=access.situation.value)
    db.session.commit()
    return access
