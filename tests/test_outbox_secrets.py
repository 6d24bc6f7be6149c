"""No back-office user can read a working set-password link (issue 11.1).

Four links are asked for: a manager created in the back-office, a technician created by a manager on
the portal, a caisse admin created by the national admin, and a partner's « Mot de passe oublié ? »
(stored in the outbox of CPAM OISE, the caisse it last selected). Then, with the messages pending,
failed after SMTP errors and sent, as every back-office role: every URL on every outbox and audit
page (lists, details, sort and filter links, exports) is followed by a fresh client, and none opens
a set-password form; every text column of the database is scanned for the links' tokens. Only the
delivered e-mail carries the working link, which works exactly once.

Figure printed (README "Reliability and security"): URLs followed, roles, forms opened.
"""

import html as html_lib
import re
import threading
from collections import deque
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from aiosmtpd.controller import Controller
from helpers import PASSWORD, TOKEN_LINK_RE, accept_cgu, count, deliver_mail, enter, mail_text
from sqlalchemy import JSON, String, Text, select
from test_outbox import free_port

from backoffice.extensions import db
from backoffice.models import AgentRole, OutboxMessage, OutboxStatus, PartnerAccount, PasswordToken
from backoffice.models.outbox import LINK_MASK
from backoffice.services import outbox

ROLES = ("admin", "admin.gironde", "admin.oise", "agent.gironde", "agent.oise")
RECIPIENTS = {
    "manager": "myriam.manager@example.fr",
    "technician": "victor.tech@example.fr",
    "agent": "hugo.admin@example.fr",
    "reset": "m.oise@example.fr",
}
NEW_PASSWORD = "Une phrase toute neuve 2027"
# Any set-password path, with whatever comes after it (a token, the mask, anything).
ANY_LINK = re.compile(r"/mot-de-passe/(?!changer\b)[^\s\"'<>]+")
URL_IN_TEXT = re.compile(r"(?:https?:)?//[^\s\"'<>]+|/mot-de-passe/[^\s\"'<>]+")
ATTRIBUTE = re.compile(r"""\b(?:href|src|action|formaction|data-url|data-href)\s*=\s*["']([^"']*)["']""")
MAX_PAGES_PER_ROLE = 400
# Query parameters whose value picks what a page shows; the others (sort, page size, search, return
# URL) only reorder or filter it: one page per combination of their names is read.
CONTENT_PARAMETERS = {"id", "page"}


class Recorder:
    """An SMTP server recording the set-password links of what it is given, accepted or refused."""

    def __init__(self):
        self.refuse = False
        self.accepted = {}  # recipient -> the link of the last accepted e-mail
        self.seen = []  # every link handed over, refused attempts included
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        mail = BytesParser(policy=policy.default).parsebytes(envelope.content)
        links = [m.group(0) for m in TOKEN_LINK_RE.finditer(mail_text(mail))]
        html_links = re.findall(
            r'href="([^"]*mot-de-passe[^"]*)"', mail.get_body(preferencelist=("html",)).get_content()
        )
        with self.lock:
            self.seen.extend(links)
            if self.refuse:
                return "451 4.3.0 Service temporairement indisponible"
            assert links and html_links == links, (links, html_links)
            self.accepted[mail["To"]] = links[0]
        return "250 OK"


@pytest.fixture
def smtp(app, monkeypatch):
    port = free_port()
    for key, value in {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_TIMEOUT_SECONDS": 5,
        "MAIL_BACKEND": "smtp",
        "MAIL_MAX_ATTEMPTS": 1,
    }.items():
        monkeypatch.setitem(app.config, key, value)
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder
    controller.stop()


