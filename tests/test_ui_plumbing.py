"""The UI plumbing both front ends share: backoffice/ui.py run_service (a form's service call: a
refusal rolled back and shown, else the success flashed and a redirect) and
backoffice/staged_uploads.py (the files a form keeps across its refusals, whatever the name of its
removal field: `remove_staged` in the back office, `discard` in the portal)."""

import io

import pytest
from flask import get_flashed_messages
from helpers import count
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from wtforms import Form, StringField

from backoffice.demo import factories
from backoffice.extensions import db
from backoffice.models import Agent, AgentRole, StagedUpload
from backoffice.services import uploads
from backoffice.services.errors import DomainError, ValidationFailed
from backoffice.staged_uploads import StagedUploads
from backoffice.ui import run_service

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


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


# --- staged uploads -------------------------------------------------------------------------------


def _staged(owner, *names) -> list[str]:
    keys, refusals = uploads.stage_with_keys(owner, [(name, PDF) for name in names])
    assert refusals == []
    return keys


def _posted(app, removal_field, files_field="files", staged=(), removed=(), new=()):
    data = MultiDict([("staged", key) for key in staged] + [(removal_field, key) for key in removed])
    for name, content in new:
        data.add(files_field, (io.BytesIO(content), name))
    return app.test_request_context("/", method="POST", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize("removal_field, files_field", [("remove_staged", "attachments"), ("discard", "files")])
def test_a_form_keeps_its_staged_files_drops_the_removed_and_stages_the_new(app, tech, removal_field, files_field):
    keep, drop = _staged(tech, "garder.pdf", "retirer.pdf")
    with _posted(app, removal_field, files_field, staged=[keep, drop], removed=[drop], new=[("neuf.pdf", PDF)]):
        files = StagedUploads.from_request(tech, removal_field=removal_field, files_field=files_field)
        assert files.removed == [drop] and files.keys == [keep]
        staged, refusals = files.collect()
    assert refusals == []
    assert [f.filename for f in staged] == ["garder.pdf", "neuf.pdf"]
    assert files.keys == [f.key for f in staged]
    db.session.rollback()  # what collect() kept is committed
    assert sorted(db.session.scalars(select(StagedUpload.filename))) == ["garder.pdf", "neuf.pdf"]


def test_the_other_front_ends_removal_field_removes_nothing(app, tech):
    keep, other = _staged(tech, "garder.pdf", "autre.pdf")
    with _posted(app, "discard", staged=[keep, other], removed=[other]):
        files = StagedUploads.from_request(tech, removal_field="remove_staged")
        staged, _ = files.collect()
    assert [f.filename for f in staged] == ["garder.pdf", "autre.pdf"] and files.removed == []
    assert count(StagedUpload) == 2


def test_read_only_checks_the_new_files_and_keep_stages_them_when_the_form_comes_back(app, tech):
    with _posted(app, "discard", new=[("bon.pdf", PDF), ("faux.pdf", b"MZ not a pdf")]):
        files = StagedUploads.from_request(tech, removal_field="discard")
        accepted, refusals = files.read(5)
        assert [item.filename for item in accepted] == ["bon.pdf"]
        assert len(refusals) == 1 and "faux.pdf" in refusals[0]
        assert count(StagedUpload) == 0  # nothing stored yet: a form that goes through writes them once
        assert [f.filename for f in files.keep(accepted)] == ["bon.pdf"]
    assert count(StagedUpload) == 1


def test_new_files_past_the_limit_are_refused_counting_the_kept_ones(app, tech):
    kept = _staged(tech, "un.pdf")
    with _posted(app, "discard", staged=kept, new=[("deux.pdf", PDF), ("trois.pdf", PDF)]):
        staged, refusals = StagedUploads.from_request(tech, removal_field="discard").collect(2)
    assert [f.filename for f in staged] == ["un.pdf", "deux.pdf"]
    assert refusals == ["Le fichier « trois.pdf » n'a pas été ajouté : 2 pièces jointes maximum."]
    with _posted(app, "discard", new=[("quatre.pdf", PDF)]):
        _, refusals = StagedUploads.from_request(tech, removal_field="discard").collect(0)
    assert refusals == [
        "Le fichier « quatre.pdf » n'a pas été ajouté : le nombre maximum de pièces jointes est atteint."
    ]


def test_staged_keys_of_another_owner_are_neither_kept_nor_removed(app, tech, gironde):
    foreign = _staged(gironde["agent"], "agent.pdf")
    with _posted(app, "remove_staged", staged=foreign, removed=foreign):
        staged, _ = StagedUploads.from_request(tech, removal_field="remove_staged").collect()
    assert staged == []
    assert count(StagedUpload) == 1  # the agent's file is still there
    with _posted(app, "discard", staged=foreign):
        staged, _ = StagedUploads.from_request(tech, removal_field="discard").collect(5)
    assert staged == []
