"""'Créer mon mot de passe': the page reached from the e-mail link (R-ACC-3, R-ACC-6)."""

from flask import render_template, url_for

from backoffice.extensions import db
from backoffice.models import Agent
from backoffice.services import tokens
from backoffice.services.errors import DomainError
from backoffice.services.passwords import POLICY_TEXT
from backoffice.views.auth import sign_out

from . import bp
from .forms import SetPasswordForm


@bp.route("/mot-de-passe/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """GET shows the form (no state change); POST consumes the token and sets the password."""
    valid = tokens.find_valid(token)
    if valid is None:
        return render_template("portal/link_invalid.html", message=tokens.INVALID_LINK), 410
    owner = valid.owner
    login = owner.username if isinstance(owner, Agent) else owner.login
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            tokens.set_password_with_token(token, form.password.data, form.confirmation.data)
        except DomainError as exc:
            db.session.rollback()
            target = form[exc.field] if exc.field in ("password", "confirmation") else form.password
            target.errors = list(target.errors) + [exc.message]
        else:
            sign_out()  # whoever was logged in this browser: that session ends on the server too
            login_url = url_for("bo_auth.login") if isinstance(owner, Agent) else url_for("portal.login")
            return render_template("portal/password_set.html", login=login, login_url=login_url)
    return render_template("portal/set_password.html", form=form, login=login, policy=POLICY_TEXT)
