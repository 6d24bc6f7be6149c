"""« Tableau de bord » pages (issue 14): who sees what, the form, the exports and their audit."""

import csv
import io
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import AuditEntry
from tests.dashboard_helpers import answer, file, take
from tests.helpers import page_text

URL = "/admin/dashboard/"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def filed(gironde, tech):
    """Three GIRONDE requests of this week: one taken in 1 h, one answered from « Nouveau », one new."""
    start = now() - timedelta(hours=30)
    a, b = file(tech, gironde["caisse"], start), file(tech, gironde["caisse"], start)
    file(tech, gironde["caisse"], now() - timedelta(hours=2))
    take(gironde["agent"], a, start + timedelta(hours=1))
    answer(gironde["agent"], b, start + timedelta(hours=3))
    return a, b


def test_caisse_admin_sees_their_caisse_with_the_per_agent_table(client, login, filed):
    login("admin.gironde")
    response = client.get(URL)
    assert response.status_code == 200
    text = page_text(response)
    assert "Tableau de bord" in text and "CPAM GIRONDE — demandes déposées du" in text
    assert "Activité par agent" in text and "GIRONDE Paul 2 1" in text
    assert "Taux de prise en charge en 48 h 100,0 %" in text
    assert "Comparaison des organismes" not in text
    body = response.get_data(as_text=True)
    assert 'src="/static/vendor/chart.js/chart.umd.min.js?v=4.6.1"' in body
    assert '&#34;type&#34;: &#34;doughnut&#34;}" role="img"' in body
    assert "onclick" not in body and "<script>" not in body  # every script carries the nonce


def test_agent_sees_caisse_figures_without_the_per_agent_table(client, login, filed):
    login("agent.gironde")
    text = page_text(client.get(URL))
    assert "Prises en charge en 48 h au plus 2" in text
    assert "Activité par agent" not in text


def test_other_caisse_sees_nothing_of_gironde(client, login, filed, gironde):
    login("admin.oise")
    text = page_text(client.get(URL + f"?organisme={gironde['caisse'].id}"))
    assert "CPAM OISE" in text and "Demandes déposées 0" in text


def test_national_admin_compares_caisses_and_each_row_links_to_its_dashboard(client, login, filed, gironde):
    login("admin")
    response = client.get(URL + "?periode=semaine")
    text = page_text(response)
    assert "Tous les organismes" in text and "Comparaison des organismes" in text
    assert "CPAM GIRONDE 3 100,0 %" in text and "CPAM OISE 0 —" in text
    link = f'href="/admin/dashboard/?periode=semaine&amp;organisme={gironde["caisse"].id}"'
    assert link in response.get_data(as_text=True)
    one = page_text(client.get(URL + f"?periode=semaine&organisme={gironde['caisse'].id}"))
    assert "CPAM GIRONDE — demandes déposées" in one and "Comparaison des organismes" not in one
    assert "Activité par agent" not in one


@pytest.mark.parametrize(
    "query, message",
    [
        ("periode=dates&debut=31/02/2026&fin=01/03/2026", "Saisissez une date de début valide (JJ/MM/AAAA)."),
        ("periode=dates&debut=02/03/2026&fin=01/03/2026", "La date de fin doit être postérieure ou égale"),
        ("periode=dates&debut=01/01/2020&fin=01/01/2026", "La période ne peut pas dépasser trois ans."),
        ("periode=dates&debut=%00&fin=99999999999", "contient un caractère non autorisé"),
        ("periode=dates&debut=01/01/99999&fin=", "Saisissez une date de fin valide"),
        ("offre=abc", "Le filtre « Offre de service » n'est pas valable"),
        ("structure=99999999999999999999", "Le filtre « Structure » n'est pas valable"),
    ],
)
def test_bad_input_gets_a_french_message_never_a_500(client, login, world, query, message):
    login("admin.gironde")
    response = client.get(URL + "?" + query)
    assert response.status_code == 200
    assert message in page_text(response)


def test_custom_dates_are_kept_and_used(client, login, filed):
    login("agent.gironde")
    day = now().date()
    typed = f"{day:%d/%m/%Y}"
    response = client.get(URL + f"?periode=dates&debut={typed}&fin={typed}")
    text = page_text(response)
    assert f"demandes déposées du {typed} au {typed}" in text
    assert f'value="{typed}"' in response.get_data(as_text=True)


def test_every_table_exports_to_csv_and_xlsx_audited(client, login, filed, gironde):
    login("admin.gironde")
    response = client.get(URL + "export/stock.csv?periode=semaine")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == ["Statut", "< 24 h", "24–48 h", "2–7 jours", "> 7 jours", "Total"]
    assert rows[1] == ["Nouveau", "1", "0", "0", "0", "1"]
    assert rows[2] == ["Pris en charge", "0", "1", "0", "0", "1"]
    response = client.get(URL + "export/agents.xlsx?periode=semaine")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["Agent", "Prises en charge", "Réponses", "Durée médiane de traitement"]
    assert ["GIRONDE Paul", 2, 1, 0] in values
    for key in ("engagement", "indicateurs", "semaines", "echanges", "annulations", "structures"):
        for kind in ("csv", "xlsx"):
            assert client.get(URL + f"export/{key}.{kind}").status_code == 200, (key, kind)
    assert client.get(URL + "export/organismes.csv").status_code == 404  # the national admin's only
    assert client.get(URL + "export/stock.pdf").status_code == 404
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "dashboard.export")).all()
    assert len(entries) == 14
    first = entries[0]
    assert (first.actor_label, first.caisse_id, first.details["format"]) == (
        "admin.gironde",
        gironde["caisse"].id,
        "csv",
    )
    assert first.details["table"] == "Stock actuel par statut et ancienneté" and first.details["rows"] == 3


def test_anonymous_goes_to_login_and_page_stays_within_eight_statements(client, login, filed, count_queries):
    assert client.get(URL).status_code == 302
    login("admin.gironde")
    client.get(URL)
    with count_queries() as statements:
        assert client.get(URL + "?periode=annee").status_code == 200
    assert len(statements) <= 8, statements


def test_vendored_chart_js_is_the_pinned_package():
    installed = ROOT / "node_modules/chart.js/dist/chart.umd.min.js"
    vendored = ROOT / "backoffice/static/vendor/chart.js/chart.umd.min.js"
    assert vendored.read_bytes().startswith(b"/*!\n * Chart.js v4.6.1")
    if installed.exists():
        assert installed.read_bytes() == vendored.read_bytes()
    assert '"chart.js": "4.6.1"' in (ROOT / "package.json").read_text()


def test_dashboard_statements_do_not_depend_on_old_requests(gironde, tech, client, login, count_queries):
    file(tech, gironde["caisse"], now() - timedelta(days=60))
    login("agent.gironde")
    with count_queries() as statements:
        client.get(URL)
    assert len(statements) <= 8


def test_national_page_stays_within_eight_statements(client, login, world, count_queries):
    login("admin")
    client.get(URL)
    with count_queries() as statements:
        assert client.get(URL + "?periode=annee").status_code == 200
    assert len(statements) <= 8, statements
