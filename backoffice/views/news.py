"""News and newsletters in the back-office (R-NEWS-1), scoped to the admin's caisse (R-TEN-2)."""

from flask import abort, flash, make_response, redirect, request, url_for
from flask_admin import expose
from flask_admin.model.template import EndpointLinkRowAction
from markupsafe import Markup
from wtforms import BooleanField, FileField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import Optional

from ..clock import format_datetime, now, paris_to_utc, utc_to_paris_naive
from ..extensions import db
from ..models import Caisse, News, Newsletter
from ..services import news as news_service
from ..services.scoping import caisse_filter
from ..ui import row_or_404, run_service
from . import labels
from .base import ADMINS, AdminSecureForm, SecureModelView, current_agent

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M"]


def _caisses_query():
    return db.session.query(Caisse).order_by(Caisse.name)


class _CaisseContentView(SecureModelView):
    """News and newsletters: for admins, with a details page. The caisse field is for the national
    admin only; a caisse admin writes for its caisse."""

    allowed_roles = ADMINS
    can_view_details = True

    def _strip_caisse(self, form):
        if not current_agent().is_national_admin and "caisse" in form:
            del form.caisse
        return form

    def create_form(self, obj=None):
        return self._strip_caisse(super().create_form(obj))

    def edit_form(self, obj=None):
        return self._strip_caisse(super().edit_form(obj))

    @staticmethod
    def _caisse_id(form):
        return form.caisse.data.id if "caisse" in form and form.caisse.data else None


def _news_state(view, context, model, name):
    if model.publish_at > now():
        return Markup('<span class="badge badge-info">Programmée</span>')
    return Markup('<span class="badge badge-success">Publiée</span>')


def _thumbnail(view, context, model, name):
    if not model.image_type:
        return ""
    src = url_for(".image_view", id=model.id)
    return Markup('<img src="{}" alt="" style="max-height: 48px; max-width: 96px">').format(src)


class NewsView(_CaisseContentView):
    """'Actualités': title, text, optional image (checked by content), publication date."""

    column_list = ["image_type", "title", "publish_at", "state", "caisse"]
    column_details_list = ["caisse", "title", "publish_at", "state", "body", "image_type"]
    column_labels = labels.of("title", "state", "caisse", "body", image_type="Image", publish_at="Date de publication")
    column_formatters = {"image_type": _thumbnail, "state": _news_state}  # the details page's too
    column_sortable_list = ["title", "publish_at", ("caisse", "caisse.name")]
    column_searchable_list = ["title"]
    column_default_sort = ("publish_at", True)
    form_columns = ["caisse", "title", "body", "publish_at", "image_file", "remove_image"]
    form_overrides = {"publish_at": DateTimeLocalField}
    form_args = {
        "caisse": {"query_factory": _caisses_query},
        "title": {"description": "150 caractères au plus."},
        "body": {"render_kw": {"rows": 8}},
        "publish_at": {
            "label": "Date de publication",
            "format": DATETIME_FORMATS,
            "validators": [Optional()],
            "description": "Heure de Paris. Une date future publie l'actualité plus tard.",
            "render_kw": {"required": True},
        },
    }
    form_extra_fields = {
        "image_file": FileField(
            "Image (facultative)",
            description="PNG, JPEG, GIF ou WebP, 2 Mo au plus. Le contenu du fichier est vérifié.",
            render_kw={"accept": "image/png,image/jpeg,image/gif,image/webp"},
        ),
        "remove_image": BooleanField("Supprimer l'image actuelle"),
    }

    def scope(self, query):
        return query.filter(caisse_filter(current_agent(), News.caisse_id))

    def create_form(self, obj=None):
        form = super().create_form(obj)
        del form.remove_image
        if request.method == "GET":  # the column default is UTC: show Paris time
            form.publish_at.data = utc_to_paris_naive(now()).replace(second=0, microsecond=0)
        return form

    def on_form_prefill(self, form, id):
        model = self.get_one(id)
        if model is not None:
            form.publish_at.data = utc_to_paris_naive(model.publish_at)
        if model is None or not model.image_type:
            del form.remove_image

    def _data(self, form):
        publish_at = form.publish_at.data
        return {
            "title": form.title.data,
            "body": form.body.data,
            "publish_at": paris_to_utc(publish_at) if publish_at else None,
            "caisse_id": self._caisse_id(form),
        }

    @staticmethod
    def _upload(form):
        upload = form.image_file.data
        if not upload or not getattr(upload, "filename", None):
            return None, None
        # Read one byte past the limit: enough to refuse a large file without loading all of it.
        return upload.read(news_service.IMAGE_MAX_BYTES + 1), upload.filename

    def service_create(self, form):
        image, filename = self._upload(form)
        news = news_service.create_news(self._data(form), current_agent(), image, filename)
        flash("Actualité enregistrée.", "success")
        return news

    def service_update(self, form, model):
        image, filename = self._upload(form)
        remove = bool("remove_image" in form and form.remove_image.data)
        news_service.update_news(model, self._data(form), current_agent(), image, filename, remove_image=remove)

    @expose("/image/")
    def image_view(self):
        """The image, for the thumbnail; only for a news this admin may see."""
        news = row_or_404(self)
        if not news.image_type:
            abort(404)
        response = make_response(news.image)
        response.headers["Content-Type"] = news.image_type
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, max-age=300"
        return response


