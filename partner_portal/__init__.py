"""The partner portal blueprint, served at '/'."""

from flask import Blueprint

bp = Blueprint(
    "portal", __name__, template_folder="templates", static_folder="static", static_url_path="/portal-static"
)

from . import (  # noqa: E402,F401  (routes register on bp)  # noqa
    accounts,
    auth,
    home,
    news,
    newsletter,
    passwords,
    requests,  # noqa: E402,F401
    selection,
)
