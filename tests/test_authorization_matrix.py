"""Authorization matrix: every rule of app.url_map × method × role, with the objects of another
tenant in every URL, against an expected-status table. A route missing from the table fails.

Figure printed at the end (README "Reliability and security"): routes × roles checked, unexpected 2xx.
"""

import re

import pytest
from helpers import PASSWORD, add_request, enter, make_account

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import (
    Attachment,
    AttachmentContent,
    AuditEntry,
    News,
    Newsletter,
    OutboxMessage,
    ReplyTemplate,
    RequestStatus,
)

ROLES = ["anonymous", "tech_a", "manager_a", "tech_b", "agent_x", "admin_x", "agent_y", "national"]
PARTNERS = {"tech_a", "manager_a", "tech_b"}
AGENTS = {"agent_x", "admin_x", "agent_y", "national"}
ADMINS = {"admin_x", "national"}

OK = {200, 302}  # allowed: a page, or a redirect after a POST
LOGIN_BO = "login_bo"  # 302 to /admin/connexion
LOGIN_PORTAL = "login_portal"  # 302 to /connexion
DENIED = {403, 404}
NOT_FOUND_OR_BACK = {302, 404}  # Flask-Admin sends an unknown id back to the list

# Flask-Admin views: which roles may use them (mirrors allowed_roles in backoffice/views).
ADMIN_VIEWS = {
    "caisses": {"national"},
    "agents": ADMINS,
    "catalog": ADMINS,
    "structures": ADMINS,
    "conventions": ADMINS,
    "managers": ADMINS,
    "outbox": ADMINS,
    "audit": ADMINS,
    "news": ADMINS,
    "newsletters": ADMINS,
    "requests": AGENTS,
    "todo": AGENTS,  # « À traiter »
    "mine": AGENTS - {"national"},  # « Mes demandes »: the national admin owns no request
    "reply_templates": ADMINS,  # the national admin reads every caisse's, writes none
    "profile": AGENTS,  # « Mon compte »
    "dashboard": AGENTS,
    "admin": AGENTS,  # the index
}
# Portal endpoints: which partner roles may use them.
PORTAL_ANY = {
    "portal.home",
    "portal.cgu",
    "portal.change_password",
    "portal.select_caisse",
    "portal.caisse_notice",
    "portal.newsletter_toggle",
    "portal.news_image",
}
PORTAL_MANAGER = {
    "portal.accounts",
    "portal.account_new",
    "portal.account_edit",
    "portal.account_inactivate",
    "portal.account_reactivate",
}
PORTAL_TECHNICIAN = {
    "portal.history",
    "portal.deposit",
    "portal.new_request",
    "portal.request_detail",
    "portal.request_cancel",
    "portal.request_close",
    "portal.request_complete",
    "portal.request_message",
    "portal.request_file",
}
PUBLIC = {
    "portal.login",
    "bo_auth.login",
    "portal.forgot_password",
    "portal.set_password",
    "portal.unsubscribe_page",
    "portal.unsubscribe",
    "portal.logout",
    "bo_auth.logout",
}
# Endpoints that take a foreign object: the tenant's own role must never get a 2xx with it.
OBJECT_PARAMS = {"account_id", "number", "attachment_id", "news_id"}


def expected(endpoint: str, method: str, role: str, foreign: bool):
    """The set of acceptable statuses (or a login redirect marker)."""
    if endpoint in PUBLIC or endpoint.endswith(".static"):
        return {200, 302, 400, 404, 405, 410}
    if endpoint == "portal.news_image" and (role == "anonymous" or role in AGENTS):
        return {404}  # an image answers 404 to whoever may not see it
    if endpoint.startswith("portal."):
        if role == "anonymous" or role in AGENTS:
            return LOGIN_PORTAL
        allowed = (
            endpoint in PORTAL_ANY
            or (endpoint in PORTAL_MANAGER and role == "manager_a")
            or (endpoint in PORTAL_TECHNICIAN and role in {"tech_a", "tech_b"})
        )
        if not allowed:
            return DENIED | {302}  # 302: e.g. a technician sent back to its own pages
        return DENIED if foreign else OK | {400}
    view = endpoint.split(".")[0]
    if view not in ADMIN_VIEWS:
        raise KeyError(endpoint)
    if role == "anonymous":
        return LOGIN_BO
    if role in PARTNERS:
        return {403}
    if role not in ADMIN_VIEWS[view]:
        return {403}
    if foreign:
        return NOT_FOUND_OR_BACK | {403}
    return OK | {400, 404, 405}


