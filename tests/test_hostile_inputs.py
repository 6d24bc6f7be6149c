"""Bad input never gives a server error (issue 11 §6): every rule of the URL map (back-office and
portal), for every role, GET and POST (with a valid CSRF token, so the handler runs), with every
parameter the page's forms declare, Flask-Admin's list parameters and the path parameters filled
with hostile values: huge and negative integers, 2^31, 2^63, impossible and extreme dates, NUL,
invalid UTF-8 (raw bytes in query strings and urlencoded bodies), 100 kB strings, CR/LF, %/_.

Each (route, role, method) gets one request per value class; within a class the values rotate over
the parameters (deterministically), so every parameter meets every class. Figure printed (README
"Reliability and security"): routes × roles walked, requests, server errors.
"""

import re
from urllib.parse import quote, quote_from_bytes, urlsplit

import flask_admin.model.base
import pytest
from form_parsing import action_path, forms_of, post_forms
from helpers import PASSWORD, add_request, back_office_rows, enter, field_errors, input_value, make_account, page_text

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import (
    Attachment,
    AttachmentContent,
    News,
    RequestStatus,
)

ROLES = ["anonymous", "technician", "manager", "agent", "caisse_admin", "national"]
AGENT_LOGINS = {"agent": "agent.gironde", "caisse_admin": "admin.gironde", "national": "admin"}
SKIPPED = {"portal.logout", "bo_auth.logout"}  # would end the walk's own session

# Value classes. bytes are sent raw (not valid UTF-8) in query strings and urlencoded bodies.
CLASSES = {
    "huge": ["99999999999999999999999", "-99999999999999999999999"],
    "bounds": ["2147483648", "9223372036854775808", "-2147483649", "-1", "0", "18446744073709551616"],
    "dates": [
        "2026-02-30",
        "0000-00-00",
        "0001-01-01",
        "9999-12-31",
        "0001-01-01 to 9999-12-31",
        "31/12/9999",
        "01/01/0001",
    ],
    "nul": ["a\x00b", "\x00", "12\x00"],
    "utf8": [b"\xff\xfe", b"a\xc3(", b"\xed\xa0\x80"],
    "long": ["A" * 100_000, "9" * 100_000, "%" * 100_000],
    "crlf": ["a\r\nb", "\r\nLocation: http://evil.example", "x\rSet-Cookie: a=1"],
    "like": ["%", "_", "%_%\\", "'\""],
}
INT_PARAM_CLASSES = {"huge", "bounds"}  # a <int:...> path parameter only matches digits
# 100 kB in every field of every request would make the walk minutes long: LONG_PER_REQUEST
# parameters of each request get one (rotating with the role, so that over the six roles every
# parameter of a form of up to 6 × LONG_PER_REQUEST fields gets one), the others 200 characters.
LONG_PER_REQUEST = 3


@pytest.fixture
def walk_world(world):
    """Requests, files, news, newsletters, outbox and audit rows in GIRONDE, and the accounts."""
    g = world["gironde"]
    tech = make_account(g["structure"], "t.alpha", last_caisse=g["caisse"])
    target = make_account(g["structure"], "t.cible", last_caisse=g["caisse"])  # the manager's pages act on it
    g["manager"].cgu_accepted_at = now()
    requests = [
        add_request(g["convention"], tech, status)
        for status in (RequestStatus.NEW, RequestStatus.TAKEN, RequestStatus.RESOLVED, RequestStatus.MESSAGE_SENT)
    ]
    attachment = Attachment(
        request_id=requests[0].id,
        side="partner",
        filename="piece.pdf",
        storage_name="piece" * 6,
        content_type="application/pdf",
        size=9,
        sha256="0" * 64,
    )
    attachment.content = AttachmentContent(data=b"%PDF-1.4\n")
    news = News(
        caisse_id=g["caisse"].id,
        title="Actualité",
        body="Texte",
        publish_at=now(),
        image=b"\x89PNG\r\n\x1a\n",
        image_type="image/png",
    )
    db.session.add_all(
        [
            attachment,
            news,
            *back_office_rows(g["caisse"].id),
        ]
    )
    db.session.commit()
    return {
        "tech": tech,
        "target": target,
        "request": requests[0],
        "attachment": attachment,
        "news": news,
        "world": world,
    }


