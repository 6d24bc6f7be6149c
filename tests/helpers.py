"""Small helpers shared by the test files: read pages, the outbox, set-password links."""
import html as html_lib
import os
import re

from sqlalchemy import func, select

from backoffice.extensions import db

# The password the `world` fixture gives every account (test files import it from here: `conftest`
# would be ambiguous, tests/browser/ has a conftest.py of its own).
PASSWORD = "Une phrase de passe solide 2026"
TEST_DB = os.environ.get("TEST_DB", "sqlite")  # the database leg, as conftest reads it
TOKEN_LINK_RE = re.compile(r"http://localhost/mot-de-passe/([A-Za-z0-9_\-]+)")


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
    """The raw token of the 'Créer mon mot de passe' link in an e-mail body."""
    match = TOKEN_LINK_RE.search(body)
    assert match, f"no set-password link in:\n{body}"
    return match.group(1)


def login_partner(client, account) -> None:
    """Put a partner account in the client's session, as Flask-Login does after a portal login."""
    with client.session_transaction() as session:
        session["_user_id"] = account.get_id()
        session["_fresh"] = True


def admin_view(app, endpoint: str):
    """The Flask-Admin view registered under endpoint, for calling its scoped queries directly."""
    admin = app.extensions["ep_admin"]
    return next(view for view in admin._views if view.endpoint == endpoint)
