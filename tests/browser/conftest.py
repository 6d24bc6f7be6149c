"""Real-browser harness: the app served on a free local port, Debian's Chromium driven by Playwright.

Screenshots of each step go to test-artifacts/screenshots/<test>/. axe-core (npm, pinned in
package.json) is injected into each page checked. Without Chromium the tests are skipped, except
with CI=true where they fail.
"""

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require(path: Path | str, what: str) -> None:
    if Path(path).exists():
        return
    message = f"{what} is missing ({path}); .ci/run installs it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    yield base
    server.shutdown()


@pytest.fixture(autouse=True)
def _links_point_at_the_live_server(request, app, monkeypatch):
    """E-mail links of a browser test lead to the live server; for that test only (the session's
    app is shared: a BASE_URL left behind broke the links every later test expects)."""
    if "live_server" in request.fixturenames:
        monkeypatch.setitem(app.config, "BASE_URL", request.getfixturevalue("live_server"))


@pytest.fixture(scope="session")
def browser():
    _require(CHROMIUM, "Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Steps:
    """Numbered screenshots of a journey, kept as test artefacts."""

    def __init__(self, name: str):
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def shot(self, page, label: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{label}.png"), full_page=True)


@pytest.fixture
def steps(request):
    return Steps(request.node.name)


@pytest.fixture
def context(browser, live_server):
    ctx = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900}, locale="fr-FR")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = errors
    return page


@pytest.fixture
def check():
    """check(page, where): axe-core, keyboard reachability and no horizontal scroll at 375 px."""
    from browser_checks import check_page

    return check_page
