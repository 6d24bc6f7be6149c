"""The helpers shared by the test files (one definition each): read pages, the outbox, set-password
links, log in, and the partner portal's accounts, conventions and requests."""

import html as html_lib
import os
import re
import tempfile
from datetime import date, datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from flask import current_app
from flask.testing import FlaskClient
from itsdangerous import BadSignature
from sqlalchemy import func, select

from backoffice.clock import now
from backoffice.demo import factories
from backoffice.extensions import db
from backoffice.models import (
    AuditEntry,
    Convention,
    Newsletter,
    OutboxMessage,
    PartnerAccount,
    PartnerRole,
    Request,
    RequestStatus,
    ServiceOffer,
)
from backoffice.services.numbering import next_number
from backoffice.services.passwords import hash_password

# The password the `world` fixture gives every account (test files import it from here: `conftest`
# would be ambiguous, tests/browser/ has a conftest.py of its own).
PASSWORD = "Une phrase de passe solide 2026"
TEST_DB = os.environ.get("TEST_DB", "sqlite")  # the database leg, as conftest reads it
# A set-password link with its token (the tests' BASE_URL is http://localhost, a browser test's the
# live server's).
TOKEN_LINK_RE = re.compile(r"https?://[^\s/<>\"']+/mot-de-passe/([A-Za-z0-9_\-]{16,})")


def page_text(response_or_html) -> str:
    """The visible text of a page: tags removed, entities decoded, whitespace collapsed."""
    body = response_or_html if isinstance(response_or_html, str) else response_or_html.get_data(as_text=True)
    body = re.sub(r"<(script|style)[\s\S]*?</\1>", " ", body)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def field_errors(response, field_id: str) -> list[str]:
    """Messages shown under one form field (Flask-Admin's Bootstrap 4 'invalid-feedback')."""
    body = response.get_data(as_text=True)
    match = re.search(
        rf'<(?:input|select|textarea)[^>]*\bid="{re.escape(field_id)}"[^>]*>([\s\S]*?)(?=<div class="form-group|<hr>)',
        body,
    )
    if not match:
        return []
    return [
        " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", li)).split())
        for li in re.findall(r"<li>([\s\S]*?)</li>", match.group(1))
    ]


def has_invalid_class(response, field_id: str) -> bool:
    body = response.get_data(as_text=True)
    tag = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{re.escape(field_id)}"[^>]*>', body)
    return bool(tag) and "is-invalid" in tag.group(0)


def input_value(response, field_id: str) -> str | None:
    """The value an <input> is rendered with (to check that typed values are kept)."""
    body = response.get_data(as_text=True)
    tag = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', body)
    if not tag:
        return None
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html_lib.unescape(value.group(1)) if value else None


def selected_option(response, field_id: str) -> str | None:
    body = response.get_data(as_text=True)
    select_tag = re.search(rf'<select[^>]*\bid="{re.escape(field_id)}"[^>]*>([\s\S]*?)</select>', body)
    if not select_tag:
        return None
    option = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', select_tag.group(1))
    return html_lib.unescape(option.group(1) or option.group(2)) if option else None


def count(model, *criteria) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*criteria))


def token_from(body: str) -> str:
    """The raw token of the 'Créer mon mot de passe' link in the text of a delivered e-mail."""
    match = TOKEN_LINK_RE.search(body)
    assert match, f"no set-password link in:\n{body}"
    return match.group(1)


def deliver_mail() -> list[EmailMessage]:
    """Deliver what is due in the outbox as `flask send-mail` does in development (the file
    backend, into a fresh directory); return the e-mails this call delivered, oldest first.

    Set-password links exist only in delivered e-mails: the outbox keeps a redacted copy."""
    from backoffice.services import outbox

    app = current_app
    directory = Path(tempfile.mkdtemp(prefix="run-", dir=app.config["MAIL_FILE_DIR"]))
    saved = {key: app.config.get(key) for key in ("MAIL_BACKEND", "MAIL_FILE_DIR")}
    app.config.update(MAIL_BACKEND="file", MAIL_FILE_DIR=str(directory))
    try:
        for _ in range(20):
            if not any(outbox.send_pending().values()):
                break
    finally:
        app.config.update(saved)
        db.session.expire_all()
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes()) for path in sorted(directory.glob("*.eml"))]


