"""Small helpers shared by the test files: read pages, the outbox, set-password links."""
import html as html_lib
import os
import re
import tempfile
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from flask import current_app
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backoffice.extensions import db

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
    match = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{re.escape(field_id)}"[^>]*>([\s\S]*?)(?=<div class="form-group|<hr>)', body)
    if not match:
        return []
    return [" ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", li)).split()) for li in re.findall(r"<li>([\s\S]*?)</li>", match.group(1))]


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

    def csrf_token(self) -> str:
        # A logged-in agent is redirected from the login page to /admin/, whose logout form has one.
        page = self.get("/admin/connexion", follow_redirects=True).get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'type="hidden" name="csrf_token" value="([^"]+)"', page
        )
        assert match, "no CSRF token on the login page"
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
