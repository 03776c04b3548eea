"""The command line on the bundled samples: import, sources, show, export, demo."""
import csv
import io
import json
import subprocess
import sys

from click.testing import CliRunner

from sanctions.cli import main
from sanctions.queries import EXPORT_COLUMNS
from tests.conftest import SAMPLES


def run(db_url, *args):
    result = CliRunner().invoke(main, ["--db", db_url, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_import_sources_show_export(engine, db_url):
    out = run(db_url, "import", "us-sdn", str(SAMPLES / "us"), "--allow-partial")  # samples are excerpts
    assert "us-sdn: succeeded" in out and "parsed 68" in out and "added 68" in out
    run(db_url, "import", "gb", str(SAMPLES / "gb" / "ConList.csv"), "--allow-partial")
    again = run(db_url, "import", "gb", str(SAMPLES / "gb" / "ConList.csv"))
    assert "unchanged" in again and "identical to the last good import" in again

    table = run(db_url, "sources")
    lines = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
    assert lines["us-sdn"][1] == "68" and lines["gb"][1] == "60" and lines["un"][1] == "0"
    summary = json.loads(run(db_url, "sources", "--format", "json"))
    assert {row["source"]: row["active"] for row in summary}["gb"] == 60

    shown = json.loads(run(db_url, "show", _first_key(db_url)))
    assert shown["source"] == "us-sdn" and shown["status"] == "active" and shown["raw"]
    assert shown["history"][0]["change"] == "added"

    jsonl = run(db_url, "export", "designations", "--source", "gb")
    items = [json.loads(line) for line in jsonl.splitlines()]
    assert len(items) == 60 and all(i["source"] == "gb" for i in items)
    rows = list(csv.DictReader(io.StringIO(run(db_url, "export", "designations", "--format", "csv"))))
    assert len(rows) == 128 and tuple(rows[0]) == EXPORT_COLUMNS


def _first_key(db_url):
    return json.loads(run(db_url, "export", "designations", "--source", "us-sdn").splitlines()[0])["key"]


def test_show_unknown_key(engine, db_url):
    result = CliRunner().invoke(main, ["--db", db_url, "show", "us-sdn:0"])
    assert result.exit_code != 0 and "no designation with key 'us-sdn:0'" in result.output


def test_demo(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(main, ["--db", url, "demo"])
    assert result.exit_code == 0, result.output
    for source in ("us-sdn", "eu", "gb", "ca", "un"):
        assert f"  {source}" in result.output
    assert "vessel" in result.output and "imo:" in result.output


def test_import_from_url(engine, db_url):
    """LOCATION may be an http(s) URL; a failed download is a clear error."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SAMPLES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        out = run(db_url, "import", "un", f"{base}/un/consolidated.xml", "--allow-partial")
        assert "un: succeeded" in out and f"{base}/un/consolidated.xml" in out and "parsed 30" in out
        missing = CliRunner().invoke(main, ["--db", db_url, "import", "un", f"{base}/un/nope.xml"])
        assert missing.exit_code != 0 and "download failed" in missing.output and "404" in missing.output
    finally:
        server.shutdown()
        server.server_close()


def test_a_command_that_parses_no_list_loads_no_importer(tmp_path):
    """Start-up cost: the importer modules and lxml load when a list is parsed, not with every command."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    code = ("import sys; from sanctions.cli import main\n"
            "try:\n    main(['--db', sys.argv[1], 'sources'])\nexcept SystemExit as exc:\n    status = exc.code\n"
            "print(status, sorted(m for m in sys.modules if m.startswith(('lxml', 'importers.un_sc', 'importers.uk_'))))")
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True)
    # The command ran to its end (status 0), and loaded none of them.
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


def test_importers_load_on_first_use(tmp_path):
    """The lazily loaded importer still answers: a UN file is recognised and its publisher named."""
    from importers import detect, publisher
    from importers.inputs import open_location

    module, variant = detect(open_location(str(SAMPLES / "un" / "consolidated.xml"), "un"))
    assert (module.__name__, variant) == ("importers.un_sc", "xml")
    assert publisher(module) == "UN Security Council consolidated list"
