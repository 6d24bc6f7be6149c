"""R-NEWS-1 / R-HOME-1: news (image checked by content, publication date, caisse scoping) and
newsletters (recipients, List-Unsubscribe headers, sent once)."""

import io
import struct
import zlib
from datetime import timedelta

import pytest
from helpers import PASSWORD, admin_view, count, login_partner, page_text
from sqlalchemy import select

from backoffice.clock import now, today, utc_to_paris_naive
from backoffice.extensions import db
from backoffice.models import (
    AuditEntry,
    News,
    Newsletter,
    NewsletterSubscription,
    OutboxMessage,
    PartnerAccount,
    PartnerRole,
    ServiceOffer,
)
from backoffice.services import news as news_service
from backoffice.services import structures as structure_service
from backoffice.services.errors import DomainError, ValidationFailed


def png_bytes(width=2, height=2) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = (b"\x00" + b"\x10\x20\x30" * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 200
    + b"This program cannot be run in DOS mode"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
REFUSED = "n'est pas une image acceptée : seules les images PNG, JPEG, GIF ou WebP sont autorisées"


def news_data(**overrides):
    data = {"title": "Une actualité", "body": "Le texte.", "publish_at": now() - timedelta(hours=1)}
    data.update(overrides)
    return data


def paris_input(moment) -> str:
    """How a datetime-local field posts a (UTC) moment typed in Paris time."""
    return utc_to_paris_naive(moment).strftime("%Y-%m-%dT%H:%M")


# --- images checked by content ---------------------------------------------------------------


def test_png_image_is_accepted_and_kept_with_its_type(world):
    admin = world["gironde"]["admin"]
    news = news_service.create_news(news_data(), admin, png_bytes(), "photo.png")
    assert news.image_type == "image/png"
    assert news.caisse_id == world["gironde"]["caisse"].id
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "news.create")).actor_id == admin.id


@pytest.mark.parametrize(
    "content,name",
    [
        (EXE, "photo.png"),
        (HTML, "photo.jpg"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "scan.gif"),
        (b"bonjour", "texte.webp"),
        (b"", "x.png"),
    ],
)
def test_renamed_executable_or_html_is_refused_with_the_french_message(world, content, name):
    admin = world["gironde"]["admin"]
    if not content:
        # an empty upload means "no image": nothing to check
        assert news_service.create_news(news_data(), admin, content, name).image_type is None
        return
    with pytest.raises(DomainError) as refused:
        news_service.create_news(news_data(), admin, content, name)
    assert REFUSED in refused.value.message
    assert name in refused.value.message
    db.session.rollback()
    assert count(News) == 0


def test_image_larger_than_2_mb_is_refused(world):
    too_big = png_bytes() + b"\x00" * (2 * 1024 * 1024)
    with pytest.raises(DomainError, match="ne doit pas dépasser 2 Mo"):
        news_service.create_news(news_data(), world["gironde"]["admin"], too_big, "grande.png")


