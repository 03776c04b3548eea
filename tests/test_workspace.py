"""The officers' workspace through Flask's test client, on SQLite and PostgreSQL, over the bundled samples.

Every refusal checks that nothing changed and nothing was audited: anonymous
requests, a viewer deciding, missing or wrong CSRF tokens, a disabled user,
wrong API tokens, a stale version (conflict), bad parameters.  Then what works:
decisions from the web and from a token, audited with the user as actor; the
gap list's filters against ``sanctions gaps``; priority; the dashboard and the
audit page; the target page's gap section for signed-in users only.
"""
from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from sanctions import db, gap_queries, gaps, imports, pipeline, priority, review, users
from sanctions.cli import main
from sanctions.demo import SAMPLE_FILES
from sanctions.models import ApiToken, AuditEntry, Gap, PairDecision, TargetMember, User
from tests.web_support import module_database
from web import create_app

VOLODIN = "us-sdn:16714"  # the US designates Volodin, the UK sample does not
PASSWORDS = {"vera": "viewer-password", "olga": "officer-password", "otto": "officer-password-2",
             "ada": "admin-password", "dan": "disabled-password"}
ROLES = {"vera": "viewer", "olga": "officer", "otto": "officer", "ada": "admin", "dan": "officer"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"ws-{request.param}")
    with module_database(request.param, tmp) as url:
        engine = db.connect(url)
        for source, path in SAMPLE_FILES:
            imports.run_import(engine, source, str(path))
        pipeline.match(engine)
        for name, role in ROLES.items():
            users.add_user(engine, name, role, PASSWORDS[name], "test-setup")
        users.disable(engine, "dan", "test-setup")
        app = create_app({"SANCTIONS_DB": url, "TESTING": True})
        app.config["ENGINE"] = engine
        app.config["TOKENS"] = {"olga": users.issue_token(engine, "olga", "test-setup"),
                                "vera": users.issue_token(engine, "vera", "test-setup")}
        yield app
        app.extensions["sanctions_engine"].dispose()
        engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def engine_of(app):
    return app.config["ENGINE"]


def gap_of(engine, key: str, a: str, b: str, kind: str = "missing") -> str:
    """The id of the gap (A designates, B does not) of the target holding ``key``."""
    with db.session_factory(engine)() as session:
        target = session.scalars(select(TargetMember.target_id).where(TargetMember.designation_key == key)).one()
    return gaps.gap_id(kind, a, b, target)


def volodin(app) -> str:
    return gap_of(engine_of(app), VOLODIN, "us", "gb")


def state(app) -> tuple:
    """Everything a refused request must leave alone: the audit log, decisions, gap dispositions, users."""
    with db.session_factory(engine_of(app))() as session:
        return (session.scalar(select(func.count()).select_from(AuditEntry)),
                session.scalar(select(func.max(AuditEntry.id))),
                tuple(session.execute(select(PairDecision.id, PairDecision.decision, PairDecision.current)
                                      .order_by(PairDecision.id)).all()),
                tuple(session.execute(select(Gap.id, Gap.state, Gap.disposition, Gap.version)
                                      .where(Gap.disposition != "open").order_by(Gap.id)).all()),
                session.scalar(select(func.count()).select_from(Gap).where(Gap.state == "open")),
                tuple(session.execute(select(User.name, User.role, User.disabled).order_by(User.name)).all()))


