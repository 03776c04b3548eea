"""Cut the bundled sample lists out of the real files in ../shared/data/lists.

    python sanctions/samples/make_samples.py [LISTS_DIR]

Records are copied byte for byte (OFAC CSV lines, Canada ``<record>`` and
UN ``<INDIVIDUAL>``/``<ENTITY>`` blocks); the OFSI workbook's rows are
written unchanged into the ConList.csv edition (same 36 columns).  Only the
choice of records is ours: targets listed in several jurisdictions
(vessels sharing an IMO number, UN-listed persons carried by the UK and the
US, Russia-related persons listed by the US, the UK and Canada) next to
targets that only one jurisdiction lists.  The selection uses plain name
equality and published cross-references, never the matcher.
"""
from __future__ import annotations

import csv
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))

import importers  # noqa: E402
from importers import xlsx  # noqa: E402

PER_GROUP = {"vessels": 8, "un": 22, "russia": 22, "single": 8}


def fold(name: str) -> str:
    return " ".join(sorted(re.sub(r"[^a-z ]", " ", name.lower()).split()))


def attrs(record, label):
    return [a.value for a in record.attributes if a.label == label]


def select(lists: Path):
    us = importers.load("us-sdn", str(lists / "us"))[1].designations
    un = importers.load("un", str(lists / "un" / "consolidated.xml"))[1].designations
    ca = importers.load("ca", str(lists / "ca" / "sema-lmes.xml"))[1].designations
    gb = importers.load("gb", str(lists / "uk" / "ConList.xlsx"))[1].designations
    chosen = {"us": set(), "un": set(), "ca": set(), "gb": set()}

    def imo_index(records):
        return {i.normalized: r for r in records for i in r.identifiers if i.type == "imo"}

    us_imo, ca_imo = imo_index(us), imo_index(ca)
    # Ships that Canada lists too come first, so that the sample holds three-way vessel targets.
    vessels = sorted((r for r in gb if r.kind == "vessel"),
                     key=lambda r: not any(i.normalized in ca_imo for i in r.identifiers))
    for ship in vessels[: PER_GROUP["vessels"]]:
        chosen["gb"].add(ship.raw["Group ID"])
        for ident in ship.identifiers:
            if ident.normalized in us_imo:
                chosen["us"].add(us_imo[ident.normalized].source_id)
            if ident.normalized in ca_imo:
                chosen["ca"].add(ca_imo[ident.normalized].key)

    # Russia-related ships that the US and Canada both list.
    shared = [r for r in ca if r.kind == "vessel" and any(i.normalized in us_imo for i in r.identifiers)]
    for ship in shared[: PER_GROUP["vessels"]]:
        chosen["ca"].add(ship.key)
        chosen["us"].update(us_imo[i.normalized].source_id for i in ship.identifiers if i.normalized in us_imo)

    us_names = {}
    for r in us:
        for n in r.names:
            us_names.setdefault((r.kind, fold(n.full)), r)
    un_by_ref = {ref: r for r in un for ref in attrs(r, "UN reference number")}
    count = 0
    for r in gb:
        refs = attrs(r, "UN reference number")
        target = un_by_ref.get(refs[0]) if refs else None
        twin = us_names.get((r.kind, fold(r.name)))
        if target and twin and count < PER_GROUP["un"]:
            chosen["gb"].add(r.raw["Group ID"])
            chosen["un"].add(target.source_id)
            chosen["us"].add(twin.source_id)
            count += 1

    ca_names = {(r.kind, fold(r.name)): r for r in ca if "russia" in r.key}
    count = 0
    for r in gb:
        if "Russia" not in r.programmes or r.kind != "person":
            continue
        twin_ca = ca_names.get((r.kind, fold(r.name)))
        twin_us = us_names.get((r.kind, fold(r.name)))
        if twin_ca and twin_us and count < PER_GROUP["russia"]:
            chosen["gb"].add(r.raw["Group ID"])
            chosen["ca"].add(twin_ca.key)
            chosen["us"].add(twin_us.source_id)
            count += 1

    # Targets only one jurisdiction lists (no name shared with another list): the demo's gaps.
    names_of = {j: {fold(n.full) for r in lst for n in r.names} for j, lst in
                (("us", us), ("un", un), ("ca", ca), ("gb", gb))}

    def singles(jurisdiction, records, pick, wanted):
        others = set().union(*(v for k, v in names_of.items() if k != jurisdiction))
        found = [pick(r) for r in records if wanted(r) and not any(fold(n.full) in others for n in r.names)]
        return found[: PER_GROUP["single"]]

    chosen["us"].update(singles("us", us, lambda r: r.source_id, lambda r: "RUSSIA-EO14024" in r.programmes))
    chosen["gb"].update(singles("gb", gb, lambda r: r.raw["Group ID"], lambda r: "Russia" in r.programmes))
    chosen["ca"].update(singles("ca", ca, lambda r: r.key, lambda r: "russia" in r.key))
    chosen["un"].update(singles("un", un, lambda r: r.source_id, lambda r: True))
    return chosen


