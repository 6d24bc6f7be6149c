"""Home (R-HOME-1): the caisse's news and the newsletter toggle (request pages: requests.py)."""

from flask import flash, g, redirect, render_template, url_for

from . import bp
from .forms import NewsletterForm
from .guards import caisse_required, current_partner

CAROUSEL_SIZE = 3
FEED_SIZE = 10


@bp.route("/")
@caisse_required
def home():
    from backoffice.services import news as news_service

    account = current_partner()
    if g.access.history_only:
        return redirect(url_for("portal.history"))
    items = news_service.published_news(g.access.caisse.id, limit=CAROUSEL_SIZE + FEED_SIZE)
    if not items:
        # R-HOME-1: no news → managers land on their accounts, technicians on the deposit page.
        return redirect(url_for("portal.accounts" if account.is_manager else "portal.deposit"))
    form = NewsletterForm(subscribed=news_service.is_subscribed(account))
    return render_template(
        "portal/home.html",
        carousel=items[:CAROUSEL_SIZE],
        feed=items[CAROUSEL_SIZE:],
        form=form,
    )


@bp.route("/newsletter", methods=["POST"])
@caisse_required
def newsletter_toggle():
    from backoffice.services import news as news_service

    form = NewsletterForm()
    if form.validate_on_submit():
        news_service.set_subscription(current_partner(), bool(form.subscribed.data))
        flash(
            "Vous recevrez la newsletter par e-mail."
            if form.subscribed.data
            else "Vous ne recevrez plus la newsletter par e-mail.",
            "success",
        )
    return redirect(url_for("portal.home"))
