"""Audit log (R-RGPD-4): readable and filterable by the caisse admin; neither the logs nor the
audit table ever hold a password or a set-password token."""

import json
import logging
import re

from helpers import PASSWORD, page_text, token_sent_to
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import AuditEntry


def test_caisse_admin_reads_its_audit_log_with_filters(client, world, login):
    login("admin.gironde")
    client.post_form("/admin/connexion", {"username": "admin.oise", "password": "mauvais mot de passe"})
    login("admin.gironde")
    page = client.get("/admin/audit/")
    assert page.status_code == 200
    text = page_text(page)
    assert "Journal d'audit" in text and "Hélène GIRONDE a ouvert une session" in text
    assert "Hélène OISE" not in text and "admin.oise" not in text  # OISE's failed login is OISE's
    groups = json.loads(
        re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', page.get_data(as_text=True)).group(1)
    )
    assert {"Événement", "Identifiant", "Date"} <= set(groups)
    assert ["logins", "Connexions et mots de passe"] in groups["Événement"][0]["options"]
    # « Événement est Structures et conventions »: the filter's argument is its position in the list
    view = next(v for v in client.application.extensions["ep_admin"]._views if v.endpoint == "audit")
    index = next(i for i, f in enumerate(view._filters) if f.name == "Événement")
    filtered = page_text(client.get("/admin/audit/", query_string={f"flt0_{index}": "logins"}))
    assert "Hélène GIRONDE a ouvert une session" in filtered
    structures = page_text(client.get("/admin/audit/", query_string={f"flt0_{index}": "structures"}))
    assert "a ouvert une session" not in structures
    searched = page_text(client.get("/admin/audit/", query_string={"search": "admin.gironde"}))
    assert "Hélène GIRONDE a ouvert une session" in searched


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
