"""Who is logged in, one helper per population: current_agent() in the back office,
current_partner() in the partner portal (both read the same Flask-Login session)."""

from flask import g
from flask_login import current_user


def _logged_in(kind: str):
    """The logged-in user itself if it is of that kind ("agent" or "partner"), else None.

    It reads the user Flask-Login loaded for this request (g._login_user, loaded once; called for
    every menu entry of every back-office page) rather than going through the current_user proxy
    each time, and returns the object, not the proxy: handing the proxy to login_user would make
    Flask-Login's user resolve to itself, endlessly."""
    user = g.get("_login_user")
    if user is None:
        user = current_user._get_current_object()
    if getattr(user, "kind", None) == kind and user.is_authenticated:
        return user
    return None


def current_agent():
    """The logged-in Agent, or None."""
    return _logged_in("agent")


def current_partner():
    """The logged-in PartnerAccount, or None."""
    return _logged_in("partner")
