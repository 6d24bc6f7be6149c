"""The request screen (R-BO-2..4): traiter (read), prendre (take), répondre (answer), message (the
caisse's reply to a partner's message) and pièces jointes (downloads), with the form state an
answer or a reply keeps across a refusal (the text typed, the files already accepted).

RequestScreenMixin carries these routes on the queue's view (queue.py), so their URLs stay under
/admin/requests/ and their endpoints `requests.process_view` etc.; taking, answering, replying and
downloads are service calls (services/requests).
"""

import io

from flask import abort, flash, redirect, request, send_file, url_for
from flask_admin import expose
from sqlalchemy.orm import joinedload

from ...clock import format_date
from ...inputs import bounded_int
from ...models import Request, RequestStatus
from ...services import reply_templates
from ...services import requests as request_service
from ...services.attachments import ACCEPT_ATTRIBUTE, ACCEPTED_TEXT, MAX_FILES, human_size
from ...services.errors import ValidationFailed
from ...staged_uploads import StagedUploads
from ...ui import run_service
from ..base import current_agent
from .display import person_label, time_left_label

ANSWER_MAX = request_service.COMMENT_MAX

SCREEN_RELATIONS = (
    Request.structure,
    Request.caisse,
    Request.service_offer,
    Request.motive,
    Request.taken_by,
    Request.resolved_by,
)


