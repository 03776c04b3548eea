"""The web app through Flask's test client, on SQLite and PostgreSQL, over the bundled samples.

Every page and its /api/ twin, their filters, pagination, downloads and
errors; escaping of hostile names; the index kept current by imports; the
OpenAPI document against the app's real routes.
"""
from __future__ import annotations

import csv
import io
import re
import shutil

import pytest

from sanctions import db, imports, pipeline
from sanctions.demo import SAMPLE_FILES
from tests.conftest import SAMPLES
from tests.web_support import module_database
from web import create_app

SADDAM = {"eu:13", "gb:IRQ0062", "un:6908048", "us-sdn:7843"}
HOSTILE = '<script>alert("x")</script> O\'Brien & Sons'
ARABIC = "عبد الله الهاشمي"


def hostile_un_file(tmp_path):
    """The UN sample with one name replaced by markup and an Arabic alias added."""
    text = (SAMPLES / "un" / "consolidated.xml").read_text(encoding="utf-8")
    text = text.replace("<SECOND_NAME>CAMARÁ</SECOND_NAME>",
                        "<SECOND_NAME>&lt;script&gt;alert(\"x\")&lt;/script&gt; O'Brien &amp; Sons</SECOND_NAME>", 1)
    text = text.replace("<ALIAS_NAME>Papa Camará</ALIAS_NAME>", f"<ALIAS_NAME>{ARABIC}</ALIAS_NAME>", 1)
    path = tmp_path / "un-hostile.xml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    with module_database(request.param, tmp) as url:
        engine = db.connect(url)
        for source, path in SAMPLE_FILES:
            if source != "un":
                imports.run_import(engine, source, str(path))
        imports.run_import(engine, "un", str(hostile_un_file(tmp)))
        pipeline.match(engine)
        engine.dispose()
        app = create_app({"SANCTIONS_DB": url, "TESTING": True})
        app.config["SAMPLE_TMP"] = tmp
        yield app
        app.extensions["sanctions_engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def api(client, path, expect=200, **params):
    response = client.get(path, query_string=params)
    assert response.status_code == expect, response.get_data(as_text=True)
    assert response.is_json
    return response.get_json()


def saddam_target(client) -> str:
    result = api(client, "/api/search", q="Saddam Hussein")
    return next(r["target_id"] for r in result["results"] if {d["key"] for d in r["designations"]} == SADDAM)


# --- search -------------------------------------------------------------------------

def test_search_groups_a_target_with_its_jurisdictions_and_page_agrees(client):
    result = api(client, "/api/search", q="Saddam Hussein")
    top = result["results"][0]
    assert {d["key"] for d in top["designations"]} == SADDAM
    assert [j["jurisdiction"] for j in top["jurisdictions"]] == ["eu", "gb", "un", "us"]
    assert top["regimes"] == ["iraq"] and top["kind"] == "person" and top["score"] == 100.0
    assert top["matched"]["field"] == "name" and top["matched"]["designation"] in SADDAM
    page = client.get("/", query_string={"q": "Saddam Hussein"}).get_data(as_text=True)
    assert f'href="/targets/{top["target_id"]}"' in page
    assert f"<strong>{result['total']}</strong> target" in page
    # One row per target: the same target never appears twice.
    assert page.count(f'data-target="{top["target_id"]}"') == 1


@pytest.mark.parametrize("query", ["Саддам Хусейн", "saddam HUSAYN", "Sadam Husein"])
def test_search_across_scripts_and_spellings(client, query):
    top = api(client, "/api/search", q=query)["results"][0]
    assert {d["key"] for d in top["designations"]} == SADDAM


@pytest.mark.parametrize("query", ["IMO 7612448", "7612448", "7612-448", "imo7612 448"])
def test_search_by_identifier_with_or_without_separators(client, query):
    top = api(client, "/api/search", q=query)["results"][0]
    assert "ca:russia/1.1/1" in {d["key"] for d in top["designations"]}
    assert top["matched"] == {"field": "identifier", "type": "imo", "text": top["matched"]["text"],
                              "designation": top["matched"]["designation"], "score": 100.0}
    assert top["kind"] == "vessel"


def test_filters(client):
    base = {"q": "Saddam Hussein"}
    ids = lambda **f: [r["target_id"] for r in api(client, "/api/search", **base, **f)["results"]]  # noqa: E731
    everything = ids()
    target = saddam_target(client)
    assert target in ids(designated_by="un") and target in ids(designated_by="un,us")
    assert target not in ids(not_designated_by="un")
    assert target in ids(not_designated_by="ca")
    assert target in ids(kind="person") and ids(kind="vessel") == []
    assert target in ids(regime="iraq") and target not in ids(regime="russia")
    assert ids(status="active") == everything and ids(status="removed") == []
    assert target not in ids(listed_since="2100-01-01")
    vessels = api(client, "/api/search", q="Baltiyskiy", kind="vessel")["results"]
    assert vessels and all(r["kind"] == "vessel" for r in vessels)


def test_pagination_with_total(client):
    full = api(client, "/api/search", q="Ali", limit=100)
    assert full["total"] >= 3 and len(full["results"]) == full["total"]
    pages = [api(client, "/api/search", q="Ali", limit=2, offset=o) for o in range(0, full["total"], 2)]
    assert all(p["total"] == full["total"] and p["limit"] == 2 for p in pages)
    assert [r["target_id"] for p in pages for r in p["results"]] == [r["target_id"] for r in full["results"]]
    page = client.get("/", query_string={"q": "Ali", "limit": 2}).get_data(as_text=True)
    assert "Next →" in page and "offset=2" in page


def test_downloads_csv_and_json_hold_the_results(client):
    result = api(client, "/api/search", q="Saddam Hussein")
    response = client.get("/api/search", query_string={"q": "Saddam Hussein", "format": "csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["target_id"] for r in rows] == [r["target_id"] for r in result["results"]]
    assert rows[0]["jurisdictions"] == "eu; gb; un; us" and rows[0]["regimes"] == "iraq"
    page = client.get("/", query_string={"q": "Saddam Hussein"}).get_data(as_text=True)
    assert "format=csv" in page and "format=json" in page


@pytest.mark.parametrize("params, code", [
    ({"q": "x", "kind": "boat"}, "bad_parameter"),
    ({"q": "x", "designated_by": "fr"}, "bad_parameter"),
    ({"q": "x", "not_designated_by": "us,xx"}, "bad_parameter"),
    ({"q": "x", "regime": "atlantis"}, "bad_parameter"),
    ({"q": "x", "status": "pending"}, "bad_parameter"),
    ({"q": "x", "listed_since": "yesterday"}, "bad_parameter"),
    ({"q": "x", "limit": "0"}, "bad_parameter"),
    ({"q": "x", "limit": "ten"}, "bad_parameter"),
    ({"q": "x", "offset": "-1"}, "bad_parameter"),
    ({"q": "Saddam", "offset": "500"}, "offset_out_of_range"),
    ({"q": "A" * 10_000}, "query_too_long"),
    ({"q": ""}, "missing_query"),
    ({"q": "!!! ---"}, "empty_query"),
    ({"q": "x", "format": "xml"}, "bad_parameter"),
])
def test_bad_search_parameters_are_400_with_one_error_shape(client, params, code):
    body = api(client, "/api/search", 400, **params)
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    if "format" not in params and code != "missing_query":
        page = client.get("/", query_string=params)
        assert page.status_code == 400 and "<h1>400" in page.get_data(as_text=True)


# --- target, designation -------------------------------------------------------------

def test_target_page_side_by_side_evidence_history_and_no_internal_data(client):
    target = saddam_target(client)
    detail = api(client, f"/api/targets/{target}")
    assert {d["key"] for d in detail["designations"]} == SADDAM
    assert [d["jurisdiction"] for d in detail["designations"]] == ["us", "eu", "gb", "un"]
    assert detail["common_regimes"] == ["iraq"]
    assert detail["evidence"] and all(0 < p["score"] <= 1 and p["explanation"]["name"] for p in detail["evidence"])
    assert all(d["history"][0]["change"] == "added" for d in detail["designations"])
    assert "raw" not in detail["designations"][0]
    page = client.get(f"/targets/{target}").get_data(as_text=True)
    for key in SADDAM:
        assert f'data-key="{key}"' in page
    assert "1937" in page  # birth year, from the records
    # Gaps, dispositions and decisions are internal: not on the public target page or its JSON.
    assert not re.search(r"\bgaps?\b|disposition|decision", page, re.I)
    assert not re.search(r"gap|disposition|decision", str(detail), re.I)


def test_target_links_resolve_the_publishers_relations(client):
    # In the OFAC sample, designations state "Linked To:" names; each resolves to a target or says it does not.
    result = api(client, "/api/search", q="Sovcomflot")
    for r in result["results"]:
        detail = api(client, f"/api/targets/{r['target_id']}")
        for link in detail["links"]:
            assert link["direction"] in ("to", "from") and link["name"]
            assert all(t["target_id"] != r["target_id"] for t in link["targets"])


def test_unknown_target_and_designation_are_404(client):
    assert api(client, "/api/targets/Tdoesnotexist", 404)["error"]["code"] == "not_found"
    assert client.get("/targets/Tdoesnotexist").status_code == 404
    assert api(client, "/api/designations/us-sdn:0", 404)["error"]["code"] == "not_found"
    assert client.get("/designations/us-sdn:0").status_code == 404
    assert client.get("/targets/" + "T" * 5000).status_code == 404


def test_designation_page_shows_the_record_and_raw(client):
    detail = api(client, "/api/designations/us-sdn:7843")
    assert detail["key"] == "us-sdn:7843" and detail["raw"]
    page = client.get("/designations/us-sdn:7843").get_data(as_text=True)
    assert "Raw publisher record" in page and "sanctionssearch.ofac.treas.gov/Details.aspx?id=7843" in page


def test_names_are_escaped_everywhere(client):
    result = api(client, "/api/search", q="Obrien Sons")
    hostile = next(r for r in result["results"] if "<script>" in r["name"])
    assert hostile["name"].startswith('IBRAIMA <script>alert("x")</script>')
    for path in ("/?q=Obrien+Sons", f"/targets/{hostile['target_id']}", f"/designations/{hostile['designations'][0]['key']}"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "&lt;script&gt;alert(" in page
    page = client.get(f"/targets/{hostile['target_id']}").get_data(as_text=True)
    assert f"<bdi>{ARABIC}</bdi>" in page  # right-to-left text isolated, not reordering its neighbours
    echoed = client.get("/", query_string={"q": '<img src=x onerror=alert(1)> Sons'}).get_data(as_text=True)
    assert "<img src=x" not in echoed


# --- coordination, sources -----------------------------------------------------------

def test_coordination_matrix_leads_and_undated_sources(client):
    data = api(client, "/api/coordination", regime="russia")
    assert data["jurisdictions"] == ["us", "eu", "gb", "ca", "un"]
    assert data["matrix"]["us"]["gb"] > 0 and set(data["matrix"]["us"]) == {"eu", "gb", "ca", "un"}
    # The OFAC CSV edition publishes no listing dates: said, not guessed.
    assert [s["source"] for s in data["undated_sources"]] == ["us-sdn"]
    gb_ca = next(p for p in data["pairs"] if (p["a"], p["b"]) == ("gb", "ca"))
    assert gb_ca["dated"] == gb_ca["a_first"] + gb_ca["b_first"] + gb_ca["same_day"] > 0
    us_gb = next(p for p in data["pairs"] if (p["a"], p["b"]) == ("us", "gb"))
    assert us_gb["dated"] == 0 and us_gb["median_lead_days"] is None
    page = client.get("/coordination", query_string={"regime": "russia"}).get_data(as_text=True)
    assert f'data-row="us" data-col="gb"' in page and "publishes no listing dates" in page
    assert re.search(r'data-row="us" data-col="gb"[^>]*>\s*' + str(data["matrix"]["us"]["gb"]) + r"\s*<", page)
    assert api(client, "/api/coordination", 400, regime="atlantis")["error"]["code"] == "bad_parameter"
    assert client.get("/coordination?regime=atlantis").status_code == 400


def test_sources_page_shows_counts_and_a_failed_import(app, client):
    before = api(client, "/api/sources")["sources"]
    assert {s["source"]: s["active"] for s in before}["gb"] == 60
    bad = app.config["SAMPLE_TMP"] / "broken.xml"
    bad.write_text("<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL>", encoding="utf-8")
    engine = db.connect(app.config["SANCTIONS_DB"])
    try:
        imports.run_import(engine, "un", str(bad))
    except Exception:
        pass
    engine.dispose()
    un = next(s for s in api(client, "/api/sources")["sources"] if s["source"] == "un")
    assert un["last_run"]["status"] == "failed" and un["last_run"]["error"]
    assert un["active"] == 30 and un["last_good_run"]["status"] == "succeeded"
    page = client.get("/sources").get_data(as_text=True)
    assert "status-failed" in page and "broken.xml" in page or un["last_run"]["error"][:30] in page


# --- screening -----------------------------------------------------------------------

def test_screening_uses_the_matcher(client):
    response = client.post("/api/match", json={"name": "Saddam Hussein al-Tikriti", "birth_date": "1937-04-28",
                                               "nationality": "IQ"})
    assert response.status_code == 200
    body = response.get_json()
    best = body["designations"][0]
    assert best["key"] in SADDAM and best["band"] == "link" and best["score"] >= body["thresholds"]["link"]
    assert best["explanation"]["birth_date"]["value"] == "same-day"
    assert body["targets"][0]["target_id"] == saddam_target(client)
    by_imo = client.post("/api/match", json={"name": "Baltiyskiy", "kind": "vessel",
                                             "identifiers": [{"type": "imo", "value": "IMO 7612448"}]}).get_json()
    assert by_imo["designations"][0]["explanation"]["identifiers"]["contribution"] == "decisive"


@pytest.mark.parametrize("body", [
    {"kind": "person"}, {"name": ""}, {"name": "x", "kind": "ship"}, {"name": "x", "birth_date": "1961-13-01"},
    {"name": "x", "nationality": "Russia"}, {"name": "x", "identifiers": "123"}, {"name": "x", "limit": 0},
    {"name": "x", "colour": "red"}, ["name"], {"name": "A" * 10_000},
])
def test_screening_bad_bodies_are_400(client, body):
    response = client.post("/api/match", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["message"]


def test_screening_needs_json_and_post(client):
    assert client.post("/api/match", data="name=x").status_code == 400
    response = client.get("/api/match")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


# --- the index follows imports ------------------------------------------------------

def test_an_import_updates_the_index(app, client):
    tmp = app.config["SAMPLE_TMP"]
    text = hostile_un_file(tmp).read_text(encoding="utf-8").replace(
        "<FIRST_NAME>IBRAIMA</FIRST_NAME>", "<FIRST_NAME>ZEBEDIAH</FIRST_NAME>", 1)
    amended = tmp / "un-amended.xml"
    amended.write_text(text, encoding="utf-8")
    assert api(client, "/api/search", q="Zebediah")["total"] == 0
    engine = db.connect(app.config["SANCTIONS_DB"])
    assert imports.run_import(engine, "un", str(amended)).amended == 1
    engine.dispose()
    found = api(client, "/api/search", q="Zebediah Obrien")["results"]
    assert found and found[0]["name"].startswith("ZEBEDIAH")
    assert not any(r["name"].startswith("IBRAIMA <script>") for r in api(client, "/api/search", q="Ibraima Obrien")["results"])


# --- OpenAPI -------------------------------------------------------------------------

def test_openapi_document_matches_the_routes(app, client):
    doc = api(client, "/api/openapi.json")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed
    search_params = {p["name"] for p in doc["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "designated_by", "not_designated_by", "kind", "regime", "status", "listed_since", "limit",
            "offset"} <= search_params


def test_assets_are_served_by_the_app(client):
    page = client.get("/").get_data(as_text=True)
    assert not re.search(r'(?:href|src)="(?:https?:)?//', page.split("<main")[0])
    assert client.get("/static/style.css").status_code == 200


# --- sanctions serve, demo ----------------------------------------------------------

def test_serve_command_runs_the_app_on_the_given_address(monkeypatch, tmp_path):
    from click.testing import CliRunner
    from flask import Flask
    from sanctions.cli import main

    calls = []
    monkeypatch.setattr(Flask, "run", lambda self, **kw: calls.append((self, kw)))
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    result = CliRunner().invoke(main, ["--db", url, "serve", "--host", "0.0.0.0", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "http://0.0.0.0:8123/" in result.output
    app, kwargs = calls[0]
    assert kwargs["host"] == "0.0.0.0" and kwargs["port"] == 8123 and app.config["SANCTIONS_DB"] == url
    bad = CliRunner().invoke(main, ["--db", url, "serve", "--port", "70000"])
    assert bad.exit_code == 2 and "70000" in bad.output


def test_demo_ends_with_the_serve_command(tmp_path):
    from sanctions import demo

    lines: list[str] = []
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    demo.run(url, lines.append)
    assert lines[-2] == f"\nBrowse it on the web: sanctions --db {url} serve"
    assert lines[-1] == "then open http://127.0.0.1:5000/"


def test_arabic_script_search(client):
    top = api(client, "/api/search", q="عبد الله الهاشمي")["results"][0]
    assert top["matched"]["text"] == ARABIC and top["designations"][0]["key"].startswith("un:")


def test_a_removed_designation_is_shown_as_removed(app, client):
    # The UN file without its first individual: that designation is removed, not forgotten.
    tmp = app.config["SAMPLE_TMP"]
    text = hostile_un_file(tmp).read_text(encoding="utf-8")
    start, end = text.index("<INDIVIDUAL>"), text.index("</INDIVIDUAL>") + len("</INDIVIDUAL>")
    shorter = tmp / "un-shorter.xml"
    shorter.write_text(text[:start] + text[end:], encoding="utf-8")
    engine = db.connect(app.config["SANCTIONS_DB"])
    assert imports.run_import(engine, "un", str(shorter)).removed == 1
    engine.dispose()
    removed = api(client, "/api/search", q="Obrien Sons", status="removed")["results"]
    assert removed and removed[0]["jurisdictions"] == [{"jurisdiction": "un", "status": "removed"}]
    assert removed[0]["status"] == "removed"
    assert not api(client, "/api/search", q="Obrien Sons", status="active")["results"]
    page = client.get("/", query_string={"q": "Obrien Sons"}).get_data(as_text=True)
    assert "badge-un badge-removed" in page
