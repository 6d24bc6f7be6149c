"""Every back-office page of every role, in Chromium (issue 13 §7): French (lang="fr", no English
or internal code, no ISO date), accessible (axe-core: no serious or critical violation; every
action reachable by keyboard; no horizontal scroll at 375 px), a skip link « Aller au contenu »
first in the tab order that takes the keyboard to the main content.

The pages are discovered, not listed: every view registered on the Admin, the menu's links, each
list's « Créer » and its first row's icon links (edit, details, extra actions), the request
screen. A new view is covered without touching this file. One screenshot per page in
test-artifacts/screenshots/<test>/.
"""

import re
from urllib.parse import urlsplit

import pytest
from browser_checks import assert_accessible

from backoffice.demo import data, loader
from backoffice.services.audit_texts import SENTENCES, TARGET_TYPES

ROLES = ["admin", "admin.gironde", "agent.gironde"]

# Words Flask-Admin or a template would show untranslated, and internal values (« Actions » is
# French as well: not listed).
ENGLISH = re.compile(
    r"\b(Failed|items?|Records?|Save|Cancel|Delete|Filters?|Search|List|Create|Edit|With selected|"
    r"Export|Apply|Reset|Home|Details|View|Previous|Next|Submit|Loading|No matches|true|false|None|NULL)\b|__None"
)
ISO_MOMENT = re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
# The audit's action names and the models' class names that are no French word.
MODEL_NAMES = [
    name for name in TARGET_TYPES if name not in ("Agent", "Caisse", "Structure", "Convention", "Newsletter")
]
CODES = re.compile(r"\b(" + "|".join(re.escape(code) for code in [*SENTENCES, *MODEL_NAMES, "AuditEntry"]) + r")\b")
# What a user reads besides the text: titles, names for screen readers, hints, button captions.
READ_ATTRIBUTES = """() => Array.from(document.querySelectorAll(
    '[title], [aria-label], [placeholder], [alt], input[type=submit], input[type=button], button[value]'))
  .filter(el => !el.closest('.d-none'))
  .flatMap(el => ['title', 'aria-label', 'placeholder', 'alt', 'value']
    .filter(a => el.hasAttribute(a) && (a !== 'value' || el.matches('input[type=submit], input[type=button]')))
    .map(a => el.getAttribute(a)))"""
NOT_PAGES = re.compile(r"/(export|telecharger|download|deconnexion|connexion)\b|/static/|javascript:")
PAGE_LIMIT = 80


