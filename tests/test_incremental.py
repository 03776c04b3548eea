"""An incremental match gives exactly what a full match gives, after random edits to the real lists.

The UN list is edited at random (a renamed person, a new alias, a changed date
of birth, a delisting, a new record copying an existing one) and re-imported;
after each round the incremental match's stored pairs must equal, pair for
pair, band and score, what a full match computes from the same store, and at
the end the targets must equal those of a real full match.
"""
from __future__ import annotations

import copy
import random

import pytest
from lxml import etree
from sqlalchemy import select, update

from matchers.candidates import TokenStats, candidate_pairs, record_tokens
from matchers.cluster import cluster
from matchers.score import score_pair
from sanctions import imports, matching, pipeline
from sanctions import targets as targets_module
from sanctions.config import MatchingConfig
from sanctions.db import session_factory
from sanctions.models import Designation, MatchPair, MatchRun, MatchState, TargetMember
from tests.conftest import real_file

ROUNDS = 4
EDITS_PER_ROUND = 6


def stored_pairs(engine) -> dict[tuple[str, str], tuple[str, float]]:
    with session_factory(engine)() as session:
        return {(a, b): (band, score) for a, b, band, score in
                session.execute(select(MatchPair.key_a, MatchPair.key_b, MatchPair.band, MatchPair.score))}


def full_pairs(engine, config: MatchingConfig) -> dict[tuple[str, str], tuple[str, float]]:
    """What a full match would store, computed in memory from the same designations."""
    with session_factory(engine)() as session:
        loaded = matching._load(session)
    records = [item.record for item in loaded]
    stats = TokenStats.build(records, config)
    out = {}
    for i, j in candidate_pairs(records, stats, config).pairs:
        a, b = sorted((records[i], records[j]), key=lambda r: r.key)
        score, _ = score_pair(a, b, stats, config)
        band = config.band(score)
        if band:
            out[tuple(sorted((records[i].key, records[j].key)))] = (band, score)
    return out


def stored_best(engine) -> dict[str, list[tuple[str, float]]]:
    """Each designation's stored best candidates, as (key, weight)."""
    with session_factory(engine)() as session:
        key_of = dict(session.execute(select(Designation.id, Designation.key)).all())
        return {key_of[i]: [(key_of[j], w) for j, w in matching.parse_best(text)]
                for i, text in session.execute(select(MatchState.designation_id, MatchState.candidates))}


def full_best(engine, config: MatchingConfig) -> dict[str, list[tuple[str, float]]]:
    """The best candidates a full match would store, computed in memory."""
    with session_factory(engine)() as session:
        loaded = matching._load(session)
    records = [item.record for item in loaded]
    found = candidate_pairs(records, TokenStats.build(records, config), config)
    return {records[i].key: [(records[j].key, w) for j, w in zip(js, found.weights[i])]
            for i, js in found.best.items()}


def targets(engine) -> set[frozenset[str]]:
    with session_factory(engine)() as session:
        members: dict[str, set[str]] = {}
        for cid, key in session.execute(select(TargetMember.target_id, TargetMember.designation_key)):
            members.setdefault(cid, set()).add(key)
    return {frozenset(m) for m in members.values()}


def assert_equals_full(engine, config: MatchingConfig, done) -> None:
    """The stored pairs and every record's stored best candidates are what a full match gives."""
    incremental, full = stored_pairs(engine), full_pairs(engine, config)
    differing = {k: (incremental.get(k), full.get(k)) for k in incremental.keys() | full.keys()
                 if incremental.get(k) != full.get(k)}
    assert not differing, (done, sorted(differing.items())[:10])
    # Not only the stored pairs: the best candidates decide tomorrow's pairs.
    incremental_best, best = stored_best(engine), full_best(engine, config)
    assert incremental_best.keys() == best.keys()
    # A list stored without weights (before they were kept) is compared by its ids.
    moved = {k: (incremental_best[k], best[k]) for k in best if incremental_best[k] != best[k]
             and not (any(w is None for _, w in incremental_best[k])
                      and [j for j, _ in incremental_best[k]] == [j for j, _ in best[k]])}
    assert not moved, (done, sorted(moved.items())[:5])


def full_clusters(engine) -> set[frozenset[str]]:
    """The targets a full re-clustering of the stored links and decisions would make."""
    with session_factory(engine)() as session:
        sources = dict(session.execute(select(Designation.key, Designation.source)).all())
        same, different = targets_module._decisions(session, None)
        linked = cluster(sources, sources, targets_module._links(session, None), same=same, different=different)
    together = {k for group in linked for k in group}
    return {frozenset(g) for g in linked} | {frozenset([k]) for k in sources if k not in together}