def mail_text(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def link_sent_to(recipient: str) -> str:
    """Deliver the outbox; the set-password link of the last e-mail it delivered to recipient."""
    mails = [m for m in deliver_mail() if m["To"] == recipient]
    assert mails, f"no e-mail delivered to {recipient}"
    text = mail_text(mails[-1])
    token_from(text)  # asserts there is one
    return TOKEN_LINK_RE.search(text).group(0)


def token_sent_to(recipient: str) -> str:
    """Deliver the outbox; the raw token of the set-password link last delivered to recipient."""
    return link_sent_to(recipient).rsplit("/", 1)[1]


def login_partner(client, account) -> None:
    """Put a partner account in the client's session, as the portal login does: Flask-Login's user
    id and the key of a server-side session (services/sessions.py)."""
    from backoffice.services import sessions

    key = sessions.open_session(account)
    with client.session_transaction() as session:
        session["_user_id"] = account.get_id()
        session["_fresh"] = True
        session[sessions.SESSION_KEY] = key


def admin_view(app, endpoint: str):
    """The Flask-Admin view registered under endpoint, for calling its scoped queries directly."""
    admin = app.extensions["ep_admin"]
    return next(view for view in admin._views if view.endpoint == endpoint)


class CsrfClient(FlaskClient):
    """A test client that can fetch a CSRF token and post forms with it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Flask-WTF signs every token from one secret kept in the session (session["csrf_token"]); a
        # token stays valid as long as that secret (WTF_CSRF_TIME_LIMIT is None). Cached per secret:
        # a login or logout that clears the session gives a new secret, hence a fresh page fetch.
        self._csrf_tokens: dict[str, str] = {}

    def _csrf_secret(self) -> str | None:
        """The CSRF secret in this client's session cookie, or None (no session, no secret yet)."""
        app = self.application
        cookie = self.get_cookie(app.config["SESSION_COOKIE_NAME"])
        if cookie is None:
            return None
        serializer = app.session_interface.get_signing_serializer(app)
        try:  # read as Flask opens it: a cookie older than the session lifetime is an empty session
            data = serializer.loads(cookie.value, max_age=int(app.permanent_session_lifetime.total_seconds()))
        except BadSignature:
            return None
        return data.get(app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))

    def csrf_token(self) -> str:
        secret = self._csrf_secret()
        if secret is not None and secret in self._csrf_tokens:
            return self._csrf_tokens[secret]
        # A logged-in agent is redirected from the login page to /admin/, whose logout form has one.
        page = self.get("/admin/connexion", follow_redirects=True).get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'type="hidden" name="csrf_token" value="([^"]+)"', page
        )
        assert match, "no CSRF token on the login page"
        secret = self._csrf_secret()
        if secret is not None:
            self._csrf_tokens[secret] = match.group(1)
        return match.group(1)

    def open(self, *args, **kwargs):
        # Each request runs in its own app context, as in production. The autouse fixture keeps an
        # app context pushed for the whole test, and Flask reuses it for requests: `g` (Flask-WTF's
        # CSRF token, Flask-Login's cached user) and the db session would leak between requests.
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()  # the test's own session re-reads what the request committed
        return response

    def post_form(self, url, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)


# --- the partner portal: accounts, conventions, requests, its pages ---------------------------------


def utc(*args) -> datetime:
    """An aware UTC datetime for time_machine.travel."""
    return datetime(*args, tzinfo=timezone.utc)


def location(response) -> str:
    """The redirect target as a path ('/organisme'), query string included."""
    assert response.status_code in (301, 302, 303, 307, 308), (
        response.status_code,
        response.get_data(as_text=True)[:500],
    )
    value = response.headers["Location"]
    return re.sub(r"^https?://[^/]+", "", value)


