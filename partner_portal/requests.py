"""The technician's requests (SPEC §5): deposit, the five forms, history, detail, files, Q/R exchange.

Thin views: they parse the forms, call backoffice.services.requests and show its French messages.
Every page is scoped to the account's structure and the selected caisse (R-TEN-3): another
structure's request number or file id answers 404.
"""

import io
from datetime import timedelta

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for

from backoffice.clock import today
from backoffice.extensions import db
from backoffice.models import Attachment, RequestStatus, ServiceOffer
from backoffice.services import requests as request_service
from backoffice.services.attachments import ACCEPT_ATTRIBUTE, ACCEPTED_TEXT, MAX_FILES, human_size
from backoffice.services.errors import DomainError, ValidationFailed
from backoffice.staged_uploads import StagedUploads
from backoffice.ui import found_or_404, run_service

from . import bp
from .forms import ConfirmForm
from .guards import current_partner, technician_required
from .request_forms import (
    CancelForm,
    CompleteForm,
    MessageForm,
    RequestForm,
    posted_files,
    show_errors,
)
from .request_history import criteria_from_args, history_context

READ_ONLY_MESSAGE = "Vous ne pouvez plus déposer de nouvelles demandes auprès de cet organisme."


@bp.app_template_global()
def human_file_size(size: int) -> str:
    return human_size(size)


def _files_context(staged, limit: int, already: int = 0) -> dict:
    return {
        "staged_files": staged,
        "file_limit": limit,
        "files_already": already,
        "accept": ACCEPT_ATTRIBUTE,
        "accepted_text": ACCEPTED_TEXT,
    }


# --- deposit (R-REQ-5) and the five forms (R-REQ-1..6) ----------------------------------------


def _offer_or_404(code: str) -> ServiceOffer:
    return found_or_404(next((o for o in g.access.convention.service_offers if o.code == code), None))


@bp.route("/demandes/nouvelle")
@technician_required
def deposit():
    """One card per service offer enabled for the convention (R-REQ-5)."""
    if not g.access.can_file_requests:
        flash(READ_ONLY_MESSAGE, "warning")
        return redirect(url_for("portal.history"))
    return render_template("portal/deposit.html", offers=g.access.convention.service_offers)


@bp.route("/demandes/nouvelle/<code>", methods=["GET", "POST"])
@technician_required
def new_request(code: str):
    if not g.access.can_file_requests:
        flash(READ_ONLY_MESSAGE, "warning")
        return redirect(url_for("portal.history"))
    offer = _offer_or_404(code)
    account = current_partner()
    motives = request_service.motives_for(g.access.caisse.id, offer)
    form = RequestForm()
    form.motive_id.choices = [(str(m.id), m.label) for m in motives]
    form.documents.choices = [(str(m.id), m.label) for m in motives]
    staged, upload_errors, loose = [], [], []
    if request.method == "POST" and form.validate():
        files = posted_files(account) if offer.allows_attachments else StagedUploads(account)
        new_files, upload_errors = files.read(MAX_FILES)  # checked; written with the request if it goes
        if upload_errors or files.removed:
            staged = files.keep(new_files)  # the accepted files stay with the form
        else:
            try:
                filed = request_service.file_request(
                    account, g.access, offer, form.service_data(), files.keys, new_files
                )
            except ValidationFailed as exc:
                db.session.rollback()
                loose = show_errors(form, exc.errors)
                staged = files.keep(new_files)
            except DomainError as exc:
                db.session.rollback()
                flash(exc.message, "error")
                return redirect(url_for("portal.deposit"))
            else:
                flash(
                    f"Votre demande n° {filed.number} a bien été envoyée à l'organisme {g.access.caisse.name}.",
                    "success",
                )
                return redirect(url_for("portal.request_detail", number=filed.number))
    form.normalise_birth_date()
    return render_template(
        "portal/request_form.html",
        offer=offer,
        form=form,
        motives=motives,
        saisine_ids={m.id for m in motives if m.label == request_service.SAISINE_MOTIVE},
        renunciation=request_service.RENUNCIATION,
        consent_text=request_service.CONSENT_TEXT,
        upload_errors=upload_errors + loose,
        has_errors=bool(upload_errors or loose or any(f.errors for f in form)),
        max_birth_date=(today() - timedelta(days=1)).isoformat(),
        **_files_context(staged, MAX_FILES),
    )


