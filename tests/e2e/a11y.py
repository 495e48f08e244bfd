"""axe-core (vendored: static/vendor/axe.min.js) injected into a page; serious or critical violations fail."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_violations(page, attempts: int = 3) -> list[dict]:
    """Every violation axe finds in the page as it is now (WCAG 2.x A/AA rules and best practices).

    A page whose job finishes reloads itself (static/js/progress.js); when that reload lands while axe runs,
    the run is lost with the old document, so it is run again on the reloaded page."""
    from playwright.sync_api import Error

    for attempt in range(attempts):
        try:
            if not page.evaluate("() => typeof window.axe !== 'undefined'"):
                page.add_script_tag(path=str(AXE))
            return page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")[
                "violations"]
        except Error as error:
            if "context was destroyed" not in str(error) or attempt == attempts - 1:
                raise
            page.wait_for_load_state("load")
    raise AssertionError("unreachable")


def assert_accessible(page, where: str = "") -> None:
    blocking = [v for v in axe_violations(page) if v.get("impact") in BLOCKING]
    lines = [f"{v['impact']}: {v['id']} — {v['help']} ({len(v['nodes'])} nodes, e.g. "
             f"{v['nodes'][0]['target']} {v['nodes'][0].get('failureSummary', '')[:200]!r})" for v in blocking]
    assert not blocking, f"axe on {where or page.url}:\n" + "\n".join(lines)