def _sign_in(page, username: str) -> None:
    page.goto("/admin/connexion")
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert_accessible(page, "connexion au back-office")
    page.fill("#username", username)
    page.fill("#password", data.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/(?!connexion)"))


def _view_urls(app) -> list[str]:
    admin = app.extensions["ep_admin"]
    return sorted({view.url.rstrip("/") + "/" for view in admin._views})


def _links(page) -> list[str]:
    """The pages one click away that the walk follows: the menu, the tabs of a list or a form, the
    home's cards, and in a list its first row's links only (one of each kind is enough)."""
    return page.evaluate(
        """() => {
      const hrefs = [];
      const add = el => { const h = el.getAttribute('href'); if (h) hrefs.push(h); };
      document.querySelectorAll('nav a[href], .nav-tabs a[href], main .card a[href]').forEach(add);
      const row = document.querySelector('table.model-list tbody tr');
      if (row) row.querySelectorAll('a[href]').forEach(add);
      return hrefs;
    }"""
    )


def _page_key(url: str) -> str:
    """A page's kind: its path (the rows' ids and a list's parameters aside)."""
    return urlsplit(url).path


def _check_french(page, where: str) -> None:
    # the visible text and the closed menus' (page sizes, « Pour la sélection », filters…)
    text = page.evaluate(
        "document.body.innerText + ' ' + Array.from(document.querySelectorAll('.dropdown-menu'))"
        ".map(m => m.textContent).join(' ')"
    )
    attributes = " | ".join(a for a in page.evaluate(READ_ATTRIBUTES) if a)
    for what, found in (
        ("English", ENGLISH.findall(text) + ENGLISH.findall(attributes)),
        ("an ISO date", ISO_MOMENT.findall(text)),
        ("an internal code", CODES.findall(text) + CODES.findall(attributes)),
    ):
        assert not found, f"{where}: {what} on the page: {sorted(set(map(str, found)))}"


def _check_skip_link(page, where: str) -> None:
    """From the top of the page, the first Tab reaches « Aller au contenu »; Enter moves the focus
    to the main content."""
    page.keyboard.press("Tab")
    first = page.evaluate(
        "(() => { const el = document.activeElement; return [el.tagName, el.getAttribute('href'), el.innerText]; })()"
    )
    assert first == ["A", "#contenu", "Aller au contenu"], f"{where}: first tab stop {first}"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu", where
    assert page.evaluate("document.activeElement.tagName") == "MAIN", where
    page.evaluate("document.activeElement.blur()")


def _check_row_names(page, where: str) -> None:
    """In a list, each row's checkbox and icon links say which row they act on (« Modifier : CPAM
    GIRONDE », « Traiter la demande N° 2633100027 »), not only what they do."""
    names = page.evaluate(
        """() => Array.from(document.querySelectorAll(
          'table.model-list tbody td.list-buttons-column a, table.model-list tbody input.action-checkbox'))
          .map(el => el.getAttribute('aria-label') || '')"""
    )
    generic = [name for name in names if not re.search(r" : \S|N° \d", name)]
    assert not generic, f"{where}: row actions that do not name their row: {sorted(set(generic))}"


def _walk(page, app, steps, check) -> dict[str, int]:
    """Visit every page reachable as above; the status of each kind of page."""
    queue = ["/admin/", *_view_urls(app)]
    seen: dict[str, int] = {}
    while queue and len(seen) < PAGE_LIMIT:
        url = queue.pop(0)
        key = _page_key(url)
        if key in seen or NOT_PAGES.search(url) or not key.startswith("/admin/"):
            continue
        response = page.goto(url)
        seen[key] = response.status
        if response.status == 403:  # a view of another role: refused, in French
            assert "Vous n'avez pas les droits nécessaires" in page.inner_text("body"), url
            assert page.evaluate("document.documentElement.lang") == "fr", url
            assert_accessible(page, f"{url} (403)")
            continue
        assert response.status == 200, f"{url}: {response.status}"
        where = f"{page.url}"
        assert page.evaluate("document.documentElement.lang") == "fr", where
        _check_skip_link(page, where)  # first: from the page as loaded
        _check_french(page, where)
        check(page, where)  # axe-core, keyboard, 375 px
        _check_row_names(page, where)
        steps.shot(page, re.sub(r"\W+", "-", key.strip("/")) or "accueil")
        queue += [link for link in _links(page) if _page_key(link) not in seen]
    return seen


def _demo_with_every_kind_of_row() -> None:
    """The demo, plus what it has none of: an e-mail in the outbox (a new agent's welcome) and a
    newsletter draft of the GIRONDE caisse."""
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.models import Agent
    from backoffice.services import caisses, news

    loader.load()
    admin = db.session.scalar(select(Agent).where(Agent.username == "admin.gironde"))
    caisses.create_agent(
        {"username": "agent3.gironde", "first_name": "Inès", "last_name": "ROUX", "email": "ines.roux@example.fr"},
        admin,
        "agent",
        admin.caisse_id,
    )
    news.create_newsletter({"subject": "Les nouvelles de décembre", "body": "Bonjour.", "caisse_id": None}, admin)
    db.session.commit()


@pytest.mark.parametrize("username", ROLES)
def test_every_back_office_page_is_french_and_accessible(page, app, live_server, steps, check, username):
    _demo_with_every_kind_of_row()
    _sign_in(page, username)
    seen = _walk(page, app, steps, check)
    shown = {key for key, status in seen.items() if status == 200}
    # what each role must at least have seen: the home, the queues, a request, their account
    assert {"/admin/", "/admin/requests/", "/admin/requests/traiter/", "/admin/profile/"} <= shown, sorted(shown)
    if username != "agent.gironde":
        expected = {
            "/admin/structures/new/",
            "/admin/structures/edit/",
            "/admin/audit/details/",
            "/admin/outbox/details/",
        }
        assert expected | {"/admin/newsletters/edit/"} <= shown, sorted(shown)
    else:
        assert "/admin/audit/" in seen and seen["/admin/audit/"] == 403
    errors = [e for e in page.console_errors if "403 (FORBIDDEN)" not in e]  # the refused views, on purpose
    assert not errors, errors


def test_a_new_filter_gets_the_focus_and_names_its_fields(page, app, live_server, steps):
    loader.load()
    _sign_in(page, "admin.gironde")
    filters = [
        ("/admin/agents/", "Actif"),  # a select2 of Oui / Non
        ("/admin/audit/", "Événement"),
        ("/admin/requests/", "Statut"),  # select2 tags: several at once
        ("/admin/requests/", "Date de dépôt"),  # a date picker, opened by the focus
    ]
    for url, name in filters:
        page.goto(url)
        page.click("a:text-is('Ajouter un filtre')")
        page.click(f".field-filters a.filter:text-is('{name}')")
        row = page.locator("#filter_form .filters tr").last
        focused = page.evaluate(
            "() => { const el = document.activeElement; const row = el.closest('#filter_form .filters tr');"
            " return row ? [el.getAttribute('aria-label'), row === document.querySelector('#filter_form .filters tr:last-child')] : null; }"
        )
        assert focused == [f"Valeur du filtre « {name} »", True], (url, focused)
        assert row.locator(".remove-filter").get_attribute("aria-label") == f"Retirer le filtre « {name} »"
        assert row.locator("select.filter-op").get_attribute("aria-label") == f"Condition du filtre « {name} »"
        assert_accessible(page, f"{url} with the filter « {name} »")
        _check_french(page, f"{url} with the filter « {name} »")
        steps.shot(page, f"filtre-{re.sub(r'[^a-z]+', '-', url + name.lower())}")
    assert not page.console_errors, page.console_errors