def test_upload_form_refuses_a_renamed_exe_and_shows_why(client, world, login):
    login("admin.gironde")
    response = client.post_form(
        "/admin/news/new/",
        {
            "title": "Avec pièce jointe",
            "body": "Texte",
            "publish_at": paris_input(now()),
            "image_file": (io.BytesIO(EXE), "affiche.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert REFUSED in page_text(response)
    assert count(News) == 0

    response = client.post_form(
        "/admin/news/new/",
        {
            "title": "Avec image",
            "body": "Texte",
            "publish_at": paris_input(now()),
            "image_file": (io.BytesIO(png_bytes()), "affiche.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, page_text(response)[:2000]
    news = db.session.scalar(select(News))
    assert news.image_type == "image/png" and news.caisse_id == world["gironde"]["caisse"].id


def test_title_body_and_caisse_are_required(world):
    with pytest.raises(ValidationFailed) as refused:
        news_service.create_news({"title": " ", "body": "", "publish_at": None}, world["gironde"]["admin"])
    assert set(refused.value.errors) == {"title", "body", "publish_at"}
    with pytest.raises(ValidationFailed) as refused:
        news_service.create_news(news_data(title="x" * 151), world["gironde"]["admin"])
    assert "150 caractères" in refused.value.errors["title"]
    # the national admin must choose the caisse
    with pytest.raises(ValidationFailed) as refused:
        news_service.create_news(news_data(), world["national"])
    assert "caisse" in refused.value.errors
    news = news_service.create_news(news_data(caisse_id=world["oise"]["caisse"].id), world["national"])
    assert news.caisse_id == world["oise"]["caisse"].id
    # a caisse admin cannot write for another caisse, even by passing its id
    news = news_service.create_news(news_data(caisse_id=world["oise"]["caisse"].id), world["gironde"]["admin"])
    assert news.caisse_id == world["gironde"]["caisse"].id
    with pytest.raises(DomainError):
        news_service.create_news(news_data(), world["gironde"]["agent"])


# --- publication date ------------------------------------------------------------------------


def test_future_news_is_published_on_its_date(world, time_machine):
    start = now().replace(microsecond=0)
    time_machine.move_to(start, tick=False)
    admin = world["gironde"]["admin"]
    caisse_id = world["gironde"]["caisse"].id
    past = news_service.create_news(news_data(title="Déjà publiée", publish_at=start - timedelta(days=1)), admin)
    future = news_service.create_news(news_data(title="Plus tard", publish_at=start + timedelta(days=2)), admin)
    news_service.create_news(news_data(caisse_id=world["oise"]["caisse"].id), world["oise"]["admin"])
    assert [n.id for n in news_service.published_news(caisse_id)] == [past.id]

    time_machine.move_to(start + timedelta(days=2) - timedelta(seconds=1), tick=False)
    assert [n.id for n in news_service.published_news(caisse_id)] == [past.id]
    time_machine.move_to(start + timedelta(days=2), tick=False)
    assert [n.id for n in news_service.published_news(caisse_id)] == [future.id, past.id]
    assert [n.id for n in news_service.published_news(caisse_id, limit=1)] == [future.id]


def test_published_news_does_not_load_image_bytes(world):
    caisse_id = world["gironde"]["caisse"].id
    news_service.create_news(news_data(), world["gironde"]["admin"], png_bytes(), "a.png")
    db.session.expunge_all()
    item = news_service.published_news(caisse_id)[0]
    assert "image" not in item.__dict__ and item.image_type == "image/png"


def test_edit_form_shows_and_keeps_the_paris_time(client, world, login):
    moment = now().replace(second=0, microsecond=0) + timedelta(days=3)
    news = news_service.create_news(news_data(publish_at=moment), world["gironde"]["admin"])
    login("admin.gironde")
    page = client.get(f"/admin/news/edit/?id={news.id}").get_data(as_text=True)
    assert paris_input(moment) in page
    response = client.post_form(
        f"/admin/news/edit/?id={news.id}",
        {"title": "Titre modifié", "body": "Texte", "publish_at": paris_input(moment)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, page_text(response)[:2000]
    db.session.refresh(news)
    assert news.title == "Titre modifié" and news.publish_at == moment


# --- scoping in the back-office --------------------------------------------------------------


@pytest.fixture
def two_caisses_news(world):
    g = news_service.create_news(
        news_data(title="Nouvelles de Gironde"), world["gironde"]["admin"], png_bytes(), "g.png"
    )
    o = news_service.create_news(news_data(title="Nouvelles de l'Oise"), world["oise"]["admin"], png_bytes(), "o.png")
    gl = news_service.create_newsletter({"subject": "Lettre Gironde", "body": "Bonjour"}, world["gironde"]["admin"])
    ol = news_service.create_newsletter({"subject": "Lettre Oise", "body": "Bonjour"}, world["oise"]["admin"])
    return {"gironde": g, "oise": o, "gironde_letter": gl, "oise_letter": ol}


def test_caisse_admin_sees_only_its_news_and_newsletters(app, client, world, login, two_caisses_news):
    login("admin.gironde")
    page = page_text(client.get("/admin/news/"))
    assert "Nouvelles de Gironde" in page and "Nouvelles de l'Oise" not in page
    page = page_text(client.get("/admin/newsletters/"))
    assert "Lettre Gironde" in page and "Lettre Oise" not in page
    with app.test_request_context():
        from flask_login import login_user

        login_user(world["gironde"]["admin"])
        view = admin_view(app, "news")
        assert view.get_count_query().scalar() == 1
        assert view.get_one(str(two_caisses_news["oise"].id)) is None
        assert view.get_one(str(two_caisses_news["gironde"].id)) is not None


def test_ids_of_another_caisse_in_urls_give_nothing(client, world, login, two_caisses_news):
    other = two_caisses_news["oise"]
    letter = two_caisses_news["oise_letter"]
    login("admin.gironde")
    for url in (
        f"/admin/news/edit/?id={other.id}",
        f"/admin/news/details/?id={other.id}",
        f"/admin/newsletters/edit/?id={letter.id}",
        f"/admin/newsletters/details/?id={letter.id}",
    ):
        response = client.get(url)
        assert response.status_code in (302, 404), url
        assert "Oise" not in page_text(response)
    assert client.get(f"/admin/news/image/?id={other.id}").status_code == 404
    assert client.get(f"/admin/newsletters/envoyer/?id={letter.id}").status_code == 404
    assert client.post_form(f"/admin/newsletters/envoyer/?id={letter.id}").status_code == 404
    response = client.post_form(
        f"/admin/news/edit/?id={other.id}",
        {"title": "Piraté", "body": "x", "publish_at": paris_input(now())},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 404)
    db.session.refresh(other)
    db.session.refresh(letter)
    assert other.title == "Nouvelles de l'Oise" and letter.sent_at is None
    # the own caisse's pages open
    own_news, own_letter = two_caisses_news["gironde"], two_caisses_news["gironde_letter"]
    for url in (
        f"/admin/news/details/?id={own_news.id}",
        f"/admin/news/edit/?id={own_news.id}",
        f"/admin/newsletters/details/?id={own_letter.id}",
        f"/admin/newsletters/edit/?id={own_letter.id}",
    ):
        response = client.get(url)
        assert response.status_code == 200 and "Gironde" in response.get_data(as_text=True), url
    assert "Supprimer l'image actuelle" in page_text(client.get(f"/admin/news/edit/?id={own_news.id}"))
    # the own caisse's image is served, with the stored type and nosniff
    own = client.get(f"/admin/news/image/?id={two_caisses_news['gironde'].id}")
    assert own.status_code == 200 and own.headers["Content-Type"] == "image/png"
    assert own.headers["X-Content-Type-Options"] == "nosniff"


def test_caisse_admin_form_has_no_caisse_field_national_admin_has_one(client, world, login):
    login("admin.gironde")
    assert 'id="caisse"' not in client.get("/admin/news/new/").get_data(as_text=True)
    national_client = client.application.test_client()
    national_client.post_form("/admin/connexion", {"username": "admin", "password": PASSWORD})
    page = national_client.get("/admin/news/new/").get_data(as_text=True)
    assert 'id="caisse"' in page
    page = page_text(national_client.get("/admin/news/"))
    assert "Actualités" in page


def test_agents_cannot_reach_the_communication_views(client, world, login):
    login("agent.gironde")
    assert client.get("/admin/news/").status_code == 403
    assert client.get("/admin/newsletters/").status_code == 403


# --- newsletter ------------------------------------------------------------------------------


def _account(structure, login, role=PartnerRole.TECHNICIAN, active=True, subscribed=True):
    account = PartnerAccount(
        login=login,
        role=role.value,
        structure=structure,
        civility="Madame",
        usage_name=login.split(".")[1].upper(),
        first_name="Anne",
        function="Conseillère",
        phone="05.56.00.00.00",
        email=f"{login}@example.fr",
        active=active,
        inactivated_at=None if active else now(),
    )
    db.session.add(account)
    db.session.flush()
    if subscribed:
        db.session.add(NewsletterSubscription(account_id=account.id))
    db.session.commit()
    return account


def _structure_with_convention(world, name, siret, start, end):
    admin = world["gironde"]["admin"]
    structure = structure_service.create_structure(
        {
            "name": name,
            "type": "CCAS",
            "siret": siret,
            "address": "2 rue du Port",
            "postal_code": "33000",
            "city": "Bordeaux",
            "member_count": 5,
        },
        admin,
    )
    structure_service.create_convention(
        {
            "structure_id": structure.id,
            "start_date": start,
            "end_date": end,
            "service_offer_ids": [o.id for o in db.session.query(ServiceOffer).all()],
        },
        admin,
    )
    return structure


@pytest.fixture
def audience(world):
    """Who is (and is not) a recipient of a CPAM GIRONDE newsletter."""
    g = world["gironde"]
    db.session.add(NewsletterSubscription(account_id=g["manager"].id))
    db.session.add(NewsletterSubscription(account_id=world["oise"]["manager"].id))  # other caisse
    db.session.commit()
    day = today()
    upcoming = _structure_with_convention(
        world, "CCAS à venir", "40483304800022", day + timedelta(days=10), day + timedelta(days=400)
    )
    ended = _structure_with_convention(
        world, "CCAS terminé", "44306184100047", day - timedelta(days=400), day - timedelta(days=1)
    )
    ending_today = _structure_with_convention(
        world, "CCAS dernier jour", "55210055400013", day - timedelta(days=400), day
    )
    return {
        "yes": [
            g["manager"],
            _account(g["structure"], "t.abonne"),
            _account(upcoming, "t.avenir"),
            _account(ending_today, "t.dernier"),
        ],
        "no": [
            world["oise"]["manager"],
            _account(g["structure"], "t.inactif", active=False),
            _account(g["structure"], "t.pasabonne", subscribed=False),
            _account(ended, "t.termine"),
        ],
    }


def test_newsletter_goes_to_active_subscribed_accounts_of_the_caisse_structures(world, audience):
    admin = world["gironde"]["admin"]
    letter = news_service.create_newsletter(
        {"subject": "Les nouvelles de juin", "body": "Premier paragraphe.\r\n\r\nSecond <b>paragraphe</b>."}, admin
    )
    assert news_service.send_newsletter(letter, admin) == 4
    messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "newsletter")).all()
    assert sorted(m.recipient for m in messages) == sorted(a.email for a in audience["yes"])
    db.session.refresh(letter)
    assert letter.sent_at is not None and letter.recipient_count == 4
    by_recipient = {m.recipient: m for m in messages}
    for account in audience["yes"]:
        message = by_recipient[account.email]
        url = f"http://localhost/newsletter/desabonnement/{news_service.unsubscribe_token(account)}"
        assert message.headers == {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        assert url in message.body_text and url in message.body_html
        assert "vous pouvez vous désabonner" in message.body_text
        assert message.subject == "Espace Partenaires – Les nouvelles de juin"
        assert message.caisse_id == world["gironde"]["caisse"].id
        assert "Second &lt;b&gt;paragraphe&lt;/b&gt;." in message.body_html  # the text is escaped
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "newsletter.send"))
    assert audit.details == {"recipients": 4} and audit.actor_id == admin.id


def test_newsletter_cannot_be_sent_twice_or_edited_after(world, audience):
    admin = world["gironde"]["admin"]
    letter = news_service.create_newsletter({"subject": "Une fois", "body": "Texte"}, admin)
    news_service.send_newsletter(letter, admin)
    with pytest.raises(DomainError, match="déjà été envoyée"):
        news_service.send_newsletter(letter, admin)
    with pytest.raises(DomainError, match="déjà été envoyée"):
        news_service.update_newsletter(letter, {"subject": "Autre", "body": "x"}, admin)
    assert count(OutboxMessage, OutboxMessage.kind == "newsletter") == 4


def test_another_caisse_cannot_send_it(world, audience):
    letter = news_service.create_newsletter({"subject": "Gironde", "body": "Texte"}, world["gironde"]["admin"])
    with pytest.raises(DomainError):
        news_service.send_newsletter(letter, world["oise"]["admin"])
    db.session.refresh(letter)
    assert letter.sent_at is None and count(OutboxMessage) == 0


def test_send_button_confirms_then_sends_once(client, world, login, audience):
    login("admin.gironde")
    response = client.post_form("/admin/newsletters/new/", {"subject": "Lettre de juin", "body": "Bonjour à tous"})
    assert response.status_code == 302, page_text(response)[:2000]
    letter = db.session.scalar(select(Newsletter))
    assert letter.caisse_id == world["gironde"]["caisse"].id and letter.sent_at is None
    assert "Brouillon" in page_text(client.get("/admin/newsletters/"))

    page = page_text(client.get(f"/admin/newsletters/envoyer/?id={letter.id}"))
    assert "Êtes-vous sûr de vouloir envoyer cette newsletter à 4 destinataire(s)" in page
    assert count(OutboxMessage) == 0  # GET changes nothing

    response = client.post_form(f"/admin/newsletters/envoyer/?id={letter.id}", follow_redirects=True)
    assert "Newsletter envoyée à 4 destinataire(s)." in page_text(response)
    response = client.post_form(f"/admin/newsletters/envoyer/?id={letter.id}", follow_redirects=True)
    assert "Cette newsletter a déjà été envoyée." in page_text(response)
    assert count(OutboxMessage, OutboxMessage.kind == "newsletter") == 4
    assert "Envoyée le" in page_text(client.get("/admin/newsletters/"))


def test_send_requires_csrf(client, world, login, audience):
    letter = news_service.create_newsletter({"subject": "Gironde", "body": "Texte"}, world["gironde"]["admin"])
    login("admin.gironde")
    assert client.post(f"/admin/newsletters/envoyer/?id={letter.id}").status_code == 400
    assert count(OutboxMessage) == 0


# --- subscription toggle --------------------------------------------------------------------


def test_set_subscription_is_idempotent_and_audited(world):
    account = world["gironde"]["manager"]
    assert not news_service.is_subscribed(account)
    news_service.set_subscription(account, True)
    news_service.set_subscription(account, True)
    assert news_service.is_subscribed(account)
    news_service.set_subscription(account, False)
    assert not news_service.is_subscribed(account)
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("newsletter.subscribe") == 1 and actions.count("newsletter.unsubscribe") == 1


# --- the portal image route ------------------------------------------------------------------


def test_portal_image_only_for_a_partner_of_that_caisse_once_published(client, world):
    admin = world["gironde"]["admin"]
    published = news_service.create_news(news_data(), admin, png_bytes(), "a.png")
    future = news_service.create_news(news_data(publish_at=now() + timedelta(days=1)), admin, png_bytes(), "b.png")
    no_image = news_service.create_news(news_data(), admin)
    url = f"/actualites/{published.id}/image"
    assert client.get(url).status_code == 404  # anonymous

    login_partner(client, world["gironde"]["manager"])
    assert client.get(url).status_code == 404  # no caisse selected
    with client.session_transaction() as session:
        session["caisse_id"] = world["gironde"]["caisse"].id
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == png_bytes()
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/actualites/{future.id}/image").status_code == 404
    assert client.get(f"/actualites/{no_image.id}/image").status_code == 404

    with client.session_transaction() as session:
        session["caisse_id"] = world["oise"]["caisse"].id
    assert client.get(url).status_code == 404  # another caisse selected

    agent_client = client.application.test_client()
    agent_client.post_form("/admin/connexion", {"username": "admin.gironde", "password": PASSWORD})
    with agent_client.session_transaction() as session:
        session["caisse_id"] = world["gironde"]["caisse"].id
    assert agent_client.get(url).status_code == 404  # an agent is not a partner account


def test_create_form_proposes_now_in_paris_time(client, world, login, time_machine):
    from datetime import datetime

    time_machine.move_to(datetime(2027, 1, 10, 9, 0, 30), tick=False)  # 09:00 UTC = 10:00 in Paris
    login("admin.gironde")
    page = client.get("/admin/news/new/").get_data(as_text=True)
    assert 'value="2027-01-10T10:00"' in page
