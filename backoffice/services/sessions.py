"""Session identity: a rotating alt id ends every session of an account (ARCHITECTURE: decisions)."""
from ..models import Agent, PartnerAccount
from ..models.caisses import new_alt_id


def rotate_session_id(owner: Agent | PartnerAccount) -> None:
    owner.alt_id = new_alt_id()
