"""HTTP hardening for every response: CSP with a per-request nonce, no sniffing, no framing,
no caching of authenticated pages, HSTS in production; rate limits on login and password reset."""

import secrets

from flask import Flask, current_app, g, request
from flask_login import current_user

from .extensions import limiter

# Requests per client address (Flask-Limiter; the address is the client's behind TRUSTED_PROXIES).
# Failed logins are also throttled per (login, address) and per address in the database, with
# progressive delays (services/throttle.py).
LOGIN_LIMIT = "20 per minute; 200 per hour"
RESET_LIMIT = "5 per minute; 30 per hour"


def csp_nonce() -> str:
    """One nonce per request, shared by Flask-Admin's scripts and ours."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy() -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{csp_nonce()}'",
            # Flask-Admin's templates set style attributes: styles may be inline, scripts never.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "frame-src 'self' blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@limiter.request_filter
def _limits_off() -> bool:
    """RATE_LIMITS_ENABLED is read per app: the limiter object is shared by every app of a process."""
    return not current_app.config.get("RATE_LIMITS_ENABLED", True)


def register_security(app: Flask) -> None:
    limiter.init_app(app)
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _headers(response):
        headers = response.headers
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", content_security_policy())
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if current_user.is_authenticated or request.endpoint in {"bo_auth.login", "portal.login"}:
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        if app.config.get("HSTS_ENABLED"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
