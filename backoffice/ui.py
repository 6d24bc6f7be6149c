"""UI plumbing shared by the back office (backoffice/views) and the partner portal (partner_portal):
how a service's refusal lands on a form, and how a form's service call is run (run_service).
A page of one thing named by its URL: found_or_404, and row_or_404 for a Flask-Admin view's row."""

from flask import abort, flash, redirect, request

from .extensions import db
from .services.errors import DomainError, ValidationFailed


def errors_onto_form(form, exc: DomainError | dict, skip: tuple[str, ...] = ()) -> list[str]:
    """Put each message of a service's refusal (a ValidationFailed's errors, a DomainError's one
    message, or such a dict) under its field when the form has it — the field of that name, or of
    that name without "_id" / "_ids" — and return the messages that belong to no field (or to a
    field of `skip`), in their order."""
    if isinstance(exc, dict):
        errors = exc
    else:
        errors = exc.errors if isinstance(exc, ValidationFailed) else {exc.field: exc.message}
    loose = []
    for name, message in errors.items():
        field = None if name in skip else _find_field(form, name)
        if field is not None:
            field.errors = list(field.errors or []) + [message]
        else:
            loose.append(message)
    return loose


def show_domain_error(form, exc: DomainError) -> None:
    """Put each message on its field when the form has it, else flash it above the form."""
    for message in errors_onto_form(form, exc):
        flash(message, "error")


def run_service(call, *, form=None, success=None, redirect_to=None, on_error=None):
    """Run a form's service call (`call`, no argument) the way every page of both front ends does.

    Went through: `success` is flashed (a text, or a function of what the call returned that gives
    it), and the answer is a redirect to `redirect_to` when given, else what the call returned.
    Refused (a DomainError): the session is rolled back, then `on_error(exc)` when given — its
    value is the answer — else the refusal is shown (on the field of `form` it names, else
    flashed) and the answer is None: the caller shows its form again."""
    try:
        result = call()
    except DomainError as exc:
        db.session.rollback()
        if on_error is not None:
            return on_error(exc)
        if form is not None:
            show_domain_error(form, exc)
        else:
            flash(exc.message, "error")
        return None
    if success is not None:
        flash(success(result) if callable(success) else success, "success")
    return redirect(redirect_to) if redirect_to is not None else result


def found_or_404(value):
    """What a service found for the URL (a request, an account, a file), or a 404 when it is None."""
    if value is None:
        abort(404)
    return value


def row_or_404(view):
    """The row that ?id= names on a page of a Flask-Admin view (a confirmation, an image), read
    through the view's get_one, so scoped to what the user may see (views/base.py); else 404."""
    return found_or_404(view.get_one(request.args.get("id", "")))


def _find_field(form, name):
    if not name:
        return None
    for candidate in (name, name.removesuffix("_id"), name.removesuffix("_ids")):
        if candidate in form:
            return form[candidate]
    return None