def make_account(
    structure,
    login: str,
    *,
    role: PartnerRole = PartnerRole.TECHNICIAN,
    first_name: str = "Jean",
    usage_name: str | None = None,
    birth_name: str | None = None,
    civility: str = "Monsieur",
    active: bool = True,
    cgu: bool = True,
    email: str | None = None,
    last_caisse=None,
) -> PartnerAccount:
    """A partner account with PASSWORD set now, CGU accepted (unless cgu=False)."""
    account = factories.partner_account(
        structure,
        login,
        role=role,
        civility=civility,
        usage_name=usage_name if (usage_name or birth_name) else login.split(".")[-1].upper(),
        first_name=first_name,
        function="Bénévole",
        phone="05.56.11.22.33",
        email=email,
        password_hash=hash_password(PASSWORD),
        password_changed_at=now(),
    )
    account.birth_name = birth_name
    account.active = active
    account.inactivated_at = None if active else now()
    account.cgu_accepted_at = now() if cgu else None
    account.last_caisse_id = last_caisse.id if last_caisse is not None else None
    db.session.commit()
    return account


def accept_cgu(account) -> None:
    account.cgu_accepted_at = now()
    db.session.commit()


def set_dates(convention: Convention, start: date, end: date) -> Convention:
    convention.start_date = start
    convention.end_date = end
    db.session.commit()
    return convention


def add_convention(structure, caisse, start: date, end: date) -> Convention:
    convention = Convention(structure_id=structure.id, caisse_id=caisse.id, start_date=start, end_date=end)
    convention.service_offers = list(db.session.scalars(select(ServiceOffer)))
    db.session.add(convention)
    db.session.commit()
    return convention


def add_request(
    convention: Convention,
    requester: PartnerAccount,
    status: RequestStatus = RequestStatus.NEW,
    resolved_at: datetime | None = None,
) -> Request:
    """A request of the convention's structure to its caisse; resolved_at is naive UTC."""
    offer = db.session.scalars(select(ServiceOffer).order_by(ServiceOffer.position)).first()
    request = Request(
        number=next_number(convention.caisse),
        caisse_id=convention.caisse_id,
        structure_id=convention.structure_id,
        convention_id=convention.id,
        service_offer_id=offer.id,
        requester_account_id=requester.id,
        requester_name=requester.full_name,
        comment="Demande de test",
        status=status.value,
        resolved_at=resolved_at,
    )
    db.session.add(request)
    db.session.commit()
    return request


def portal_login(client, login: str, password: str = PASSWORD, next_url: str | None = None):
    query = {"next": next_url} if next_url is not None else None
    return client.post_form("/connexion", {"login": login, "password": password}, query_string=query)


def enter(client, account, caisse, password: str = PASSWORD, acknowledge: bool = True):
    """Log in, pick the caisse and click 'Continuer' on its alert when there is one."""
    response = portal_login(client, account.login, password)
    assert location(response) == "/organisme", response.get_data(as_text=True)[:1000]
    response = client.post_form("/organisme", {"caisse_id": caisse.id})
    if acknowledge and location(response) == "/organisme/avertissement":
        response = client.post_form("/organisme/avertissement")
    return response


def options(response) -> list[dict]:
    """The <option>s of the caisse list: value, label, selected, special (class ep-special)."""
    body = response.get_data(as_text=True)
    select_tag = re.search(r'<select[^>]*id="caisse_id"[^>]*>([\s\S]*?)</select>', body)
    assert select_tag, "no caisse list on the page"
    result = []
    for attrs, label in re.findall(r"<option([^>]*)>([\s\S]*?)</option>", select_tag.group(1)):
        result.append(
            {
                "value": re.search(r'value="([^"]*)"', attrs).group(1),
                "label": html_lib.unescape(label.strip()),
                "selected": bool(re.search(r"\bselected\b", attrs)),
                "special": "ep-special" in attrs,
            }
        )
    return result


def listed(response) -> dict[str, dict]:
    """The caisses offered, by name (the placeholder option left out)."""
    return {o["label"].removesuffix(" *"): o for o in options(response) if o["value"] != "0"}


def back_office_rows(caisse_id: int) -> list:
    """A newsletter, an outbox message and an audit entry of the caisse: rows for the lists the
    back-office walks (not yet added to the session)."""
    return [
        Newsletter(caisse_id=caisse_id, subject="Lettre", body="Texte"),
        OutboxMessage(
            recipient="a@example.fr", subject="s", body_text="b", body_html="b", kind="test", caisse_id=caisse_id
        ),
        AuditEntry(actor_type="system", actor_label="Système", action="test", caisse_id=caisse_id, details={}),
    ]