def csrf_from(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def text(response) -> str:
    """The response as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def sign_in(client, name: str, password: str | None = None):
    token = csrf_from(client.get("/signin").get_data(as_text=True))
    return client.post("/signin", data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token})


def signed_in(app, name: str):
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def page_csrf(client) -> str:
    return csrf_from(client.get("/dashboard").get_data(as_text=True))


def gap_version(app, gap_id: str) -> int:
    with db.session_factory(engine_of(app))() as session:
        return session.get(Gap, gap_id).version


def review_pair(app) -> tuple[str, str]:
    """An undecided pair of the review band."""
    with db.session_factory(engine_of(app))() as session:
        from sanctions import gap_reads
        item = gap_reads.review_queue(session)
    return item["pair"]["key_a"], item["pair"]["key_b"]


# --- refusals: nothing changed, nothing audited ----------------------------------------

def test_anonymous_requests_see_no_gap_and_decide_nothing(app, client):
    before = state(app)
    for path in ("/gaps", f"/gaps/{volodin(app)}", f"/gaps/{volodin(app)}/dossier", "/review", "/dashboard",
                 "/audit"):
        response = client.get(path)
        assert response.status_code == 302 and "/signin?next=" in response.headers["Location"], path
    for path in ("/api/gaps", f"/api/gaps/{volodin(app)}", "/api/review", "/api/dashboard", "/api/audit"):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated", path
    response = client.post(f"/api/gaps/{volodin(app)}/disposition", json={"status": "under-review", "version": 1})
    assert response.status_code == 401
    key_a, key_b = review_pair(app)
    response = client.post("/api/pairs/decision", json={"key_a": key_a, "key_b": key_b, "decision": "same",
                                                        "current": 0})
    assert response.status_code == 401
    assert client.post("/review/decide", data={"key_a": key_a, "key_b": key_b, "decision": "same",
                                               "current": 0}).status_code == 302
    # The public target page shows no gap section to anonymous visitors, nor any gap id.
    target = client.get(f"/targets/{volodin(app).split(':')[1]}").get_data(as_text=True)
    assert "VOLODIN" in target and volodin(app) not in target and "internal: signed-in users only" not in target
    assert state(app) == before


def test_a_viewer_reads_but_cannot_decide(app):
    client = signed_in(app, "vera")
    assert client.get(f"/gaps/{volodin(app)}").status_code == 200
    assert b"Move to under review" not in client.get(f"/gaps/{volodin(app)}").data
    before = state(app)
    token = page_csrf(client)
    response = client.post(f"/gaps/{volodin(app)}/disposition",
                           data={"status": "under-review", "version": gap_version(app, volodin(app)),
                                 "csrf_token": token})
    assert response.status_code == 403 and b"needs the officer role" in response.data
    key_a, key_b = review_pair(app)
    response = client.post("/review/decide", data={"key_a": key_a, "key_b": key_b, "decision": "same",
                                                   "current": 0, "csrf_token": token})
    assert response.status_code == 403
    # The viewer's own token is no better.
    response = app.test_client().post("/api/pairs/decision", json={"key_a": key_a, "key_b": key_b,
                                                                   "decision": "same", "current": 0},
                                      headers={"Authorization": f"Bearer {app.config['TOKENS']['vera']}"})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.get("/audit").status_code == 403 and signed_in(app, "olga").get("/audit").status_code == 403
    assert state(app) == before


def test_writes_without_the_right_csrf_token_are_refused(app):
    client = signed_in(app, "olga")
    before = state(app)
    data = {"status": "under-review", "version": gap_version(app, volodin(app))}
    missing = client.post(f"/gaps/{volodin(app)}/disposition", data=data)
    wrong = client.post(f"/gaps/{volodin(app)}/disposition", data={**data, "csrf_token": "forged.token"})
    other_session = page_csrf(signed_in(app, "otto"))
    stolen = client.post(f"/gaps/{volodin(app)}/disposition", data={**data, "csrf_token": other_session})
    for response in (missing, wrong, stolen):
        assert response.status_code == 400 and b"security token" in response.data
    # A JSON write with the session cookie but no token is refused the same way.
    response = client.post(f"/api/gaps/{volodin(app)}/disposition", json=data)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf"
    assert client.post("/signout").status_code == 400  # signing out is a write too
    assert state(app) == before


def test_a_disabled_user_can_neither_sign_in_nor_keep_a_session(app):
    before = state(app)
    client = app.test_client()
    response = sign_in(client, "dan")
    assert response.status_code == 401 and b"disabled" in response.data
    assert client.get("/gaps").status_code == 302
    # Otto is signed in, then disabled: his next request is anonymous, and so is his token.
    engine = engine_of(app)
    users.add_user(engine, "temp-officer", "officer", "temporary-password", "test")
    token = users.issue_token(engine, "temp-officer", "test")
    otto = app.test_client()
    assert sign_in(otto, "temp-officer", "temporary-password").status_code == 302
    csrf = page_csrf(otto)
    users.disable(engine, "temp-officer", "test")
    before = state(app)
    assert otto.get("/gaps").status_code == 302
    response = otto.post(f"/gaps/{volodin(app)}/disposition",
                         data={"status": "under-review", "version": gap_version(app, volodin(app)),
                               "csrf_token": csrf})
    assert response.status_code == 302
    response = app.test_client().get("/api/gaps", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "bad_token"
    assert state(app) == before


def test_a_wrong_api_token_is_refused(app, client):
    before = state(app)
    good = app.config["TOKENS"]["olga"]
    for token in ("sr_" + "x" * 43, good[:-1] + ("A" if good[-1] != "A" else "B"), "not-a-token", ""):
        response = client.post(f"/api/gaps/{volodin(app)}/disposition",
                               json={"status": "under-review", "version": 1},
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.get_json()["error"]["code"] in ("bad_token", "unauthenticated")
    assert client.get(f"/api/gaps/{volodin(app)}", headers={"Authorization": "Bearer sr_wrong"}).status_code == 401
    assert state(app) == before


def test_bad_parameters_get_a_clear_4xx(app):
    client = signed_in(app, "olga")
    csrf = page_csrf(client)
    before = state(app)
    for path, status, words in [
        ("/gaps?designated_by=xx", 400, b"designated_by='xx'"),
        ("/gaps?not_by=us&designated_by=us", 400, b"the jurisdiction that designates"),
        ("/gaps?since=yesterday", 400, b"not a date"),
        ("/gaps?sort=random", 400, b"sort='random'"),
        ("/gaps?limit=0", 400, b"out of range"),
        ("/gaps?offset=100000", 400, b"past the end"),
        ("/gaps/us-gb:no-such-key", 404, b"No gap has the id"),
        ("/gaps/" + "x" * 300, 404, b"that long"),
        ("/review?offset=-1", 400, b"out of range"),
        ("/audit?since=2026-13-01", 403, b""),
    ]:
        response = client.get(path)
        assert response.status_code == status and words.decode() in text(response), path
    assert signed_in(app, "ada").get("/audit?since=2026-13-01").status_code == 400
    version = gap_version(app, volodin(app))
    for data, words in [
        ({"status": "bogus", "version": version}, b"status='bogus'"),
        ({"status": "under-review"}, b"version is required"),
        ({"status": "under-review", "version": "x"}, b"not a whole number"),
        ({"status": "confirmed", "version": version}, b"it can move to under-review"),
        ({"status": "under-review", "version": version, "note": "n" * 3000}, b"at most 2000"),
    ]:
        response = client.post(f"/gaps/{volodin(app)}/disposition", data={**data, "csrf_token": csrf})
        assert response.status_code == 400 and words.decode() in text(response), data
    response = client.post("/gaps/us-gb:no-such-key/disposition",
                           data={"status": "under-review", "version": 1, "csrf_token": csrf})
    assert response.status_code == 404
    response = client.post("/review/decide", data={"key_a": "us-sdn:16714", "key_b": "gb:NOPE", "decision": "same",
                                                   "current": 0, "csrf_token": csrf})
    assert response.status_code == 404 and "no designation with key gb:nope" in text(response).lower()
    response = client.post("/review/decide", data={"key_a": "us-sdn:16714", "key_b": "gb:RUS0001",
                                                   "decision": "maybe", "current": 0, "csrf_token": csrf})
    assert response.status_code == 400 and "decision='maybe'" in text(response)
    token = {"Authorization": f"Bearer {app.config['TOKENS']['olga']}"}
    for body in ("[1, 2]", "not json", '"a string"'):
        response = app.test_client().post(f"/api/gaps/{volodin(app)}/disposition", data=body,
                                          content_type="application/json", headers=token)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_body", body
    response = app.test_client().post("/api/pairs/decision", json={"key_a": "us-sdn:16714"}, headers=token)
    assert response.status_code == 400 and "key_a and key_b are required" in response.get_json()["error"]["message"]
    assert state(app) == before


def test_repeated_failed_sign_ins_are_slowed(app):
    engine = engine_of(app)
    users.add_user(engine, "slow", "viewer", "the-right-password", "test")
    before = state(app)
    client = app.test_client()
    for _ in range(users.FREE_FAILURES):
        assert sign_in(client, "slow", "a-wrong-password").status_code == 401
    response = sign_in(client, "slow", "the-right-password")  # right, but too soon after the failures
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert b"too many failed sign-ins" in response.data
    assert client.get("/gaps").status_code == 302
    # Once the wait has passed, the right password works and the count starts again.
    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=users.MAX_DELAY + 1)
    assert users.authenticate(engine, "slow", "the-right-password", now=later).name == "slow"
    assert state(app) == before
    assert users.throttle_delay(2) == 0 and users.throttle_delay(3) == 30 and users.throttle_delay(5) == 120
    assert users.throttle_delay(40) == users.MAX_DELAY


def test_session_cookie_is_httponly_and_samesite(app):
    response = sign_in(app.test_client(), "vera")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "viewer-password" not in cookie
    with db.session_factory(engine_of(app))() as session:
        stored = session.scalars(select(User.password_hash).where(User.name == "vera")).one()
        tokens = list(session.scalars(select(ApiToken.token_hash)))
    assert stored.startswith("$argon2id$") and "viewer-password" not in stored
    assert app.config["TOKENS"]["olga"] not in tokens and len(tokens[0]) == 64


# --- decisions, conflicts, audit ---------------------------------------------------------

def test_disposition_from_the_web_is_audited_and_a_stale_version_conflicts(app):
    olga, otto = signed_in(app, "olga"), signed_in(app, "otto")
    gap_id = gap_of(engine_of(app), "us-sdn:47003", "us", "gb")
    version = gap_version(app, gap_id)
    page_olga = olga.get(f"/gaps/{gap_id}").get_data(as_text=True)
    otto.get(f"/gaps/{gap_id}")  # both officers have the page open at the same version
    response = olga.post(f"/gaps/{gap_id}/disposition", data={"status": "under-review", "version": version,
                                                              "note": "checking UK", "csrf_token": csrf_from(page_olga)})
    assert response.status_code == 303
    assert "under-review" in olga.get(f"/gaps/{gap_id}").get_data(as_text=True)
    before = state(app)
    response = otto.post(f"/gaps/{gap_id}/disposition", data={"status": "under-review", "version": version,
                                                              "csrf_token": page_csrf(otto)})
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "changed by someone else" in text and 'id="gap-disposition">under-review' in text
    api = otto.post(f"/api/gaps/{gap_id}/disposition", json={"status": "confirmed", "version": version},
                    headers={"X-CSRFToken": page_csrf(otto)})
    assert api.status_code == 409 and api.get_json()["current"]["disposition"] == "under-review"
    assert state(app) == before
    with db.session_factory(engine_of(app))() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == gap_id)
                                .order_by(AuditEntry.id.desc())).first()
    assert (entry.actor, entry.action, entry.after["disposition"], entry.note) == \
        ("olga", "gap-disposition", "under-review", "checking UK")


def test_a_token_works_on_every_request_and_sets_no_cookie(app):
    client = app.test_client()  # keeps cookies between requests, as a script's HTTP session would
    token = {"Authorization": f"Bearer {app.config['TOKENS']['vera']}"}
    for path in (f"/gaps/{volodin(app)}", "/api/gaps", f"/api/gaps/{volodin(app)}", "/dashboard"):
        response = client.get(path, headers=token)
        assert response.status_code == 200 and "Set-Cookie" not in response.headers, path
    assert client.get("/api/gaps").status_code == 401  # and nothing signed the client in


def test_pair_decision_conflict_and_token_decisions(app):
    key_a, key_b = review_pair(app)
    token = app.config["TOKENS"]["olga"]
    first = app.test_client().post("/api/pairs/decision", json={"key_a": key_a, "key_b": key_b,
                                                                "decision": "different", "current": 0},
                                   headers={"Authorization": f"Bearer {token}"})
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["decision"] == "different"
    before = state(app)
    otto = signed_in(app, "otto")
    second = otto.post("/api/pairs/decision", json={"key_a": key_a, "key_b": key_b, "decision": "same",
                                                    "current": 0}, headers={"X-CSRFToken": page_csrf(otto)})
    assert second.status_code == 409
    body = second.get_json()
    assert body["error"]["code"] == "conflict" and body["current"]["decision"] == "different"
    assert body["current"]["by"] == "olga (token)"
    form = otto.post("/review/decide", data={"key_a": key_a, "key_b": key_b, "decision": "same", "current": 0,
                                             "csrf_token": page_csrf(otto), "back": "/review"})
    assert form.status_code == 303
    assert "decided by someone else" in otto.get("/review").get_data(as_text=True)
    assert state(app) == before
    # Knowing the current decision, Otto may replace it.
    current = body["current"]["id"]
    third = otto.post("/api/pairs/decision", json={"key_a": key_a, "key_b": key_b, "decision": "unsure",
                                                   "current": current}, headers={"X-CSRFToken": page_csrf(otto)})
    assert third.status_code == 200
    with db.session_factory(engine_of(app))() as session:
        rows = session.execute(select(PairDecision.decision, PairDecision.decided_by, PairDecision.current,
                                      PairDecision.supersedes).where(PairDecision.key_a == key_a,
                                                                     PairDecision.key_b == key_b)
                               .order_by(PairDecision.id)).all()
        actors = list(session.scalars(select(AuditEntry.actor).where(AuditEntry.subject == f"{key_a} {key_b}")
                                      .order_by(AuditEntry.id)))
    assert [tuple(r) for r in rows] == [("different", "olga (token)", False, 0), ("unsure", "otto", True, current)]
    assert actors == ["olga (token)", "otto"]


def test_two_officers_deciding_at_the_same_moment_one_wins_one_conflicts(app):
    """Real threads, released together: exactly one decision is stored, the other gets Conflict."""
    engine = engine_of(app)
    gap_id = gap_of(engine, "us-sdn:47009", "us", "gb")
    version = gap_version(app, gap_id)
    key_a, key_b = review_pair(app)
    barrier = threading.Barrier(2)
    outcomes: dict[str, list[str]] = {"gap": [], "pair": []}

    def decide(who: str) -> None:
        barrier.wait()
        try:
            pipeline.set_gap_status(engine, gap_id, "under-review", who, expected_version=version)
            outcomes["gap"].append("stored")
        except review.Conflict:
            outcomes["gap"].append("conflict")
        barrier.wait()
        try:
            pipeline.decide_pair(engine, key_a, key_b, "unsure" if who == "olga" else "different", who, expected=0)
            outcomes["pair"].append("stored")
        except review.Conflict:
            outcomes["pair"].append("conflict")

    before = state(app)[0]
    threads = [threading.Thread(target=decide, args=(who,)) for who in ("olga", "otto")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes["gap"]) == ["conflict", "stored"] and sorted(outcomes["pair"]) == ["conflict", "stored"]
    assert gap_version(app, gap_id) == version + 1
    with db.session_factory(engine)() as session:
        assert len(session.scalars(select(PairDecision.id).where(PairDecision.key_a == key_a,
                                                                 PairDecision.key_b == key_b)).all()) == 1
    assert state(app)[0] == before + 2  # one audit entry per stored decision, none for the refused ones


def test_two_concurrent_replacements_of_a_decision_cannot_both_be_stored(app):
    """The database's own guard behind the version check: two rows superseding the same decision."""
    engine = engine_of(app)
    key_a, key_b = review_pair(app)
    pipeline.decide_pair(engine, key_a, key_b, "unsure", "olga", expected=0)
    with db.session_factory(engine)() as session:
        current = session.scalars(select(PairDecision.id).where(PairDecision.key_a == key_a,
                                                                PairDecision.key_b == key_b,
                                                                PairDecision.current.is_(True))).one()
    with pytest.raises(Exception):
        with db.session_factory(engine).begin() as session:
            for who in ("olga", "otto"):  # both read `current`, both write a successor
                session.add(PairDecision(key_a=key_a, key_b=key_b, decision="same", decided_by=who,
                                         decided_at=dt.datetime(2026, 1, 1), supersedes=current))
    with pytest.raises(review.Conflict):
        pipeline.decide_pair(engine, key_a, key_b, "same", "otto", expected=0)


SPLIT_PAIR = ("un:6908394", "us-sdn:9330")   # linked in the samples; kept apart, the UN record has a US gap
NEAR_MISS = "us-sdn:18008"                   # the gap's near miss in the US list (review band)


def workspace_with_samples(url: str):
    """A fresh registry over the samples where an officer kept one UN-US pair apart, and its app."""
    engine = db.connect(url)
    for source, path in SAMPLE_FILES:
        imports.run_import(engine, source, str(path))
    pipeline.match(engine)
    pipeline.decide_pair(engine, *SPLIT_PAIR, "different", "setup")
    users.add_user(engine, "olga", "officer", PASSWORDS["olga"], "setup")
    return engine, create_app({"SANCTIONS_DB": url, "TESTING": True})


def test_a_pair_decision_on_the_gap_page_closes_the_gap_at_once(db_url):
    """Same target: the US near miss joins the UN record's target, so the UN-not-US gap closes."""
    engine, app = workspace_with_samples(db_url)
    try:
        client = signed_in(app, "olga")
        SPLIT_GAP = gap_of(engine, SPLIT_PAIR[0], "un", "us")
        page = client.get(f"/gaps/{SPLIT_GAP}").get_data(as_text=True)
        assert 'id="gap-state" class="state-open">open' in page and NEAR_MISS in page and "Same target" in page
        response = client.post("/review/decide", data={"key_a": SPLIT_PAIR[0], "key_b": NEAR_MISS, "decision": "same",
                                                       "current": 0, "csrf_token": csrf_from(page),
                                                       "back": f"/gaps/{SPLIT_GAP}"})
        assert response.status_code == 303 and response.headers["Location"].endswith(f"/gaps/{SPLIT_GAP}")
        after = client.get(f"/gaps/{SPLIT_GAP}").get_data(as_text=True)
        assert 'id="gap-state" class="state-closed">closed' in after and "aligned" in after
        history = after.split('id="gap-history"')[1].split("</ol>")[0]
        assert "pair-decision" in history and "by olga" in history and '{"decision": "same"}' in html.unescape(history)
        members = after.split('id="target-members"')[1].split("</ul>")[0]
        assert NEAR_MISS in members and SPLIT_PAIR[0] in members
    finally:
        app.extensions["sanctions_engine"].dispose()
        engine.dispose()


# --- reads -------------------------------------------------------------------------------

def test_gap_list_has_the_cli_filters_sorted_and_paginated(app):
    client = signed_in(app, "vera")
    with db.session_factory(engine_of(app))() as session:
        expected = [g["gaps"][0] for g in gap_queries.find_gaps(session, gap_queries.GapQuery("us", ["gb"], regime="russia"))]
    by_age = client.get("/api/gaps", query_string={"designated_by": "us", "not_by": "gb", "regime": "russia",
                                                   "sort": "age", "limit": 500}).get_json()
    assert [g["gaps"][0] for g in by_age["results"]] == expected and by_age["total"] == len(expected)
    by_priority = client.get("/api/gaps", query_string={"designated_by": "us", "not_by": "gb", "regime": "russia",
                                                        "limit": 3, "offset": 2}).get_json()
    scores = [g["priority"] for g in by_priority["results"]]
    assert scores == sorted(scores, reverse=True) and by_priority["total"] == len(expected)
    assert all(g["priority"] == sum(r["points"] for r in g["priority_reasons"]) for g in by_priority["results"])
    assert all("evidence" in g for g in by_priority["results"])
    page = client.get("/gaps?designated_by=us&not_by=gb&regime=russia&limit=3").get_data(as_text=True)
    assert f"<strong>{len(expected)}</strong> targets" in page and 'rel="next"' in page
    assert page.count('class="gap-row"') == 3
    people = client.get("/api/gaps?designated_by=us&not_by=any&kind=vessel&limit=500").get_json()["results"]
    assert people and all(g["designations"][0]["kind"] == "vessel" for g in people)
    rows = list(csv.DictReader(io.StringIO(client.get("/api/gaps?designated_by=us&not_by=gb&format=csv")
                                           .get_data(as_text=True))))
    assert rows and {"gap", "priority", "priority_reasons"} <= set(rows[0])
    assert client.get("/api/gaps?rereview=1&not_by=any").get_json()["total"] == 0


def test_priority_signals_are_named_and_add_up():
    found = priority.signals("us", "gb", {"us", "un", "ca", "eu"}, linked=True, comparable=True, age_days=800)
    assert [s.name for s in found] == ["un", "others", "linked", "regime", "age"]
    assert sum(s.points for s in found) == 40 + 20 + 15 + 15 + 2
    assert "the UK is bound to implement it" in found[0].reason
    assert priority.signals("us", "un", {"us", "un"}, False, False, 10) == []


def test_cli_sorts_gaps_by_priority(app):
    url = app.config["SANCTIONS_DB"]
    result = CliRunner().invoke(main, ["--db", url, "gaps", "--designated-by", "us", "--not-by", "gb",
                                       "--sort", "priority", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))  # stderr carries the partial-sample warnings
    scores = [int(r["priority"]) for r in rows]
    assert rows and scores == sorted(scores, reverse=True) and rows[0]["priority_reasons"]
    table = CliRunner().invoke(main, ["--db", url, "gaps", "--designated-by", "us", "--not-by", "gb",
                                      "--sort", "priority"])
    assert re.search(r"^    priority \d+: ", table.stdout, re.M)


def test_gap_page_dossier_and_target_section_for_signed_in_users(app):
    client = signed_in(app, "vera")
    page = client.get(f"/gaps/{volodin(app)}").get_data(as_text=True)
    assert "VOLODIN" in page and "Near misses in GB" in page and "Priority" in page
    detail = client.get(f"/api/gaps/{volodin(app)}").get_json()
    assert detail["designated"][0]["import"]["sha256"] and detail["version"] >= 1
    dossier = client.get(f"/gaps/{volodin(app)}/dossier").get_data(as_text=True)
    assert "Designation proposal dossier" in dossier and detail["designated"][0]["import"]["sha256"] in dossier
    assert "@media print" in client.get("/static/workspace.css").get_data(as_text=True)
    target = client.get(f"/targets/{volodin(app).split(':')[1]}").get_data(as_text=True)
    assert volodin(app) in target and "internal: signed-in users only" in target


def test_dashboard_shows_freshness_changes_and_queues(app):
    client = signed_in(app, "vera")
    data = client.get("/api/dashboard").get_json()
    by_source = {s["source"]: s for s in data["sources"]}
    assert by_source["un"]["changes"]["added"] > 0 and by_source["us-cons"]["state"] == "never imported"
    with db.session_factory(engine_of(app))() as session:
        open_gaps = session.scalar(select(func.count()).select_from(Gap).where(Gap.state == "open",
                                                                               Gap.kind == "missing"))
    assert data["queues"]["open_gaps"] == open_gaps and data["gaps_last_7_days"]["opened"] >= open_gaps
    assert data["queues"]["pairs_to_review"] >= 0
    page = client.get("/dashboard").get_data(as_text=True)
    assert "source-state-never" in page and "pairs to review" in page


def test_audit_page_for_admins_with_filters_and_csv(app):
    client = signed_in(app, "ada")
    page = client.get("/audit?action=user-add").get_data(as_text=True)
    assert "test-setup" in page and "user-disable" not in page.split("<tbody>")[1]
    data = client.get("/api/audit?action=user-add&actor=test-setup").get_json()
    assert data["total"] >= len(ROLES) and all(e["action"] == "user-add" for e in data["entries"])
    rows = list(csv.DictReader(io.StringIO(client.get("/api/audit?format=csv&subject=olga").get_data(as_text=True))))
    assert rows and all("olga" in r["subject"] for r in rows)
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)


