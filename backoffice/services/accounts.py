"""Partner accounts: managers created by the caisse (R-MGR-*), technicians by a manager (R-TEC-*).

Both follow R-ACC-1..3 and R-ACC-6: validated identity, generated login, set-password e-mail.
"""

from sqlalchemy import select

from ..clock import now
from ..extensions import db
from ..models import Convention, ConventionState, PartnerAccount, PartnerRole, Structure
from . import audit, outbox, statements, tokens
from .errors import DomainError
from .identity import clean_identity, generate_login, strip_accents
from .sessions import rotate_session_id

REASON_MAX = 5000


def conventions_of(structure_id: int, caisse_id: int | None = None) -> list[Convention]:
    query = select(Convention).where(Convention.structure_id == structure_id)
    if caisse_id is not None:
        query = query.where(Convention.caisse_id == caisse_id)
    return list(db.session.scalars(query.order_by(Convention.end_date.desc())))


def active_count(structure_id: int, role: PartnerRole, exclude_id: int | None = None) -> int:
    conditions = [
        PartnerAccount.structure_id == structure_id,
        PartnerAccount.role == role.value,
        PartnerAccount.active.is_(True),
    ]
    if exclude_id is not None:
        conditions.append(PartnerAccount.id != exclude_id)
    return statements.count(PartnerAccount, *conditions)


def cap(convention: Convention, role: PartnerRole) -> int:
    if role is PartnerRole.MANAGER:
        return convention.effective_manager_cap
    return convention.effective_technician_cap


def structure_cap(structure_id: int, role: PartnerRole, caisse_id: int | None = None) -> int | None:
    """The cap of the structure's open convention(s): the most generous of the open ones."""
    caps = [cap(c, role) for c in conventions_of(structure_id, caisse_id) if c.state() is not ConventionState.ENDED]
    return max(caps) if caps else None


def _cap_message(role: PartnerRole, limit: int) -> str:
    if role is PartnerRole.MANAGER:
        return f"Le nombre maximum de comptes gestionnaires actifs ({limit}) est atteint pour cette structure."
    return f"Le nombre maximum de comptes techniciens actifs ({limit}) est atteint pour cette structure."


def _check_cap(structure: Structure, role: PartnerRole, caisse_id: int | None) -> None:
    limit = structure_cap(structure.id, role, caisse_id)
    if limit is None:
        raise DomainError("Cette structure n'a pas de convention en cours ou à venir avec l'organisme.")
    if active_count(structure.id, role) >= limit:
        raise DomainError(_cap_message(role, limit))


def _send_welcome(account: PartnerAccount, caisse_id: int | None, reactivated: bool) -> None:
    outbox.enqueue(
        "account_reactivated" if reactivated else "account_created",
        account.email,
        "account_reactivated" if reactivated else "account_created",
        caisse_id=caisse_id,
        link_owner=account,
        link_purpose="reactivate" if reactivated else "create",
        account=account,
        role_word="gestionnaire" if account.is_manager else "technicien",
    )


def create_account(structure: Structure, role: PartnerRole, data: dict, actor, caisse_id: int | None) -> PartnerAccount:
    """R-MGR-1 / R-TEC-1..2: identity rules, cap, generated login, welcome e-mail, audit."""
    fields = clean_identity(data)
    _check_cap(structure, role, caisse_id)
    login = generate_login(fields["first_name"], fields["birth_name"], fields["usage_name"])
    account = PartnerAccount(structure=structure, role=role.value, login=login, **fields)
    if getattr(actor, "kind", None) == "agent":
        account.created_by_agent_id = actor.id
    elif getattr(actor, "kind", None) == "partner":
        account.created_by_account_id = actor.id
    db.session.add(account)
    db.session.flush()
    _send_welcome(account, caisse_id, reactivated=False)
    audit.record(
        f"{role.value}.create",
        actor=actor,
        target=account,
        caisse_id=caisse_id,
        login=login,
        structure_id=structure.id,
    )
    db.session.commit()
    return account


def update_account(account: PartnerAccount, data: dict, actor, caisse_id: int | None) -> PartnerAccount:
    """Identity changes; the login never changes (R-ACC-2)."""
    fields = clean_identity(data)
    changed = sorted(k for k, v in fields.items() if getattr(account, k) != v)
    for key, value in fields.items():
        setattr(account, key, value)
    audit.record(f"{account.role}.update", actor=actor, target=account, caisse_id=caisse_id, changed=changed)
    db.session.commit()
    return account


def inactivate_account(account: PartnerAccount, actor, caisse_id: int | None) -> None:
    """R-MGR-2 / R-TEC-4: never the last active manager (or technician) of the structure."""
    if not account.active:
        raise DomainError("Ce compte est déjà inactif.")
    role = PartnerRole(account.role)
    if active_count(account.structure_id, role, exclude_id=account.id) == 0:
        if role is PartnerRole.MANAGER:
            raise DomainError(
                "Impossible d'inactiver le dernier gestionnaire actif de la structure : "
                "créez d'abord un nouveau compte gestionnaire."
            )
        raise DomainError(
            "Impossible d'inactiver ce compte : la structure doit conserver au moins un technicien actif."
        )
    deactivate(account)
    audit.record(f"{account.role}.inactivate", actor=actor, target=account, caisse_id=caisse_id)
    db.session.commit()


