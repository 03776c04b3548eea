"""Time OpenSanctions' nomenklatura `xref` on the records our matcher uses.

What it measures
----------------
The goal "full match at least 10x faster than nomenklatura's xref on the same
records" needs a same-machine figure for nomenklatura. This script:

1. reads every row of the `designation` table of a registry SQLite database
   (read-only) and converts each record's `content` JSON (our common schema)
   to a FollowTheMoney entity, in the dataset named after its source
   (`us-sdn` becomes `us_sdn`: FtM dataset names take no hyphen); the entities
   are written as FtM statement JSON lines into a scratch folder;
2. loads that file into nomenklatura's in-memory store with
   `load_entity_file_store`, as the `nomenklatura xref FILE` command does;
3. runs `nomenklatura.xref.xref` with the arguments that command passes by
   default (limit 5000, the default `DedupeAlgorithm`, scored, no auto-merge
   threshold, no focus dataset, discount_internal 1.0, the default DuckDB
   blocking index and its default options), against a fresh resolver in a
   scratch SQLite file.

It prints the wall and CPU time of each step separately (the xref figure
includes building the blocking index, the candidate-pair query, scoring and
writing the suggestions; CPU is the whole process, DuckDB's threads included),
the xref's own counts (blocker pairs read, pairs scored, pairs suggested at
or above its 0.01 floor) and the number of suggested pairs scoring 0.7 or more.

Note that with the default limit (5000) xref reads at most limit x 10 =
50,000 blocker pairs and stops after 5,000 suggestions, so it need not score
every candidate pair; `--limit` raises both caps for a run that does.

Conversion (our field -> FtM property, set only where the schema has it):
  kind person/organization/vessel/aircraft -> Person/Organization/Vessel/Airplane
  names: primary -> name, alias -> alias, weak -> weakAlias, fka -> previousName;
    for persons, name parts last/lastName/name6 (UK surname) -> lastName and
    given/first/firstName/name1 -> firstName
  birth_dates -> birthDate: the day when earliest == latest, the month or the
    year when the range is exactly one, else every year the range spans
  birth_places -> birthPlace (text) and birthCountry
  countries: nationality -> nationality (person) / country (other kinds),
    citizenship -> citizenship, flag -> flag (vessel) / country
  gender -> gender
  identifiers: passport -> passportNumber, national-id and driver-license ->
    idNumber, tax-id -> taxNumber, registration -> registrationNumber,
    license -> licenseNumber, imo -> imoNumber, mmsi -> mmsi, swift-bic ->
    swiftBic, lei -> leiCode, duns -> dunsCode, isin -> isinCode, bik ->
    bikCode, ticker -> ticker, aircraft-serial -> serialNumber, aircraft-tail
    -> registrationNumber (the raw `value` is used); crypto-wallet,
    aircraft-transponder, visa and other have no property and are left out,
    as are identifiers whose property the schema lacks (the counts are
    printed)
  addresses -> address (text) and country; contacts: email -> email,
    phone -> phone, website -> website (fax left out)
  vessel: imo, mmsi, call_sign -> callSign, type, flag, tonnage,
    gross_tonnage -> grossRegisteredTonnage, build_year -> buildDate
  aircraft: model, manufacturer_serial -> serialNumber, tail_number ->
    registrationNumber, build_date -> buildDate
  left out: programmes, regimes, remarks, reasons, title, position, listing
    dates, attributes, vessel owner and aircraft operator (they would be
    separate entities), linked_to (relations).
Entity ids are the record keys with characters outside [0-9A-Za-z.-] replaced
by '-' (`us-sdn:36` becomes `us-sdn-36`).

How to run
----------
It imports nothing from this project and runs in a separate virtualenv that
has nomenklatura installed (nomenklatura is not a dependency of the project):

    python -m venv ../nk-venv && ../nk-venv/bin/pip install nomenklatura
    python bench/match_bench.py --db sqlite:///$PWD/../real-lists.db   # every real list, imported
    /usr/bin/time -v ../nk-venv/bin/python bench/xref_compare.py --db ../real-lists.db

Options: `--limit N` (xref's limit, default 5000 as in the CLI),
`--workdir DIR` (scratch folder, default a new temporary one, removed at the
end unless `--keep`), `--sample N` (convert only the first N designations by
id, for a quick try). nomenklatura logs its progress to stderr at INFO level,
as its CLI does.
"""

import argparse
import json
import logging
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

