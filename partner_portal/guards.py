"""Portal access checks: a logged-in partner, a valid password and CGU, a selected caisse (R-ORG-*)."""

from functools import wraps

from flask import abort, g, redirect, request, session, url_for

from backoffice.current import current_partner  # noqa: F401 (the routes import it from here)
from backoffice.services import access as access_service
from backoffice.services.accounts import password_expired
from backoffice.services.auth import prefetched_conventions


def login_required(view):
    """A partner account; an expired password (R-ACC-4) or unaccepted CGU (R-ACC-5) comes first."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        account = current_partner()
        if account is None:
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        if password_expired(account) and request.endpoint != "portal.change_password":
            return redirect(url_for("portal.change_password"))
        if account.cgu_accepted_at is None and request.endpoint not in ("portal.cgu", "portal.change_password"):
            return redirect(url_for("portal.cgu"))
        return view(*args, **kwargs)

    return wrapper


def ack_key(access) -> str:
    """What 'Continuer' acknowledged: this caisse in this situation. When the situation changes
    (ending → ended at midnight), the new alert must be shown again (R-ORG-3..5)."""
    return f"{access.caisse.id}:{access.situation.value}"


def caisse_required(view):
    """The selected caisse must still be reachable and its alert acknowledged; sets g.access."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        account = current_partner()
        caisse_id = session.get("caisse_id")
        access = access_service.access_for(account, caisse_id, conventions=prefetched_conventions(account, caisse_id))
        if access is None:
            session.pop("caisse_id", None)
            session.pop("caisse_ack", None)
            return redirect(url_for("portal.select_caisse"))
        notice = access.notice(account.is_manager)
        if access.blocks(account.is_manager) or (notice and session.get("caisse_ack") != ack_key(access)):
            return redirect(url_for("portal.caisse_notice"))
        g.access = access
        return view(*args, **kwargs)

    return wrapper


def _role_required(manager: bool):
    """A page of the selected caisse (caisse_required) for managers only, or technicians only: 403 otherwise."""

    def decorator(view):
        @wraps(view)
        @caisse_required
        def wrapper(*args, **kwargs):
            if current_partner().is_manager != manager:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


manager_required = _role_required(manager=True)
technician_required = _role_required(manager=False)
