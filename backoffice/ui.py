"""UI plumbing shared by the back office (backoffice/views) and the partner portal (partner_portal):
how a service's refusal lands on a form."""
from flask import flash

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


def _find_field(form, name):
    if not name:
        return None
    for candidate in (name, name.removesuffix("_id"), name.removesuffix("_ids")):
        if candidate in form:
            return form[candidate]
    return None
