"""Portal login, logout, forgotten and expired passwords, CGU (R-ACC-4/5/6)."""

from flask import flash, redirect, render_template, url_for

from backoffice.extensions import db, limiter
from backoffice.security import RESET_LIMIT
from backoffice.services import accounts as account_service
from backoffice.services.errors import DomainError
from backoffice.services.passwords import POLICY_TEXT
from backoffice.views.auth import add_login_routes, sign_in

from . import bp
from .forms import CguForm, ChangePasswordForm, ForgotPasswordForm, LoginForm
from .guards import current_partner, login_required

LOGGED_OUT = "Vous êtes déconnecté(e) d'Espace Partenaires."
RESET_SENT = (
    "Si cet identifiant correspond à un compte actif, un e-mail contenant un lien « Créer mon mot "
    "de passe » vient de lui être envoyé."
)


add_login_routes(bp, LoginForm, current_partner, "portal.home", "portal.select_caisse", "portal/login.html", LOGGED_OUT)


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@limiter.limit(RESET_LIMIT, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        account_service.request_password_reset(form.login.data)
        flash(RESET_SENT, "info")
        return redirect(url_for("portal.login"))
    return render_template("portal/forgot_password.html", form=form)


@bp.route("/mot-de-passe/changer", methods=["GET", "POST"])
@login_required
def change_password():
    account = current_partner()
    expired = account_service.password_expired(account)
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            account_service.change_password(account, form.current.data, form.password.data, form.confirmation.data)
        except DomainError as exc:
            db.session.rollback()
            target = form[exc.field] if exc.field in form else form.password
            target.errors = list(target.errors) + [exc.message]
        else:
            # The change ended every session of the account; this browser goes on in a new one.
            sign_in(account, fresh=False)
            flash("Votre mot de passe a été modifié.", "success")
            return redirect(url_for("portal.home"))
    return render_template("portal/change_password.html", form=form, expired=expired, policy=POLICY_TEXT)


@bp.route("/cgu", methods=["GET", "POST"])
@login_required
def cgu():
    account = current_partner()
    form = CguForm()
    if form.validate_on_submit():
        account_service.accept_cgu(account, form.newsletter.data)
        return redirect(url_for("portal.select_caisse"))
    return render_template("portal/cgu.html", form=form, already=account.cgu_accepted_at is not None)