@pytest.fixture
def tenants(world):
    """Structure A (GIRONDE) and B (OISE) with technicians, requests, files, news, newsletters."""
    g, o = world["gironde"], world["oise"]
    tech_a = make_account(g["structure"], "t.alpha", last_caisse=g["caisse"])
    tech_b = make_account(o["structure"], "t.beta", last_caisse=o["caisse"])
    g["manager"].cgu_accepted_at = now()
    o["manager"].cgu_accepted_at = now()
    objects = {}
    for key, tenant, tech in (("a", g, tech_a), ("b", o, tech_b)):
        request = add_request(tenant["convention"], tech, RequestStatus.RESOLVED, resolved_at=now())
        files = {}
        for side in ("partner", "caisse"):
            attachment = Attachment(
                request_id=request.id,
                side=side,
                filename=f"{side}-{key}.pdf",
                storage_name=f"{side}{key}" * 4,
                content_type="application/pdf",
                size=9,
                sha256="0" * 64,
            )
            attachment.content = AttachmentContent(data=b"%PDF-1.4\n")
            db.session.add(attachment)
            files[side] = attachment
        news = News(
            caisse_id=tenant["caisse"].id,
            title=f"Actualité {key}",
            body="Texte",
            publish_at=now(),
            image=b"\x89PNG\r\n\x1a\n",
            image_type="image/png",
        )
        letter = Newsletter(caisse_id=tenant["caisse"].id, subject=f"Lettre {key}", body="Texte")
        mail = OutboxMessage(
            recipient=f"{key}@example.fr",
            subject="s",
            body_text="b",
            body_html="b",
            kind="test",
            caisse_id=tenant["caisse"].id,
        )
        entry = AuditEntry(
            actor_type="system", actor_label="Système", action="test", caisse_id=tenant["caisse"].id, details={}
        )
        template = ReplyTemplate(caisse_id=tenant["caisse"].id, title=f"Modèle {key}", body="Bonjour {demandeur},")
        db.session.add_all([news, letter, mail, entry, template])
        db.session.commit()
        objects[key] = {
            "tenant": tenant,
            "tech": tech,
            "request": request,
            "files": files,
            "news": news,
            "newsletter": letter,
            "outbox": mail,
            "audit": entry,
            "template": template,
        }
    return objects


def _admin_object_id(view: str, theirs: dict):
    tenant = theirs["tenant"]
    return {
        "caisses": tenant["caisse"].id,
        "agents": tenant["agent"].id,
        "structures": tenant["structure"].id,
        "conventions": tenant["convention"].id,
        "managers": tenant["manager"].id,
        "outbox": theirs["outbox"].id,
        "audit": theirs["audit"].id,
        "news": theirs["news"].id,
        "newsletters": theirs["newsletter"].id,
        "requests": theirs["request"].id,
        "todo": theirs["request"].id,
        "mine": theirs["request"].id,
        "reply_templates": theirs["template"].id,
    }.get(view)


def _url(rule, role: str, tenants: dict) -> tuple[str, bool]:
    """Fill the rule with the objects of the other tenant (the national admin has none: it sees all)."""
    theirs = tenants["a"] if role in {"tech_b", "agent_y"} else tenants["b"]
    foreign = role != "national" and role != "anonymous"
    values = {
        "account_id": theirs["tech"].id,
        "number": theirs["request"].number,
        "attachment_id": theirs["files"]["caisse"].id,
        "news_id": theirs["news"].id,
        "code": "file_review",
        "token": "jeton-invalide",
        "export_type": "csv",
        "key": "indicateurs",  # a dashboard table
        "filename": "portal.css",
    }
    url = rule.rule
    uses_object = False
    for name in rule.arguments:
        uses_object |= name in OBJECT_PARAMS
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(values[name]), url)
    view = rule.endpoint.split(".")[0]
    if rule.endpoint.startswith(tuple(v + "." for v in ADMIN_VIEWS)) and not rule.endpoint.endswith(
        (".index_view", ".index", ".create_view", ".export", ".ajax_lookup", ".action_view")
    ):
        object_id = _admin_object_id(view, theirs)
        if view == "requests" and rule.endpoint.endswith("attachment_view"):
            object_id = theirs["files"]["caisse"].id
        if view == "managers" and rule.endpoint.endswith("toggle_view"):
            object_id = theirs["tenant"]["manager"].id
        if object_id is not None:
            url += f"?id={object_id}"
            uses_object = True
    return url, foreign and uses_object


