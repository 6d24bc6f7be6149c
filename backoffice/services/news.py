"""News and newsletters of a caisse (R-NEWS-1, R-HOME-1, R-ACC-5): writing, publishing, subscribing.

Images are checked by their content (puremagic), never by their name. Newsletters go through the
outbox, one message per subscribed active partner account, each with a signed one-click
unsubscribe link (RFC 8058) that works without login.
"""

from datetime import datetime, timezone

import puremagic
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select, update

from ..clock import now, today
from ..extensions import db
from ..models import Agent, Convention, News, Newsletter, NewsletterSubscription, PartnerAccount
from ..models.partners import open_condition
from . import audit, outbox, statements
from .errors import DomainError, ValidationFailed

TITLE_MAX = 150
SUBJECT_MAX = 150
IMAGE_MAX_BYTES = 2 * 1024 * 1024
# What puremagic may recognise, with the signature the bytes must really start with.
IMAGE_TYPES = {
    "image/png": lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda b: b.startswith(b"\xff\xd8\xff"),
    "image/gif": lambda b: b[:6] in (b"GIF87a", b"GIF89a"),
    "image/webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
}
IMAGE_REFUSED = (
    "Le fichier « {name} » n'est pas une image acceptée : seules les images PNG, JPEG, GIF ou WebP "
    "sont autorisées (le contenu du fichier est vérifié, pas seulement son extension)."
)
IMAGE_TOO_LARGE = "L'image ne doit pas dépasser 2 Mo."
UNSUBSCRIBE_SALT = "newsletter-unsubscribe"
UNSUBSCRIBE_PATH = "/newsletter/desabonnement/"


# --- news ------------------------------------------------------------------------------------


def check_image(data: bytes, filename: str | None = None) -> str:
    """Return the MIME type of an accepted image, or refuse with the French message."""
    name = (filename or "image").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:100]
    if len(data) > IMAGE_MAX_BYTES:
        raise DomainError(IMAGE_TOO_LARGE, "image")
    try:
        matches = puremagic.magic_string(data) if data else []
    except puremagic.PureError:
        matches = []
    mime = matches[0].mime_type if matches else ""
    signature_ok = IMAGE_TYPES.get(mime)
    if signature_ok is None or not signature_ok(data):
        raise DomainError(IMAGE_REFUSED.format(name=name), "image")
    return mime


def _require_admin(actor) -> Agent:
    if getattr(actor, "kind", None) != "agent" or not (actor.is_national_admin or actor.is_caisse_admin):
        raise DomainError("Seul un administrateur peut gérer les actualités et les newsletters.")
    return actor


def _target_caisse(actor: Agent, data: dict, current: int | None = None) -> int | None:
    """A caisse admin writes for its own caisse; the national admin must choose one."""
    if not actor.is_national_admin:
        return actor.caisse_id
    return data.get("caisse_id") or current


def _check_owns(actor: Agent, caisse_id: int) -> None:
    if not actor.is_national_admin and actor.caisse_id != caisse_id:
        raise DomainError("Cet élément appartient à un autre organisme.")


def _as_utc(value) -> datetime | None:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value if isinstance(value, datetime) else None


def _heading_and_text(data: dict, errors: dict, heading: tuple[str, str, int], what: str) -> tuple[str, str]:
    """The one-line heading (field, its name in messages, max length) and the text of a news or a
    newsletter, cleaned; a French message in `errors` for each one missing or too long."""
    field, name, limit = heading
    line = " ".join((data.get(field) or "").split())
    text = (data.get("body") or "").replace("\r\n", "\n").strip()
    if not line:
        errors[field] = f"Veuillez saisir {name.lower()} {what}."
    elif len(line) > limit:
        errors[field] = f"{name} ne doit pas dépasser {limit} caractères."
    if not text:
        errors["body"] = f"Veuillez saisir le texte {what}."
    return line, text