# --- history (R-HIS-1..3) ---------------------------------------------------------------------


@bp.route("/demandes")
@technician_required
def history():
    """All requests of the structure for the selected caisse, with the 8 criteria (R-HIS-1..3)."""
    account = current_partner()
    criteria = criteria_from_args(request.args, account.structure_id)
    return render_template("portal/history.html", **history_context(account, g.access, criteria))


# --- detail (R-HIS-4) -------------------------------------------------------------------------


def _own_or_404(number: str):
    if not (len(number) == 10 and number.isdigit()):
        abort(404)
    return found_or_404(request_service.get_for_partner(current_partner(), g.access.caisse.id, number))


def _detail(req, **extra):
    """The four blocks (R-HIS-4), the Q/R thread and, while 'Nouveau', the two actions' dialogs."""
    files = request_service.request_files(req)
    by_message: dict[int, list[Attachment]] = {}
    for item in files:
        if item.exchange_message_id is not None:
            by_message.setdefault(item.exchange_message_id, []).append(item)
    state = request_service.exchange_state(req, files) if req.resolved_at is not None else None
    sent = [a for a in files if a.side == "partner" and a.exchange_message_id is None]
    is_new = req.status == RequestStatus.NEW.value
    context = {
        "req": req,
        "sent": sent,
        "received": [a for a in files if a.side == "caisse" and a.exchange_message_id is None],
        "by_message": by_message,
        "available": {a.id: request_service.received_file_available(a) for a in files if a.side == "caisse"},
        "available_until": lambda a: a.uploaded_at + timedelta(days=request_service.RECEIVED_FILES_DAYS),
        "state": state,
        "can_write": bool(state and state["can_write"] and not g.access.history_only),
        "is_new": is_new,
        "can_complete": is_new and not g.access.history_only,
        "details": req.details or {},
        "complete_form_obj": CompleteForm(comment=req.comment, formdata=None),
        "complete_limit": max(MAX_FILES - len(sent), 0),
        "cancel_form_obj": CancelForm(formdata=None),
        "message_form": MessageForm(formdata=None),
        "message_errors": [],
        "message_staged": [],
        "message_limit": max(request_service.EXCHANGE_MAX_FILES - (state["files"] if state else 0), 0),
        "accept": ACCEPT_ATTRIBUTE,
        "accepted_text": ACCEPTED_TEXT,
    }
    context.update(extra)
    return render_template("portal/request_detail.html", **context)


@bp.route("/demandes/<number>")
@technician_required
def request_detail(number: str):
    return _detail(_own_or_404(number))


