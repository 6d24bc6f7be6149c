"""Why a transition was refused, in French, read from the request as the winning transition left it."""

from collections.abc import Callable
from functools import wraps

from ...clock import now
from ...models import Agent, PartnerAccount, Request, RequestStatus
from .reading import EXCHANGE_DAYS, EXCHANGE_MAX_ROUNDS, exchange_deadline

ALREADY_ANSWERED = "Cette demande a déjà reçu une réponse."
ALREADY_COMPLETED = (
    "Ce complément est déjà enregistré : le commentaire est inchangé et aucune nouvelle pièce jointe n'est ajoutée."
)
CANCELLED_BY_PARTNER = "Cette demande a été annulée par le partenaire."
MAX_ROUNDS_REACHED = "Le nombre maximal d'échanges est atteint."
NOT_IN_CAISSE = "Cette demande ne relève pas de votre caisse."
NOT_IN_STRUCTURE = "Cette demande ne relève pas de votre structure."
NATIONAL_READS_ONLY = (
    "La prise en charge, la réponse et la réattribution des demandes relèvent des agents de la caisse : "
    "l'administrateur national les consulte."
)
NATIONAL_NO_NOTE = "Les notes internes sont rédigées par les agents de la caisse de la demande."


def _structure_first(explain: Callable[[Request], str]) -> Callable[[PartnerAccount, Request], str]:
    """A partner's refusal says first that the request is another structure's, before what its
    status explains."""

    @wraps(explain)
    def refusal(account: PartnerAccount, request: Request) -> str:
        if request.structure_id != account.structure_id:
            return NOT_IN_STRUCTURE
        return explain(request)

    return refusal


@_structure_first
def not_completed(request: Request) -> str:
    if request.status == RequestStatus.CANCELLED.value:
        return "Cette demande a été annulée."
    if request.status != RequestStatus.NEW.value:
        return "La demande ne peut plus être complétée : elle a été prise en charge."
    return ALREADY_COMPLETED


@_structure_first
def not_cancelled(request: Request) -> str:
    if request.status == RequestStatus.CANCELLED.value:
        return "Cette demande a déjà été annulée."
    if request.status == RequestStatus.TAKEN.value:
        return "La demande ne peut plus être annulée : elle a été prise en charge."
    return "La demande ne peut plus être annulée : la caisse y a déjà répondu."


@_structure_first
def no_message(request: Request) -> str:
    if request.status == RequestStatus.MESSAGE_SENT.value:
        return "Votre message a déjà été envoyé : la caisse n'y a pas encore répondu."
    if request.status == RequestStatus.CLOSED.value:
        return "L'échange est clôturé : aucun message ne peut plus être envoyé."
    if request.status in (RequestStatus.RESOLVED.value, RequestStatus.MESSAGE_RECEIVED.value):
        if request.caisse_answers_in_exchange >= EXCHANGE_MAX_ROUNDS:
            return MAX_ROUNDS_REACHED
        if request.resolved_at is not None and now() >= exchange_deadline(request):
            return f"Le délai de {EXCHANGE_DAYS} jours pour poursuivre l'échange est dépassé."
    return "L'échange n'est plus possible sur cette demande."


@_structure_first
def not_closed(request: Request) -> str:
    if request.status == RequestStatus.CLOSED.value:
        return "L'échange est déjà clôturé."
    return "L'échange ne peut être clôturé qu'après une réponse de la caisse."


def _caisse_first(explain: Callable[[Agent, Request], str]) -> Callable[[Agent, Request], str]:
    """An agent's refusal says first that the request is another caisse's, then that the national
    admin only reads, before what its status explains."""

    @wraps(explain)
    def refusal(agent: Agent, request: Request) -> str:
        if not agent.is_national_admin and request.caisse_id != agent.caisse_id:
            return NOT_IN_CAISSE
        if agent.caisse_id is None:
            return NATIONAL_READS_ONLY
        return explain(agent, request)

    return refusal


def owned_by(request: Request) -> str:
    """Who owns the request, for the screen and the refusals: « Paul BERNARD »."""
    return request.taken_by.full_name if request.taken_by else "un autre agent"


def not_the_owner(request: Request) -> str:
    return (
        f"Cette demande est prise en charge par {owned_by(request)} : "
        "seul cet agent ou un administrateur de la caisse peut y répondre."
    )


def _another_owns(agent: Agent, request: Request) -> bool:
    """The request is another agent's and the agent is no admin of its caisse (ownership.may_handle)."""
    return not agent.is_caisse_admin and request.taken_by_agent_id is not None and request.taken_by_agent_id != agent.id


@_caisse_first
def not_taken(agent: Agent, request: Request) -> str:
    if request.status == RequestStatus.CANCELLED.value:
        return CANCELLED_BY_PARTNER
    return f"Cette demande a déjà été prise en charge par {owned_by(request)}."


@_caisse_first
def not_answered(agent: Agent, request: Request) -> str:
    if request.status == RequestStatus.CANCELLED.value:
        return CANCELLED_BY_PARTNER
    if request.status == RequestStatus.TAKEN.value and _another_owns(agent, request):
        return not_the_owner(request)
    return ALREADY_ANSWERED


@_caisse_first
def no_reply(agent: Agent, request: Request) -> str:
    if request.status == RequestStatus.MESSAGE_SENT.value and _another_owns(agent, request):
        return not_the_owner(request)
    if request.status == RequestStatus.MESSAGE_RECEIVED.value:
        return "Ce message du partenaire a déjà reçu une réponse."
    return "Aucun message du partenaire n'attend de réponse."


def not_reassigned(agent: Agent, request: Request, expected_owner_id: int | None) -> str:
    if request.caisse_id != agent.caisse_id:
        return NOT_IN_CAISSE
    if request.status in (RequestStatus.NEW.value, RequestStatus.CLOSED.value, RequestStatus.CANCELLED.value):
        return f"Une demande au statut « {request.status_label} » ne peut pas être réattribuée."
    if request.taken_by_agent_id != expected_owner_id:
        return f"Cette demande a déjà été réattribuée : elle est prise en charge par {owned_by(request)}."
    return (
        f"Cette demande est prise en charge par {owned_by(request)} : "
        "seul cet agent ou un administrateur de la caisse peut la réattribuer."
    )
