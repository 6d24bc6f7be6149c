"""Configuration classes: the embedded default (SQLite), tests, and production (environment)."""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def normalize_database_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// forms and route them to psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    """The embedded default: a SQLite file under instance/, e-mails written as .eml files there."""

    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'espace_partenaires.db'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")

    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get(
        "MAIL_DEFAULT_SENDER", "Espace Partenaires <nepasrepondre@espace-partenaires.localhost>"
    )
    MAIL_TIMEOUT_SECONDS = _int("MAIL_TIMEOUT_SECONDS", 15)
    MAIL_MAX_ATTEMPTS = _int("MAIL_MAX_ATTEMPTS", 12)
    # How `flask send-mail` delivers: smtp (the default with a MAIL_SERVER), file (the default
    # without: one .eml file per message in MAIL_FILE_DIR and a summary on the console) or console.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND") or None
    MAIL_FILE_DIR = os.environ.get("MAIL_FILE_DIR") or str(BASE_DIR / "instance" / "mail")

    # The agents' daily digest e-mail (services/digest.py, sent by `flask digest` and by
    # `flask housekeeping`): queued from this hour on (0 to 23, Europe/Paris), once per agent and day.
    DIGEST_HOUR = _int("DIGEST_HOUR", 7)

    # R-ACC-3: set-password links are single use and expire (hours).
    PASSWORD_TOKEN_HOURS = _int("PASSWORD_TOKEN_HOURS", 72)
    # R-ACC-4: partner passwords expire after this many days.
    PASSWORD_MAX_AGE_DAYS = _int("PASSWORD_MAX_AGE_DAYS", 365)
    # R-RGPD-1: attachment contents are deleted this many days after upload.
    ATTACHMENT_RETENTION_DAYS = _int("ATTACHMENT_RETENTION_DAYS", 15)
    # Optional ClamAV daemon scanning every upload (fail closed when configured but unreachable).
    CLAMD_SOCKET = os.environ.get("CLAMD_SOCKET") or None
    CLAMD_HOST = os.environ.get("CLAMD_HOST") or None
    CLAMD_PORT = _int("CLAMD_PORT", 3310)
    # Login throttling (services/throttle.py), in place of an account lock: per (login as typed,
    # client address), after LOGIN_THROTTLE_FREE_FAILURES failures each attempt waits 1, 2, 4 … s
    # (LOGIN_THROTTLE_BASE_SECONDS doubling, at most LOGIN_THROTTLE_MAX_SECONDS) after the last
    # failure; the count is forgotten LOGIN_THROTTLE_RESET_MINUTES after it. Per address, at most
    # LOGIN_ADDRESS_MAX_FAILURES failures per LOGIN_ADDRESS_WINDOW_MINUTES.
    LOGIN_THROTTLE_FREE_FAILURES = _int("LOGIN_THROTTLE_FREE_FAILURES", 5)
    LOGIN_THROTTLE_BASE_SECONDS = _int("LOGIN_THROTTLE_BASE_SECONDS", 1)
    LOGIN_THROTTLE_MAX_SECONDS = _int("LOGIN_THROTTLE_MAX_SECONDS", 300)
    LOGIN_THROTTLE_RESET_MINUTES = _int("LOGIN_THROTTLE_RESET_MINUTES", 15)
    LOGIN_ADDRESS_MAX_FAILURES = _int("LOGIN_ADDRESS_MAX_FAILURES", 100)
    LOGIN_ADDRESS_WINDOW_MINUTES = _int("LOGIN_ADDRESS_WINDOW_MINUTES", 15)
    # Reverse proxies in front of the app that set X-Forwarded-For / -Proto (werkzeug's ProxyFix);
    # 0: forwarded headers are ignored, the client address is the connection's.
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)

    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    FLASK_ADMIN_SWATCH = "default"

    # 8 attachments of 5 MB and the form: larger bodies are refused before reaching the views.
    MAX_CONTENT_LENGTH = 60 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE")
    REMEMBER_COOKIE_HTTPONLY = True
    # Server-side sessions (services/sessions.py): idle timeout and absolute lifetime, checked on
    # every request; last activity written at most every SESSION_TOUCH_SECONDS.
    SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 30)
    SESSION_ABSOLUTE_HOURS = _int("SESSION_ABSOLUTE_HOURS", 12)
    SESSION_TOUCH_SECONDS = 60
    # The per-worker caches of lists (services/caisse_cache.py) are renewed on every change; past
    # this age an entry is read again anyway (a safety net for changes made outside the app).
    CAISSE_CACHE_TTL_SECONDS = _int("CAISSE_CACHE_TTL_SECONDS", 300)
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=SESSION_IDLE_MINUTES)  # the cookie's, a hint only
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    HSTS_ENABLED = _bool("HSTS_ENABLED")
    SESSION_REFRESH_EACH_REQUEST = True


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"  # noqa: S105 (tests only)
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    MAIL_SERVER = None
    MAIL_BACKEND = None  # file, or smtp in the tests that point MAIL_SERVER at a local server
    MAIL_FILE_DIR = None  # conftest gives the test app a temporary directory
    BASE_URL = "http://localhost"
    SERVER_NAME = None
    RATE_LIMITS_ENABLED = False  # one test app enables them to check the limits
    # argon2id still, at a test-friendly cost (production keeps the RFC 9106 profile).
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)

    PREFERRED_URL_SCHEME = "https"
    HSTS_ENABLED = _bool("HSTS_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    REQUIRE_SECRET_KEY = True


def config_from_env():
    return ProductionConfig if os.environ.get("FLASK_ENV_NAME") == "production" else Config
