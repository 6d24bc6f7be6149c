"""No redirect out of the site (issue 11 §2): Flask-Admin's `url=` return parameter on every model
view (edit, details, new, delete, action, the redirect after a save) for every role that reaches
it, and the `next` of both login forms, against a table of hostile return URLs.

Figure printed (README "Reliability and security"): payloads × endpoints, off-site, errors.
"""

import re
from urllib.parse import urljoin, urlsplit

import flask_admin.actions
import flask_admin.helpers
import flask_admin.model.base
import pytest
from flask import request
from form_parsing import action_path, post_forms
from helpers import PASSWORD, add_request, back_office_rows, make_account
from sqlalchemy import select

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.inputs import safe_next, same_site_path
from backoffice.models import AgentRole, News, RequestStatus
from backoffice.views.base import RoleMixin, drop_offsite_return_url

PAYLOADS = [
    "http:evil.example",
    "http:///evil.example",
    "https:evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    " //evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "HTTP://EVIL.EXAMPLE",
    "http://localhost@evil.example",
    "http://evil.example\\@localhost/",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%2f%5cevil.example",
    "%2F%5Cevil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "%68ttp://evil.example",
    "\r\nLocation: http://evil.example",
    "/ok\r\nLocation: http://evil.example",
    "/ok%0d%0aSet-Cookie:x=1",
    "/ok%00evil",
    "/ok\x00evil",
    "/ok\x7fevil",
    "\uff0f\uff0fevil.example",
    "/\uff0fevil.example",
    "/\u3000/evil.example",
    "/\u202e/evil.example",
    "evil.example",
    "../../evil.example",
    "/" + "a" * 5000,
]
SAME_SITE = ["/admin/requests/", "/admin/structures/?page=1&search=Association%20B", "/organisme", "/"]

ROLE_LOGINS = {
    AgentRole.AGENT.value: "agent.gironde",
    AgentRole.CAISSE_ADMIN.value: "admin.gironde",
    AgentRole.NATIONAL_ADMIN.value: "admin",
}


def offsite(location: str, request_url: str) -> bool:
    """Whether a browser following Location would leave the site, or the header is a trick."""
    if "\\" in location or location.lstrip().startswith("//") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in location):
        return True
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", location) and not location.startswith("http://localhost/"):
        return True  # any scheme but this site's own absolute URL
    resolved, base = urlsplit(urljoin(request_url, location)), urlsplit(request_url)
    return (resolved.scheme, resolved.netloc) != (base.scheme, base.netloc)


def test_same_site_path_accepts_paths_and_refuses_every_payload():
    assert [same_site_path(p) for p in SAME_SITE] == SAME_SITE
    accepted = [p for p in PAYLOADS if same_site_path(p) is not None]
    assert not accepted
    assert safe_next("http:evil.example", "/admin/") == "/admin/"
    assert safe_next(None, "/organisme") == "/organisme"


def test_flask_admin_still_reads_the_return_url_through_the_hooks_we_override(app):
    """Upgrade guard: Flask-Admin reads `url=` with helpers.get_redirect_target() from
    request.values, calls BaseView._handle_view before every view, and our RoleMixin cleans the
    parameter there. If a release moves any of this, this test fails."""
    assert flask_admin.model.base.get_redirect_target is flask_admin.helpers.get_redirect_target
    assert flask_admin.actions.get_redirect_target is flask_admin.helpers.get_redirect_target
    assert "_handle_view" in RoleMixin.__dict__
    with app.test_request_context("/admin/requests/edit/?id=1&url=http:evil.example"):
        # Flask-Admin's own check lets this one through: the reason for the hook.
        assert flask_admin.helpers.get_redirect_target() == "http:evil.example"
        drop_offsite_return_url()
        assert flask_admin.helpers.get_redirect_target() is None
        assert "url" not in request.args and "url" not in request.values
        assert request.args["id"] == "1"
    with app.test_request_context("/admin/x/action/", method="POST", data={"url": "//evil", "rowid": "3"}):
        drop_offsite_return_url()
        assert flask_admin.helpers.get_redirect_target() is None
        assert request.form.getlist("rowid") == ["3"]
    with app.test_request_context("/admin/x/edit/?id=1&url=/admin/x/%3Fpage%3D2"):
        drop_offsite_return_url()
        assert flask_admin.helpers.get_redirect_target() == "/admin/x/?page=2"


@pytest.fixture
def contents(world):
    """Something in every list: a request, an outbox message, an audit entry, news, a newsletter."""
    g = world["gironde"]
    tech = make_account(g["structure"], "t.alpha", last_caisse=g["caisse"])
    add_request(g["convention"], tech, RequestStatus.NEW)
    db.session.add_all(
        [
            News(caisse_id=g["caisse"].id, title="Actualité", body="Texte", publish_at=now()),
            *back_office_rows(g["caisse"].id),
        ]
    )
    db.session.commit()
    return {"tech": tech}


def _model_views(app):
    admin = app.extensions["ep_admin"]
    return [v for v in admin._views if isinstance(v, flask_admin.model.base.BaseModelView)]


def _object_id(client, view) -> str:
    """An object of the view that this role sees: the first id linked from its list."""
    body = client.get(f"/admin/{view.endpoint}/").get_data(as_text=True)
    match = re.search(r"/admin/%s/[a-z]+/\?id=(\d+)" % re.escape(view.endpoint), body)
    if match:
        return match.group(1)
    return str(db.session.scalar(select(view.model.id).order_by(view.model.id)) or 1)


