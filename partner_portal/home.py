"""Home (R-HOME-1): the caisse's news and the newsletter toggle; the technician's request pages."""
from flask import flash, g, redirect, render_template, url_for
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Request, RequestStatus

from . import bp
from .forms import NewsletterForm
from .guards import caisse_required, current_partner, technician_required

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


@bp.route("/demandes/nouvelle")
@technician_required
def deposit():
    """One card per service offer enabled for the convention (R-REQ-5)."""
    if not g.access.can_file_requests:
        flash("Vous ne pouvez plus déposer de nouvelles demandes auprès de cet organisme.", "warning")
        return redirect(url_for("portal.history"))
    return render_template("portal/deposit.html", offers=g.access.convention.service_offers)


@bp.route("/demandes")
@technician_required
def history():
    """All requests of the structure for the selected caisse, newest first (R-HIS-1)."""
    account = current_partner()
    requests = db.session.scalars(
        select(Request)
        .where(
            Request.structure_id == account.structure_id,
            Request.caisse_id == g.access.caisse.id,
            Request.status != RequestStatus.CANCELLED.value,
        )
        .order_by(Request.deposited_at.desc())
        .limit(50)
    ).all()
    return render_template("portal/history.html", requests=requests)