def write_ofac(lists: Path, out: Path, ent_nums: set[str]) -> None:
    (out / "us").mkdir(parents=True, exist_ok=True)
    for name in ("sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv"):
        data = (lists / "us" / name).read_bytes().rstrip(b"\x1a")
        lines = [line for line in data.split(b"\r\n") if line and line.split(b",", 1)[0] in
                 {e.encode() for e in ent_nums}]
        (out / "us" / name).write_bytes(b"".join(line + b"\r\n" for line in lines) + b"\x1a")


def write_blocks(source: Path, target: Path, tag: str, keep) -> None:
    """Copy the file's head, the chosen ``<tag>`` blocks byte for byte, and its tail."""
    text = source.read_text(encoding="utf-8")
    blocks = list(re.finditer(rf"[ \t]*<{tag}>.*?</{tag}>\n", text, re.S))
    kept = [m[0] for m in blocks if keep(m[0])]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text[: blocks[0].start()] + "".join(kept) + text[blocks[-1].end():], encoding="utf-8")


def write_un(lists: Path, out: Path, dataids: set[str]) -> None:
    text = (lists / "un" / "consolidated.xml").read_text(encoding="utf-8")
    def keep(block: str) -> bool:
        return re.search(r"<DATAID>(\d+)</DATAID>", block)[1] in dataids
    parts = []
    pos = 0
    for tag in ("INDIVIDUAL", "ENTITY"):
        blocks = list(re.finditer(rf"[ \t]*<{tag}>.*?</{tag}>\n", text, re.S))
        parts.append(text[pos: blocks[0].start()])
        parts += [m[0] for m in blocks if keep(m[0])]
        pos = blocks[-1].end()
    parts.append(text[pos:])
    (out / "un").mkdir(parents=True, exist_ok=True)
    (out / "un" / "consolidated.xml").write_text("".join(parts), encoding="utf-8")


def write_ca(lists: Path, out: Path, keys: set[str]) -> None:
    from importers.ca_sema import regime_key, schedule_key

    def keep(block: str) -> bool:
        field = lambda name: (re.search(rf"<{name}>(.*?)</{name}>", block, re.S) or [None, None])[1]
        key = f"ca:{regime_key(field('Country'))}/{schedule_key(field('Schedule'))}/{field('Item').strip()}"
        return key in keys
    write_blocks(lists / "ca" / "sema-lmes.xml", out / "ca" / "sema-lmes.xml", "record", keep)


def write_ofsi(lists: Path, out: Path, groups: set[str]) -> None:
    path = lists / "uk" / "ConList.xlsx"
    rows = list(xlsx.read_rows(str(path), path.read_bytes()))
    group_col = rows[1].index("Group ID")
    (out / "gb").mkdir(parents=True, exist_ok=True)
    with (out / "gb" / "ConList.csv").open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(rows[0])
        writer.writerow(rows[1])
        writer.writerows(r for r in rows[2:] if r[group_col] in groups)


def main() -> None:
    lists = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data" / "lists"
    chosen = select(lists)
    write_ofac(lists, HERE, chosen["us"])
    write_un(lists, HERE, chosen["un"])
    write_ca(lists, HERE, chosen["ca"])
    write_ofsi(lists, HERE, chosen["gb"])
    (HERE / "eu").mkdir(exist_ok=True)
    shutil.copyfile(lists / "eu" / "fixture-Babystep-Technologies-active_sanction-fsf.xml", HERE / "eu" / "fsf.xml")
    print({k: len(v) for k, v in chosen.items()})


if __name__ == "__main__":
    main()