@bp.route("/demandes/<number>/pj/<int:attachment_id>")
@technician_required
def request_file(number: str, attachment_id: int):
    """A file sent by the caisse, for 15 days (R-HIS-4, R-RGPD-1); the partner's own are names only."""
    req = _own_or_404(number)
    download = found_or_404(request_service.download_for_partner(current_partner(), req, attachment_id))
    if download.data is None:
        return (
            render_template(
                "errors/error.html",
                code=410,
                message="Cette pièce jointe a expiré : les pièces jointes reçues sont téléchargeables "
                "pendant 15 jours.",
            ),
            410,
        )
    attachment = download.attachment
    response = send_file(
        io.BytesIO(download.data),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
        etag=False,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


# --- while 'Nouveau' (R-STA-2) ----------------------------------------------------------------


def _run_on_detail(form, number: str, success: str, action):
    """Run a service call of the detail page: (redirect, []) when done or refused as a whole,
    (None, messages not shown on a field) when the form must be shown again."""
    try:
        action()
    except ValidationFailed as exc:
        db.session.rollback()
        return None, show_errors(form, exc.errors)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(success, "success")
    return _back_to(number), []


def _send_with_files(form, number: str, success: str, send, files: StagedUploads | None, limit: int):
    """A form of the detail page with files (None: the offer takes none): the files collected, each
    new one checked and staged, then, unless one was refused or a 'Supprimer' pressed,
    send(staged keys) run as _run_on_detail does. Returns (redirect or None, the staged files,
    the messages to show with them)."""
    staged: list = []
    if files is not None:
        staged, refusals = files.collect(limit)
        if refusals or files.removed:
            return None, staged, refusals
    done, loose = _run_on_detail(form, number, success, lambda: send([s.key for s in staged]))
    return done, staged, loose


def _back_to(number: str):
    """The request's detail, or the history once the request has left it (cancelled meanwhile)."""
    if request_service.get_for_partner(current_partner(), g.access.caisse.id, number) is None:
        return redirect(url_for("portal.history"))
    return redirect(url_for("portal.request_detail", number=number))


@bp.route("/demandes/<number>/completer", methods=["GET", "POST"])
@technician_required
def request_complete(number: str):
    req = _own_or_404(number)
    if req.status != RequestStatus.NEW.value or g.access.history_only:
        flash("La demande ne peut plus être complétée : elle a été prise en charge.", "error")
        return redirect(url_for("portal.request_detail", number=number))
    account = current_partner()
    already = len(request_service.partner_files(req))
    limit = max(MAX_FILES - already, 0)
    form = CompleteForm(comment=req.comment) if request.method == "GET" else CompleteForm()
    staged, errors = [], []
    if request.method == "POST" and form.validate():
        done, staged, errors = _send_with_files(
            form,
            number,
            "La demande a bien été prise en compte.",
            lambda keys: request_service.complete_request(account, req, form.comment.data or "", keys),
            posted_files(account) if req.service_offer.allows_attachments else None,
            limit,
        )
        if done:
            return done
    return render_template(
        "portal/request_complete.html",
        req=req,
        form=form,
        upload_errors=errors,
        **_files_context(staged, limit, already),
    )


@bp.route("/demandes/<number>/annuler", methods=["GET", "POST"])
@technician_required
def request_cancel(number: str):
    if (
        request.method == "POST"
        and len(number) == 10
        and number.isdigit()
        and request_service.cancelled_for_partner(current_partner(), g.access.caisse.id, number)
    ):
        # "Annuler" sent again (a double click): the request has left the history already.
        flash("Cette demande a déjà été annulée.", "error")
        return redirect(url_for("portal.history"))
    req = _own_or_404(number)
    if req.status != RequestStatus.NEW.value:
        flash("La demande ne peut plus être annulée : elle a été prise en charge.", "error")
        return redirect(url_for("portal.request_detail", number=number))
    form = CancelForm()
    if request.method == "POST" and form.validate():

        def refused(exc):
            if isinstance(exc, ValidationFailed):  # the form again, its messages above it
                for message in show_errors(form, exc.errors):
                    flash(message, "error")
                return None
            flash(exc.message, "error")
            return _back_to(number)

        done = run_service(
            lambda: request_service.cancel_request(
                current_partner(), req, form.reason.data or "", bool(form.confirm.data)
            ),
            success=f"La demande n° {number} a été annulée. Elle a été automatiquement supprimée de la liste "
            "des demandes affichées dans l'historique des demandes.",
            redirect_to=url_for("portal.history"),
            on_error=refused,
        )
        if done:
            return done
    return render_template("portal/request_cancel.html", req=req, form=form)


# --- Q/R exchange (R-STA-3/4) -----------------------------------------------------------------


@bp.route("/demandes/<number>/echange", methods=["POST"])
@technician_required
def request_message(number: str):
    req = _own_or_404(number)
    state = request_service.exchange_state(req) if req.resolved_at else None
    if not state or not state["can_write"] or g.access.history_only:
        flash("L'échange n'est plus possible sur cette demande.", "error")
        return redirect(url_for("portal.request_detail", number=number))
    account = current_partner()
    limit = max(request_service.EXCHANGE_MAX_FILES - state["files"], 0)
    form = MessageForm()
    staged, errors = [], []
    if form.validate():
        done, staged, errors = _send_with_files(
            form,
            number,
            "Votre message a bien été envoyé à l'organisme.",
            lambda keys: request_service.partner_message(account, req, form.body.data or "", keys),
            posted_files(account),
            limit,
        )
        if done:
            return done
    return _detail(req, message_form=form, message_errors=errors, message_staged=staged, message_limit=limit)


@bp.route("/demandes/<number>/cloturer", methods=["POST"])
@technician_required
def request_close(number: str):
    req = _own_or_404(number)
    if ConfirmForm().validate():
        run_service(lambda: request_service.close_exchange(current_partner(), req), success="L'échange est clôturé.")
    return _back_to(number)