def test_public_pages_need_sign_in_only_when_the_setting_says_so(app):
    assert app.test_client().get("/sources").status_code == 200  # the default: public
    gated = create_app({"SANCTIONS_DB": app.config["SANCTIONS_DB"], "TESTING": True,
                        "PUBLIC_READ_REQUIRES_SIGNIN": True})
    try:
        client = gated.test_client()
        assert client.get("/sources").status_code == 302
        assert client.get("/api/search?q=Volodin").status_code == 401
        assert sign_in(client, "vera").status_code == 302
        assert client.get("/sources").status_code == 200
    finally:
        gated.extensions["sanctions_engine"].dispose()


# --- users on the command line -------------------------------------------------------

def test_user_commands(db_url):
    def run(*args, stdin=None):
        return CliRunner().invoke(main, ["--db", db_url, "user", *args], input=stdin)

    assert run("add", "kim", "--role", "officer", stdin="a-long-password\n").exit_code == 0
    refused = run("add", "kim", "--role", "viewer", stdin="another-password\n")
    assert refused.exit_code == 1 and "exists already" in refused.output
    assert "at least 10 characters" in run("add", "lee", "--role", "viewer", stdin="short\n").output
    assert run("add", "lee", "--role", "boss", stdin="a-long-password\n").exit_code == 2
    assert run("add", "lee", "--role", "viewer", "a-long-password").exit_code == 2  # never as an argument
    assert run("set-role", "kim", "admin").exit_code == 0
    token = run("token", "kim").output.strip()
    assert token.startswith("sr_") and len(token) > 40
    listing = run("list").output
    assert re.search(r"^kim\s+admin\s+active\s+yes", listing, re.M)
    assert run("disable", "kim").exit_code == 0
    assert re.search(r"^kim\s+admin\s+disabled\s+no", run("list").output, re.M)
    assert "no user named 'nobody'" in run("disable", "nobody").output
    engine = db.connect(db_url)
    with pytest.raises(users.SignInRefused):
        users.authenticate(engine, "kim", "a-long-password")
    with db.session_factory(engine)() as session:
        assert users.account_for_token(session, token) is None
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["user-add", "user-role", "user-token", "user-disable"]
    engine.dispose()


