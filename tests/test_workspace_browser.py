"""Browser tests of the officers' workspace: headless Chromium (Debian's) driven by Playwright, real server thread.

An officer signs in, opens a gap, records a pair decision with the mouse and
sees the gap close; moves another gap to review with the keyboard; works the
review queue with its keyboard shortcuts; an admin then finds those actions
in the audit page.  Screenshots of the gap, review queue and dashboard pages
go to docs/screenshots/ (the README shows them).  Data: the bundled samples,
where an officer kept one UN-US pair apart (so a gap has a near miss), on SQLite.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from sanctions import db, gaps, imports, pipeline, users
from sanctions.demo import SAMPLE_FILES
from tests.web_support import chromium_browser, needs_chromium
from sanctions.models import TargetMember

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
SPLIT_PAIR = ("un:6908394", "us-sdn:9330")
VOLODIN = "us-sdn:16714"

pytestmark = needs_chromium


def target_of(engine, key: str) -> str:
    with db.session_factory(engine)() as session:
        return session.scalars(select(TargetMember.target_id).where(TargetMember.designation_key == key)).one()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from web import create_app

    tmp = tmp_path_factory.mktemp("workspace-browser")
    url = f"sqlite:///{tmp / 'browser.db'}"
    engine = db.connect(url)
    for source, path in SAMPLE_FILES:
        imports.run_import(engine, source, str(path))
    pipeline.match(engine)
    pipeline.decide_pair(engine, *SPLIT_PAIR, "different", "setup")
    users.add_user(engine, "olga", "officer", "officer-password", "setup")
    users.add_user(engine, "ada", "admin", "admin-password", "setup")
    gap_ids = {"split": gaps.gap_id("missing", "un", "us", target_of(engine, SPLIT_PAIR[0])),
               "volodin": gaps.gap_id("missing", "us", "gb", target_of(engine, VOLODIN))}
    server = make_server("127.0.0.1", 0, create_app({"SANCTIONS_DB": url}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "gaps": gap_ids}
    server.shutdown()
    thread.join(5)
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    return context, context.new_page()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, name: str, password: str) -> None:
    page.goto(base + "/gaps")
    assert "/signin" in page.url  # anonymous: sent to the sign-in form
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/gaps")


def test_officer_decides_and_admin_finds_it_in_the_audit(browser, site):
    base, split_gap, volodin_gap = site["url"], site["gaps"]["split"], site["gaps"]["volodin"]
    context, page = new_page(browser)
    sign_in(page, base, "olga", "officer-password")
    assert page.locator("tr.gap-row").count() > 0
    assert "Priority" in page.locator("table.gap-list thead").inner_text()

    # The gap a mistaken "different" opened: the near miss shows that decision beside both records;
    # the officer clicks "Same target" and the gap closes at once.
    page.goto(f"{base}/gaps/{split_gap}")
    assert page.locator("#gap-state").inner_text() == "open"
    miss = page.locator(f"section.near-miss[data-key='{SPLIT_PAIR[1]}']")
    assert miss.count() == 1 and "decided: different" in miss.inner_text() and "Match explanation" in miss.inner_text()
    shot(page, "gap")
    with page.expect_navigation():  # the form posts and redirects: wait for the new page itself
        miss.get_by_role("button", name="Same target").click()
    assert page.locator("#gap-state").inner_text() == "closed"
    assert SPLIT_PAIR[1] in page.locator("#target-members").inner_text()
    assert "pair-decision" in page.locator("#gap-history").inner_text()
    assert "Gaps opened" in page.locator(".flash").inner_text()

    # A disposition with the keyboard only: type a note, Tab to the button, Enter.
    page.goto(f"{base}/gaps/{volodin_gap}")
    assert page.locator("#gap-disposition").inner_text() == "open"
    page.get_by_label("Note for under-review").focus()
    page.keyboard.type("checking the UK's Russia list")
    page.keyboard.press("Tab")
    with page.expect_navigation():  # wait_for_load_state alone can return before Enter's post begins
        page.keyboard.press("Enter")
    assert page.locator("#gap-disposition").inner_text() == "under-review"
    assert "checking the UK's Russia list" in page.locator("#gap-history").inner_text()

    # The review queue: keyboard shortcuts; 'n' skips, 'u' records "unsure" and moves on.
    page.goto(f"{base}/review")
    position = page.locator("#queue-position").inner_text()
    total = int(position.split(" of ")[1].split()[0])
    first_pair = page.locator("input[name=key_a]").input_value(), page.locator("input[name=key_b]").input_value()
    shot(page, "review-queue")
    page.keyboard.press("n")
    page.wait_for_url("**/review?offset=1")
    assert page.locator("#queue-position").inner_text().startswith("Pair 2 of")
    page.goto(f"{base}/review")
    with page.expect_navigation():
        page.keyboard.press("u")
    assert "unsure" in page.locator(".flash").inner_text()
    assert f"of {total - 1} undecided" in page.locator("#queue-position").inner_text()
    assert (page.locator("input[name=key_a]").input_value(),
            page.locator("input[name=key_b]").input_value()) != first_pair

    page.goto(f"{base}/dashboard")
    assert "pairs to review" in page.locator(".tiles").inner_text()
    shot(page, "dashboard")
    context.close()

    # The admin finds both of Olga's actions in the audit log.
    context, page = new_page(browser)
    page.goto(base + "/signin")
    page.get_by_label("User name").fill("ada")
    page.get_by_label("Password").fill("admin-password")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    with page.expect_navigation():
        page.get_by_role("link", name="Audit").click()
    page.select_option("select[name=actor]", "olga")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    rows = page.locator("tr.audit-row").all_inner_texts()
    assert any("pair-decision" in r and SPLIT_PAIR[1] in r and "same" in r for r in rows)
    assert any("gap-disposition" in r and volodin_gap in r and "checking the UK" in r for r in rows)
    assert all("olga" in r for r in rows)
    shot(page, "audit")
    context.close()