def _ask_for_the_four_links(app, world):
    g, o = world["gironde"], world["oise"]
    # 1. a manager, created in the back-office by the GIRONDE admin
    admin = app.test_client()
    admin.post_form("/admin/connexion", {"username": "admin.gironde", "password": PASSWORD})
    response = admin.post_form(
        "/admin/managers/new/",
        {
            "structure": g["structure"].id,
            "civility": "Madame",
            "usage_name": "MANAGER",
            "first_name": "Myriam",
            "function": "Directrice",
            "phone": "05.56.00.00.01",
            "email": RECIPIENTS["manager"],
        },
    )
    assert response.status_code == 302
    # 2. a technician, created on the portal by the GIRONDE manager
    portal = app.test_client()
    accept_cgu(g["manager"])
    assert enter(portal, g["manager"], g["caisse"]).status_code == 302
    response = portal.post_form(
        "/comptes/nouveau",
        {
            "civility": "Monsieur",
            "birth_name": "",
            "usage_name": "Tech",
            "first_name": "Victor",
            "function": "Bénévole",
            "phone": "05.56.12.34.56",
            "email": RECIPIENTS["technician"],
        },
    )
    assert response.headers["Location"].endswith("/comptes"), response.get_data(as_text=True)[:2000]
    # 3. a caisse admin, created by the national admin
    national = app.test_client()
    national.post_form("/admin/connexion", {"username": "admin", "password": PASSWORD})
    response = national.post_form(
        "/admin/agents/new/",
        {
            "username": "hugo.admin",
            "first_name": "Hugo",
            "last_name": "ADMIN",
            "email": RECIPIENTS["agent"],
            "role": AgentRole.CAISSE_ADMIN.value,
            "caisse": o["caisse"].id,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    # 4. « Mot de passe oublié ? » of a partner who last selected CPAM OISE
    o["manager"].last_caisse_id = o["caisse"].id
    accept_cgu(o["manager"])
    anonymous = app.test_client()
    assert anonymous.post_form("/mot-de-passe-oublie", {"login": "m.oise"}).status_code == 302
    messages = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.link_purpose.is_not(None))))
    assert sorted(m.recipient for m in messages) == sorted(RECIPIENTS.values())
    reset = next(m for m in messages if m.recipient == RECIPIENTS["reset"])
    assert reset.caisse_id == o["caisse"].id  # what admin.oise reads
    return messages


def _urls_of(page: str, base: str) -> set[str]:
    found = {html_lib.unescape(value) for value in ATTRIBUTE.findall(page)}
    found |= {html_lib.unescape(value) for value in URL_IN_TEXT.findall(html_lib.unescape(page))}
    return {
        urljoin(base, value.strip())
        for value in found
        if value.strip() and not value.startswith(("#", "mailto:", "data:", "javascript:"))
    }


def _in_scope(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.netloc in ("", "localhost")
        and parts.path.startswith(("/admin/outbox/", "/admin/audit/"))
        and "/action/" not in parts.path
        and "/delete/" not in parts.path
    )


def _page_key(url: str) -> tuple:
    parts = urlsplit(url)
    params = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return parts.path, tuple((k, v if k in CONTENT_PARAMETERS else "") for k, v in params)


