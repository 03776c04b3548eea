"""Shared set-up for the refresh tests: the real files, a configuration pointing at the fake publisher."""
from __future__ import annotations

from pathlib import Path

from lxml import etree

from sanctions import config
from tests.conftest import REPO, real_file

# source -> (path on the fake publisher, the real file served there)
REAL = {
    "us-sdn": ("/ofac/SDN_ADVANCED.XML", lambda: REPO / "tests" / "data" / "sdn_advanced_excerpt.xml"),
    "us-cons": ("/ofac/CONS_ADVANCED.XML", lambda: real_file("us", "cons_advanced.xml")),
    "eu": ("/eu/fsf.xml", lambda: real_file("eu", "fixture-Babystep-Technologies-active_sanction-fsf.xml")),
    "gb": ("/fcdo/UK-Sanctions-List.xml",
           lambda: real_file("uk", "fixture-Babystep-Technologies-active_sanction-uk-sanctions-list.xml")),
    "ca": ("/gac/sema-lmes.xml", lambda: real_file("ca", "sema-lmes.xml")),
    "un": ("/un/consolidated.xml", lambda: real_file("un", "consolidated.xml")),
}


def serve(publisher, sources) -> None:
    for source in sources:
        path, file = REAL[source]
        publisher.publish(path, Path(file()).read_bytes())


def settings_for(tmp_path: Path, publisher, sources, db_url: str | None = None, extra: str = "") -> config.Settings:
    """A configuration file like an operator's, with only ``sources`` enabled, read back through config.load."""
    lines = [f'[archive]\ndir = "{tmp_path / "archive"}"', f'[reports]\ndir = "{tmp_path / "reports"}"',
             "[refresh]\ntimeout = 1.0\nretries = 2\nbackoff = 0.05\nlock_timeout = 10"]
    if db_url:
        lines.append(f'[database]\nurl = "{db_url}"')
    for source, (path, _file) in REAL.items():
        if source in sources:
            lines.append(f'[sources.{source}]\nurl = "{publisher.url(path)}"')
        else:
            lines.append(f"[sources.{source}]\nenabled = false")
    lines.append(extra)
    path = tmp_path / "sanctions.toml"
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return config.load(path, environ={})


def un_edition(data: bytes, drop: int = 0, rename: str | None = None) -> bytes:
    """A later UN publication: ``drop`` individuals delisted, the first remaining one's first name changed."""
    root = etree.fromstring(data)
    individuals = root.find("INDIVIDUALS").findall("INDIVIDUAL")
    for element in individuals[:drop]:
        element.getparent().remove(element)
    if rename:
        individuals[drop].find("FIRST_NAME").text = rename
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
