"""« Mon compte »: who the logged-in back-office user is, and the daily digest switch (issue 13 §6)."""

from flask import request, url_for
from flask_admin import expose
from wtforms import BooleanField

from ..services import digest
from ..ui import run_service
from .base import ALL_ROLES, AdminSecureForm, SecureBaseView, current_agent

SAVED = "Vos préférences sont enregistrées."


class DigestForm(AdminSecureForm):
    digest_enabled = BooleanField("Recevoir le récapitulatif quotidien par e-mail")


class ProfileView(SecureBaseView):
    """Every role reaches it; the switch shows for the staff of a caisse (the digest's readers)."""

    allowed_roles = ALL_ROLES

    @expose("/", methods=["GET", "POST"])
    def index(self):
        agent = current_agent()
        posted = request.method == "POST"
        form = DigestForm(formdata=request.form if posted else None, data={"digest_enabled": agent.digest_enabled})
        if posted and form.validate():
            saved = run_service(
                lambda: digest.set_digest_preference(agent, form.digest_enabled.data),
                form=form,
                success=SAVED,
                redirect_to=url_for(".index"),
            )
            if saved:
                return saved
        return self.render(
            "admin/profile.html",
            agent=agent,
            form=form,
            gets_digest=agent.role in digest.DIGEST_ROLES,
            digest_hour=digest.digest_hour(),
        )
