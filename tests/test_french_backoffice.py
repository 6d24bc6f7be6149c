"""A back office in French (issue 13 §7): Flask-Admin's and WTForms' strings come from our
catalogues, one flash per save, no "__None", no ISO/UTC date, named row actions, a skip link. The
audit log's sentences: tests/test_audit_log.py."""

import re
from io import BytesIO
from pathlib import Path

import flask_admin
import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from helpers import page_text

from backoffice import TRANSLATIONS

ADMIN = Path(flask_admin.__file__).resolve().parent
CATALOGUE = TRANSLATIONS / "fr" / "LC_MESSAGES"
# The Flask-Admin parts the back office uses: the model views over SQLAlchemy, their filters, forms,
# actions and Bootstrap 4 templates (not the file manager, Redis console, MongoDB, maps…).
ADMIN_MODULES = [
    "base.py",
    "actions.py",
    "helpers.py",
    "model/base.py",
    "model/filters.py",
    "model/template.py",
    "model/widgets.py",
    "model/fields.py",
    "model/form.py",
    "contrib/sqla/view.py",
    "contrib/sqla/filters.py",
    "contrib/sqla/fields.py",
    "contrib/sqla/validators.py",
    "contrib/sqla/form.py",
    "form/__init__.py",
    "form/fields.py",
    "form/validators.py",
    "form/upload.py",
]
ADMIN_TEMPLATES = ["base.html", "layout.html", "lib.html", "actions.html", "master.html", "index.html"]
KEYWORDS = {"gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_gettext": None, "_ngettext": (1, 2)}


def _flask_admin_strings() -> set[str]:
    files = [(ADMIN / name, "python") for name in ADMIN_MODULES]
    templates = ADMIN / "templates" / "bootstrap4" / "admin"
    files += [(templates / name, "jinja2.ext:babel_extract") for name in ADMIN_TEMPLATES]
    files += [(path, "jinja2.ext:babel_extract") for path in sorted((templates / "model").rglob("*.html"))]
    found = set()
    for path, method in files:
        assert path.exists(), path
        for _line, message, _comments, _context in extract_from_file(method, str(path), keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue(domain: str = "admin"):
    with open(CATALOGUE / f"{domain}.po", "rb") as handle:
        return read_po(handle, locale="fr")


def _field_messages() -> set[str]:
    """The messages Flask-Admin's fields and validators give through field.gettext / self.gettext
    (WTForms' translations: our wtforms.po)."""
    import ast

    found = set()
    for name in ADMIN_MODULES:
        for node in ast.walk(ast.parse((ADMIN / name).read_text(encoding="utf-8"))):
            func = getattr(node, "func", None)
            if isinstance(node, ast.Call) and isinstance(func, ast.Attribute) and func.attr == "gettext":
                if isinstance(func.value, ast.Name) and func.value.id in ("self", "field"):
                    argument = node.args[0]
                    if isinstance(argument, ast.Constant):
                        found.add(argument.value)
                    elif isinstance(argument, ast.Name):  # a message built just above: its literal
                        found |= {
                            ast.literal_eval(n.value)
                            for n in ast.walk(ast.parse((ADMIN / name).read_text(encoding="utf-8")))
                            if isinstance(n, ast.Assign)
                            and [getattr(t, "id", None) for t in n.targets] == [argument.id]
                            and isinstance(n.value, ast.Constant)
                        }
    return found


def test_every_flask_admin_string_of_the_back_office_has_our_french():
    catalogue = _catalogue()
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id and m.string}
    strings = _flask_admin_strings()
    assert len(strings) > 60  # the extraction found Flask-Admin's strings
    missing = sorted(strings - translated)
    assert not missing, f"add these to {CATALOGUE / 'admin.po'}: {missing}"


def test_every_flask_admin_field_message_has_our_french():
    translated = {m.id for m in _catalogue("wtforms") if m.id and m.string}
    messages = _field_messages()
    assert "Not a valid choice" in messages
    assert not sorted(messages - translated), f"add to {CATALOGUE / 'wtforms.po'}: {sorted(messages - translated)}"


def test_every_wtforms_message_has_french(app):
    """WTForms' own messages: its French catalogue, completed by ours."""
    import wtforms
    from flask_admin.babel import Translations

    with open(Path(wtforms.__file__).parent / "locale" / "wtforms.pot", "rb") as handle:
        messages = [m.id for m in read_po(handle) if m.id]
    with app.test_request_context("/admin/"):
        translations = Translations()
        untranslated = [m for m in messages if isinstance(m, str) and translations.gettext(m) == m]
        untranslated += [m for m in messages if not isinstance(m, str) and translations.ngettext(m[0], m[1], 2) == m[1]]
    assert not untranslated, f"add to {CATALOGUE / 'wtforms.po'}: {untranslated}"


