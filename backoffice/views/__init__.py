"""Registers the back-office views on a fresh Admin."""

from ..models import (
    Agent,
    AuditEntry,
    Caisse,
    Convention,
    News,
    Newsletter,
    OutboxMessage,
    PartnerAccount,
    ReplyTemplate,
    Structure,
)
from .catalog import CatalogView
from .dashboard import DashboardView
from .news import NewsletterView, NewsView
from .outbox import AuditView, OutboxView
from .partners import ConventionView, ManagerView, StructureView
from .profile import ProfileView
from .registry import AgentView, CaisseView
from .reply_templates import ReplyTemplateView
from .requests.worklists import register as register_request_views


def register_views(admin) -> None:
    register_request_views(admin)  # « Demandes »: À traiter, Mes demandes, Toutes
    admin.add_view(DashboardView(name="Tableau de bord", endpoint="dashboard"))
    admin.add_view(CaisseView(Caisse, name="Organismes", endpoint="caisses", category="Organismes"))
    admin.add_view(AgentView(Agent, name="Agents et administrateurs", endpoint="agents", category="Organismes"))
    admin.add_view(CatalogView(name="Catalogue des offres", endpoint="catalog", category="Organismes"))
    admin.add_view(
        ReplyTemplateView(ReplyTemplate, name="Modèles de réponse", endpoint="reply_templates", category="Organismes")
    )
    admin.add_view(StructureView(Structure, name="Structures", endpoint="structures", category="Partenaires"))
    admin.add_view(ConventionView(Convention, name="Conventions", endpoint="conventions", category="Partenaires"))
    admin.add_view(ManagerView(PartnerAccount, name="Gestionnaires", endpoint="managers", category="Partenaires"))
    admin.add_view(NewsView(News, name="Actualités", endpoint="news", category="Communication"))
    admin.add_view(NewsletterView(Newsletter, name="Newsletters", endpoint="newsletters", category="Communication"))
    admin.add_view(OutboxView(OutboxMessage, name="E-mails envoyés", endpoint="outbox", category="Suivi"))
    admin.add_view(AuditView(AuditEntry, name="Journal d'audit", endpoint="audit", category="Suivi"))
    admin.add_view(ProfileView(name="Mon compte", endpoint="profile"))
