"""The partner portal blueprint, served at '/'."""
from flask import Blueprint

bp = Blueprint(
    "portal", __name__, template_folder="templates", static_folder="static", static_url_path="/portal-static"
)

from . import accounts, auth, home, passwords, selection  # noqa: E402,F401  (routes register on bp)
from . import news, newsletter  # noqa
from . import requests  # noqa: E402,F401
