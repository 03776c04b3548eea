"""Browser tests: headless Chromium (Debian's package) driven by Playwright, against a real server thread.

A person searches, filters, opens a target, the coordination page and the
sources page; each test checks what is on the screen and saves a screenshot
to docs/screenshots/ (the README shows them).  Data: the bundled samples,
plus one UN record whose name is hostile markup, on SQLite.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from sanctions import db, imports, pipeline
from sanctions.demo import SAMPLE_FILES
from tests.web_support import chromium_browser, needs_chromium
from tests.test_web import hostile_un_file

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    from web import create_app

    tmp = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{tmp / 'browser.db'}"
    engine = db.connect(url)
    for source, path in SAMPLE_FILES:
        imports.run_import(engine, source, str(hostile_un_file(tmp) if source == "un" else path))
    pipeline.match(engine)
    engine.dispose()
    server = make_server("127.0.0.1", 0, create_app({"SANCTIONS_DB": url}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_search_then_filter(page, base_url):
    page.goto(base_url + "/")
    page.get_by_role("searchbox", name="Search").fill("Саддам Хусейн")
    page.keyboard.press("Enter")
    page.wait_for_selector("tr.result")
    first = page.locator("tr.result").first
    assert first.locator("a.name").inner_text() == "Saddam Hussein AL-TIKRITI"
    assert first.locator(".badge").all_inner_texts() == ["EU", "GB", "UN", "US"]
    assert "iraq" in first.inner_text()
    assert page.locator("#result-count").inner_text().startswith("2 targets")
    shot(page, "search")

    # Filter: not designated by the UN.  The four-jurisdiction target must go, the EU-only one stays.
    page.select_option("select[name=not_designated_by]", "un")
    with page.expect_navigation():  # wait for the filtered page itself, not the one already loaded
        page.get_by_role("button", name="Apply filters").click()
    names = page.locator("tr.result a.name").all_inner_texts()
    assert "Saddam Hussein AL-TIKRITI" not in names and names == ["Qoussaï Saddam Hussein Al-Tikriti"]
    assert "not_designated_by=un" in page.url
    assert page.locator("select[name=not_designated_by]").input_value() == "un"


def test_search_by_identifier_and_open_the_target(page, base_url):
    page.goto(base_url + "/?q=7612-448")
    row = page.locator("tr.result").first
    assert "7612448" in row.locator(".why").inner_text()
    # Until the new page's load event its stylesheet may not apply yet: the badges' text would
    # read as written ("us"), not as the page shows it (upper case), as one CI run found.
    with page.expect_navigation():
        row.locator("a.name").click()
    page.wait_for_selector("h1")
    assert page.locator("section.designation").count() == 2  # the US and the Canadian records of the vessel
    assert page.locator("section.designation .badge").all_inner_texts() == ["US", "CA"]
    shot(page, "target-vessel")


def test_target_page_side_by_side(page, base_url):
    page.goto(base_url + "/?q=Saddam+Hussein")
    with page.expect_navigation():  # loaded with its stylesheet, for the screenshot too
        page.locator("tr.result a.name").first.click()
    page.wait_for_selector("section.designation")
    assert page.locator("h1").inner_text() == "Saddam Hussein AL-TIKRITI"
    cards = page.locator("section.designation")
    assert cards.count() == 4
    assert [c.get_attribute("data-key") for c in cards.all()] == ["us-sdn:7843", "eu:13", "gb:IRQ0062", "un:6908048"]
    assert page.locator("table.evidence tbody tr").count() >= 3
    body = page.locator("main").inner_text().lower()
    assert "gap" not in body and "disposition" not in body
    # Each designation card holds its birth date; a person compares them at a glance.
    assert all("1937" in c.inner_text() for c in cards.all())
    shot(page, "target")


def test_coordination_page(page, base_url):
    page.goto(base_url + "/")
    with page.expect_navigation():
        page.get_by_role("link", name="Coordination").click()
    page.wait_for_selector("#heatmap")
    assert page.locator("#regime-name").inner_text() == "russia"
    us_not_gb = page.locator('#heatmap td[data-row="us"][data-col="gb"]').inner_text().strip()
    assert int(us_not_gb) > 0
    assert "publishes no listing dates" in page.locator("#undated-note").inner_text()
    assert page.locator("table.leads tbody tr").count() >= 3
    shot(page, "coordination")
    page.select_option("select[name=regime]", "iraq")
    page.wait_for_url("**regime=iraq")
    assert page.locator("#regime-name").inner_text() == "iraq"


def test_hostile_names_are_text(page, base_url):
    page.goto(base_url + "/?q=Obrien+Sons")
    name = page.locator("tr.result a.name").first
    assert '<script>alert("x")</script>' in name.inner_text()
    with page.expect_navigation():
        name.click()
    page.wait_for_selector("section.designation")
    assert "عبد الله الهاشمي" in page.locator("section.designation").first.inner_text()
    assert page.dialogs == []  # no script ran


def test_sources_page(page, base_url):
    page.goto(base_url + "/sources")
    rows = page.locator("table.sources tbody tr")
    assert rows.count() == 6
    gb = rows.filter(has_text="gb").first.inner_text()
    assert "60" in gb and "succeeded" in gb
    shot(page, "sources")


def test_bad_request_page(page, base_url):
    response = page.goto(base_url + "/?q=Saddam&kind=boat")
    assert response.status == 400
    assert "kind='boat' is not one of" in page.locator(".error-message").inner_text()
