"""Checks run on every portal page in the browser tests: axe-core, keyboard, 375 px."""

import json
import os
from pathlib import Path

import pytest

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def _require_axe() -> None:
    if AXE.exists():
        return
    message = f"axe-core is missing ({AXE}); run npm install (.ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def axe_violations(page) -> list[dict]:
    """Run axe-core in the page (evaluated through DevTools, so the page's CSP does not block it)."""
    _require_axe()
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    return [v for v in json.loads(result) if v.get("impact") in ("serious", "critical")]


def assert_accessible(page, where: str = "") -> None:
    violations = axe_violations(page)
    summary = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
    assert not violations, f"axe-core on {where or page.url}: {summary}"


def assert_no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"horizontal scroll on {page.url}: {width}px content in {viewport}px"


# Tab stops on one radio per name group (the arrow keys move inside it): the checked one, else the
# first. An element out of the tab order on purpose (tabindex="-1": select2's box, whose focusable
# stand-in is its offscreen input) is not expected. While a modal dialog is open the rest of the
# page is inert: only the dialog is expected.
_EXPECTED_JS = """() => {
  const modal = document.querySelector('dialog[open]:modal');
  const radios = new Map();
  const candidates = Array.from((modal || document).querySelectorAll(
      'a[href], button, input:not([type=hidden]), select, textarea, summary'))
    .filter(el => !el.disabled && el.offsetParent !== null && !el.closest('dialog:not([open])')
                  && el.getAttribute('tabindex') !== '-1'
                  && !el.closest('details:not([open]) > :not(summary)'));
  candidates.filter(el => el.type === 'radio' && el.name).forEach(el => {
    const key = (el.form ? 'f' + Array.from(document.forms).indexOf(el.form) : 'doc') + ':' + el.name;
    const group = radios.get(key) || [];
    group.push(el);
    radios.set(key, group);
  });
  const stops = new Set(Array.from(radios.values()).map(group => group.find(el => el.checked) || group[0]));
  return candidates
    .filter(el => el.type !== 'radio' || !el.name || stops.has(el))
    .map(el => { el.dataset.kbd = el.dataset.kbd || ('k' + (window.__kbdCount = (window.__kbdCount || 0) + 1)); return el.dataset.kbd; });
}"""


def keyboard_reaches_every_action(page, limit: int = 250) -> None:
    """Tab through the page: every visible link, button and field must receive the focus."""
    expected = set(page.evaluate(_EXPECTED_JS))
    reached = set()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(limit):
        page.keyboard.press("Tab")
        key = page.evaluate(
            "document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.kbd : null"
        )
        if key:
            if key in reached and reached >= expected:
                break
            reached.add(key)
    page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring left in screenshots
    missing = expected - reached
    if missing:
        described = page.evaluate(
            """keys => keys.map(k => { const el = document.querySelector(`[data-kbd="${k}"]`);
                 return el ? `<${el.tagName.toLowerCase()} ${el.name || el.id || ''}> ${(el.innerText || el.value || '').slice(0, 40)}` : k; })""",
            sorted(missing),
        )
        raise AssertionError(f"{len(missing)} element(s) not reachable by keyboard on {page.url}: {described}")


def check_page(page, where: str = "") -> None:
    """Every portal page: axe-core, keyboard, and no horizontal scroll at 375 px."""
    assert_accessible(page, where)
    keyboard_reaches_every_action(page)
    size = page.viewport_size
    page.set_viewport_size({"width": 375, "height": 800})
    # two frames: what resizes itself to the new width (a chart's canvas, through a ResizeObserver) has
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    try:
        assert_no_horizontal_scroll(page)
    finally:
        page.set_viewport_size(size)
