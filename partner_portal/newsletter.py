"""One-click newsletter unsubscribe (R-NEWS-1, RFC 8058): works without login, changes nothing on GET."""

from flask import render_template

from backoffice.extensions import csrf
from backoffice.services import news as news_service

from . import bp

INVALID = (
    "Ce lien de désabonnement n'est pas valide. Vous pouvez aussi vous désabonner depuis la page "
    "d'accueil d'Espace Partenaires en désactivant « Je souhaite recevoir la newsletter par e-mail »."
)


@bp.route("/newsletter/desabonnement/<token>", methods=["GET"])
def unsubscribe_page(token: str):
    """Mail scanners follow links: the GET only shows the button."""
    if news_service.check_unsubscribe_token(token) is None:
        return render_template("portal/unsubscribe.html", error=INVALID), 400
    return render_template("portal/unsubscribe.html", token=token)


@bp.route("/newsletter/desabonnement/<token>", methods=["POST"])
@csrf.exempt  # the signed token authenticates the request; mail clients POST it (RFC 8058)
def unsubscribe(token: str):
    if not news_service.unsubscribe(token):
        return render_template("portal/unsubscribe.html", error=INVALID), 400
    return render_template("portal/unsubscribe.html", done=True)