def _clean_news(actor: Agent, data: dict, current_caisse: int | None = None) -> dict:
    errors: dict = {}
    title, body = _heading_and_text(data, errors, ("title", "Le titre", TITLE_MAX), "de l'actualité")
    publish_at = _as_utc(data.get("publish_at"))
    caisse_id = _target_caisse(actor, data, current_caisse)
    if publish_at is None:
        errors["publish_at"] = "Veuillez renseigner la date de publication (JJ/MM/AAAA HH:MM)."
    if caisse_id is None:
        errors["caisse"] = "Veuillez choisir l'organisme."
    if errors:
        raise ValidationFailed(errors)
    return {"title": title, "body": body, "publish_at": publish_at, "caisse_id": caisse_id}


def create_news(data: dict, actor, image_bytes: bytes | None = None, image_filename: str | None = None) -> News:
    actor = _require_admin(actor)
    fields = _clean_news(actor, data)
    news = News(created_by_agent_id=actor.id, **fields)
    if image_bytes:
        news.image_type = check_image(image_bytes, image_filename)
        news.image = image_bytes
    audit.record_new(
        "news.create",
        actor,
        news,
        news.caisse_id,
        title=news.title,
        publish_at=news.publish_at.isoformat(),
        image=bool(image_bytes),
    )
    db.session.commit()
    return news


def update_news(
    news: News,
    data: dict,
    actor,
    image_bytes: bytes | None = None,
    image_filename: str | None = None,
    remove_image: bool = False,
) -> News:
    actor = _require_admin(actor)
    _check_owns(actor, news.caisse_id)
    fields = _clean_news(actor, data, current_caisse=news.caisse_id)
    changed = sorted(k for k, v in fields.items() if getattr(news, k) != v)
    for key, value in fields.items():
        setattr(news, key, value)
    if image_bytes:
        news.image_type = check_image(image_bytes, image_filename)
        news.image = image_bytes
        changed.append("image")
    elif remove_image and news.image_type:
        news.image = None
        news.image_type = None
        changed.append("image")
    audit.record("news.update", actor=actor, target=news, caisse_id=news.caisse_id, changed=changed)
    db.session.commit()
    return news


