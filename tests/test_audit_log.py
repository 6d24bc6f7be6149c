"""Audit log (R-RGPD-4): readable and filterable by the caisse admin; neither the logs nor the
audit table ever hold a password or a set-password token."""

import logging
import re

from helpers import PASSWORD, token_sent_to
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import AuditEntry


def test_caisse_admin_reads_its_audit_log_with_filters(client, world, login):
    login("admin.gironde")
    client.post_form("/admin/connexion", {"username": "admin.oise", "password": "mauvais mot de passe"})
    login("admin.gironde")
    page = client.get("/admin/audit/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "login.success" in text and "Journal d&#39;audit" in text or "Journal d'audit" in text
    # filter on the action (Flask-Admin filter "Action" equals)
    groups = re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', text).group(1)
    assert "Action" in groups and "Acteur" in groups
    filtered = client.get("/admin/audit/", query_string={"search": "structure.create"})
    assert "structure.create" in filtered.get_data(as_text=True)


def test_no_password_or_token_in_the_logs_or_the_audit_table(app, client, world, login, caplog):
    caplog.set_level(logging.DEBUG)
    new_password = "Une phrase vraiment secrète 2026"
    login("admin.gironde")
    response = client.post_form(
        "/admin/managers/new/",
        {
            "structure": world["gironde"]["structure"].id,
            "civility": "Madame",
            "usage_name": "DURAND",
            "first_name": "Anne",
            "function": "Directrice",
            "phone": "05.56.00.00.00",
            "email": "anne@example.fr",
        },
    )
    assert response.status_code == 302
    token = token_sent_to("anne@example.fr")
    client.post_form("/admin/deconnexion")
    client.post_form(f"/mot-de-passe/{token}", {"password": new_password, "confirmation": new_password})
    client.post_form("/connexion", {"login": "a.durand", "password": "pas le bon mot de passe"})
    client.post_form("/connexion", {"login": "a.durand", "password": new_password})
    client.post_form("/admin/connexion", {"username": "admin.gironde", "password": PASSWORD})
    secrets_ = [new_password, "pas le bon mot de passe", PASSWORD, token]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not [s for s in secrets_ if s in logged]
    rows = db.session.scalars(select(AuditEntry)).all()
    assert rows, "the actions above are audited"
    dumped = "\n".join(f"{r.actor_label} {r.action} {r.details}" for r in rows)
    assert not [s for s in secrets_ if s in dumped]
    assert {"login.failure", "login.success", "password.set", "manager.create"} <= {r.action for r in rows}
