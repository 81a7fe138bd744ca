"""`make site` in a real browser: the claims site built from the committed results, loaded by headless Debian Chromium
from the file system (Playwright drives it; nothing is served)."""
from __future__ import annotations

from pathlib import Path

import pytest

from lib import paths
from lib.workbook import site

pytestmark = pytest.mark.browser  # needs Debian's chromium: `make browser`, which `make test` runs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The site of the committed results, written outside the repository (links point back into it)."""
    target = tmp_path_factory.mktemp("site")
    return site.build_site(paths.REPO_ROOT, target), site.load_claims(paths.REPO_ROOT)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = site.open_browser(playwright)
        yield chromium
        chromium.close()


def load(browser, page_path: Path):
    """A page loaded from the file system, with every console error and uncaught exception it raised."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def test_the_index_lists_every_claim_of_the_ledger_with_its_verdict_and_no_console_error(built, browser, tmp_path):
    index, claims = built
    page, errors = load(browser, index)
    ids = page.eval_on_selector_all("#claims tbody tr", "rows => rows.map(r => r.id)")
    assert sorted(ids) == sorted(c["id"] for c in claims) and len(ids) > 10
    verdicts = page.eval_on_selector_all("#claims tbody tr", "rows => rows.map(r => r.dataset.verdict)")
    assert verdicts == [c["verdict"] for c in claims]
    page.screenshot(path=str(tmp_path / "index.png"))
    assert (tmp_path / "index.png").stat().st_size > 10_000
    assert errors == []


def test_the_filter_and_the_verdict_menu_narrow_the_table_and_a_header_click_sorts_it(built, browser):
    index, claims = built
    page, errors = load(browser, index)
    visible = lambda: page.eval_on_selector_all("#claims tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.id)")
    target = claims[len(claims) // 2]["id"]
    page.fill("#search", target)
    assert visible() == [target] or (target in visible() and len(visible()) < len(claims))
    page.fill("#search", "")
    assert len(visible()) == len(claims)
    verdict = claims[0]["verdict"]
    page.select_option("#verdict", verdict)
    assert sorted(visible()) == sorted(c["id"] for c in claims if c["verdict"] == verdict)
    page.select_option("#verdict", "")
    page.click("#claims thead th:nth-child(4)")  # value here, ascending
    values = page.eval_on_selector_all("#claims tbody tr td:nth-child(4)", "cells => cells.map(c => c.dataset.sort)")
    numbers = [float(v) for v in values if v not in ("", None)]
    assert numbers == sorted(numbers)
    assert errors == []


def test_every_notebook_page_loads_its_figures_and_links_its_executed_notebook(built, browser):
    index, _ = built
    pages = sorted(index.parent.glob("0*.html"))
    assert pages
    for page_path in pages:
        page, errors = load(browser, page_path)
        sizes = page.eval_on_selector_all("img", "images => images.map(i => [i.naturalWidth, i.naturalHeight])")
        expected = len(list((paths.REPO_ROOT / "figures" / page_path.stem).glob("*.png")))
        assert len(sizes) == expected and all(w > 0 and h > 0 for w, h in sizes), page_path.name
        links = page.eval_on_selector_all("header a", "anchors => anchors.map(a => a.href)")
        if (paths.REPO_ROOT / "results" / page_path.stem / f"{page_path.stem}.html").exists():
            assert any(link.endswith(f"{page_path.stem}/{page_path.stem}.html") for link in links)
        assert errors == [], (page_path.name, errors)


def test_each_claim_links_to_the_cell_that_computed_it(built):
    _, claims = built
    linked = [c for c in claims if c["cell"]]
    assert len(linked) >= 0.9 * len(claims)
    for claim in linked[:: max(1, len(linked) // 10)]:
        executed = (paths.REPO_ROOT / "results" / claim["notebook"] / f"{claim['notebook']}.html").read_text()
        assert f'id="cell-id={claim["cell"]}"' in executed
