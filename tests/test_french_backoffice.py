"""A back office in French (issue 13 §7): Flask-Admin's own strings come from our catalogue, one
flash per save, no "__None", no ISO/UTC date, and every audit action reads as a French sentence."""

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


# --- the audit log in French -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


RECORDERS = ("record", "record_new")  # services/audit's functions that write an entry


def _record_calls():
    """Every audit.record(...) / audit.record_new(...) call of both front ends and the services:
    (where, action names, detail names). An action is a literal, a literal `a if … else b`, an
    f-string over a partner account's role (« manager.create », « technician.create »), or a
    parameter of a helper of the same module, resolved at each of the helper's calls."""
    import ast

    from backoffice.models import PartnerRole

    calls = []
    for folder in ("backoffice", "partner_portal"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            calls += _module_record_calls(ast.parse(path.read_text(encoding="utf-8")), str(path.relative_to(ROOT)))
    assert calls and PartnerRole
    return calls


def _module_record_calls(tree, module):
    import ast

    from backoffice.models import PartnerRole

    def keys_of(call, skip=()):
        keys = {k.arg for k in call.keywords if k.arg} - {"actor", "target", "caisse_id", *skip}
        for k in call.keywords:
            if k.arg is None and isinstance(k.value, ast.Dict):
                keys |= {key.value for key in k.value.keys if isinstance(key, ast.Constant)}
        return keys

    def names(node, where, bound):
        """The action names of `node`; `bound`: a helper's parameter → its literal names."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return names(node.body, where, bound) | names(node.orelse, where, bound)
        if isinstance(node, ast.Name) and node.id in bound:
            return bound[node.id]
        if isinstance(node, ast.JoinedStr):
            results = {""}
            for part in node.values:
                if isinstance(part, ast.Constant):
                    options = {part.value}
                elif ast.unparse(part.value).endswith(("role", "role.value")):
                    options = {r.value for r in PartnerRole}
                else:
                    options = names(part.value, where, bound)
                results = {r + o for r in results for o in options}
            return results
        raise AssertionError(f"{where}: write the audit action as a literal, not {ast.unparse(node)}")

    def needed(node):
        """The names `names` would look up in a helper's parameters."""
        if isinstance(node, ast.Name):
            return {node.id}
        if isinstance(node, ast.IfExp):
            return needed(node.body) | needed(node.orelse)
        if isinstance(node, ast.JoinedStr):
            parts = [p.value for p in node.values if isinstance(p, ast.FormattedValue)]
            return set().union(*(needed(p) for p in parts if not ast.unparse(p).endswith(("role", "role.value"))))
        return set()

    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def enclosing_function(node):
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.FunctionDef):
                return node
        return None

    found = []
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        if not (isinstance(node, ast.Call) and isinstance(func, ast.Attribute) and func.attr in RECORDERS):
            continue
        if not (isinstance(func.value, ast.Name) and func.value.id == "audit"):
            continue
        where = f"{module}:{node.lineno}"
        helper = enclosing_function(node)
        parameters = [a.arg for a in helper.args.args] if helper else []
        used = needed(node.args[0])
        used &= set(parameters)
        if not used:
            found.append((where, names(node.args[0], where, {}), keys_of(node)))
            continue
        # a helper taking the action (or part of it) as a parameter: resolved at each of its calls
        sites = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", None) == helper.name]
        assert sites, f"{where}: {helper.name} is never called in its module"
        for site in sites:
            bound = {}
            for name in used:
                index = parameters.index(name)
                argument = (
                    site.args[index]
                    if index < len(site.args)
                    else next(k.value for k in site.keywords if k.arg == name)
                )
                bound[name] = names(argument, f"{module}:{site.lineno}", {})
            keys = keys_of(node) | keys_of(site, skip=parameters)
            found.append((f"{module}:{site.lineno}", names(node.args[0], where, bound), keys))
    return found


def test_every_audited_action_reads_as_a_french_sentence():
    from backoffice.services.audit_texts import SENTENCES

    calls = _record_calls()
    actions = {action for _where, names, _keys in calls for action in names}
    assert {"login.success", "request.take", "request.view", "manager.create", "attachment.download"} <= actions
    missing = sorted(f"{where}: {a}" for where, names, _k in calls for a in names if a not in SENTENCES)
    assert not missing, f"add a sentence to services/audit_texts.SENTENCES for: {missing}"


def test_every_sentence_belongs_to_a_family_of_the_event_filter():
    from backoffice.services.audit_texts import SENTENCES
    from backoffice.views.outbox import ACTION_FAMILIES

    prefixes = [prefix for _label, family in ACTION_FAMILIES.values() for prefix in family]
    orphans = sorted(action for action in SENTENCES if not action.startswith(tuple(prefixes)))
    assert not orphans, f"add them to views/outbox.ACTION_FAMILIES: {orphans}"