def _walk_as(app, username: str) -> tuple[set[str], int]:
    """Every URL on every outbox and audit page this role reaches (GET only); the pages read."""
    client = app.test_client()
    response = client.post_form("/admin/connexion", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, username
    seeds = ["/admin/outbox/", "/admin/audit/", "/admin/outbox/export/csv/", "/admin/audit/export/csv/"]
    seeds += [f"/admin/outbox/details/?id={i}" for i in db.session.scalars(select(OutboxMessage.id))]
    queue, visited, urls = deque(urljoin("http://localhost", s) for s in seeds), set(), set()
    while queue and len(visited) < MAX_PAGES_PER_ROLE:
        url = queue.popleft()
        if _page_key(url) in visited:
            continue
        visited.add(_page_key(url))
        parts = urlsplit(url)
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        assert response.status_code < 500, url
        body = response.get_data(as_text=True)
        assert not TOKEN_LINK_RE.search(body), f"{username} reads a set-password link on {url}"
        assert not ANY_LINK.search(body), f"{username} reads a set-password path on {url}"
        if response.status_code == 200 and parts.path.startswith("/admin/outbox/details/"):
            assert LINK_MASK in body or "Créer mon mot de passe" not in body
        found = _urls_of(body, url)
        if "Location" in response.headers:
            found.add(urljoin(url, response.headers["Location"]))
        urls |= found
        queue.extend(u for u in found if _in_scope(u) and _page_key(u) not in visited)
    return urls, len(visited)


def _opens_a_set_password_form(app, url: str) -> bool:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        return False  # not this site (no such link is expected at all: checked below)
    response = app.test_client().get(parts.path + (f"?{parts.query}" if parts.query else ""))
    body = response.get_data(as_text=True)
    return response.status_code == 200 and 'name="confirmation"' in body


def _every_text_value():
    """(table.column, value) for every text-like column of every table."""
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
        if not columns:
            continue
        for row in db.session.execute(select(*columns)):
            for column, value in zip(columns, row, strict=True):
                if value is not None:
                    yield f"{table.name}.{column.name}", str(value)


def _scan_database(raw_tokens: set[str]) -> list[str]:
    db.session.expire_all()
    hits = []
    for where, value in _every_text_value():
        if TOKEN_LINK_RE.search(value) or ANY_LINK.search(value.replace(LINK_MASK, "")):
            hits.append(f"{where}: link")
        hits += [f"{where}: token" for raw in raw_tokens if raw in value]
    return hits


def _tokens(links) -> set[str]:
    return {link.rsplit("/", 1)[1] for link in links}


def _check_nobody_reads_a_link(app, stage: str, raw_tokens: set[str], figures: dict) -> None:
    assert _scan_database(raw_tokens) == [], stage
    followed = {}  # url -> opened a form (a fresh client's answer does not depend on who saw the URL)
    for username in ROLES:
        urls, pages = _walk_as(app, username)
        assert not [u for u in urls if TOKEN_LINK_RE.search(u) or ANY_LINK.search(u)], (stage, username)
        for url in urls - followed.keys():
            followed[url] = _opens_a_set_password_form(app, url)
        opened = [u for u in urls if followed[u]]
        assert opened == [], (stage, username, opened)
        figures["urls"] += len(urls)
        figures["pages"] += pages
    figures["followed"] += len(followed)
    figures["roles"] = len(ROLES)
    figures["stages"].append(stage)


def test_no_back_office_role_reads_a_working_link_pending_failed_or_sent(app, world, smtp):
    figures = {"urls": 0, "pages": 0, "followed": 0, "roles": 0, "stages": []}
    messages = _ask_for_the_four_links(app, world)
    assert all(m.status == OutboxStatus.PENDING.value for m in messages)
    assert all(LINK_MASK in m.body_text and LINK_MASK in m.body_html for m in messages)
    _check_nobody_reads_a_link(app, "pending", set(), figures)

    # SMTP refuses everything: one attempt each (MAIL_MAX_ATTEMPTS=1), then « Échec »
    smtp.refuse = True
    stats = outbox.send_pending()
    assert stats["failed"] >= 4
    refused = _tokens(smtp.seen)
    assert len(refused) >= 4  # a token was issued for each attempt, and it left in the refused e-mail
    for message in messages:
        db.session.refresh(message)
        assert message.status == OutboxStatus.FAILED.value
    _check_nobody_reads_a_link(app, "failed", refused, figures)

    # the national admin puts them back in the queue (« Renvoyer »); SMTP is back
    national = app.test_client()
    national.post_form("/admin/connexion", {"username": "admin", "password": PASSWORD})
    response = national.post_form(
        "/admin/outbox/action/", {"action": "requeue", "rowid": [str(m.id) for m in messages], "url": "/admin/outbox/"}
    )
    assert response.status_code == 302
    _check_nobody_reads_a_link(app, "requeued", refused, figures)
    smtp.refuse = False
    outbox.send_pending()
    for message in messages:
        db.session.refresh(message)
        assert message.status == OutboxStatus.SENT.value
    delivered = smtp.accepted
    assert sorted(delivered) == sorted(RECIPIENTS.values())
    _check_nobody_reads_a_link(app, "sent", refused | _tokens(delivered.values()), figures)

    # the refused attempts' links were revoked by the next ones; each delivered link works once
    for raw in refused - _tokens(delivered.values()):
        assert app.test_client().get(f"/mot-de-passe/{raw}").status_code == 410
    for recipient, link in delivered.items():
        path = urlsplit(link).path
        reader = app.test_client()
        assert reader.get(path).status_code == 200, recipient
        assert reader.post_form(path, {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD}).status_code == 200
        assert reader.get(path).status_code == 410
        again = reader.post_form(path, {"password": NEW_PASSWORD + "!", "confirmation": NEW_PASSWORD + "!"})
        assert again.status_code == 410
    print(
        f"\noutbox secrets: {figures['urls']} URLs seen as {figures['roles']} roles on {figures['pages']} "
        f"outbox and audit pages ({', '.join(figures['stages'])}), {figures['followed']} distinct ones "
        f"followed by a fresh client: 0 opened a set-password form; 0 tokens or links in "
        f"{_count_text_values()} database text values"
    )


def _count_text_values() -> int:
    return sum(1 for _ in _every_text_value())


def test_a_message_being_sent_holds_no_link_in_the_database_either(app, world, smtp):
    """While the e-mail is handed to SMTP (status « En cours d'envoi », token issued and committed),
    another connection finds neither the token nor a link anywhere."""
    _ask_for_the_four_links(app, world)
    during = []
    original = smtp.handle_DATA

    async def handle_and_scan(server, session, envelope):
        mail = BytesParser(policy=policy.default).parsebytes(envelope.content)
        raw = _tokens(m.group(0) for m in TOKEN_LINK_RE.finditer(mail_text(mail)))
        with app.app_context():
            status = db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == int(mail["X-Outbox-Id"])))
            during.append((status, _scan_database(raw)))
            db.session.remove()
        return await original(server, session, envelope)

    smtp.handle_DATA = handle_and_scan
    assert outbox.send_pending()["sent"] == 4
    assert during == [(OutboxStatus.SENDING.value, [])] * 4