def deactivate(account: PartnerAccount) -> None:
    """Inactivate without the checks of inactivate_account (housekeeping's R-LIFE-1 uses it too)."""
    account.active = False
    account.inactivated_at = now()
    rotate_session_id(account)


def reactivate_account(account: PartnerAccount, reason: str, actor, caisse_id: int | None) -> None:
    """R-TEC-5 / R-ACC-6: a required reason (kept), the cap, a new set-password link."""
    reason = (reason or "").strip()
    if account.active:
        raise DomainError("Ce compte est déjà actif.")
    if not reason:
        raise DomainError("Veuillez saisir le motif de réactivation.", "reason")
    if len(reason) > REASON_MAX:
        raise DomainError(f"Le motif de réactivation ne doit pas dépasser {REASON_MAX} caractères.", "reason")
    _check_cap(account.structure, PartnerRole(account.role), caisse_id)
    account.active = True
    account.inactivated_at = None
    account.reactivation_reason = reason
    account.password_hash = None  # the old password no longer works (R-ACC-6)
    rotate_session_id(account)
    _send_welcome(account, caisse_id, reactivated=True)
    audit.record(f"{account.role}.reactivate", actor=actor, target=account, caisse_id=caisse_id, reason=reason)
    db.session.commit()


# --- portal self-service (R-ACC-4, R-ACC-5, "Mot de passe oublié ?") ----------------------------


def password_expired(account: PartnerAccount) -> bool:
    """R-ACC-4: the password must be changed after PASSWORD_MAX_AGE_DAYS."""
    from datetime import timedelta

    from flask import current_app

    if account.password_changed_at is None:
        return False
    max_age = timedelta(days=current_app.config["PASSWORD_MAX_AGE_DAYS"])
    return account.password_changed_at + max_age <= now()


def accept_cgu(account: PartnerAccount, newsletter: bool) -> None:
    """R-ACC-5: CGU accepted at first login, with the newsletter opt-in."""
    from ..models import NewsletterSubscription

    account.cgu_accepted_at = now()
    if newsletter and db.session.get(NewsletterSubscription, account.id) is None:
        db.session.add(NewsletterSubscription(account_id=account.id))
    audit.record("cgu.accept", actor=account, target=account, newsletter=bool(newsletter))
    db.session.commit()


def change_password(account: PartnerAccount, current: str, new: str, confirmation: str) -> None:
    """Change with the current password; every other session of the account ends."""
    from .passwords import check_policy, verify_password

    if not verify_password(account.password_hash, current or ""):
        raise DomainError("Le mot de passe actuel est incorrect.", "current")
    check_policy(new, account.login)
    if new != confirmation:
        raise DomainError("Les deux mots de passe saisis ne sont pas identiques.", "confirmation")
    if verify_password(account.password_hash, new):
        raise DomainError("Le nouveau mot de passe doit être différent de l'actuel.", "password")
    tokens.set_password(account, new)
    audit.record("password.change", actor=account, target=account)
    db.session.commit()


def request_password_reset(login: str) -> None:
    """'Mot de passe oublié ?': e-mail a set-password link if the login is an active account.

    The caller shows the same answer whether or not the login exists.
    """
    login = (login or "").strip().lower()
    account = db.session.scalar(select(PartnerAccount).where(PartnerAccount.login == login)) if login else None
    if account is None or not account.active:
        audit.record("password.reset_request", actor=None, login=login[:64], found=False)
        db.session.commit()
        return
    outbox.enqueue(
        "password_reset",
        account.email,
        "password_reset",
        caisse_id=account.last_caisse_id,
        link_owner=account,
        link_purpose="reset",
        account=account,
    )
    audit.record("password.reset_request", actor=None, target=account, found=True)
    db.session.commit()


def technicians_of(structure_id: int) -> list[PartnerAccount]:
    """R-TEC-3: active accounts first, then inactive; alphabetical by name within each group."""
    accounts = db.session.scalars(
        select(PartnerAccount).where(
            PartnerAccount.structure_id == structure_id,
            PartnerAccount.role == PartnerRole.TECHNICIAN.value,
        )
    )

    def alphabetical(name: str) -> str:
        return strip_accents(name).casefold()  # 'ÉTIENNE' between 'DUPONT' and 'FABRE'

    return sorted(
        accounts,
        key=lambda a: (not a.active, alphabetical(a.display_name), alphabetical(a.first_name), a.login),
    )


def technician_of(structure_id: int, account_id: int) -> PartnerAccount | None:
    """A technician of this structure only: another structure's id gives None (→ 404)."""
    return db.session.scalar(
        select(PartnerAccount).where(
            PartnerAccount.id == account_id,
            PartnerAccount.structure_id == structure_id,
            PartnerAccount.role == PartnerRole.TECHNICIAN.value,
        )
    )


def technician_cap_reached(structure_id: int, caisse_id: int | None) -> bool:
    limit = structure_cap(structure_id, PartnerRole.TECHNICIAN, caisse_id)
    return limit is None or active_count(structure_id, PartnerRole.TECHNICIAN) >= limit
