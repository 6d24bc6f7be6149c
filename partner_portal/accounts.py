"""'Gestion des comptes' (R-TEC-1..6): a manager administers the technician accounts of its structure."""

from functools import wraps

from flask import flash, g, redirect, render_template, url_for

from backoffice.models import PartnerRole
from backoffice.services import accounts as account_service
from backoffice.ui import found_or_404, run_service

from . import bp
from .forms import ConfirmForm, ReactivateForm, TechnicianForm
from .guards import current_partner, manager_required

IDENTITY_FIELDS = ("civility", "birth_name", "usage_name", "first_name", "function", "phone", "email")


def _technician_form(form, technician, save, success: str):
    """The technician form, new (technician None) or edit: once it validates, save(identity) is
    the service call (a refusal comes back on the form), else the page."""
    if form.validate_on_submit():
        saved = run_service(
            lambda: save({k: form[k].data for k in IDENTITY_FIELDS}),
            form=form,
            success=success,
            redirect_to=url_for("portal.accounts"),
        )
        if saved:
            return saved
    return render_template("portal/account_form.html", form=form, technician=technician)


def _technician_page(action: str):
    """A manager's page about one technician of its structure, /comptes/<id>/<action> (GET shows,
    POST acts): the view is called with the technician, a 404 when the id names none of them."""

    def decorator(view):
        @wraps(view)
        def with_technician(account_id: int):
            return view(found_or_404(account_service.technician_of(current_partner().structure_id, account_id)))

        return bp.route(f"/comptes/<int:account_id>/{action}", methods=["GET", "POST"])(
            manager_required(with_technician)
        )

    return decorator


@bp.route("/comptes")
@manager_required
def accounts():
    structure_id = current_partner().structure_id
    return render_template(
        "portal/accounts.html",
        technicians=account_service.technicians_of(structure_id),
        cap_reached=account_service.technician_cap_reached(structure_id, g.access.caisse.id),
        confirm=ConfirmForm(),
    )


@bp.route("/comptes/nouveau", methods=["GET", "POST"])
@manager_required
def account_new():
    manager = current_partner()
    if account_service.technician_cap_reached(manager.structure_id, g.access.caisse.id):
        flash("Le nombre maximum de comptes techniciens actifs est atteint pour votre structure.", "error")
        return redirect(url_for("portal.accounts"))
    return _technician_form(
        TechnicianForm(),
        None,
        lambda identity: account_service.create_account(
            manager.structure, PartnerRole.TECHNICIAN, identity, manager, g.access.caisse.id
        ),
        "Compte technicien partenaire créé avec succès.",
    )


@_technician_page("modifier")
def account_edit(technician):
    return _technician_form(
        TechnicianForm(obj=technician),
        technician,
        lambda identity: account_service.update_account(technician, identity, current_partner(), g.access.caisse.id),
        "Compte technicien partenaire modifié avec succès.",
    )


@_technician_page("inactiver")
def account_inactivate(technician):
    """GET asks 'Êtes-vous sûr de vouloir inactiver ce compte ?'; POST does it (R-TEC-4)."""
    form = ConfirmForm()
    if form.validate_on_submit():
        run_service(
            lambda: account_service.inactivate_account(technician, current_partner(), g.access.caisse.id),
            success=f"Le compte {technician.login} est inactivé.",
        )
        return redirect(url_for("portal.accounts"))
    return render_template("portal/account_inactivate.html", technician=technician, form=form)


@_technician_page("reactiver")
def account_reactivate(technician):
    """Confirmation, then the required reason (R-TEC-5); the new link is e-mailed (R-ACC-6)."""
    form = ReactivateForm()
    if form.validate_on_submit():
        reactivated = run_service(
            lambda: account_service.reactivate_account(
                technician, form.reason.data, current_partner(), g.access.caisse.id
            ),
            form=form,
            success=f"Le compte {technician.login} est réactivé : un e-mail l'invite à créer un nouveau mot de passe.",
            redirect_to=url_for("portal.accounts"),
        )
        if reactivated:
            return reactivated
    return render_template("portal/account_reactivate.html", technician=technician, form=form)