def _text(parent, tag):
    el = parent.find(tag)
    return el.text if el is not None else None


def edit(tree: etree._ElementTree, rng: random.Random, next_id: list[int]) -> str:
    """Apply one random edit to the UN list; returns what it did."""
    individuals = tree.findall(".//INDIVIDUALS/INDIVIDUAL")
    person = rng.choice(individuals)
    dataid = _text(person, "DATAID")
    kind = rng.choice(["rename", "alias", "birth-date", "delisting", "new-record"])
    if kind == "rename":
        first = person.find("FIRST_NAME")
        first.text = (first.text or "") + rng.choice(["A", "E", "OV", "I"])
    elif kind == "alias":
        alias = etree.SubElement(person, "INDIVIDUAL_ALIAS")
        etree.SubElement(alias, "QUALITY").text = "Good"
        etree.SubElement(alias, "ALIAS_NAME").text = rng.choice(
            ["Abu Muhammad al-Iraqi", "Ivan PETROV", "Kim Jong Un", "Hasan NASRALLAH", "Sergei MENYAILO"])
    elif kind == "birth-date":
        dob = person.find("INDIVIDUAL_DATE_OF_BIRTH")
        for child in list(dob):
            dob.remove(child)
        etree.SubElement(dob, "TYPE_OF_DATE").text = "EXACT"
        etree.SubElement(dob, "DATE").text = f"{rng.randint(1940, 1990)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
    elif kind == "delisting":
        person.getparent().remove(person)
    else:
        twin = copy.deepcopy(person)
        twin.find("DATAID").text = str(next_id[0])
        next_id[0] += 1
        person.addnext(twin)
    return f"{kind} un:{dataid}"


# Tight caps make the rare paths common: keys crossing their postings cap, a chosen
# candidate falling out of a full list, a record's list recomputed from its postings.
# A near-miss floor of 0 stores every pair scored, so the stored pairs are the whole
# candidate set: a pair that should have left it, or joined it, shows.
TIGHT = MatchingConfig(token_postings_cap=40, exact_postings_cap=3, candidates_per_record=3, near=0.0)
# One rarity step for every frequency: a change then leaves every weight as it was, so records
# sharing a token with a changed one are updated from their stored lists, not recomputed.
COARSE = MatchingConfig(token_postings_cap=40, exact_postings_cap=3, candidates_per_record=3, rarity_step=1000.0,
                        near=0.0)


@pytest.mark.parametrize("seed,config,legacy_state", [
    (7, MatchingConfig(), False),
    (11, MatchingConfig(), True),
    (5, TIGHT, False),
    (3, COARSE, False),
], ids=["default", "lists-stored-without-weights", "tight-caps", "coarse-rarity"])
def test_incremental_equals_full_after_random_edits(engine, tmp_path, seed, config, legacy_state):
    un = real_file("un", "consolidated.xml")
    # Canada's list against the UN's: 5,700 designations, Arabic-script names on the UN side.
    imports.run_import(engine, "ca", str(real_file("ca", "sema-lmes.xml")))
    imports.run_import(engine, "un", str(un))
    first = pipeline.match(engine, config=config)
    assert first.mode == "full"
    assert stored_pairs(engine) == full_pairs(engine, config)
    if legacy_state:
        # Best candidates as stored before their weights were: ids only.
        with session_factory(engine).begin() as session:
            for designation_id, text in session.execute(select(MatchState.designation_id, MatchState.candidates)).all():
                ids = " ".join(item.split(":")[0] for item in (text or "").split())
                session.execute(update(MatchState).where(MatchState.designation_id == designation_id)
                                .values(candidates=ids))

    rng = random.Random(seed)
    tree = etree.parse(str(un))
    next_id = [90_000_000]
    done = []
    for round_no in range(ROUNDS):
        done += [edit(tree, rng, next_id) for _ in range(EDITS_PER_ROUND)]
        path = tmp_path / f"un-{round_no}.xml"
        tree.write(str(path), xml_declaration=True, encoding="utf-8")
        imports.run_import(engine, "un", str(path), allow_shrink=True)
        run = pipeline.match(engine, config=config)
        assert run.mode == "incremental", done
        assert_equals_full(engine, config, done)
        # Re-clustering only where the rewritten pairs reach gives a full re-clustering's targets.
        assert targets(engine) == full_clusters(engine), done

    # explain reads its word frequencies from the same index: it agrees with what is stored
    # (explain scores with the configured settings, so only where the test used those).
    if config == MatchingConfig():
        with session_factory(engine)() as session:
            for (key_a, key_b), (band, score) in rng.sample(sorted(stored_pairs(engine).items()), 25):
                explained = matching.explain(session, key_a, key_b)
                assert (explained["score"], explained["band"]) == (score, band)

    after_incremental = targets(engine)
    pipeline.match(engine, full=True, config=config)
    assert targets(engine) == after_incremental, done
    with session_factory(engine)() as session:
        runs = session.execute(select(MatchRun.mode, MatchRun.config_hash)).all()
    assert {h for _, h in runs} == {config.digest()}