def test_every_audited_detail_has_a_french_name():
    from backoffice.services import audit
    from backoffice.services.audit_texts import DETAIL_LABELS, HIDDEN_DETAILS, SENTENCES

    missing = []
    for where, names, keys in _record_calls():
        for action in names:
            sentence = SENTENCES[action]
            templates = [sentence] if isinstance(sentence, str) else list(sentence[1].values())
            said = set().union(*(audit._placeholders(t) for t in templates))
            if not isinstance(sentence, str):
                said.add(sentence[0])
            missing += [f"{where}: {action} {key}" for key in keys - said - HIDDEN_DETAILS - set(DETAIL_LABELS)]
    assert not missing, f"add to services/audit_texts.DETAIL_LABELS (or HIDDEN_DETAILS): {missing}"


def _last(action):
    from backoffice.extensions import db
    from backoffice.models import AuditEntry

    return db.session.query(AuditEntry).filter_by(action=action).order_by(AuditEntry.id.desc()).first()


def test_the_log_says_who_did_what_to_which_object(client, world, login):
    from helpers import add_request

    from backoffice.services import audit
    from backoffice.services.requests import take_request

    gironde = world["gironde"]
    request = add_request(gironde["convention"], gironde["manager"])
    take_request(gironde["agent"], request)
    assert audit.describe(_last("request.take")) == f"Paul GIRONDE a pris en charge la demande N° {request.number}"
    assert audit.detail_lines(_last("request.take")) == []

    login("admin.gironde")
    assert audit.describe(_last("login.success")) == "Hélène GIRONDE a ouvert une session"
    client.post_form(
        "/admin/managers/new/",
        {
            "structure": gironde["structure"].id,
            "civility": "Madame",
            "usage_name": "DUPONT",
            "first_name": "Marie",
            "function": "Directrice",
            "phone": "05.56.00.00.00",
            "email": "marie.dupont@example.fr",
        },
    )
    created = _last("manager.create")
    assert audit.describe(created) == "Hélène GIRONDE a créé le compte gestionnaire de Marie DUPONT"
    assert audit.detail_lines(created) == []  # the login and the structure: the sentence names the account
    assert audit.target_type_label(created.target_type) == "Compte partenaire"


def test_changes_read_old_to_new_with_french_field_names(world):
    from backoffice.extensions import db
    from backoffice.models import AuditEntry
    from backoffice.services import audit

    structure = world["gironde"]["structure"]
    changed = audit.changes(structure, {"name": "Association Nouvelle", "city": structure.city, "member_count": 40})
    entry = audit.record("structure.update", actor=world["gironde"]["admin"], target=structure, changed=changed)
    db.session.commit()
    assert audit.describe(entry) == f"Hélène GIRONDE a modifié la structure {structure.name}"
    assert audit.detail_lines(entry) == [
        f"Nombre de membres : « {structure.member_count} » → « 40 »",
        f"Nom : « {structure.name} » → « Association Nouvelle »",
    ]
    old_style = AuditEntry(
        action="structure.update",
        actor_type="agent",
        actor_label="admin.gironde",
        details={"changed": ["siret", "city"]},
    )
    assert audit.detail_lines(old_style) == ["Champs modifiés : SIRET, Commune"]


def test_an_unknown_action_still_reads_as_french(world):
    from helpers import add_request

    from backoffice.extensions import db
    from backoffice.models import AuditEntry
    from backoffice.services import audit

    gironde = world["gironde"]
    request = add_request(gironde["convention"], gironde["manager"])
    entry = audit.record(
        "something.new", actor=gironde["agent"], target=request, mode="rapide", when="2026-12-01T06:10:21"
    )
    db.session.commit()
    assert audit.describe(entry) == f"Paul GIRONDE a effectué une opération (demande N° {request.number})"
    assert audit.detail_lines(entry) == ["Mode : rapide", "When : 01/12/2026 07h10min"]
    download = AuditEntry(
        action="attachment.download",
        actor_type="partner",
        actor_label="v.chausson",
        target_type="Attachment",
        details={"number": "2633100027", "filename": "reponse.pdf", "side": "caisse", "search": ""},
    )
    assert (
        audit.describe(download)
        == "v.chausson a téléchargé la pièce jointe « reponse.pdf » de la demande N° 2633100027"
    )
    assert audit.detail_lines(download) == ["Pièce : de l'organisme"]  # an empty detail is not listed
    system = AuditEntry(action="attachment.purge", actor_type="system", actor_label="Système", details={"count": 3})
    assert (
        audit.describe(system) == "Le contenu de 3 pièce(s) jointe(s) a été supprimé (durée de conservation dépassée)"
    )
    gone = AuditEntry(
        action="manager.update",
        actor_type="agent",
        actor_id=None,
        actor_label="admin.ancien",
        target_type="PartnerAccount",
    )
    assert audit.describe(gone) == "admin.ancien a modifié le compte gestionnaire de [compte supprimé]"


def test_the_audit_page_reads_as_french(client, world, login):
    login("admin.gironde")
    body = client.get("/admin/audit/").get_data(as_text=True)
    # the filters' data (option values, for Flask-Admin's script) is not shown
    text = page_text(re.sub(r'<div id="(filter-groups|active-filters)-data"[\s\S]*?</div>', "", body))
    assert "Hélène GIRONDE a ouvert une session" in text
    for code in ("login.success", "PartnerAccount", "{", "agent GIRONDE"):
        assert code not in text
