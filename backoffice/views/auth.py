"""Back-office login and logout (agents only)."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from .. import inputs
from ..current import current_agent
from ..extensions import limiter
from ..security import LOGIN_LIMIT
from ..services import sessions as session_service
from ..services.auth import authenticate_agent
from ..services.errors import DomainError

bp = Blueprint("bo_auth", __name__, url_prefix="/admin")


class LoginForm(inputs.SafeFlaskForm):
    username = StringField("Identifiant", validators=[DataRequired("Veuillez saisir votre identifiant.")])
    password = PasswordField("Mot de passe", validators=[DataRequired("Veuillez saisir votre mot de passe.")])


def safe_next(target: str | None, default: str) -> str:
    """The `next` to follow after login: a same-site path (see inputs.same_site_path), else default.
    Flask-Admin's `url=` return parameter goes through the same check (views/base.py)."""
    return inputs.safe_next(target, default)


def sign_in(user, fresh: bool = True) -> None:
    """Open a server-side session for `user` and put its key in the cookie. fresh: a new cookie
    session (login); otherwise what it holds is kept (the portal's password change, whose rotation
    ended every session of the account, this one included)."""
    key = session_service.open_session(user)
    if fresh:
        session.clear()
    login_user(user)
    session[session_service.SESSION_KEY] = key
    session.permanent = True  # the cookie's expiry follows the idle timeout (a hint: the server decides)


def sign_out() -> None:
    """Revoke this browser's session on the server (the account's other sessions go on)."""
    session_service.revoke(session.get(session_service.SESSION_KEY))
    logout_user()
    session.clear()


def login_page(form, authenticate, default_next: str, template: str):
    """The login page of either front end: once the form validates, authenticate() gives the
    user, who gets a fresh session (sign_in) and goes to the `next` page (safe_next, else
    default_next); a refusal (bad credentials, throttled, inactive: the service has recorded the
    attempt) is shown under the password field, whatever it names."""
    if form.validate_on_submit():
        try:
            user = authenticate()
        except DomainError as exc:
            form.password.errors = list(form.password.errors) + [exc.message]
        else:
            next_url = safe_next(request.args.get("next"), default_next)
            sign_in(user)  # a fresh session on every login
            return redirect(next_url)
    return render_template(template, form=form)


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
def login():
    if current_agent() is not None:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    return login_page(
        form,
        lambda: authenticate_agent(form.username.data, form.password.data),
        url_for("admin.landing"),  # « À traiter » for the caisse's staff (views/base.py SecureIndexView)
        "auth/login.html",
    )


@bp.route("/deconnexion", methods=["POST"])
def logout():
    sign_out()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("bo_auth.login"))