SCHEMATA = {
    "person": "Person",
    "organization": "Organization",
    "vessel": "Vessel",
    "aircraft": "Airplane",
}
NAME_PROPS = {
    "primary": "name",
    "alias": "alias",
    "weak": "weakAlias",
    "fka": "previousName",
}
LAST_NAME_PARTS = {"last", "lastName", "name6"}
FIRST_NAME_PARTS = {"given", "first", "firstName", "name1"}
IDENTIFIER_PROPS = {
    "passport": "passportNumber",
    "national-id": "idNumber",
    "driver-license": "idNumber",
    "tax-id": "taxNumber",
    "registration": "registrationNumber",
    "license": "licenseNumber",
    "imo": "imoNumber",
    "mmsi": "mmsi",
    "swift-bic": "swiftBic",
    "lei": "leiCode",
    "duns": "dunsCode",
    "isin": "isinCode",
    "bik": "bikCode",
    "ticker": "ticker",
    "aircraft-serial": "serialNumber",
    "aircraft-tail": "registrationNumber",
}
CONTACT_PROPS = {"email": "email", "phone": "phone", "website": "website"}
VESSEL_PROPS = {
    "imo": "imoNumber",
    "mmsi": "mmsi",
    "call_sign": "callSign",
    "type": "type",
    "flag": "flag",
    "tonnage": "tonnage",
    "gross_tonnage": "grossRegisteredTonnage",
    "build_year": "buildDate",
}
AIRCRAFT_PROPS = {
    "model": "model",
    "manufacturer_serial": "serialNumber",
    "tail_number": "registrationNumber",
    "build_date": "buildDate",
}


def birth_date_values(earliest, latest):
    """FtM dates for one of our birth-date ranges (ISO strings)."""
    if not earliest:
        return []
    latest = latest or earliest
    if earliest == latest:
        return [earliest]
    if earliest[:7] == latest[:7] and earliest[8:] == "01":
        return [earliest[:7]]
    first, last = int(earliest[:4]), int(latest[:4])
    return [str(year) for year in range(first, last + 1)]


def entity_id(key):
    return re.sub(r"[^0-9A-Za-z.\-]+", "-", key).strip("-.")


def convert(record, datasets, dropped):
    """One designation's content JSON -> an FtM StatementEntity."""
    from followthemoney import Dataset, StatementEntity

    source = record["source"]
    if source not in datasets:
        datasets[source] = Dataset.make({"name": source.replace("-", "_")})
    schema = SCHEMATA[record["kind"]]
    entity = StatementEntity(datasets[source], {"schema": schema})
    entity.id = entity_id(record["key"])
    has = entity.schema.properties

    def add(prop, value):
        if value in (None, ""):
            return
        if prop not in has:
            dropped[(schema, prop)] += 1
            return
        entity.add(prop, value, quiet=True)

    add("name", record.get("name"))
    for name in record.get("names") or []:
        add(NAME_PROPS.get(name.get("type"), "alias"), name.get("full"))
        if schema == "Person" and name.get("type") != "weak":
            for part, value in (name.get("parts") or {}).items():
                if part in LAST_NAME_PARTS:
                    add("lastName", value)
                elif part in FIRST_NAME_PARTS:
                    add("firstName", value)
    for date in record.get("birth_dates") or []:
        for value in birth_date_values(date.get("earliest"), date.get("latest")):
            add("birthDate", value)
    for place in record.get("birth_places") or []:
        add("birthPlace", place.get("text"))
        add("birthCountry", place.get("country"))
    for country in record.get("countries") or []:
        role, code = country.get("role"), country.get("code")
        if role in ("nationality", "citizenship") and schema == "Person":
            add(role, code)
        elif role == "flag" and schema == "Vessel":
            add("flag", code)
        else:
            add("country", code)
    if schema == "Person":
        add("gender", record.get("gender"))
    def add_typed(items, props, what, value_of):
        """Items with a ``type`` (identifiers, contacts): each under its type's property."""
        for item in items or []:
            prop = props.get(item.get("type"))
            if prop is None:
                dropped[(schema, f"{what}:{item.get('type')}")] += 1
            else:
                add(prop, value_of(item))

    add_typed(record.get("identifiers"), IDENTIFIER_PROPS, "identifier",
              lambda ident: ident.get("value") or ident.get("normalized"))
    for address in record.get("addresses") or []:
        add("address", address.get("text"))
        add("country", address.get("country"))
    add_typed(record.get("contacts"), CONTACT_PROPS, "contact", lambda contact: contact.get("value"))
    if schema == "Vessel" and record.get("vessel"):
        for field, prop in VESSEL_PROPS.items():
            add(prop, record["vessel"].get(field))
    if schema == "Airplane" and record.get("aircraft"):
        for field, prop in AIRCRAFT_PROPS.items():
            add(prop, record["aircraft"].get(field))
    return entity


