"""R-NEWS-1: the newsletter's one-click unsubscribe link works without login, and only on POST."""

import re

import pytest
from helpers import page_text
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import AuditEntry, NewsletterSubscription, OutboxMessage
from backoffice.services import news as news_service

DONE = "Vous êtes désabonné(e) de la newsletter."


@pytest.fixture
def subscriber(world):
    account = world["gironde"]["manager"]
    news_service.set_subscription(account, True)
    return account


def subscribed(account) -> bool:
    return db.session.get(NewsletterSubscription, account.id) is not None


def test_get_shows_the_button_and_changes_nothing(client, subscriber):
    url = f"/newsletter/desabonnement/{news_service.unsubscribe_token(subscriber)}"
    response = client.get(url)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Me désabonner" in body and 'method="post"' in body
    assert DONE not in page_text(response)
    assert subscribed(subscriber)


def test_post_unsubscribes_without_login_or_csrf_and_says_so(client, subscriber):
    url = f"/newsletter/desabonnement/{news_service.unsubscribe_token(subscriber)}"
    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click", with no cookie and no CSRF token
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert DONE in page_text(response)
    assert not subscribed(subscriber)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "newsletter.unsubscribe"))
    assert entry.target_id == subscriber.id and entry.actor_type == "system"
    # a second click still says it worked, and changes nothing more
    response = client.post(url)
    assert response.status_code == 200 and DONE in page_text(response)
    assert db.session.query(AuditEntry).filter_by(action="newsletter.unsubscribe").count() == 1


def test_link_of_a_sent_newsletter_unsubscribes_its_recipient_only(client, world, subscriber):
    other = world["oise"]["manager"]
    news_service.set_subscription(other, True)
    letter = news_service.create_newsletter({"subject": "Juin", "body": "Bonjour"}, world["gironde"]["admin"])
    news_service.send_newsletter(letter, world["gironde"]["admin"])
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == subscriber.email))
    url = re.search(r"<(http://localhost(/newsletter/desabonnement/[^>]+))>", message.headers["List-Unsubscribe"])
    assert url.group(1) in message.body_text
    response = client.post(url.group(2))
    assert DONE in page_text(response)
    assert not subscribed(subscriber) and subscribed(other)


def _forgeries(app, account):
    good = news_service.unsubscribe_token(account)
    payload, signature = good.rsplit(".", 1)
    other_key = URLSafeSerializer("une autre clé", salt=news_service.UNSUBSCRIBE_SALT)
    same_key_other_salt = URLSafeSerializer(app.config["SECRET_KEY"])
    return [
        f"{payload}.{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}",  # tampered signature
        other_key.dumps({"id": account.id, "login": account.login}),  # signed with another key
        same_key_other_salt.dumps({"id": account.id, "login": account.login}),  # another purpose's signature
        "nimportequoi",
        "a" * 600,
    ]


def test_forged_tokens_are_refused_with_400_on_get_and_post(app, client, subscriber):
    for token in _forgeries(app, subscriber):
        url = f"/newsletter/desabonnement/{token}"
        for response in (client.get(url), client.post(url)):
            assert response.status_code == 400, token
            text = page_text(response)
            assert "Ce lien de désabonnement n'est pas valide." in text
            assert DONE not in text
    assert subscribed(subscriber)


def test_token_of_an_id_reused_by_another_login_unsubscribes_nobody(client, world, subscriber):
    """The token carries the login too: a token for an old account never touches a new one."""
    serializer = URLSafeSerializer(client.application.config["SECRET_KEY"], salt=news_service.UNSUBSCRIBE_SALT)
    token = serializer.dumps({"id": subscriber.id, "login": "ancien.compte"})
    assert news_service.unsubscribe(token) is True  # that person receives nothing any more
    assert subscribed(subscriber)


def test_service_returns_false_for_a_bad_token(subscriber):
    assert news_service.unsubscribe("faux.jeton") is False
    assert news_service.unsubscribe("") is False
    assert news_service.unsubscribe(news_service.unsubscribe_token(subscriber)) is True
    assert not subscribed(subscriber)
