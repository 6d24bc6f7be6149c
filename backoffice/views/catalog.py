"""The caisse's catalogue: which service offers and motives it offers (SPEC §5)."""

from flask import flash, request, url_for
from flask_admin import expose
from sqlalchemy import select

from ..extensions import db
from ..inputs import bounded_int
from ..models import Caisse
from ..services import catalog as catalog_service
from ..ui import run_service
from .base import ADMINS, AdminSecureForm, SecureBaseView, current_agent, row_ids


class CatalogView(SecureBaseView):
    allowed_roles = ADMINS

    def _caisse(self):
        agent = current_agent()
        if not agent.is_national_admin:
            return db.session.get(Caisse, agent.caisse_id)
        caisse_id = bounded_int(request.values.get("caisse_id"))
        if caisse_id:
            return db.session.get(Caisse, caisse_id)
        return db.session.scalar(select(Caisse).order_by(Caisse.name).limit(1))

    @expose("/", methods=["GET", "POST"])
    def index(self):
        caisse = self._caisse()
        if caisse is None:
            flash("Aucun organisme n'est enregistré.", "warning")
            return self.render("admin/catalog.html", caisse=None, offers=[], caisses=[], form=AdminSecureForm())
        form = AdminSecureForm(formdata=request.form if request.method == "POST" else None)
        offer_ids = {o.id for o in catalog_service.offers_of(caisse.id)}
        motive_ids = catalog_service.motive_ids_of(caisse.id)
        if request.method == "POST" and form.validate():
            chosen_offers = set(row_ids(request.form.getlist("offer")))
            chosen_motives = set(row_ids(request.form.getlist("motive")))
            saved = run_service(
                lambda: catalog_service.set_caisse_catalog(caisse.id, chosen_offers, chosen_motives, current_agent()),
                success="Le catalogue de l'organisme est enregistré.",
                redirect_to=url_for(".index", caisse_id=caisse.id),
            )
            if saved:
                return saved
            offer_ids, motive_ids = chosen_offers, chosen_motives  # refused: keep what was ticked
        caisses = (
            list(db.session.scalars(select(Caisse).order_by(Caisse.name))) if current_agent().is_national_admin else []
        )
        return self.render(
            "admin/catalog.html",
            caisse=caisse,
            caisses=caisses,
            offers=catalog_service.all_offers(),
            offer_ids=offer_ids,
            motive_ids=motive_ids,
            form=form,
        )