def test_the_development_eml_file_carries_the_only_working_link(app, world):
    messages = _ask_for_the_four_links(app, world)
    mails = deliver_mail()  # the file backend, as `make run` without MAIL_SERVER
    assert sorted(m["To"] for m in mails) == sorted(RECIPIENTS.values())
    links = {m["To"]: TOKEN_LINK_RE.search(mail_text(m)).group(0) for m in mails}
    assert _scan_database(_tokens(links.values())) == []
    for message in messages:
        db.session.refresh(message)
        assert message.status == OutboxStatus.SENT.value and LINK_MASK in message.body_text
    for link in links.values():
        path = urlsplit(link).path
        reader = app.test_client()
        assert reader.post_form(path, {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD}).status_code == 200
        assert reader.get(path).status_code == 410


def test_a_link_for_an_account_inactivated_before_sending_is_not_sent(app, world, smtp):
    from backoffice.services import accounts

    _ask_for_the_four_links(app, world)
    g = world["gironde"]
    new_manager = db.session.scalar(select(PartnerAccount).where(PartnerAccount.email == RECIPIENTS["manager"]))
    accounts.inactivate_account(new_manager, g["admin"], g["caisse"].id)  # m.gironde stays active
    stats = outbox.send_pending()
    assert stats["sent"] == 3 and stats["cancelled"] == 1
    cancelled = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == RECIPIENTS["manager"]))
    assert cancelled.status == OutboxStatus.CANCELLED.value and cancelled.status_label == "Annulé"
    assert "inactif" in cancelled.last_error
    assert RECIPIENTS["manager"] not in smtp.accepted and RECIPIENTS["reset"] in smtp.accepted
    assert count(PasswordToken, PasswordToken.partner_account_id == new_manager.id) == 0


def test_of_two_pending_reset_requests_only_the_newer_is_sent(app, world, smtp):
    o = world["oise"]
    o["manager"].last_caisse_id = o["caisse"].id
    db.session.commit()
    anonymous = app.test_client()
    for _ in range(2):
        anonymous.post_form("/mot-de-passe-oublie", {"login": "m.oise"})
    older, newer = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    stats = outbox.send_pending()
    assert (stats["sent"], stats["cancelled"]) == (1, 1)
    db.session.refresh(older)
    db.session.refresh(newer)
    assert (older.status, newer.status) == (OutboxStatus.CANCELLED.value, OutboxStatus.SENT.value)
    assert len(smtp.seen) == 1
    assert app.test_client().get(urlsplit(smtp.seen[0]).path).status_code == 200