def test_migration_0007_chains_existing_pair_decisions(db_url):
    """An older store's decisions get ``supersedes`` from their order, so its history keeps one chain per pair."""
    from alembic import command
    from sqlalchemy import text as sql

    engine = db.create(db_url)
    config = db._alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    with engine.begin() as connection:
        for key_a, key_b, decision, current in [("eu:1", "us-sdn:1", "same", False), ("eu:1", "us-sdn:1", "different", True),
                                                ("eu:2", "gb:2", "unsure", True)]:
            connection.execute(sql("INSERT INTO pair_decision (key_a, key_b, decision, decided_by, decided_at, current, "
                                   "needs_review) VALUES (:a, :b, :d, 'old officer', :at, :c, :n)"),
                               {"a": key_a, "b": key_b, "d": decision, "at": dt.datetime(2026, 1, 1), "c": current,
                                "n": False})
    engine.dispose()
    upgraded = db.connect(db_url)
    with db.session_factory(upgraded)() as session:
        rows = session.execute(select(PairDecision.id, PairDecision.key_a, PairDecision.supersedes)
                               .order_by(PairDecision.id)).all()
    assert [r.supersedes for r in rows] == [0, rows[0].id, 0]
    from sqlalchemy.exc import IntegrityError
    with pytest.raises(IntegrityError):  # the database keeps one successor per decision, old ones included
        with db.session_factory(upgraded).begin() as session:
            session.add(PairDecision(key_a="eu:1", key_b="us-sdn:1", decision="same", decided_by="late officer",
                                     decided_at=dt.datetime(2026, 2, 1), supersedes=rows[0].id))
    upgraded.dispose()