def _sent_status(view, context, model, name):
    if model.sent_at is None:
        return Markup('<span class="badge badge-secondary">Brouillon</span>')
    return Markup('<span class="badge badge-success">Envoyée le {}</span>').format(format_datetime(model.sent_at))


class NewsletterView(_CaisseContentView):
    """Newsletters: a draft (subject, text), then 'Envoyer' after a confirmation, once."""

    column_list = ["subject", "caisse", "created_at", "sent_at", "recipient_count"]
    column_details_list = ["caisse", "subject", "body", "created_at", "sent_at", "recipient_count"]
    column_labels = labels.of(
        "subject", "caisse", "body", created_at="Créée le", sent_at="Envoi", recipient_count="Destinataires"
    )
    column_formatters = {"sent_at": _sent_status}  # the details page's too
    column_sortable_list = ["subject", "created_at", "sent_at"]
    column_default_sort = ("created_at", True)
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-paper-plane", ".send_view", title="Envoyer"),
    ]
    form_columns = ["caisse", "subject", "body"]
    form_args = {
        "caisse": {"query_factory": _caisses_query},
        "subject": {"description": "150 caractères au plus."},
        "body": {
            "render_kw": {"rows": 12},
            "description": "Le lien de désabonnement est ajouté automatiquement à chaque envoi.",
        },
    }

    def scope(self, query):
        return query.filter(caisse_filter(current_agent(), Newsletter.caisse_id))

    def _data(self, form):
        return {"subject": form.subject.data, "body": form.body.data, "caisse_id": self._caisse_id(form)}

    def service_create(self, form):
        newsletter = news_service.create_newsletter(self._data(form), current_agent())
        flash("Brouillon de newsletter enregistré. Utilisez « Envoyer » pour la diffuser.", "success")
        return newsletter

    def service_update(self, form, model):
        news_service.update_newsletter(model, self._data(form), current_agent())

    @expose("/envoyer/", methods=["GET", "POST"])
    def send_view(self):
        """GET asks for confirmation (and changes nothing); POST sends."""
        newsletter = row_or_404(self)
        return_url = url_for(".index_view")
        if newsletter.sent_at is not None:
            flash("Cette newsletter a déjà été envoyée.", "warning")
            return redirect(return_url)
        form = SendForm(formdata=request.form if request.method == "POST" else None)
        if request.method == "POST" and form.validate():
            sent = run_service(
                lambda: news_service.send_newsletter(newsletter, current_agent()),
                form=form,
                success=lambda count: f"Newsletter envoyée à {count} destinataire(s).",
                redirect_to=return_url,
            )
            if sent:
                return sent
        return self.render(
            "admin/newsletter_send.html",
            newsletter=newsletter,
            form=form,
            recipient_count=len(news_service.recipients(newsletter.caisse_id)),
            return_url=return_url,
        )


class SendForm(AdminSecureForm):
    pass
