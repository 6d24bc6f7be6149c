"""Helpers for the partner-portal test files: accounts, requests, conventions, page reading."""
import html as html_lib
import re
from datetime import date, datetime, timezone

from helpers import PASSWORD, token_from, token_sent_to  # noqa: F401 (set-password links, re-exported)
from sqlalchemy import func, select

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import (
    Convention,
    PartnerAccount,
    PartnerRole,
    Request,
    RequestStatus,
    ServiceOffer,
)
from backoffice.services.numbering import next_number
from backoffice.services.passwords import hash_password


def utc(*args) -> datetime:
    """An aware UTC datetime for time_machine.travel."""
    return datetime(*args, tzinfo=timezone.utc)


def text_of(response_or_html) -> str:
    """The visible text of a page: tags removed, entities decoded, whitespace collapsed."""
    body = response_or_html if isinstance(response_or_html, str) else response_or_html.get_data(as_text=True)
    body = re.sub(r"<(script|style)[\s\S]*?</\1>", " ", body)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def location(response) -> str:
    """The redirect target as a path ('/organisme'), query string included."""
    assert response.status_code in (301, 302, 303, 307, 308), (response.status_code, response.get_data(as_text=True)[:500])
    value = response.headers["Location"]
    return re.sub(r"^https?://[^/]+", "", value)


def count(model, *criteria) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*criteria))


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
    account = PartnerAccount(
        login=login,
        role=role.value,
        structure=structure,
        civility=civility,
        usage_name=usage_name if (usage_name or birth_name) else login.split(".")[-1].upper(),
        birth_name=birth_name,
        first_name=first_name,
        function="Bénévole",
        phone="05.56.11.22.33",
        email=email or f"{login}@example.fr",
        password_hash=hash_password(PASSWORD),
        password_changed_at=now(),
        active=active,
        inactivated_at=None if active else now(),
        cgu_accepted_at=now() if cgu else None,
        last_caisse_id=last_caisse.id if last_caisse is not None else None,
    )
    db.session.add(account)
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
