"""Forms of the request pages (R-REQ-*, R-STA-2/3, R-HIS-2) and the parsing they share.

The forms only carry the CSRF token and the typed values: every rule is checked by the service
layer, so the server refuses the same things whether or not JavaScript ran.
"""

from datetime import date, datetime

from wtforms import (
    BooleanField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)

from backoffice.inputs import SafeFlaskForm as FlaskForm
from backoffice.inputs import bounded_int, date_in_range
from backoffice.models import CIVILITIES
from backoffice.services import requests as request_service
from backoffice.staged_uploads import StagedUploads
from backoffice.ui import errors_onto_form

_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")


def parse_date(value: str | None) -> date | None:
    """A date typed as JJ/MM/AAAA or sent by <input type=date> (AAAA-MM-JJ), within the years
    inputs.YEAR_MIN..YEAR_MAX (beyond, the Paris/UTC conversions overflow); None otherwise."""
    value = (value or "").strip()
    if len(value) > 10:
        return None
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        return parsed if date_in_range(parsed) else None
    return None


def parse_int(value) -> int | None:
    """An id typed or chosen in a form or a query string: an integer of the database's range, or None."""
    return bounded_int(value)


def _choices(values):
    return [(v, v) for v in values]


class RequestForm(FlaskForm):
    """The five deposit forms in one: the template shows the fields of the chosen offer."""

    motive_id = SelectField("Motif de la demande", choices=[], validate_choice=False)
    documents = SelectMultipleField("Documents", choices=[], validate_choice=False)
    appointment_modes = SelectMultipleField(
        "Modalités de rendez vous", choices=_choices(request_service.APPOINTMENT_MODES), validate_choice=False
    )
    person_civility = RadioField("Civilité", choices=_choices(CIVILITIES), validate_choice=False)
    person_last_name = StringField("Nom")
    person_first_name = StringField("Prénom")
    person_birth_date = StringField("Date de naissance")
    person_birth_place = StringField("Lieu de naissance")
    person_phone = TelField("Téléphone")
    consent = BooleanField("Consentement de l'assuré")
    accompaniment = SelectMultipleField(
        "Accompagnement santé sollicité dans le cadre de",
        choices=_choices(request_service.ACCOMPANIMENT),
        validate_choice=False,
    )
    care = SelectMultipleField(
        "Quels soins ne sont pas réalisés ?", choices=_choices(request_service.CARE), validate_choice=False
    )
    duration = RadioField(
        "Depuis quand dure le renoncement ?", choices=_choices(request_service.DURATION), validate_choice=False
    )
    causes = SelectMultipleField(
        "Quelles en sont les causes ?", choices=_choices(request_service.CAUSES), validate_choice=False
    )
    comment = TextAreaField("Commentaires")
    files = MultipleFileField("Pièces jointes")

    def service_data(self) -> dict:
        """Plain values for requests.file_request (ids as integers, the birth date as a date)."""
        return {
            "motive_id": parse_int(self.motive_id.data),
            "documents": [i for i in (parse_int(v) for v in self.documents.data or []) if i is not None],
            "appointment_modes": list(self.appointment_modes.data or []),
            "person_civility": self.person_civility.data or "",
            "person_last_name": self.person_last_name.data or "",
            "person_first_name": self.person_first_name.data or "",
            "person_birth_date": parse_date(self.person_birth_date.data),
            "person_birth_place": self.person_birth_place.data or "",
            "person_phone": self.person_phone.data or "",
            "consent": bool(self.consent.data),
            "accompaniment": list(self.accompaniment.data or []),
            "care": list(self.care.data or []),
            "duration": self.duration.data or "",
            "causes": list(self.causes.data or []),
            "comment": self.comment.data or "",
        }

    def normalise_birth_date(self) -> None:
        """Re-render a typed JJ/MM/AAAA as the ISO value an <input type=date> can show."""
        parsed = parse_date(self.person_birth_date.data)
        if parsed is not None:
            self.person_birth_date.data = parsed.isoformat()


class CompleteForm(FlaskForm):
    """'Compléter la demande' (R-STA-2)."""

    comment = TextAreaField("Commentaires")
    files = MultipleFileField("Pièces jointes")


class MessageForm(FlaskForm):
    """'Poursuivre l'échange' (R-STA-3)."""

    body = TextAreaField("Votre message")
    files = MultipleFileField("Pièces jointes")


class CancelForm(FlaskForm):
    """'Annuler la demande' (R-STA-2): a reason and the confirmation toggle."""

    reason = SelectField(
        "Sélectionner le motif de l'annulation",
        choices=[("", "Sélectionner un motif")] + _choices(request_service.CANCEL_REASONS),
        validate_choice=False,
    )
    confirm = BooleanField("Je confirme l'annulation")


def show_errors(form, errors: dict) -> list[str]:
    """Put each service message under its field; return those that belong to no field (a
    message about the files is shown with the upload refusals, not under the file input)."""
    return errors_onto_form(form, errors, skip=("files",))


def posted_files(owner) -> StagedUploads:
    """The files of a posted request form (staged_uploads): the keys kept from an earlier try
    (hidden `staged`), the one whose 'Supprimer' was pressed (`discard`) and the new `files`."""
    return StagedUploads.from_request(owner, removal_field="discard", files_field="files")
