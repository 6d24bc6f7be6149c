"""The login and logout pages of both front ends are one pair of views (views/auth.add_login_routes):
each front end keeps its own URL, form, pages, messages and its own login rate limit."""

from helpers import location, page_text, portal_login

from backoffice import create_app
from backoffice.extensions import db
from config import TestConfig


def _limited_app(app):
    config = type(
        "Config",
        (TestConfig,),
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "RATE_LIMITS_ENABLED": True,
            "WTF_CSRF_ENABLED": False,
        },
    )
    return create_app(config)


def test_each_front_end_s_login_has_its_own_rate_limit(app, world):
    limited = _limited_app(app)
    try:
        client = limited.test_client()

        def post(path, field, n):
            return client.post(path, data={field: f"inconnu{n}", "password": "x"}).status_code

        # LOGIN_LIMIT is 20 per minute and address: the 21st POST of one login page is refused...
        assert [post("/admin/connexion", "username", n) for n in range(21)] == [200] * 20 + [429]
        # ...and the other front end's login page still has its 20.
        assert [post("/connexion", "login", n) for n in range(21)] == [200] * 20 + [429]
        assert client.get("/admin/connexion").status_code == 200  # GET is not limited
    finally:
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()


def test_each_front_end_s_logout_says_goodbye_in_its_words_and_goes_to_its_login(client, world, login):
    login("agent.gironde")
    response = client.post_form("/admin/deconnexion", {})
    assert location(response) == "/admin/connexion"
    assert "Vous êtes déconnecté." in page_text(client.get("/admin/connexion"))

    assert location(portal_login(client, "m.gironde")) == "/organisme"
    response = client.post_form("/deconnexion", {})
    assert location(response) == "/connexion"
    assert "Vous êtes déconnecté(e) d'Espace Partenaires." in page_text(client.get("/connexion"))


def test_a_signed_in_user_is_sent_to_its_front_end_s_home(client, world, login):
    login("agent.gironde")
    assert location(client.get("/admin/connexion")) == "/admin/"
    assert location(portal_login(client, "m.gironde")) == "/organisme"
    assert location(client.get("/connexion")) == "/"
