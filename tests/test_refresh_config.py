"""The configuration file and ``sanctions config``: precedence option > environment > file > default."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from sanctions import config
from sanctions.cli import main

FILE = """
[database]
url = "sqlite:///from-file.db"

[archive]
dir = "/srv/sanctions/archive"

[sources.eu]
url = "https://webgate.ec.europa.eu/fsd/fsf/public/files/xmlFullSanctionsList_1_1/content?token=abc"

[sources.ca]
enabled = false

[sources.un]
timeout = 120

[smtp]
host = "mail.example.org"
to = ["officers@example.org"]
password = "hunter2-smtp"

[matching]
high = 0.9
"""


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    path = tmp_path / "sanctions.toml"
    path.write_text(FILE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for var in ("SANCTIONS_DB", "SANCTIONS_CONFIG", "SANCTIONS_ARCHIVE", "SANCTIONS_SMTP_HOST"):
        monkeypatch.delenv(var, raising=False)
    return path


def test_precedence_and_origins(config_file):
    settings = config.load(config_file, options={("database", "url"): ("sqlite:///option.db", "--db")},
                           environ={"SANCTIONS_ARCHIVE": "/env/archive", "SANCTIONS_DB": "sqlite:///env.db",
                                    "SANCTIONS_URL_US_SDN": "https://mirror.example.org/SDN_ADVANCED.XML"})
    origin = {(s, k): o for s, k, _v, o in settings.rows()}
    assert settings[("database", "url")] == "sqlite:///option.db" and origin[("database", "url")] == "option --db"
    assert settings[("archive", "dir")] == "/env/archive"
    assert origin[("archive", "dir")] == "environment $SANCTIONS_ARCHIVE"
    assert settings[("smtp", "host")] == "mail.example.org" and origin[("smtp", "host")] == f"file {config_file}"
    assert settings[("reports", "dir")] == "reports" and origin[("reports", "dir")] == "default"
    assert settings.source("us-sdn", "url") == "https://mirror.example.org/SDN_ADVANCED.XML"
    assert settings.source("us-cons", "url").endswith("/CONS_ADVANCED.XML")  # the advanced XML by default
    assert settings.source("un", "timeout") == 120.0 and settings.source("gb", "timeout") == 60.0
    # ca disabled; eu has a URL only because the file gives one
    assert settings.sources() == ["us-sdn", "us-cons", "eu", "gb", "un"]
    assert settings[("matching", "high")] == 0.9
    assert dict(((s, k), v) for s, k, v, _o in settings.rows())[("smtp", "password")] == "********"


def test_eu_has_no_default_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./sanctions.toml
    monkeypatch.delenv("SANCTIONS_CONFIG", raising=False)
    settings = config.load(environ={})
    assert settings.source("eu", "url") is None and "eu" not in settings.sources()


def test_config_command_prints_where_each_value_came_from(config_file, monkeypatch):
    monkeypatch.setenv("SANCTIONS_SMTP_HOST", "relay.example.org")
    result = CliRunner().invoke(main, ["--db", "sqlite:///cli.db", "config"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert lines["database.url"].split()[1:] == ['"sqlite:///cli.db"', "option", "--db"]
    assert lines["smtp.host"].split()[1:] == ['"relay.example.org"', "environment", "$SANCTIONS_SMTP_HOST"]
    assert lines["archive.dir"].split()[1:] == ['"/srv/sanctions/archive"', "file", str(config_file)]
    assert lines["refresh.retries"].split()[1:] == ["3", "default"]
    assert "hunter2-smtp" not in result.stdout and "********" in lines["smtp.password"]
    as_json = CliRunner().invoke(main, ["config", "--format", "json"])
    rows = {r["setting"]: r for r in __import__("json").loads(as_json.stdout)}
    assert rows["database.url"] == {"setting": "database.url", "value": "sqlite:///from-file.db",
                                    "from": f"file {config_file}"}


@pytest.mark.parametrize("text, problem", [
    ("[archive\ndir = 1", "not valid TOML"),
    ("[refresh]\nretrys = 3", "unknown setting 'retrys' in [refresh]; one of"),
    ("[sources.fr]\nurl = 'x'", "unknown source [sources.fr]"),
    ("[refresh]\nretries = 'many'", "refresh.retries = 'many' is not a valid int"),
    ("[expected_minimum]\nun = -5", "[expected_minimum] un must be a whole number >= 0, not -5"),
    ("[expected_minimum]\neurope = 10", "[expected_minimum] names unknown source 'europe'"),
])
def test_a_bad_file_is_one_clear_line(tmp_path, monkeypatch, text, problem):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.delenv("SANCTIONS_DB", raising=False)
    monkeypatch.setenv("SANCTIONS_CONFIG", str(path))
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: ") and problem in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_config_option_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.toml"
    path.write_text('[reports]\ndir = "/var/lib/sanctions/reports"\n', encoding="utf-8")
    monkeypatch.delenv("SANCTIONS_CONFIG", raising=False)
    monkeypatch.setenv("SANCTIONS_CONFIG", "unused")  # restored after the test: --config sets it for the stages
    result = CliRunner().invoke(main, ["--config", str(path), "config"])
    assert result.exit_code == 0, result.output
    assert f"# configuration file: {path}" in result.stdout and "/var/lib/sanctions/reports" in result.stdout
