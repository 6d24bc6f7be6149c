"""The caisse's "Modèles de réponse" (issue 13 §4): a title and a text with placeholders, optionally
for an offer and a motive, managed by the caisse admin and inserted by its agents in an answer.

Placeholders are parsed here (PLACEHOLDER_RE), never handed to str.format: a template is data, and
`{numero.__class__}` or `{0}` is refused when it is saved, as is a lone brace. Rendering replaces
each known name by its value for the request (a missing value is an empty string).
"""

import re
from collections.abc import Callable

from sqlalchemy import case, select
from sqlalchemy import update as sql_update

from ..clock import format_date, now
from ..extensions import db
from ..inputs import forbidden_character
from ..models import Agent, CaisseMotive, CaisseOffer, Motive, ReplyTemplate, Request, ServiceOffer
from . import audit, statements
from .errors import DomainError, ValidationFailed
from .requests.filing import COMMENT_MAX

TITLE_MAX = 120

# name → its value for (request, answering agent), in the order the help text lists them.
PLACEHOLDERS: dict[str, Callable[[Request, Agent | None], str | None]] = {
    "numero": lambda r, a: r.number,
    "date_depot": lambda r, a: format_date(r.deposited_at),
    "civilite_personne": lambda r, a: r.person_civility,
    "nom_personne": lambda r, a: r.person_last_name,
    "prenom_personne": lambda r, a: r.person_first_name,
    "structure": lambda r, a: r.structure.name if r.structure else None,
    "demandeur": lambda r, a: r.requester_name,
    "agent": lambda r, a: a.full_name if a is not None else None,
}
AVAILABLE = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
# A brace pair with no brace inside, or a lone brace (the malformed case).
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}|[{}]")
LONE_BRACE = (
    "Le texte contient une accolade seule : un champ s'écrit entre accolades, par exemple {{numero}}. "
    "Champs disponibles : {available}."
)
NOT_ADMIN = "Seul l'administrateur d'un organisme gère ses modèles de réponse."
OTHER_CAISSE = "Ce modèle de réponse appartient à un autre organisme."


def placeholder_errors(body: str) -> str | None:
    """The French message for the unknown placeholders or lone braces of a text, or None."""
    unknown: list[str] = []
    lone = False
    for match in PLACEHOLDER_RE.finditer(body):
        name = match.group(1)
        if name is None:
            lone = True
        elif name not in PLACEHOLDERS and name not in unknown:
            unknown.append(name)
    if unknown:
        shown = ", ".join("{" + name[:40] + "}" for name in unknown[:5])
        if len(unknown) == 1:
            return f"Le champ {shown} n'existe pas. Champs disponibles : {AVAILABLE}."
        return f"Les champs {shown} n'existent pas. Champs disponibles : {AVAILABLE}."
    if lone:
        return LONE_BRACE.format(available=AVAILABLE)
    return None


def render(template: ReplyTemplate, request: Request, agent: Agent | None) -> str:
    """The template's text for this request, each placeholder replaced by its value."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        getter = PLACEHOLDERS.get(name) if name is not None else None
        if getter is None:
            return match.group(0)  # saved templates have none; kept as typed
        return str(getter(request, agent) or "")

    return PLACEHOLDER_RE.sub(value, template.body)


# --- who may write ---------------------------------------------------------------------------


def _require_caisse_admin(actor) -> Agent:
    """The caisse's own admin writes its templates (the national admin reads them all)."""
    if getattr(actor, "kind", None) != "agent" or not actor.is_caisse_admin or actor.caisse_id is None:
        raise DomainError(NOT_ADMIN)
    return actor


def _check_owns(actor: Agent, template: ReplyTemplate) -> None:
    if template.caisse_id != actor.caisse_id:
        raise DomainError(OTHER_CAISSE)


# --- checks ------------------------------------------------------------------------------------


def _checked(raw, field: str, noun: str, limit: int, clean: Callable[[str], str], errors: dict) -> str:
    """The title or text (`noun` « Le titre », « Le texte ») cleaned by `clean`; a French message in
    errors[field] when it holds a forbidden character, is empty or is longer than `limit`."""
    raw = raw if isinstance(raw, str) else ""
    value = clean(raw)
    if forbidden_character(raw):
        errors[field] = f"{noun} contient un caractère non autorisé."
    elif not value:
        errors[field] = f"Veuillez saisir {noun.lower()} du modèle."
    elif len(value) > limit:
        errors[field] = f"{noun} ne doit pas dépasser {limit} caractères ({len(value)} saisis)."
    return value


def _one_line(raw: str) -> str:
    return " ".join(raw.split())


def _text(raw: str) -> str:
    return raw.replace("\r\n", "\n").replace("\r", "\n").strip()