def _log_in(client, role: str, world, tenants):
    g, o = world["gironde"], world["oise"]
    if role == "anonymous":
        return
    if role in AGENTS:
        username = {
            "agent_x": "agent.gironde",
            "admin_x": "admin.gironde",
            "agent_y": "agent.oise",
            "national": "admin",
        }[role]
        response = client.post_form("/admin/connexion", {"username": username, "password": PASSWORD})
        assert response.status_code == 302
        return
    account, caisse = {
        "tech_a": (tenants["a"]["tech"], g["caisse"]),
        "manager_a": (g["manager"], g["caisse"]),
        "tech_b": (tenants["b"]["tech"], o["caisse"]),
    }[role]
    enter(client, account, caisse)


def test_every_route_for_every_role_against_another_tenants_objects(app, world, tenants):
    rules = [r for r in app.url_map.iter_rules() if not r.endpoint.endswith("static")]
    unknown = [
        r.endpoint
        for r in rules
        if not (r.endpoint in PUBLIC or r.endpoint.startswith("portal.") or r.endpoint.split(".")[0] in ADMIN_VIEWS)
    ]
    assert not unknown, f"routes missing from the expected-status table: {unknown}"
    missing_portal = [
        r.endpoint
        for r in rules
        if r.endpoint.startswith("portal.")
        and r.endpoint not in PUBLIC | PORTAL_ANY | PORTAL_MANAGER | PORTAL_TECHNICIAN
    ]
    assert not missing_portal, f"portal routes missing from the table: {missing_portal}"

    checked, unexpected_2xx, failures = 0, [], []
    for role in ROLES:
        client = app.test_client()
        _log_in(client, role, world, tenants)
        token = client.csrf_token()
        for rule in sorted(rules, key=lambda r: r.rule):
            if rule.endpoint in {"portal.logout", "bo_auth.logout"}:
                continue  # would end the session of the walk; covered by the auth tests
            url, foreign = _url(rule, role, tenants)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                want = expected(rule.endpoint, method, role, foreign)
                if method == "GET":
                    response = client.get(url)
                else:
                    response = client.post(url, data={"csrf_token": token})
                response.close()  # a streamed export keeps its app context (and DB session) until closed
                checked += 1
                status = response.status_code
                where = response.headers.get("Location", "")
                if want == LOGIN_BO:
                    good = status == 302 and "/admin/connexion" in where
                elif want == LOGIN_PORTAL:
                    good = status == 302 and "/connexion" in where and "/admin/" not in where
                else:
                    good = status in want
                if 200 <= status < 300 and (want in (LOGIN_BO, LOGIN_PORTAL) or not (want & {200})):
                    unexpected_2xx.append((role, method, url, status))
                if not good or status >= 500:
                    failures.append((role, method, url, status, where))
    print(f"\nauthorization matrix: {checked} route×method×role checks, unexpected 2xx = {len(unexpected_2xx)}")
    assert not unexpected_2xx, unexpected_2xx
    assert not failures, failures[:40]
    assert checked > 600


CSRF_EXEMPT = {"portal.unsubscribe"}  # RFC 8058 one-click: the signed token in the URL authenticates it


def _snapshot():
    """Every row of every table but the audit log (GET downloads and exports are audited)."""
    from sqlalchemy import select

    rows = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            if table.name == "audit_entry":
                continue
            rows[table.name] = sorted(map(repr, connection.execute(select(table))))
    return rows


def test_no_post_without_a_csrf_token_and_no_get_changes_state(app, world, tenants):
    rules = [r for r in app.url_map.iter_rules() if not r.endpoint.endswith("static")]
    clients = {}
    for role in ROLES:
        clients[role] = app.test_client()
        _log_in(clients[role], role, world, tenants)
    before = _snapshot()
    tried, accepted = 0, []
    for role, client in clients.items():
        for rule in rules:
            url, _ = _url(rule, role, tenants)
            if "GET" in rule.methods and rule.endpoint not in {"portal.logout", "bo_auth.logout"}:
                client.get(url).close()
            if "POST" in rule.methods and rule.endpoint not in CSRF_EXEMPT:
                response = client.post(url, data={"comment": "x", "reason": "x"})
                response.close()
                tried += 1
                if response.status_code != 400:
                    accepted.append((role, url, response.status_code))
    after = _snapshot()
    changed = [name for name in before if before[name] != after[name]]
    print(f"\nCSRF: {tried} POSTs without a token tried, accepted = {len(accepted)}; tables changed by GETs: {changed}")
    assert not accepted, accepted
    assert not changed, changed
