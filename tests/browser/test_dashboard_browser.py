"""« Tableau de bord » in Chromium (issue 14): both dashboards open, their charts are drawn (Chart.js
under the strict CSP, no console error), a chart agrees with its table, a table exports, axe-core
finds no serious or critical violation, and a screenshot of each dashboard is kept."""

import csv
import io
import re
from datetime import timedelta

from playwright.sync_api import expect

from backoffice.clock import now
from tests.dashboard_helpers import answer, cancel, file, take

STOCK_CHART = """() => {
  const chart = Chart.getChart(document.getElementById('graphique-stock'));
  return {labels: chart.data.labels, data: chart.data.datasets.map(d => d.data)};
}"""
STOCK_TABLE = """() => Array.from(document.querySelectorAll('#tableau-stock tbody tr')).map(
  tr => Array.from(tr.children).map(cell => cell.innerText.trim()))"""


def _requests(gironde, tech):
    caisse, agent = gironde["caisse"], gironde["agent"]
    start = now() - timedelta(days=6)
    for i in range(6):
        r = file(tech, caisse, start + timedelta(hours=7 * i), motive_index=i)
        if i % 3 == 1:
            take(agent, r, start + timedelta(hours=7 * i + 5))
        elif i % 3 == 2:
            answer(agent, r, start + timedelta(hours=7 * i + 60))
    cancel(tech, file(tech, caisse, start + timedelta(days=1)), start + timedelta(days=1, hours=1))
    file(tech, caisse, now() - timedelta(hours=3))


def _login(page, username, password):
    page.goto("/admin/connexion")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/(?!connexion)"))


def _table_numbers(rows):
    """The table's counts per age bucket (the total column left out), as the chart's numbers."""
    return [[int(cell.replace("\u00a0", "")) for cell in row[1:-1]] for row in rows]


def test_caisse_and_national_dashboards(page, browser, live_server, world, gironde, tech, steps, password):
    _requests(gironde, tech)

    # --- the caisse admin's dashboard ----------------------------------------------------------
    _login(page, "admin.gironde", password)
    page.goto("/admin/dashboard/?periode=4semaines")
    expect(page.locator("h1")).to_have_text(re.compile("Tableau de bord"))
    expect(page.locator("#titre-agents")).to_have_text("Activité par agent")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('graphique-stock'))")
    chart = page.evaluate(STOCK_CHART)
    rows = page.evaluate(STOCK_TABLE)
    assert chart["labels"] == [row[0] for row in rows] == ["Nouveau", "Pris en charge", "Message envoyé"]
    # The chart's datasets are the table's columns (one per age bucket).
    assert [list(column) for column in zip(*chart["data"], strict=True)] == _table_numbers(rows)
    assert _table_numbers(rows) == [[1, 0, 2, 0], [0, 0, 2, 0], [0, 0, 0, 0]]
    steps.shot(page, "tableau-de-bord-caisse")
    from browser_checks import assert_accessible

    assert_accessible(page, "tableau de bord de la caisse")

    with page.expect_download() as download:
        page.click("text=Exporter « Stock actuel par statut et ancienneté » en CSV")
    exported = download.value
    assert exported.suggested_filename.startswith("tableau_de_bord_stock_")
    content = open(exported.path(), encoding="utf-8-sig").read()
    lines = list(csv.reader(io.StringIO(content), delimiter=";"))
    assert lines[0] == ["Statut", "< 24 h", "24–48 h", "2–7 jours", "> 7 jours", "Total"]
    assert [line[1:-1] for line in lines[1:]] == [[c.replace("\u00a0", "") for c in row[1:-1]] for row in rows]

    # A bad date: a French message, the figures of the last 4 weeks, no error page.
    page.goto("/admin/dashboard/?periode=dates&debut=31/02/2026&fin=01/03/2026")
    expect(page.locator("#erreur-debut")).to_have_text("Saisissez une date de début valide (JJ/MM/AAAA).")
    assert page.console_errors == []

    # --- the national admin's dashboard --------------------------------------------------------
    national = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900}, locale="fr-FR")
    try:
        other = national.new_page()
        errors = []
        other.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        _login(other, world["national"].username, password)
        other.goto("/admin/dashboard/?periode=annee")
        expect(other.locator("#titre-organismes")).to_have_text("Comparaison des organismes")
        other.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('graphique-semaines'))")
        expect(other.locator("#tableau-organismes tbody tr")).to_have_count(2)
        steps.shot(other, "tableau-de-bord-national")
        assert_accessible(other, "tableau de bord national")
        other.click("#tableau-organismes a:has-text('CPAM GIRONDE')")
        expect(other.locator("p.lead")).to_contain_text("CPAM GIRONDE — demandes déposées")
        expect(other.locator("#titre-organismes")).to_have_count(0)
        assert errors == []
    finally:
        national.close()
