"""Partial publications: refused unless the operator says so, and marked where gaps are read.

- an OFAC CSV set missing its companion files (aliases, addresses, remark
  continuations) is refused; with --allow-partial it is stored and marked;
- the shrink guard counts names, identifiers and addresses, not only
  designations;
- OFAC's non-SDN consolidated.xml is refused as us-sdn;
- a first import far below the source's expected minimum is refused, and a
  source whose store looks partial is marked by 'sources' and 'gaps'.
"""
from __future__ import annotations

import re
import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from sanctions import imports, queries, store
from sanctions.cli import main
from sanctions.db import session_factory
from sanctions.models import Designation, ImportRun, NameRow
from tests.conftest import SAMPLES, real_file


def cli(db_url, *args, env=None):
    return CliRunner().invoke(main, ["--db", db_url, *args], env=env)


def only_sdn_csv(tmp_path, origin):
    folder = tmp_path / "partial"
    folder.mkdir()
    shutil.copy(origin / "sdn.csv", folder / "sdn.csv")
    return folder


def last_run(engine) -> ImportRun:
    with session_factory(engine)() as session:
        return session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()


def test_partial_ofac_csv_set_is_refused(engine, db_url, tmp_path):
    folder = only_sdn_csv(tmp_path, real_file("us", "sdn.csv").parent)
    result = cli(db_url, "import", "us-sdn", str(folder))
    assert result.exit_code == 1, result.output
    assert "lacks add.csv, alt.csv, sdn_comments.csv" in result.output and "--allow-partial" in result.output
    assert last_run(engine).status == "refused"
    with session_factory(engine)() as session:
        assert session.scalars(select(Designation.id)).first() is None


def test_partial_set_accepted_on_request_is_marked(engine, db_url, tmp_path):
    folder = only_sdn_csv(tmp_path, SAMPLES / "us")
    result = cli(db_url, "import", "us-sdn", str(folder), "--allow-partial")
    assert result.exit_code == 0, result.output
    assert "accepted as partial (--allow-partial): the OFAC CSV set lacks add.csv" in result.output
    run = last_run(engine)
    assert run.partial and run.file_hashes.keys() == {"sdn.csv"}
    with session_factory(engine)() as session:
        assert "us-sdn" in queries.partial_sources(session, minimums={})


def test_shrink_guard_counts_names_and_addresses(engine, db_url, tmp_path):
    """The 'amended 14878' case: sdn.csv alone after a whole set keeps designations, drops every alias."""
    imports.run_import(engine, "us-sdn", str(SAMPLES / "us"))
    with session_factory(engine)() as session:
        names_before = len(session.scalars(select(NameRow.id)).all())
    folder = only_sdn_csv(tmp_path, SAMPLES / "us")
    result = cli(db_url, "import", "us-sdn", str(folder), "--allow-partial")
    assert result.exit_code == 1, result.output
    assert re.search(rf"has (\d+) names where the 68 active us-sdn designations have {names_before} ", result.output)
    assert "--allow-shrink" in result.output and last_run(engine).status == "refused"
    with session_factory(engine)() as session:
        assert len(session.scalars(select(NameRow.id)).all()) == names_before


def test_shrink_guard_on_identifiers_alone(engine):
    imports.run_import(engine, "un", str(SAMPLES / "un" / "consolidated.xml"))
    parsed_path = SAMPLES / "un" / "consolidated.xml"
    import importers

    _, parsed = importers.load("un", str(parsed_path))
    for record in parsed.designations:
        record.identifiers = []
    items = [store.prepare(r) for r in parsed.designations]
    with session_factory(engine)() as session:
        diff = store.compute_diff(session, "un", items)
        assert not diff.removed
        with pytest.raises(store.ShrinkRefused, match=r"0 identifiers where the 30 active un designations have"):
            store.check_shrink(session, "un", diff, items)


def test_non_sdn_consolidated_xml_is_refused_as_us_sdn(engine, db_url):
    path = real_file("us", "consolidated.xml")
    result = cli(db_url, "import", "us-sdn", str(path), "--allow-partial")
    assert result.exit_code == 1, result.output
    assert "OFAC's non-SDN consolidated list" in result.output and "belongs to source 'us-cons'" in result.output
    accepted = cli(db_url, "import", "us-cons", str(path))
    assert accepted.exit_code == 0 and "added 443" in accepted.output, accepted.output


def test_first_import_far_below_the_expected_minimum(engine, db_url, tmp_path):
    """A 17-record EU file on an empty store: refused, then accepted on request and marked everywhere."""
    eu = real_file("eu", "fixture-Babystep-Technologies-active_sanction-fsf.xml")
    refused = cli(db_url, "import", "eu", str(eu))
    assert refused.exit_code == 1, refused.output
    assert "a first import of 17 eu designations, far below the expected minimum of 4000" in refused.output
    assert last_run(engine).status == "refused"

    assert cli(db_url, "import", "eu", str(eu), "--allow-partial").exit_code == 0
    assert cli(db_url, "import", "us-sdn", str(SAMPLES / "us"), "--allow-partial").exit_code == 0
    sources = cli(db_url, "sources")
    assert "warning: eu looks partial (17 active designations, below the expected minimum of 4000)" \
        in sources.output
    gaps = CliRunner().invoke(main, ["--db", db_url, "gaps", "--designated-by", "us", "--not-by", "eu",
                                     "--format", "csv"])
    assert gaps.exit_code == 0, gaps.output
    assert "warning: eu looks partial" in gaps.stderr and "looks partial" not in gaps.stdout
    unrelated = CliRunner().invoke(main, ["--db", db_url, "gaps", "--designated-by", "un", "--not-by", "ca"])
    assert "eu looks partial" not in unrelated.stderr


def test_expected_minimum_comes_from_the_configuration(engine, db_url, tmp_path):
    config = tmp_path / "sanctions.toml"
    config.write_text("[expected_minimum]\neu = 10\n")
    eu = real_file("eu", "fixture-Babystep-Technologies-active_sanction-fsf.xml")
    result = cli(db_url, "import", "eu", str(eu), env={"SANCTIONS_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    config.write_text("[expected_minimum]\neurope = 10\n")
    bad = cli(db_url, "sources", env={"SANCTIONS_CONFIG": str(config)})
    assert bad.exit_code == 1 and "unknown source 'europe'" in bad.output