def _clean_target(caisse_id: int, offer_id, motive_id, errors: dict) -> tuple[int | None, int | None]:
    """The optional offer and motive: the motive belongs to the offer (the offer is the motive's when
    only the motive is chosen), and the caisse offers both."""
    offer = db.session.get(ServiceOffer, offer_id) if isinstance(offer_id, int) else None
    motive = db.session.get(Motive, motive_id) if isinstance(motive_id, int) else None
    if offer_id is not None and offer is None:
        errors["service_offer_id"] = "Cette offre de service n'existe pas."
    if motive_id is not None and motive is None:
        errors["motive_id"] = "Ce motif n'existe pas."
    if motive is not None and offer is None and offer_id is None:
        offer = motive.service_offer
    if offer is not None and not db.session.get(CaisseOffer, (caisse_id, offer.id)):
        errors["service_offer_id"] = "Cette offre de service n'est pas proposée par votre organisme."
    if motive is not None and offer is not None and motive.service_offer_id != offer.id:
        errors["motive_id"] = f"Ce motif n'appartient pas à l'offre de service « {offer.label} »."
    elif motive is not None and not db.session.get(CaisseMotive, (caisse_id, motive.id)):
        errors["motive_id"] = "Ce motif n'est pas proposé par votre organisme."
    return (offer.id if offer else None), (motive.id if motive else None)


def _clean(caisse_id: int, data: dict) -> dict:
    """Every field checked, every error at once (ValidationFailed)."""
    errors: dict[str, str] = {}
    title = _checked(data.get("title"), "title", "Le titre", TITLE_MAX, _one_line, errors)
    body = _checked(data.get("body"), "body", "Le texte", COMMENT_MAX, _text, errors)
    if "body" not in errors and (message := placeholder_errors(body)):
        errors["body"] = message
    offer_id, motive_id = _clean_target(caisse_id, data.get("service_offer_id"), data.get("motive_id"), errors)
    if errors:
        raise ValidationFailed(errors)
    return {
        "title": title,
        "body": body,
        "service_offer_id": offer_id,
        "motive_id": motive_id,
        "active": bool(data.get("active", True)),
    }


# --- writes ------------------------------------------------------------------------------------


def create(data: dict, actor) -> ReplyTemplate:
    """A new template of the admin's caisse: data has title, body, service_offer_id, motive_id, active."""
    actor = _require_caisse_admin(actor)
    fields = _clean(actor.caisse_id, data)
    template = ReplyTemplate(caisse_id=actor.caisse_id, **fields)
    details = {key: fields[key] for key in ("title", "service_offer_id", "motive_id")}
    audit.record_new("reply_template.create", actor, template, template.caisse_id, **details)
    db.session.commit()
    return template


def update(template: ReplyTemplate, data: dict, actor) -> ReplyTemplate:
    actor = _require_caisse_admin(actor)
    _check_owns(actor, template)
    fields = _clean(template.caisse_id, data)
    changed = sorted(key for key, value in fields.items() if getattr(template, key) != value)
    for key, value in fields.items():
        setattr(template, key, value)
    audit.record(
        "reply_template.update",
        actor=actor,
        target=template,
        caisse_id=template.caisse_id,
        title=template.title,
        changed=changed,
    )
    db.session.commit()
    return template


def deactivate(template: ReplyTemplate, actor) -> None:
    """No longer suggested (kept for the record): one guarded UPDATE; already inactive is said so."""
    actor = _require_caisse_admin(actor)
    _check_owns(actor, template)
    changed = statements.affected(
        sql_update(ReplyTemplate)
        .where(
            ReplyTemplate.id == template.id,
            ReplyTemplate.caisse_id == actor.caisse_id,
            ReplyTemplate.active.is_(True),
        )
        .values(active=False, updated_at=now()),
        synchronize_session=False,
    )
    if not changed:
        db.session.rollback()
        raise DomainError(f"Le modèle « {template.title} » est déjà désactivé.")
    audit.record("reply_template.deactivate", actor=actor, target=template, caisse_id=template.caisse_id)
    db.session.commit()
    db.session.expire(template)


# --- reading -----------------------------------------------------------------------------------


def suggestions(agent: Agent, request: Request) -> list[ReplyTemplate]:
    """The active templates of the request's caisse an agent of it may insert: those for the
    request's offer and motive first, then for its offer without a motive, then the general ones
    (a template for another offer or another motive is not listed), each group by title."""
    if agent is None or agent.caisse_id is None or agent.caisse_id != request.caisse_id:
        return []
    rank = case(
        (ReplyTemplate.service_offer_id.is_(None), 2),
        (ReplyTemplate.motive_id.is_(None), 1),
        else_=0,
    )
    same_motive = (
        ReplyTemplate.motive_id == request.motive_id
        if request.motive_id is not None
        else ReplyTemplate.motive_id.is_(None)
    )
    return list(
        db.session.scalars(
            select(ReplyTemplate)
            .where(
                ReplyTemplate.caisse_id == request.caisse_id,
                ReplyTemplate.active.is_(True),
                (ReplyTemplate.service_offer_id.is_(None))
                | (
                    (ReplyTemplate.service_offer_id == request.service_offer_id)
                    & (ReplyTemplate.motive_id.is_(None) | same_motive)
                ),
            )
            .order_by(rank, ReplyTemplate.title, ReplyTemplate.id)
        )
    )


def suggested(agent: Agent, request: Request, template_id: int | None) -> ReplyTemplate | None:
    """The template of that id when it is among the request's suggestions for the agent, else None."""
    if template_id is None:
        return None
    return next((t for t in suggestions(agent, request) if t.id == template_id), None)