def _log_in(client, role: str, w) -> None:
    if role == "anonymous":
        return
    if role in AGENT_LOGINS:
        response = client.post_form("/admin/connexion", {"username": AGENT_LOGINS[role], "password": PASSWORD})
        assert response.status_code == 302, role
        return
    account = w["tech"] if role == "technician" else w["world"]["gironde"]["manager"]
    enter(client, account, w["world"]["gironde"]["caisse"])


def _path_values(w) -> dict:
    return {
        "account_id": w["target"].id,
        "number": w["request"].number,
        "attachment_id": w["attachment"].id,
        "news_id": w["news"].id,
        "code": "file_review",
        "token": "jeton-invalide",
        "export_type": "csv",
        "key": "stock",  # a dashboard table (views/dashboard.py export)
    }


def _fill(rule, values: dict) -> str:
    url = rule.rule
    for name in rule.arguments:
        value = values[name]
        encoded = quote_from_bytes(value, safe="") if isinstance(value, bytes) else quote(str(value), safe="")
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", lambda _m, v=encoded: v, url)
    return url


def _int_arguments(rule) -> set[str]:
    return {name for name, converter in rule._converters.items() if type(converter).__name__ == "IntegerConverter"}


def _admin_view(app, endpoint: str):
    admin = app.extensions["ep_admin"]
    return next((v for v in admin._views if v.endpoint == endpoint.split(".")[0]), None)


def _admin_params(view, rule) -> tuple[list[str], list[str]]:
    """Flask-Admin's own parameters for this rule: (query names, form names)."""
    if view is None:
        return [], []
    query = ["id", "url"]
    form = []
    if rule.endpoint.endswith((".index_view", ".export")):
        query += ["page", "page_size", "sort", "desc", "search"]
        if isinstance(view, flask_admin.model.base.BaseModelView) and view._filters:
            query += [f"flt{i}_{view.get_filter_arg(i, f)}" for i, f in enumerate(view._filters)]
    if "POST" in rule.methods:
        form += ["id", "url", "rowid", "action"]
    return query, form


def _encode(pairs) -> bytes:
    """An urlencoded string as bytes; a bytes value is sent percent-encoded and also raw."""
    parts = []
    for name, value in pairs:
        key = quote(name, safe="").encode()
        if isinstance(value, bytes):
            parts.append(key + b"=" + quote_from_bytes(value, safe="").encode())
            parts.append(key + b"=" + value)  # raw, as a careless client would send it
        else:
            parts.append(key + b"=" + quote(value, safe="").encode())
    return b"&".join(parts)


class Walk:
    def __init__(self):
        self.requests, self.walked, self.errors = 0, set(), []

    def send(self, client, method: str, path: str, query: bytes, body: bytes | None, label):
        self.requests += 1
        kwargs = {"query_string": query.decode("latin-1")}
        if body is not None:
            kwargs.update(data=body, content_type="application/x-www-form-urlencoded")
        try:
            response = client.open(path, method=method, **kwargs)
        except Exception as exc:  # noqa: BLE001 (the test app propagates exceptions: a user gets a 500)
            self.errors.append((*label, f"{type(exc).__name__}: {str(exc)[:200]}"))
            return None
        if response.status_code >= 500:
            self.errors.append((*label, response.status_code))
        body_text = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        response.close()
        return response.status_code, body_text


