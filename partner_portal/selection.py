"""R-ORG-1..5: choosing the caisse after login, its alert, and switching from the header."""

from flask import redirect, render_template, session, url_for

from backoffice.services import access as access_service
from backoffice.services.auth import prefetched_conventions

from . import bp
from .forms import CaisseForm, ConfirmForm
from .guards import ack_key, current_partner, login_required


@bp.route("/organisme", methods=["GET", "POST"])
@login_required
def select_caisse():
    account = current_partner()
    options = access_service.accesses(account)
    form = CaisseForm()
    form.caisse_id.choices = [(0, "Sélectionner un organisme")] + [
        (a.caisse.id, a.caisse.name + (" *" if a.special else "")) for a in options
    ]
    if not form.is_submitted():
        current = session.get("caisse_id") or account.last_caisse_id
        form.caisse_id.data = current if any(a.caisse.id == current for a in options) else 0
    if form.validate_on_submit():
        chosen = form.caisse_id.data
        access = (
            access_service.select_caisse(account, chosen, conventions=prefetched_conventions(account, chosen))
            if chosen
            else None
        )
        if access is None:
            form.caisse_id.errors = list(form.caisse_id.errors) + ["Veuillez sélectionner un organisme."]
        else:
            session["caisse_id"] = access.caisse.id
            session.pop("caisse_ack", None)
            if access.notice(account.is_manager) or access.blocks(account.is_manager):
                return redirect(url_for("portal.caisse_notice"))
            return redirect(url_for("portal.home"))
    special = {a.caisse.id for a in options if a.special}
    return render_template("portal/select_caisse.html", form=form, options=options, special=special)


@bp.route("/organisme/avertissement", methods=["GET", "POST"])
@login_required
def caisse_notice():
    """The alert of R-ORG-2..5; 'Continuer' (a POST) acknowledges it, except for R-ORG-2 technicians."""
    account = current_partner()
    caisse_id = session.get("caisse_id")
    access = access_service.access_for(account, caisse_id, conventions=prefetched_conventions(account, caisse_id))
    if access is None:
        return redirect(url_for("portal.select_caisse"))
    blocked = access.blocks(account.is_manager)
    message = access.notice(account.is_manager)
    form = ConfirmForm()
    if not blocked and form.validate_on_submit():
        session["caisse_ack"] = ack_key(access)
        return redirect(url_for("portal.home"))
    if not blocked and not message:
        return redirect(url_for("portal.home"))
    return render_template("portal/caisse_notice.html", access=access, blocked=blocked, message=message, form=form)
