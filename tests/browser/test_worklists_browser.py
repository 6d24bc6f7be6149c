"""Issue 13 §2 and §5 in a real browser: the agent lands on « À traiter », reads the counters in the
« Demandes » menu, ticks rows and takes them at once (Flask-Admin's action, CSRF), then finds them
in « Mes demandes »; axe-core on both lists."""

import re
from datetime import timedelta

from browser_checks import assert_accessible
from helpers import add_request
from playwright.sync_api import expect

from backoffice.clock import now
from backoffice.extensions import db
from backoffice.models import Request, RequestStatus


def test_agent_takes_three_requests_at_once(page, world, steps, password):
    g = world["gironde"]
    rows = []
    for hours in (30, 20, 10, 5):
        req = add_request(g["convention"], g["manager"])
        req.deposited_at = now() - timedelta(hours=hours)
        rows.append(req)
    db.session.commit()
    numbers = [r.number for r in rows]

    page.goto("/admin/connexion")
    page.fill("#username", "agent.gironde")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/a-traiter/$"))
    expect(page.locator("h1")).to_have_text("À traiter")
    page.click("nav >> text=Demandes")
    expect(page.locator("a.dropdown-item[href='/admin/a-traiter/']")).to_have_text("À traiter 4")
    expect(page.locator("a.dropdown-item[href='/admin/mes-demandes/']")).to_have_text("Mes demandes 0")
    page.keyboard.press("Escape")
    assert_accessible(page, "À traiter")
    steps.shot(page, "a-traiter")

    for number in numbers[:3]:
        page.check(f"input[aria-label='Sélectionner la demande N° {number}']")
    page.click("text=Pour la sélection")
    page.click("[data-model-action=take]")
    page.wait_for_load_state()
    expect(page.locator(".alert")).to_contain_text("3 demandes prises en charge")
    steps.shot(page, "prises-en-charge")
    db.session.expire_all()
    assert [db.session.get(Request, r.id).status for r in rows] == [RequestStatus.TAKEN.value] * 3 + [
        RequestStatus.NEW.value
    ]

    page.goto("/admin/mes-demandes/")
    listed = page.locator("td.col-number a").all_inner_texts()
    assert listed == numbers[:3]
    assert_accessible(page, "Mes demandes")
    steps.shot(page, "mes-demandes")