def published_news(caisse_id: int, limit: int | None = None) -> list[News]:
    """The caisse's news already published, newest first; image bytes stay in the database."""
    query = (
        select(News)
        .where(News.caisse_id == caisse_id, News.publish_at <= now())
        .order_by(News.publish_at.desc(), News.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def published_image(news_id: int, caisse_id: int) -> tuple[bytes, str] | None:
    """The image of a published news of that caisse, or None (unknown, other caisse, future, none)."""
    row = db.session.execute(
        select(News.image, News.image_type).where(
            News.id == news_id,
            News.caisse_id == caisse_id,
            News.publish_at <= now(),
            News.image.is_not(None),
        )
    ).first()
    if row is None or not row.image_type:
        return None
    return row.image, row.image_type


# --- subscriptions ---------------------------------------------------------------------------


def is_subscribed(account: PartnerAccount) -> bool:
    return db.session.get(NewsletterSubscription, account.id) is not None


def set_subscription(account: PartnerAccount, subscribed: bool) -> None:
    """The home toggle (R-HOME-1): a row means subscribed. Only a change is audited."""
    current = is_subscribed(account)
    if subscribed and not current:
        db.session.add(NewsletterSubscription(account_id=account.id))
        audit.record("newsletter.subscribe", actor=account, target=account, caisse_id=account.last_caisse_id)
    elif not subscribed and current:
        db.session.execute(delete(NewsletterSubscription).where(NewsletterSubscription.account_id == account.id))
        audit.record("newsletter.unsubscribe", actor=account, target=account, caisse_id=account.last_caisse_id)
    db.session.commit()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(account: PartnerAccount) -> str:
    """Signed (not encrypted) id + login: it cannot be forged, and survives password changes."""
    return _serializer().dumps({"id": account.id, "login": account.login})


def unsubscribe_url(account: PartnerAccount) -> str:
    return f"{current_app.config['BASE_URL']}{UNSUBSCRIBE_PATH}{unsubscribe_token(account)}"


def check_unsubscribe_token(token: str) -> dict | None:
    if not token or len(token) > 500:
        return None
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
        return None
    return payload


def unsubscribe(token: str) -> bool:
    """One-click unsubscribe without login. False for a forged or damaged token.

    A valid token of a deleted account answers True: that person receives nothing any more.
    """
    payload = check_unsubscribe_token(token)
    if payload is None:
        return False
    account = db.session.get(PartnerAccount, payload["id"])
    if account is None or account.login != payload.get("login"):
        return True
    removed = statements.affected(delete(NewsletterSubscription).where(NewsletterSubscription.account_id == account.id))
    if removed:
        audit.record(
            "newsletter.unsubscribe",
            actor=None,
            target=account,
            caisse_id=account.last_caisse_id,
            via="lien de désabonnement",
        )
    db.session.commit()
    return True


# --- newsletters -----------------------------------------------------------------------------


def _clean_newsletter(actor: Agent, data: dict, current_caisse: int | None = None) -> dict:
    errors: dict = {}
    subject, body = _heading_and_text(data, errors, ("subject", "L'objet", SUBJECT_MAX), "de la newsletter")
    caisse_id = _target_caisse(actor, data, current_caisse)
    if caisse_id is None:
        errors["caisse"] = "Veuillez choisir l'organisme."
    if errors:
        raise ValidationFailed(errors)
    return {"subject": subject, "body": body, "caisse_id": caisse_id}


def create_newsletter(data: dict, actor) -> Newsletter:
    """A draft: nothing leaves before 'Envoyer'."""
    actor = _require_admin(actor)
    newsletter = Newsletter(created_by_agent_id=actor.id, **_clean_newsletter(actor, data))
    audit.record_new("newsletter.create", actor, newsletter, newsletter.caisse_id, subject=newsletter.subject)
    db.session.commit()
    return newsletter


def update_newsletter(newsletter: Newsletter, data: dict, actor) -> Newsletter:
    actor = _require_admin(actor)
    _check_owns(actor, newsletter.caisse_id)
    if newsletter.sent_at is not None:
        raise DomainError("Cette newsletter a déjà été envoyée : elle ne peut plus être modifiée.")
    fields = _clean_newsletter(actor, data, current_caisse=newsletter.caisse_id)
    changed = sorted(k for k, v in fields.items() if getattr(newsletter, k) != v)
    for key, value in fields.items():
        setattr(newsletter, key, value)
    audit.record("newsletter.update", actor=actor, target=newsletter, caisse_id=newsletter.caisse_id, changed=changed)
    db.session.commit()
    return newsletter


def recipients(caisse_id: int) -> list[PartnerAccount]:
    """Active subscribed accounts of the structures with a convention with the caisse not ended."""
    structures = select(Convention.structure_id).where(Convention.caisse_id == caisse_id, open_condition(today()))
    return list(
        db.session.scalars(
            select(PartnerAccount)
            .join(NewsletterSubscription, NewsletterSubscription.account_id == PartnerAccount.id)
            .where(PartnerAccount.active.is_(True), PartnerAccount.structure_id.in_(structures))
            .order_by(PartnerAccount.id)
        )
    )


def send_newsletter(newsletter: Newsletter, actor) -> int:
    """One outbox message per recipient, in one transaction with sent_at; never twice."""
    actor = _require_admin(actor)
    _check_owns(actor, newsletter.caisse_id)
    # The guarded UPDATE is the "not twice" rule, also when two admins click at the same time.
    claimed = statements.affected(
        update(Newsletter)
        .where(Newsletter.id == newsletter.id, Newsletter.sent_at.is_(None))
        .values(sent_at=now())
        .execution_options(synchronize_session=False)
    )
    if claimed != 1:
        db.session.rollback()
        raise DomainError("Cette newsletter a déjà été envoyée.")
    with statements.committed():
        db.session.refresh(newsletter)
        accounts = recipients(newsletter.caisse_id)
        for account in accounts:
            url = unsubscribe_url(account)
            outbox.enqueue(
                "newsletter",
                account.email,
                "newsletter",
                caisse_id=newsletter.caisse_id,
                headers={"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
                newsletter=newsletter,
                account=account,
                caisse=newsletter.caisse,
                unsubscribe_url=url,
            )
        newsletter.recipient_count = len(accounts)
        audit.record(
            "newsletter.send",
            actor=actor,
            target=newsletter,
            caisse_id=newsletter.caisse_id,
            recipients=len(accounts),
        )
    return len(accounts)
