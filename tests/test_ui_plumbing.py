"""backoffice/ui.py run_service: a form's service call, run the same way by the back office and
the portal (a refusal rolled back and shown, else the success flashed and a redirect)."""
from flask import get_flashed_messages
from sqlalchemy import func, select
from wtforms import Form, StringField

from backoffice.demo import factories
from backoffice.extensions import db
from backoffice.models import Agent, AgentRole
from backoffice.services.errors import DomainError, ValidationFailed
from backoffice.ui import run_service


class NameForm(Form):
    name = StringField("Nom")
    email = StringField("Courriel")


def _agents() -> int:
    return db.session.scalar(select(func.count()).select_from(Agent))


def _refused(message="Refusé.", field=None):
    """A service call that writes, then refuses: what it wrote must not survive."""

    def call():
        factories.agent("refuse.moi", role=AgentRole.NATIONAL_ADMIN)
        db.session.flush()
        raise DomainError(message, field)

    return call


# --- went through ---------------------------------------------------------------------------------


def test_a_call_that_goes_through_flashes_its_success_and_redirects(app):
    with app.test_request_context("/"):
        response = run_service(lambda: 42, success="Enregistré.", redirect_to="/admin/suite")
        assert response.status_code == 302
        assert response.headers["Location"] == "/admin/suite"
        assert get_flashed_messages(with_categories=True) == [("success", "Enregistré.")]


def test_the_success_message_may_be_made_from_what_the_call_returned(app):
    with app.test_request_context("/"):
        assert run_service(lambda: 3, success=lambda count: f"Envoyée à {count}.") == 3
        assert get_flashed_messages(with_categories=True) == [("success", "Envoyée à 3.")]


def test_without_a_redirect_the_answer_is_what_the_call_returned_and_nothing_is_flashed(app):
    with app.test_request_context("/"):
        assert run_service(lambda: "modèle") == "modèle"
        assert get_flashed_messages() == []


# --- refused --------------------------------------------------------------------------------------


def test_a_refusal_is_rolled_back_and_flashed_without_a_form(app):
    with app.test_request_context("/"):
        before = _agents()
        answer = run_service(_refused("Ce compte est déjà inactif."), success="Jamais.", redirect_to="/ailleurs")
        assert answer is None
        assert _agents() == before
        assert get_flashed_messages(with_categories=True) == [("error", "Ce compte est déjà inactif.")]


def test_a_refusal_lands_on_the_form_field_it_names(app):
    with app.test_request_context("/"):
        form = NameForm()
        before = _agents()
        assert run_service(_refused("Ce nom est pris.", "name"), form=form, success="Jamais.") is None
        assert _agents() == before
        assert form.name.errors == ["Ce nom est pris."]
        assert get_flashed_messages() == []


def test_a_refusal_naming_no_field_of_the_form_is_flashed(app):
    with app.test_request_context("/"):
        form = NameForm()
        assert run_service(_refused("Refus général."), form=form) is None
        assert not form.name.errors
        assert get_flashed_messages(with_categories=True) == [("error", "Refus général.")]


def test_each_message_of_a_validation_failure_lands_on_its_field(app):
    def call():
        raise ValidationFailed({"name": "Nom requis.", "email": "Courriel invalide.", "other": "Autre."})

    with app.test_request_context("/"):
        form = NameForm()
        assert run_service(call, form=form) is None
        assert form.name.errors == ["Nom requis."]
        assert form.email.errors == ["Courriel invalide."]
        assert get_flashed_messages(with_categories=True) == [("error", "Autre.")]


def test_on_error_replaces_the_display_and_gives_the_answer_after_the_rollback(app):
    seen = []

    def refused(exc):
        seen.append((exc.message, _agents()))
        return "réponse du refus"

    with app.test_request_context("/"):
        before = _agents()
        answer = run_service(_refused("Pris entre-temps."), form=NameForm(), success="Jamais.", on_error=refused)
        assert answer == "réponse du refus"
        assert seen == [("Pris entre-temps.", before)]  # rolled back before on_error ran
        assert get_flashed_messages() == []


def test_an_error_that_is_not_a_domain_error_is_not_swallowed(app):
    def call():
        raise RuntimeError("bug")

    with app.test_request_context("/"):
        try:
            run_service(call, success="Jamais.")
        except RuntimeError:
            pass
        else:
            raise AssertionError("run_service swallowed a programming error")
        assert get_flashed_messages() == []
