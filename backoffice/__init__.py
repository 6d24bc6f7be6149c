"""Espace Partenaires: the application factory (back-office on Flask-Admin + the partner portal)."""

import logging
from pathlib import Path

from flask import Flask, render_template
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from config import Config

from . import clock
from .extensions import babel, csrf, db, login_manager, mail, migrate
from .inputs import register_converters
from .security import csp_nonce, register_security


def create_app(config: type | dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    if app.config.get("REQUIRE_SECRET_KEY") and app.config["SECRET_KEY"] == "dev-only-change-me":  # noqa: S105 (the known dev value is refused)
        raise RuntimeError("SECRET_KEY must be set in production (FLASK_ENV_NAME=production).")
    _ensure_instance_dir(app)
    _trust_proxies(app)
    register_converters(app)  # bounded <int:…>, no control characters in <…>: before any route
    register_extensions(app)
    register_security(app)
    register_admin(app)
    register_blueprints(app)
    register_commands(app)
    register_template_helpers(app)
    register_errorhandlers(app)
    logging.basicConfig(level=logging.INFO)
    return app


def _ensure_instance_dir(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////:memory:"):
        from pathlib import Path

        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)


def _trust_proxies(app: Flask) -> None:
    """TRUSTED_PROXIES reverse proxies in front: the client address and scheme come from their
    X-Forwarded-For / X-Forwarded-Proto (the login throttle, the rate limits and the audit log see
    the client, not the proxy). Unset or 0: those headers are ignored. X-Forwarded-Host is never
    read (absolute links use BASE_URL)."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0, x_port=0, x_prefix=0)


def register_extensions(app: Flask) -> None:
    from .services import caisse_cache
    from .services.auth import load_user

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True, compare_type=True)
    mail.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=lambda: "fr", timezone_selector=lambda: "Europe/Paris")
    login_manager.init_app(app)
    caisse_cache.init_app(app)  # the per-worker caches' TTL and listeners (stamps renewed on change)
    login_manager.user_loader(load_user)
    login_manager.login_view = "bo_auth.login"
    login_manager.login_message = "Veuillez vous connecter pour accéder à cette page."
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "basic"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _sqlite_pragmas(app)


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


def _sqlite_pragmas(app: Flask) -> None:
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - trivial
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def register_admin(app: Flask) -> None:
    """A fresh Admin per app: a module-level one would break a second app (tests)."""
    from .views import register_views
    from .views.base import SecureIndexView

    french_admin_catalogue()
    admin = Admin(
        app,
        name="Espace Partenaires — Back-office",
        theme=Bootstrap4Theme(swatch=app.config["FLASK_ADMIN_SWATCH"], fluid=True, base_template="admin/ep_base.html"),
        index_view=SecureIndexView(name="Accueil", url="/admin", template="admin/ep_index.html"),
        csp_nonce_generator=csp_nonce,
    )
    register_views(admin)
    app.extensions["ep_admin"] = admin


TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def french_admin_catalogue() -> None:
    """Flask-Admin's strings (buttons, menus, flashes, filter operations) in our French:
    backoffice/translations/fr/LC_MESSAGES/admin.po (domain "admin"), and its form fields' messages
    (wtforms.po: they go through WTForms' translations, whose French lacks them).

    Flask-Admin translates through two Flask-Babel domains of its own (flask_admin.babel.domain and
    wtforms_domain), and Flask-Babel merges a domain's directories in order, the last one winning.
    Admin(translations_path=…) puts a directory *before* Flask-Admin's, so it could only fill gaps,
    not correct what Flask-Admin's compiled French gets wrong or lacks; ours goes after it.
    Idempotent (one app per test session, or several)."""
    from flask_admin.babel import domain, wtforms_domain

    for babel_domain in (domain, wtforms_domain):
        directories = list(babel_domain._translation_directories or ())  # set at Flask-Admin's import
        if str(TRANSLATIONS) not in directories:
            babel_domain._translation_directories = [*directories, str(TRANSLATIONS)]
            babel_domain.cache.clear()


def register_blueprints(app: Flask) -> None:
    from partner_portal import bp as portal_bp

    from .views.auth import bp as auth_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(portal_bp)


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from .views.presentation import shown_flashes

    app.jinja_env.globals["ep_shown_flashes"] = shown_flashes
    app.jinja_env.filters["date_fr"] = clock.format_date
    app.jinja_env.filters["datetime_fr"] = clock.format_datetime


def register_errorhandlers(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return (
            render_template(
                "errors/error.html",
                code=400,
                message="La session du formulaire a expiré ou la requête est invalide. "
                "Rechargez la page et recommencez.",
            ),
            400,
        )

    for code, message in (
        (403, "Vous n'avez pas les droits nécessaires pour accéder à cette page."),
        (404, "La page demandée n'existe pas."),
        (405, "Cette action n'est pas autorisée."),
        (413, "Les fichiers envoyés sont trop volumineux."),
        (429, "Trop de tentatives depuis votre connexion : patientez quelques minutes avant de réessayer."),
        (500, "Une erreur inattendue est survenue. Réessayez plus tard."),
    ):
        app.register_error_handler(code, _error_handler(code, message))


def _error_handler(code: int, message: str):
    def handler(_error):
        if code == 500:
            db.session.rollback()
        return render_template("errors/error.html", code=code, message=message), code

    return handler
