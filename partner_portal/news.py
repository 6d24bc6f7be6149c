"""News images for the portal home (R-HOME-1): only the selected caisse's published news."""

from flask import abort, make_response, session

from backoffice.services import news as news_service
from backoffice.ui import found_or_404

from . import bp
from .guards import current_partner


@bp.route("/actualites/<int:news_id>/image")
def news_image(news_id: int):
    """A logged-in partner whose selected caisse published this news; anything else is a 404."""
    if current_partner() is None:
        abort(404)
    data, content_type = found_or_404(news_service.published_image(news_id, session.get("caisse_id")))
    response = make_response(data)
    response.headers["Content-Type"] = content_type
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