def _entries(catalogue) -> dict:
    def key(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    return {key(m.id): key(m.string) for m in catalogue if m.id}


@pytest.mark.parametrize("domain", ["admin", "wtforms"])
def test_the_compiled_catalogue_is_the_po_file(domain):
    """<domain>.mo is what `pybabel compile -d backoffice/translations -D <domain>` makes of the .po."""
    compiled = BytesIO()
    write_mo(compiled, _catalogue(domain))
    compiled.seek(0)
    expected = _entries(read_mo(compiled))
    with open(CATALOGUE / f"{domain}.mo", "rb") as handle:
        shipped = _entries(read_mo(handle))
    assert shipped == expected, (
        f"{domain}.mo is stale: run .venv/bin/pybabel compile -d backoffice/translations -D {domain}"
    )


def test_our_french_wins_over_flask_admin_s_own(app):
    from flask_admin.babel import gettext, ngettext

    with app.test_request_context("/admin/"):
        assert gettext("Failed to create record.") == "L'élément n'est pas créé : corrigez les champs signalés."
        assert gettext("Record was successfully saved.") == "Les modifications sont enregistrées."
        assert gettext("Edit") == "Modifier"
        assert gettext("Export") == "Exporter"
        assert gettext("items") == "par page"
        assert gettext("equals") == "égal à"
        assert ngettext(
            "Record was successfully deleted.", "%(count)s records were successfully deleted.", 3, count=3
        ) == ("Les 3 éléments sont supprimés.")


# --- the pages -------------------------------------------------------------------------------------


def _flashes(response) -> list[str]:
    body = response.get_data(as_text=True)
    return [
        page_text(m) for m in re.findall(r'<div class="alert alert-\w+ alert-dismissible"[^>]*>([\s\S]*?)<button', body)
    ]


STRUCTURE = {
    "name": "Association Les Amis",
    "type": "Association",
    "siret": "41234567800012",
    "address": "3 rue Sainte-Catherine",
    "postal_code": "33000",
    "city": "Bordeaux",
    "member_count": "12",
}


def test_a_refused_form_says_so_in_french(client, world, login):
    login("admin.gironde")
    response = client.post_form("/admin/structures/new/", {"name": ""}, follow_redirects=True)
    assert response.status_code == 200
    assert _flashes(response) == ["L'élément n'est pas créé : corrigez les champs signalés."]
    assert "Failed" not in response.get_data(as_text=True)


def test_one_flash_per_save(client, world, login):
    login("admin.gironde")
    created = client.post_form("/admin/structures/new/", STRUCTURE, follow_redirects=True)
    assert _flashes(created) == ["L'élément est créé."]

    agent = client.post_form(
        "/admin/agents/new/",
        {"username": "agent.neuf", "first_name": "Anne", "last_name": "NEUF", "email": "anne.neuf@example.fr"},
        follow_redirects=True,
    )
    assert _flashes(agent) == ["Le compte agent.neuf est créé : un lien « Créer mon mot de passe » lui a été envoyé."]

    structure_id = world["gironde"]["structure"].id
    edited = client.post_form(
        f"/admin/structures/edit/?id={structure_id}",
        {**STRUCTURE, "siret": "12345678900015", "name": "Association Renommée"},
        follow_redirects=True,
    )
    assert _flashes(edited) == ["Les modifications sont enregistrées."]


def test_a_refused_choice_says_so_in_french(client, world, login):
    login("admin.gironde")
    response = client.post_form("/admin/conventions/new/", {"structure": "999999"})
    text = page_text(response)
    assert "Ce choix n'est pas valable." in text and "Not a valid" not in text


def test_a_blank_relation_choice_reads_a_dash(client, world, login):
    login("admin")
    body = client.get("/admin/agents/new/").get_data(as_text=True)
    assert '<option selected value="__None">—</option>' in body
    assert ">__None<" not in body


def test_every_page_is_french_with_a_skip_link_and_a_main(client, world, login):
    login("admin.gironde")
    body = client.get("/admin/structures/").get_data(as_text=True)
    assert body.count('<html lang="fr">') == 1
    first_link = re.search(r"<body>\s*<a [^>]*>[^<]*</a>", body).group(0)
    assert 'href="#contenu"' in first_link and "Aller au contenu" in first_link
    assert '<main id="contenu" tabindex="-1">' in body
    assert '<h1 class="h4 mb-4">' in body


def test_row_actions_name_their_row(client, world, login):
    login("admin.gironde")
    body = client.get("/admin/agents/").get_data(as_text=True)
    assert 'aria-label="Modifier : agent.gironde"' in body
    assert 'aria-label="Sélectionner la ligne : agent.gironde"' in body
    assert 'aria-label="Sélectionner toutes les lignes"' in body
    managers = client.get("/admin/managers/").get_data(as_text=True)
    assert 'aria-label="Inactiver / réactiver : Madame GIRONDE Marie"' in managers


@pytest.mark.parametrize("endpoint", ["audit", "outbox"])
def test_details_pages_show_paris_dates(client, world, login, endpoint):
    """No ISO, no UTC: the audit and outbox details show JJ/MM/AAAA 16h30min, Europe/Paris."""
    from backoffice.extensions import db
    from backoffice.models import AuditEntry, OutboxMessage

    login("admin.gironde")
    client.post_form(
        "/admin/agents/new/",
        {"username": "agent.neuf", "first_name": "Anne", "last_name": "NEUF", "email": "anne.neuf@example.fr"},
    )
    model = OutboxMessage if endpoint == "outbox" else AuditEntry
    row = db.session.query(model).order_by(model.id.desc()).first()
    body = client.get(f"/admin/{endpoint}/details/?id={row.id}").get_data(as_text=True)
    text = page_text(body)
    assert not re.search(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", text), text
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}h\d{2}min", text), text


def test_the_row_actions_hook_is_still_flask_admin_s():
    """SecureModelView.get_list_row_actions() overrides Flask-Admin's, which its list view calls."""
    import inspect

    from flask_admin.model.base import BaseModelView

    assert "get_list_row_actions" in vars(BaseModelView)
    assert list(inspect.signature(BaseModelView.get_list_row_actions).parameters) == ["self"]
    assert "self.get_list_row_actions()" in inspect.getsource(BaseModelView.index_view)