def _collect_forms(client, rules, values, forms_by_path: dict) -> None:
    """GET every page once (plain values) and note each form's fields under its target path."""
    for rule in rules:
        if "GET" not in rule.methods or rule.endpoint in SKIPPED:
            continue
        url = _fill(rule, values)
        response = client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            for form in forms_of(response.get_data(as_text=True)):
                target = urlsplit(action_path(form, url)).path
                names = forms_by_path.setdefault((form.method, target), [])
                names += [n for n in form.names() if n not in names and n != "csrf_token"]
        response.close()


def test_no_hostile_value_gives_a_server_error_on_any_route_for_any_role(app, walk_world):
    rules = sorted(
        (r for r in app.url_map.iter_rules() if not r.endpoint.endswith("static")), key=lambda r: (r.rule, r.endpoint)
    )
    values = _path_values(walk_world)
    walk = Walk()
    for role_index, role in enumerate(ROLES):
        client = app.test_client()
        _log_in(client, role, walk_world)
        token = client.csrf_token()
        forms_by_path: dict = {}
        _collect_forms(client, rules, values, forms_by_path)
        for rule_index, rule in enumerate(rules):
            if rule.endpoint in SKIPPED:
                continue
            walk.walked.add((rule.endpoint, role))
            plain_path = _fill(rule, values)
            view = _admin_view(app, rule.endpoint) if rule.endpoint.split(".")[0] not in {"portal", "bo_auth"} else None
            admin_query, admin_form = _admin_params(view, rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                query_names = admin_query + forms_by_path.get(("GET", urlsplit(plain_path).path), [])
                form_names = admin_form + forms_by_path.get(("POST", urlsplit(plain_path).path), [])
                query_names = list(dict.fromkeys(query_names + ["page", "next"]))
                form_names = list(dict.fromkeys(form_names))
                for class_index, (name, corpus) in enumerate(CLASSES.items()):

                    def pick(
                        i,
                        corpus=corpus,
                        name=name,
                        offset=rule_index + class_index + role_index,
                        shift=role_index * LONG_PER_REQUEST,
                    ):
                        value = corpus[(i + offset) % len(corpus)]
                        if name == "long" and (i + shift) % (len(ROLES) * LONG_PER_REQUEST) >= LONG_PER_REQUEST:
                            return value[:200]
                        return value

                    path_values = dict(values)
                    for j, arg in enumerate(rule.arguments):
                        if arg in _int_arguments(rule):
                            if name in INT_PARAM_CLASSES:
                                path_values[arg] = str(pick(j)).lstrip("-")
                        elif arg != "export_type":
                            path_values[arg] = pick(j)
                    path = _fill(rule, path_values)
                    query = _encode([(n, pick(i)) for i, n in enumerate(query_names)])
                    body = None
                    if method == "POST":
                        body = _encode([("csrf_token", token)] + [(n, pick(i + 1)) for i, n in enumerate(form_names)])
                    walk.send(client, method, path, query, body, (role, method, rule.rule, name))
    print(
        f"\nhostile inputs: {len(rules)} routes × {len(ROLES)} roles walked ({len(walk.walked)} route×role pairs, "
        f"{len(CLASSES)} value classes), {walk.requests} requests, {len(walk.errors)} server errors"
    )
    distinct = sorted(
        {(method, rule, value_class, str(error)[:160]) for _role, method, rule, value_class, error in walk.errors}
    )
    assert not walk.errors, f"{len(walk.errors)} server errors, distinct:\n" + "\n".join(map(str, distinct))


# --- what the user sees ------------------------------------------------------------------------
FORBIDDEN = "Ce champ contient un caractère non autorisé."


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("/admin/connexion", {"username": "admin\x00", "password": PASSWORD}, "username"),
        ("/connexion", {"login": "t.alpha\x00", "password": PASSWORD}, "login"),
        ("/mot-de-passe-oublie", {"login": "t.alpha\x00x"}, "login"),
    ],
)
def test_a_nul_byte_in_a_login_or_reset_form_gives_the_form_again_with_a_french_message(
    app, walk_world, path, data, field
):
    client = app.test_client()
    response = client.post_form(path, data)
    assert response.status_code == 200
    assert FORBIDDEN in page_text(response)
    assert input_value(response, field) == data[field]  # what was typed is kept (the NUL as sent)