class XrefStats(logging.Handler):
    """Keep the xref's last 'Xref: N pairs, N scored, N suggested' counts and
    the times at which its index and pair query were ready."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.counts = None
        self.marks = {}

    def emit(self, record):
        msg = record.msg if isinstance(record.msg, str) else ""
        if msg.startswith("Xref: %d pairs"):
            self.counts = record.args[:3]
        elif msg.startswith("Index built"):
            self.marks.setdefault("index", time.perf_counter())
        elif msg.startswith("Pair query ready"):
            self.marks.setdefault("pairs", time.perf_counter())


def timed(func):
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="registry SQLite database")
    parser.add_argument("--limit", type=int, default=5000,
                        help="xref limit (the CLI's default is 5000)")
    parser.add_argument("--workdir", help="scratch folder (default: temporary)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch folder")
    parser.add_argument("--sample", type=int,
                        help="convert only the first N designations by id")
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="xref-compare-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # nomenklatura reads its database URL when first imported: a fresh resolver.
    resolver_db = workdir / "nomenklatura.db"
    resolver_db.unlink(missing_ok=True)
    shutil.rmtree(workdir / "xref-index", ignore_errors=True)
    os.environ["NOMENKLATURA_DB_URL"] = f"sqlite:///{resolver_db}"

    import orjson
    from importlib.metadata import version
    from nomenklatura.db import make_session
    from nomenklatura.matching import DedupeAlgorithm
    from nomenklatura.resolver import Resolver
    from nomenklatura.store import load_entity_file_store
    from nomenklatura.xref import xref as run_xref

    logging.basicConfig(level=logging.INFO)  # as `nomenklatura` CLI does
    stats = XrefStats()
    logging.getLogger("nomenklatura").addHandler(stats)

    print(f"nomenklatura {version('nomenklatura')}, "
          f"followthemoney {version('followthemoney')}, "
          f"algorithm {DedupeAlgorithm.NAME}, limit {args.limit}", flush=True)

    # 1. conversion: our JSON -> FtM statement JSON lines
    entities_path = workdir / "entities.json"
    datasets, dropped, kinds = {}, Counter(), Counter()

    def do_convert():
        uri = f"file:{Path(args.db).resolve()}?mode=ro"
        con = sqlite3.connect(uri, uri=True)
        sql = "SELECT content FROM designation ORDER BY id"
        if args.sample:
            sql += f" LIMIT {int(args.sample)}"
        with open(entities_path, "wb") as fh:
            for (content,) in con.execute(sql):
                record = json.loads(content)
                entity = convert(record, datasets, dropped)
                kinds[entity.schema.name] += 1
                fh.write(orjson.dumps(entity.to_statement_dict()) + b"\n")
        con.close()

    _, wall, cpu = timed(do_convert)
    print(f"convert: {sum(kinds.values())} entities "
          f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}) "
          f"in {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    if dropped:
        print("  left out: " + ", ".join(
            f"{schema}.{what} {n}" for (schema, what), n in sorted(dropped.items())))

    with make_session() as session:
        # 2. loading, as `nomenklatura xref FILE` does
        def do_load():
            resolver = Resolver(session, create=True)
            resolver.load_into_memory()
            return resolver, load_entity_file_store(entities_path, resolver=resolver)

        (resolver, store), wall, cpu = timed(do_load)
        print(f"load: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)

        # 3. xref with the CLI's default arguments
        def do_xref():
            run_xref(
                resolver,
                session,
                store,
                workdir / "xref-index",
                auto_threshold=None,
                algorithm=DedupeAlgorithm,
                scored=True,
                limit=args.limit,
                focus_datasets=set(),
                discount_internal=1.0,
            )

        start = time.perf_counter()
        _, wall, cpu = timed(do_xref)
        session.checkpoint()
        marks = {k: v - start for k, v in stats.marks.items()}
        scores = [score for _, _, score in resolver.get_candidates()]

    print(f"xref: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    if "index" in marks and "pairs" in marks:
        print(f"  index built at {marks['index']:.2f} s, pair query ready at "
              f"{marks['pairs']:.2f} s, scoring and suggesting the rest")
    if stats.counts:
        pairs, scored, suggested = stats.counts
        print(f"  blocker pairs read {pairs}, candidate pairs scored {scored}, "
              f"suggested (score >= 0.01) {suggested}")
    print(f"  suggestions stored {len(scores)}, with score >= 0.7: "
          f"{sum(1 for s in scores if s is not None and s >= 0.7)}")

    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