class RequestScreenMixin:
    """The request screen's routes, for a SecureModelView of Request whose get_query is scoped."""

    def _request_or_404(self, value) -> Request:
        """The caisse's request (get_query is scoped) with what the screen shows, in one statement."""
        request_id = bounded_int(value)
        if request_id is None:
            abort(404)
        req = (
            self.get_query()
            .options(*(joinedload(relation) for relation in SCREEN_RELATIONS))
            .filter(Request.id == request_id)
            .one_or_none()
        )
        if req is None:
            abort(404)
        return req

    def _screen(self, req: Request, answer_form=None, reply_form=None, status=200, note_form=None, reassign_form=None):
        agent = current_agent()
        attachments = request_service.request_files(req)
        by_message: dict[int | None, list] = {}
        for attachment in attachments:
            by_message.setdefault(attachment.exchange_message_id, []).append(attachment)
        initial_partner = [a for a in by_message.get(None, []) if a.side == "partner"]
        answer_files = [a for a in by_message.get(None, []) if a.side == "caisse"]
        exchange = request_service.exchange_state(req, attachments)
        left = time_left_label(req)
        return (
            self.render(
                "admin/request_screen.html",
                req=req,
                details=req.details or {},
                person=person_label(req),
                time_left=left,
                overdue=left.startswith("en retard"),
                timeline=request_service.request_timeline(req, exchange["messages"]),
                initial_partner=initial_partner,
                answer_files=answer_files,
                by_message=by_message,
                exchange=exchange,
                **_ownership(agent, req),
                note_form=note_form or FormState(),
                reassign_form=reassign_form or ReassignState(),
                note_max=request_service.NOTE_MAX,
                answer_form=answer_form or FormState(),
                reply_form=reply_form or FormState(),
                reply_templates=suggested_templates(req),
                saisine=bool(req.motive and req.motive.label == request_service.SAISINE_MOTIVE),
                answer_max=ANSWER_MAX,
                max_files=MAX_FILES,
                accept=ACCEPT_ATTRIBUTE,
                accepted_text=ACCEPTED_TEXT,
                human_size=human_size,
                format_date=format_date,
                return_url=url_for(".index_view"),
            ),
            status,
        )

    @expose("/traiter/")
    def process_view(self):
        req = self._request_or_404(request.args.get("id"))
        page = self._screen(req)
        request_service.record_view(current_agent(), req)  # reading personal data is audited
        return page

    @expose("/reattribuer/", methods=("POST",))
    def reassign_view(self):
        req = self._request_or_404(request.form.get("id"))
        state = ReassignState.from_post()
        return self._run_form(
            req,
            lambda: request_service.reassign_request(
                current_agent(), req, state.to_agent_id, state.expected_owner_id, state.text
            ),
            lambda note: f"La demande N° {req.number} est réattribuée à {note.to_name}.",
            "reassign_form",
            state,
        )

    @expose("/note/", methods=("POST",))
    def note_view(self):
        req = self._request_or_404(request.form.get("id"))
        state = FormState(request.form.get("body", ""))
        return self._run_form(
            req,
            lambda: request_service.add_note(current_agent(), req, state.text),
            "La note interne est ajoutée à l'historique de la demande.",
            "note_form",
            state,
        )

    def _run_form(self, req, call, success, form_name, state):
        """A form of the screen without files: a ValidationFailed shows the screen again (400) with
        what was typed and the messages on their fields; another refusal is flashed above it."""
        back = url_for(".process_view", id=req.id)

        def refused(exc):
            if isinstance(exc, ValidationFailed):
                state.errors.update(exc.errors)
                return self._screen(req, status=400, **{form_name: state})
            flash(exc.message, "error")
            return redirect(back)

        return run_service(call, success=success, redirect_to=back, on_error=refused)

    @expose("/prendre/", methods=("POST",))
    def take_view(self):
        req = self._request_or_404(request.form.get("id"))
        run_service(
            lambda: request_service.take_request(current_agent(), req),
            success=f"Vous avez pris en charge la demande N° {req.number}.",
        )
        return redirect(url_for(".process_view", id=req.id))

    @expose("/repondre/", methods=("POST",))
    def answer_view(self):
        req = self._request_or_404(request.form.get("id"))
        state = FormState.from_post(current_agent(), "answer", "attachments")
        if "insert" in request.form:  # « Insérer » a reply template: nothing is sent
            return self._screen(req, answer_form=state, status=state.insert(req) if _answerable(req) else 200)
        if _answerable(req) and not state.stage():
            return self._screen(req, answer_form=state, status=400)  # a file refused: nothing else lost
        return self._finish(
            req, state, request_service.answer_request, "answer", "La réponse est enregistrée : la demande est résolue."
        )

    @expose("/message/", methods=("POST",))
    def reply_view(self):
        req = self._request_or_404(request.form.get("id"))
        state = FormState.from_post(current_agent(), "body", "reply_attachments")
        replying = req.status == RequestStatus.MESSAGE_SENT.value
        if "insert" in request.form:
            return self._screen(req, reply_form=state, status=state.insert(req) if replying else 200)
        if replying and not state.stage():
            return self._screen(req, reply_form=state, status=400)
        return self._finish(
            req, state, request_service.caisse_reply, "body", "Votre réponse au message du partenaire est envoyée."
        )

    def _finish(self, req, state, service, field, success):
        """Call the service; a ValidationFailed re-renders the screen with the typed text and kept
        files, another refusal (the request moved on) is flashed above the screen."""
        back = url_for(".process_view", id=req.id)

        def refused(exc):
            if isinstance(exc, ValidationFailed):
                state.errors.update(exc.errors)
                kwargs = {"answer_form": state} if field == "answer" else {"reply_form": state}
                return self._screen(req, status=400, **kwargs)
            flash(exc.message, "error")
            return redirect(back)

        return run_service(
            lambda: service(current_agent(), req, state.text, state.keys),
            success=success,
            redirect_to=back,
            on_error=refused,
        )

    @expose("/pj/")
    def attachment_view(self):
        """An attachment of a request of the agent's caisse, as a download (audited)."""
        agent = current_agent()
        attachment_id = bounded_int(request.args.get("id"))
        if attachment_id is None:
            abort(404)
        attachment = request_service.agent_attachment(agent, attachment_id)
        if attachment is None:
            abort(404)
        data = request_service.download_for_agent(agent, attachment)
        if data is None:
            abort(404)
        response = send_file(
            io.BytesIO(data),
            mimetype=attachment.content_type,
            as_attachment=True,
            download_name=attachment.filename,
            conditional=False,
            etag=False,
            max_age=0,
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response


def _ownership(agent, req: Request) -> dict:
    """What the viewer may do on the request (ownership rules: the services enforce them again)."""
    staff = request_service.is_staff(agent, req)
    handles = request_service.may_handle(agent, req)
    reassign = request_service.may_reassign(agent, req)
    return {
        "can_take": staff and req.status == RequestStatus.NEW.value,
        "can_answer": handles and _answerable(req),
        "can_reply": handles and req.status == RequestStatus.MESSAGE_SENT.value,
        "can_note": staff,
        "can_reassign": reassign,
        "reassign_choices": request_service.reassign_choices(agent, req) if reassign else [],
        # Taken by a colleague, with work still to come: who may answer it, said under the owner.
        "owned_elsewhere": (
            bool(req.taken_by_agent_id) and not handles and req.status in request_service.REASSIGNABLE_VALUES
        ),
        "orphaned": request_service.needs_reassignment(req),
        "national": agent.caisse_id is None,
    }


class ReassignState:
    """The « Réattribuer » form as posted: the agent chosen, the owner seen, the note typed."""

    def __init__(self, to_agent_id=None, expected_owner_id=None, text: str = ""):
        self.to_agent_id = to_agent_id
        self.expected_owner_id = expected_owner_id
        self.text = text
        self.errors: dict[str, str] = {}

    @classmethod
    def from_post(cls) -> "ReassignState":
        return cls(
            bounded_int(request.form.get("to_agent_id")),
            bounded_int(request.form.get("expected_owner_id")),
            request.form.get("note", ""),
        )


def _answerable(req: Request) -> bool:
    return req.status in (RequestStatus.NEW.value, RequestStatus.TAKEN.value)


class FormState:
    """What the agent typed, the reply template chosen and the files already accepted (staged),
    kept across a refusal or an « Insérer »; the files are the staged_uploads helper's, with the
    screen's `remove_staged` checkboxes."""

    def __init__(self, text: str = "", uploads: StagedUploads | None = None, text_field: str = ""):
        self.text = text
        self.uploads = uploads
        self.text_field = text_field
        self.template_id: int | None = None
        self.errors: dict[str, str] = {}
        self.files: list = []

    @property
    def keys(self) -> list[str]:
        return self.uploads.keys if self.uploads is not None else []

    @classmethod
    def from_post(cls, agent, text_field: str, files_field: str) -> "FormState":
        posted = StagedUploads.from_request(agent, removal_field="remove_staged", files_field=files_field)
        state = cls(request.form.get(text_field, ""), posted, text_field)
        state.template_id = bounded_int(request.form.get("template_id"))
        return state

    def stage(self) -> bool:
        """Stage new files by content, MAX_FILES at most (the others refused, named in one message);
        True when every file was accepted (the form may proceed)."""
        accepted, refusals = self.uploads.read(MAX_FILES)
        # Committed when files were posted; else the service call's transaction is the first one.
        self.files = self.uploads.keep(accepted, commit=bool(self.uploads.posted))
        if refusals:
            self.errors["attachments"] = " ".join(refusals)
        return not refusals

    def insert(self, req: Request) -> int:
        """« Insérer »: the chosen template's text for this request after what was typed (kept),
        the posted files staged; nothing is sent. The screen's status: 200, or 400 with a refusal."""
        agent = current_agent()
        self.stage()
        chosen = reply_templates.suggested(agent, req, self.template_id)
        if chosen is None:
            self.errors["template_id"] = "Choisissez un modèle de réponse parmi ceux proposés."
            return 400
        typed = self.text.rstrip()
        inserted = reply_templates.render(chosen, req, agent)
        self.text = f"{typed}\n\n{inserted}" if typed else inserted
        if len(self.text) > ANSWER_MAX:
            self.errors[self.text_field] = (
                f"Le texte dépasse {ANSWER_MAX} caractères ({len(self.text)}) : raccourcissez-le avant d'envoyer."
            )
        return 400 if self.errors else 200


def suggested_templates(req: Request) -> list:
    """The reply templates the answer and reply forms offer (none when neither form shows)."""
    if not (_answerable(req) or req.status == RequestStatus.MESSAGE_SENT.value):
        return []
    return reply_templates.suggestions(current_agent(), req)