def test_incremental_equals_full_when_a_token_crosses_its_postings_cap(engine, tmp_path):
    """A copy of a UN record pushes one of its name tokens over the cap, and renaming the copy
    brings it back: every record carrying the token loses, then regains, candidates.
    (A delisting would not: a delisted designation stays in the match index.)"""
    un = real_file("un", "consolidated.xml")
    imports.run_import(engine, "ca", str(real_file("ca", "sema-lmes.xml")))
    imports.run_import(engine, "un", str(un))
    with session_factory(engine)() as session:
        records = {item.key: item.record for item in matching._load(session)}
    df = TokenStats.build(records.values()).df
    tree = etree.parse(str(un))
    # A UN person whose name has a token shared by a few dozen designations: that count is the cap.
    person, token = next((p, t) for p in tree.findall(".//INDIVIDUALS/INDIVIDUAL")
                         for t in sorted(record_tokens(records[f"un:{_text(p, 'DATAID')}"]))
                         if len(t) > 3 and 12 <= df[t] <= 40)
    # One rarity step for every count (as in COARSE): the members' weights stay as they were, so
    # they are recomputed for the cap alone, and pairs between two of them join the candidates.
    config = MatchingConfig(token_postings_cap=df[token], candidates_per_record=3, near=0.0, rarity_step=1000.0)
    assert pipeline.match(engine, config=config).mode == "full"

    twin = copy.deepcopy(person)
    twin.find("DATAID").text = "90000001"
    person.addnext(twin)
    for step in ("over the cap", "back under it"):
        path = tmp_path / f"{step}.xml"
        tree.write(str(path), xml_declaration=True, encoding="utf-8")
        imports.run_import(engine, "un", str(path), allow_shrink=True)
        assert pipeline.match(engine, config=config).mode == "incremental"
        assert_equals_full(engine, config, [f"{token!r} {step}"])
        for element in twin.iter():
            if element.tag.endswith("_NAME") or element.tag == "ALIAS_NAME":
                element.text = "Qwzx Vrtly"


def test_an_amendment_that_breaks_a_records_only_link_splits_its_target(engine, tmp_path):
    """The changed record's old target is re-clustered too, though nothing links to it any more.

    With one rarity step the partner's weights do not move, so only the changed record is dirty."""
    un = real_file("un", "consolidated.xml")
    imports.run_import(engine, "ca", str(real_file("ca", "sema-lmes.xml")))
    imports.run_import(engine, "un", str(un))
    config = MatchingConfig(rarity_step=1000.0)
    pipeline.match(engine, config=config)
    members: dict[str, set[str]] = {}
    for group in targets(engine):
        if len(group) == 2 and {k.split(":")[0] for k in group} == {"ca", "un"}:
            members[next(k for k in group if k.startswith("un:"))] = set(group)
    tree = etree.parse(str(un))
    person = next(p for p in tree.findall(".//INDIVIDUALS/INDIVIDUAL") if f"un:{_text(p, 'DATAID')}" in members)
    un_key = f"un:{_text(person, 'DATAID')}"
    for element in person.iter():
        if element.tag.endswith("_NAME") or element.tag == "ALIAS_NAME":
            element.text = "Qwzx Vrtly"
    for element in person.findall("INDIVIDUAL_DOCUMENT") + person.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        person.remove(element)
    path = tmp_path / "renamed.xml"
    tree.write(str(path), xml_declaration=True, encoding="utf-8")
    imports.run_import(engine, "un", str(path))
    assert pipeline.match(engine, config=config).mode == "incremental"
    after = targets(engine)
    assert frozenset(members[un_key]) not in after and frozenset([un_key]) in after
    assert after == full_clusters(engine)


def test_a_changed_configuration_makes_the_next_match_full(engine):
    imports.run_import(engine, "un", str(real_file("un", "consolidated.xml")))
    assert pipeline.match(engine, config=MatchingConfig()).mode == "full"
    assert pipeline.match(engine, config=MatchingConfig()).mode == "incremental"
    changed = MatchingConfig(candidates_per_record=5)
    run = pipeline.match(engine, config=changed)
    assert run.mode == "full" and run.config_hash == changed.digest() != MatchingConfig().digest()
    assert run.config["candidates_per_record"] == 5