class Tally:
    def __init__(self):
        self.requests, self.endpoints, self.offsite, self.errors, self.saved = 0, set(), [], [], 0

    def send(self, endpoint: str, payload: str, request_url: str, call, *args, **kwargs):
        """Run call(*args, **kwargs), one request; an exception (the test app propagates them)
        counts as a server error."""
        try:
            response = call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 (any exception is the 500 a user would get)
            self.requests += 1
            self.endpoints.add(endpoint)
            self.errors.append((endpoint, payload, repr(exc)))
            return None
        self.check(endpoint, payload, response, request_url)
        return response

    def check(self, endpoint: str, payload: str, response, request_url: str):
        self.requests += 1
        self.endpoints.add(endpoint)
        location = response.headers.get("Location")
        if response.status_code >= 500:
            self.errors.append((endpoint, payload, response.status_code))
        if location is not None and offsite(location, request_url):
            self.offsite.append((endpoint, payload, location))
        if response.status_code == 200 and response.mimetype == "text/html":
            for href in re.findall(r'(?:href|action)="([^"]*evil[^"]*)"', response.get_data(as_text=True)):
                if offsite(href.replace("&amp;", "&"), request_url):
                    self.offsite.append((endpoint, payload, f"link {href}"))
        response.close()


def test_no_return_url_leaves_the_site_on_any_admin_view_for_any_role(app, world, contents):
    tally = Tally()
    for role, username in ROLE_LOGINS.items():
        client = app.test_client()
        assert client.post_form("/admin/connexion", {"username": username, "password": PASSWORD}).status_code == 302
        token = client.csrf_token()
        for view in _model_views(app):
            if role not in view.allowed_roles:
                continue
            base = f"/admin/{view.endpoint}"
            object_id = _object_id(client, view)
            edit_page = client.get(f"{base}/edit/", query_string={"id": object_id})
            edit_forms = post_forms(edit_page.get_data(as_text=True)) if edit_page.status_code == 200 else []
            edit_form = next(
                (f for f in edit_forms if "/edit/" in action_path(f, f"{base}/edit/?id={object_id}")), None
            )
            action = next(iter(view._actions_data), "inconnue")
            for payload in PAYLOADS:
                for name, method, path, query, data in (
                    ("edit", "GET", f"{base}/edit/", {"id": object_id, "url": payload}, None),
                    ("details", "GET", f"{base}/details/", {"id": object_id, "url": payload}, None),
                    ("new", "GET", f"{base}/new/", {"url": payload}, None),
                    ("new-post", "POST", f"{base}/new/", {"url": payload}, {"csrf_token": token}),
                    ("delete", "POST", f"{base}/delete/", None, {"id": object_id, "url": payload, "csrf_token": token}),
                    (
                        "delete-query",
                        "POST",
                        f"{base}/delete/",
                        {"url": payload},
                        {"id": object_id, "csrf_token": token},
                    ),
                    (
                        "action",
                        "POST",
                        f"{base}/action/",
                        None,
                        {"action": action, "rowid": object_id, "url": payload, "csrf_token": token},
                    ),
                ):
                    tally.send(
                        f"{method} {path} [{name}] as {role}",
                        payload,
                        f"http://localhost{path}",
                        client.open,
                        path,
                        method=method,
                        query_string=query,
                        data=data,
                    )
                if edit_form is not None:  # the redirect after saving a form opened with url=
                    path = urlsplit(action_path(edit_form, f"{base}/edit/?id={object_id}")).path
                    response = tally.send(
                        f"POST {base}/edit/ [save] as {role}",
                        payload,
                        f"http://localhost{path}",
                        client.post,
                        path,
                        query_string={"id": object_id, "url": payload},
                        data=edit_form.data(),
                    )
                    tally.saved += response is not None and response.headers.get("Location") == f"{base}/"
    _report(tally, "admin url=")
    assert tally.saved > 0, "no edit form was saved: the after-save redirect was not exercised"
    assert not tally.errors, tally.errors[:20]
    assert not tally.offsite, tally.offsite[:20]


def test_no_login_next_leaves_the_site(app, world, contents):
    tally = Tally()
    logins = (
        ("/admin/connexion", {"username": "agent.gironde", "password": PASSWORD}),
        ("/connexion", {"login": contents["tech"].login, "password": PASSWORD}),
    )
    for payload in PAYLOADS:
        for path, credentials in logins:
            client = app.test_client()
            url = f"http://localhost{path}"
            tally.send(f"GET {path}?next=", payload, url, client.get, path, query_string={"next": payload})
            response = tally.send(
                f"POST {path}?next=", payload, url, client.post_form, path, credentials, query_string={"next": payload}
            )
            assert response is None or response.status_code == 302, (path, payload, response.status_code)
    # A same-site next is still followed.
    client = app.test_client()
    response = client.post_form("/admin/connexion", logins[0][1], query_string={"next": "/admin/requests/?page=1"})
    assert response.headers["Location"] == "/admin/requests/?page=1"
    _report(tally, "login next")
    assert not tally.errors, tally.errors[:20]
    assert not tally.offsite, tally.offsite[:20]


def test_a_same_site_return_url_is_still_followed(app, world, contents):
    client = app.test_client()
    client.post_form("/admin/connexion", {"username": "admin", "password": PASSWORD})
    response = client.get("/admin/structures/new/", query_string={"url": "/admin/structures/?page=0"})
    assert 'href="/admin/structures/?page=0"' in response.get_data(as_text=True)
    response = client.post_form("/admin/structures/delete/", {"id": "1", "url": "/admin/structures/?page=0"})
    assert response.headers["Location"] == "/admin/structures/?page=0"


def _report(tally: Tally, what: str) -> None:
    print(
        f"\nredirects ({what}): {len(PAYLOADS)} payloads × {len(tally.endpoints)} endpoints = "
        f"{tally.requests} requests, {len(tally.offsite)} off-site, {len(tally.errors)} errors"
    )