def test_an_admin_form_refuses_a_nul_byte_and_an_overflowing_number_keeping_what_was_typed(app, walk_world):
    from backoffice.models import Structure

    structure = walk_world["world"]["gironde"]["structure"]
    client = app.test_client()
    client.post_form("/admin/connexion", {"username": "admin.gironde", "password": PASSWORD})
    page = client.get(f"/admin/structures/edit/?id={structure.id}")
    form = next(f for f in post_forms(page.get_data(as_text=True)) if "name" in f.names())
    data = form.data()
    data["name"] = "Association\x00 Gironde"
    data["member_count"] = "99999999999999999999999"
    response = client.post(f"/admin/structures/edit/?id={structure.id}", data=data)
    assert response.status_code == 200
    assert FORBIDDEN in field_errors(response, "name")
    assert input_value(response, "name") == "Association\x00 Gironde"
    assert input_value(response, "member_count") == "99999999999999999999999"
    db.session.expire_all()
    assert db.session.get(Structure, structure.id).name == "Association Gironde"


def test_ids_beyond_the_database_range_find_nothing(app, walk_world):
    manager_client = app.test_client()
    _log_in(manager_client, "manager", walk_world)
    for path in (
        "/comptes/2147483648/modifier",
        "/comptes/99999999999999999999999/inactiver",
        "/actualites/9223372036854775808/image",
        "/demandes/0000000001%00/annuler",
    ):
        assert manager_client.get(path).status_code == 404, path
    agent = app.test_client()
    _log_in(agent, "agent", walk_world)
    for path in ("/admin/requests/traiter/?id=2147483648", "/admin/requests/pj/?id=-99999999999999999999"):
        assert agent.get(path).status_code == 404, path
    response = agent.get("/admin/requests/edit/?id=99999999999999999999999")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/requests/"


def test_the_queue_refuses_out_of_range_list_parameters_with_a_french_message(app, walk_world):
    """Also the upgrade guard for SecureModelView._get_list_extra_args: Flask-Admin's list and
    export views must still read their parameters through it."""
    from backoffice.views.base import SEARCH_REFUSED, SecureModelView
    from backoffice.views.requests import DepositFrom

    assert "_get_list_extra_args" in SecureModelView.__dict__
    view = _admin_view(app, "requests.index_view")
    index, flt = next((i, f) for i, f in enumerate(view._filters) if type(f) is DepositFrom)
    name = f"flt0_{view.get_filter_arg(index, flt)}"
    client = app.test_client()
    _log_in(client, "agent", walk_world)
    for value in ("0001-01-01", "9999-12-31"):
        response = client.get("/admin/requests/", query_string={name: value, "page": "-1", "search": "a\x00b"})
        assert response.status_code == 200
        text = page_text(response)
        assert "Le filtre « Date de dépôt » n'est pas appliqué : sa valeur n'est pas valable." in text
        assert SEARCH_REFUSED in text
        assert walk_world["request"].number in text  # the filter and the search were left out
        export = client.get("/admin/requests/export/csv/", query_string={name: value, "page": "99999999999"})
        assert export.status_code == 200
        export.close()


def test_the_history_refuses_extreme_dates_and_a_nul_byte_with_french_messages(app, walk_world):
    client = app.test_client()
    _log_in(client, "technician", walk_world)
    response = client.get(
        "/demandes",
        query_string={
            "date_from": "0001-01-01",
            "date_to": "9999-12-31",
            "person": "Du\x00pont",
            "page": "99999999999999999999",
        },
    )
    assert response.status_code == 200
    text = page_text(response)
    assert "La date de début de dépôt doit être une date valide au format JJ/MM/AAAA." in text
    assert "La date de fin de dépôt doit être une date valide au format JJ/MM/AAAA." in text
    assert FORBIDDEN in text
