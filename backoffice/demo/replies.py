"""The demo's « Modèles de réponse » (data.REPLY_TEMPLATES), written by each caisse's admin through
the service, so the demo's templates pass the checks a caisse admin's do."""

from sqlalchemy import select

from ..extensions import db
from ..models import Motive, ServiceOffer
from ..services import reply_templates
from . import data


def load(caisses: dict, agents: dict) -> None:
    """caisses by code, agents by login: the caisse admin of each template's caisse writes it."""
    admins = {agent.caisse_id: agent for agent in agents.values() if agent.is_caisse_admin}
    offers = {offer.code: offer for offer in db.session.scalars(select(ServiceOffer))}
    for code, offer_code, motive_label, title, body in data.REPLY_TEMPLATES:
        offer = offers[offer_code] if offer_code else None
        motive = (
            db.session.scalar(select(Motive).where(Motive.service_offer_id == offer.id, Motive.label == motive_label))
            if offer is not None and motive_label
            else None
        )
        reply_templates.create(
            {
                "title": title,
                "body": body,
                "service_offer_id": offer.id if offer else None,
                "motive_id": motive.id if motive else None,
            },
            admins[caisses[code].id],
        )
