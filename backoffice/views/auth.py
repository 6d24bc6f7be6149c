"""Login and logout: the back-office's blueprint, and the two views both front ends share (add_login_routes)."""

from collections.abc import Callable
from dataclasses import dataclass

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

    def authenticate(self):
        return authenticate_agent(self.username.data, self.password.data)


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


@dataclass(frozen=True)
class _FrontEnd:
    form_class: type
    current_user: Callable
    home: str
    first_page: str
    template: str
    goodbye: str


_FRONT_ENDS: dict[str, _FrontEnd] = {}


def add_login_routes(bp, form_class, current_user, home: str, first_page: str, template: str, goodbye: str) -> None:
    """The login and logout pages of a front end: /connexion and /deconnexion on `bp` (endpoints
    <bp>.login and <bp>.logout). Both front ends share the two views below, which read what they
    differ by from the blueprint of the request:
    - form_class: its login form, with a password field and authenticate() -> the user;
    - current_user(): who is signed in on this front end (sent to the `home` endpoint);
    - first_page: the endpoint after login when `next` is not a same-site path (safe_next);
    - template: the page; goodbye: the message after logout."""
    _FRONT_ENDS[bp.name] = _FrontEnd(form_class, current_user, home, first_page, template, goodbye)
    bp.add_url_rule("/connexion", "login", login, methods=["GET", "POST"])
    bp.add_url_rule("/deconnexion", "logout", logout, methods=["POST"])


# Flask-Limiter counts a route's hits per endpoint: each front end's login has its own 20 a minute.
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
def login():
    """Once the form validates, form.authenticate() gives the user, who gets a fresh session
    (sign_in) and goes to the `next` page; a refusal (bad credentials, throttled, inactive: the
    service has recorded the attempt) is shown under the password field, whatever it names."""
    front = _FRONT_ENDS[request.blueprint]
    if front.current_user() is not None:
        return redirect(url_for(front.home))
    form = front.form_class()
    if form.validate_on_submit():
        try:
            user = form.authenticate()
        except DomainError as exc:
            form.password.errors = list(form.password.errors) + [exc.message]
        else:
            next_url = safe_next(request.args.get("next"), url_for(front.first_page))
            sign_in(user)  # a fresh session on every login
            return redirect(next_url)
    return render_template(front.template, form=form)


def logout():
    """This browser's session ends (sign_out: the account's other sessions go on)."""
    sign_out()
    flash(_FRONT_ENDS[request.blueprint].goodbye, "info")
    return redirect(url_for(".login"))


# The caisse's staff land on « À traiter » after login (views/base.py SecureIndexView.landing).
add_login_routes(
    bp, LoginForm, current_agent, "admin.index", "admin.landing", "auth/login.html", "Vous êtes déconnecté."
)
