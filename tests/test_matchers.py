"""Normalisation, scoring and clustering, without a database, on name variants taken from the real lists."""
from __future__ import annotations

import pytest

from matchers.candidates import TokenStats, candidate_pairs
from matchers.cluster import cluster
from matchers.features import content_features, features
from matchers.normalize import legal_forms, name_tokens
from matchers.score import score_pair
from importers.common import normalize_id
from sanctions.schema import Address, CountryLink, Designation, Identifier, Name


@pytest.mark.parametrize("a, b", [
    ("Yevgeniy Viktorovich PRIGOZHIN", "Евгений Викторович Пригожин"),
    ("Aleksandr Alexandrovich KARELIN", "Alexander Alexandrovich KARELIN"),   # gb:RUS0982 / ca
    ("Valery Andreevich PONOMAREV", "Valeriy Andreevich PONOMAREV"),          # ca / us-sdn
    ("Oleg Georgievich SHAPOVALOV", "Oleg Georgevich SHAPOVALOV"),            # ca / gb:RUS1976
    ("Marina Eduardovna ORGEYEVA", "Marina Eduardovna ORGEEVA"),              # ca / gb:RUS0472
    ("Sergey Yevgenyevich Terebov", "Sergei Yevgenevich TEREBOV"),            # ca / gb:BEL0028
    ("Mohammed Qasim", "Muhammad Kasim"),
    ("Islam Seit-Umarovich ATABIYEV", "ISLAM SEIT-UMAROVICH ATABIEV"),        # us-sdn / un
])
def test_spelling_variants_fold_together(a, b):
    assert name_tokens(a) == name_tokens(b)


def test_name_order_and_titles():
    assert sorted(name_tokens("NASRALLAH, Hasan".replace(",", ""))) == sorted(name_tokens("Haji Hasan Nasrallah"))
    assert name_tokens("Mullah Abdul Manan") == name_tokens("Abdul Manan")


@pytest.mark.parametrize("a, b", [
    ("OOO Romashka", "Romashka Limited Liability Company"),
    ("Ace Era Co Limited", "ACE ERA CO., LIMITED"),                            # ca / gb:RUS2284
    ("Additive Technologies Center JSC", "JSC ADDITIVE TECHNOLOGIES CENTER"),  # ca / us-sdn
    ("PUBLIC JOINT STOCK COMPANY MEGAFON", "PAO Megafon"),
])
def test_legal_forms_are_one_class(a, b):
    assert sorted(name_tokens(a, "organization")) == sorted(name_tokens(b, "organization"))
    assert legal_forms(a) and legal_forms(b)


def test_a_legal_form_alone_is_no_name():
    assert name_tokens("Общество с ограниченной ответственностью", "organization") == ()


def test_features_read_content_stored_by_an_older_version():
    """The full match reads features from stored JSON; a field added to the schema later (a
    name's language, a date's circa, an identifier's country) may be absent there and is
    read as its default, as the schema's dataclasses would have read it."""
    d = person("un:QDi.1", "Ahmad ZIA", "Zia AHMAD", dob="1970", nationality="AF", passport="OR801168",
               gender="male")
    content = d.content()
    for n in content["names"]:
        del n["language"]
    del content["names"][0]["type"]  # the primary name: "primary" is the default
    for b in content["birth_dates"]:
        del b["circa"]
    for i in content["identifiers"]:
        del i["country"]
    for field in ("addresses", "attributes", "gender", "jurisdiction"):
        del content[field]
    stored, current = content_features(content), features(d)
    assert (stored.names, stored.birth_dates, stored.nationalities, dict(stored.identifiers),
            stored.jurisdiction) == \
        (current.names, current.birth_dates, current.nationalities, dict(current.identifiers),
         current.jurisdiction)
    assert stored.names[0].type == "primary" and stored.names[0].weight == 1.0
    assert stored.birth_dates and stored.identifiers and stored.jurisdiction == "un"
    assert stored.gender is None and current.gender == "male"


def person(key, name, *aliases, dob=None, nationality=None, passport=None, gender=None, source=None):
    source = source or key.split(":")[0]
    d = Designation(source=source, source_id=key.split(":")[1], key=key, kind="person", name=name,
                    names=[Name(name, "primary")] + [Name(a, "alias") for a in aliases], gender=gender)
    if dob:
        from importers.common import parse_birth_dates
        d.birth_dates = parse_birth_dates(dob)
    if nationality:
        d.countries = [CountryLink(nationality, "nationality")]
    if passport:
        d.identifiers = [Identifier("passport", passport, passport)]
    return d


def score(a, b, *others):
    records = [features(d) for d in (a, b, *others)]
    stats = TokenStats.build(records)
    return score_pair(records[0], records[1], stats)


def test_same_person_across_lists():
    # ca:ukraine/part-1/81 and us-sdn:17176: the patronymic is missing in one list.
    s, why = score(person("ca:ukraine/part-1/81", "Dmitry NEKLYUDOV"),
                   person("us-sdn:17176", "Dmitry Sergeyevich NEKLYUDOV"))
    assert s >= 0.88, why


def test_same_name_different_birth_date_is_a_hard_negative():
    a = person("us-sdn:1", "Ivan Petrovich SIDOROV", dob="1965-04-29", nationality="RU")
    b = person("gb:RUS9999", "Ivan Petrovich SIDOROV", dob="1971-07-09", nationality="RU")
    s, why = score(a, b)
    assert s < 0.70 and why["birth_date"]["value"] == "conflict"


def test_compatible_precisions_and_typos_in_dates():
    exact = person("us-sdn:1", "Ivan Petrovich SIDOROV", dob="1965-04-29")
    year = person("gb:X1", "Ivan Petrovich SIDOROV", dob="1965")
    typo = person("un:2", "Ivan Petrovich SIDOROV", dob="1965-04-19")
    assert score(exact, year)[1]["birth_date"]["value"] == "compatible"
    assert score(exact, typo)[1]["birth_date"]["value"] == "near"
    assert score(exact, typo)[0] >= 0.88


def test_shared_passport_is_decisive_and_different_passports_do_not_block():
    a = person("us-sdn:18652", "Islam Seit-Umarovich ATABIYEV", dob="29 Jun 1983", passport="620169661")
    b = person("gb:AQD0206", "ISLAM SEIT-UMAROVICH ATABIEV", dob="29/09/1983", passport="620169661")
    s, why = score(a, b)
    assert s >= 0.99 and why["identifiers"]["contribution"] == "decisive"


def test_gender_conflict_and_kind_never_match():
    a = person("us-sdn:1", "Alex SMIRNOV", gender="male")
    b = person("gb:X1", "Alex SMIRNOV", gender="female")
    assert score(a, b)[0] < 0.70
    vessel = Designation(source="ca", source_id="x", key="ca:x//1", kind="vessel", name="Alex Smirnov",
                         names=[Name("Alex Smirnov")])
    assert score(a, vessel)[0] == 0.0


def test_renamed_vessel_matches_on_imo():
    def vessel(key, name, imo):
        return Designation(source=key.split(":")[0], source_id="1", key=key, kind="vessel", name=name,
                           names=[Name(name)], identifiers=[Identifier("imo", imo, imo)])
    # ca:russia/1.1/76 KOLOMNA and us-sdn:47003 NS CONSUL share IMO 9341067 in the real lists.
    s, why = score(vessel("ca:russia/1.1/76", "Kolomna", "9341067"), vessel("us-sdn:47003", "NS CONSUL", "9341067"))
    assert s >= 0.88 and why["identifiers"]["value"] == ["imo:9341067"]
    s, why = score(vessel("ca:a//1", "Kolomna", "9341067"), vessel("us-sdn:2", "KOLOMNA", "9123456"))
    assert why["identifiers"]["value"].startswith("different") and s < 0.88


def test_weak_alias_counts_less():
    a = person("us-sdn:1", "Ali KONY")
    a.names.append(Name("BASHIR", "weak"))
    b = person("gb:X", "BASHIR")
    s, why = score(a, b)
    assert why["name"]["types"] == ["weak", "primary"] and s < 0.88


def test_candidates_never_pair_within_a_jurisdiction_and_skip_unrelated():
    records = [features(d) for d in (
        person("us-sdn:1", "Hasan NASRALLAH"), person("gb:A", "Hasan NASRALLAH"),
        person("us-cons:2", "Hasan NASRALLAH"), person("un:3", "Completely Different"))]
    pairs = candidate_pairs(records, TokenStats.build(records)).pairs
    assert (0, 1) in pairs and (1, 2) in pairs
    assert (0, 2) not in pairs  # us-sdn and us-cons are one jurisdiction
    assert not any(3 in p for p in pairs)


def test_cluster_honours_decisions_and_one_record_per_source():
    keys = ["us-sdn:1", "gb:A", "un:1", "gb:B"]
    sources = {k: k.split(":")[0] for k in keys}
    links = [("us-sdn:1", "gb:A", 0.95), ("gb:A", "un:1", 0.99), ("us-sdn:1", "gb:B", 0.90)]
    (joined,) = cluster(keys, sources, links)
    assert joined == {"us-sdn:1", "gb:A", "un:1"}  # gb:B would put two gb records in one target
    split = cluster(keys, sources, links, different=[("us-sdn:1", "un:1")])
    assert {"us-sdn:1", "un:1"} not in [c & {"us-sdn:1", "un:1"} for c in split]
    forced = cluster(keys, sources, [], same=[("us-sdn:1", "gb:B")])
    assert forced == [{"us-sdn:1", "gb:B"}]


# --- identifiers: decisive only without conflict, compared within compatible types ------------------

def test_equal_identifier_with_other_names_and_dates_goes_to_review():
    # gb:RUS1718 and us-sdn:40418 share one national id on the real lists, and nothing else.
    a = person("gb:RUS1718", "Majid Reza NIYAZI-ANGILI", dob="1970-03-21")
    b = person("us-sdn:40418", "Hamid Reza SHARIFI-TEHRANI", dob="1963-08-02")
    for d in (a, b):
        d.identifiers = [Identifier("national-id", "1285834070", "1285834070")]
    s, why = score(a, b)
    assert 0.70 <= s < 0.88, why
    assert "names differ" in why["identifiers"]["contribution"], why
    assert "dates of birth conflict" in why["identifiers"]["conflicts"], why
    # The same number with the same name and date of birth stays decisive.
    c = person("us-sdn:40419", "Majid Reza NIYAZI ANGILI", dob="1970-03-21")
    c.identifiers = a.identifiers
    s, why = score(a, c)
    assert s == 1.0 and why["identifiers"]["contribution"] == "decisive"


def test_identifiers_compare_only_within_compatible_types():
    a = person("us-sdn:1", "Ivan PETROV")
    b = person("gb:X", "Ivan PETROV")
    a.identifiers = [Identifier("passport", "4509123456", "4509123456")]
    b.identifiers = [Identifier("tax-id", "4509123456", "4509123456")]
    assert "identifiers" not in score(a, b)[1]  # a passport number is not a tax number
    b.identifiers = [Identifier("national-id", "4509123456", "4509123456")]
    assert score(a, b)[1]["identifiers"]["value"] == ["passport/national-id:4509123456"]


@pytest.mark.parametrize("type_, a, b", [
    ("swift-bic", "DEUTDEFFXXX", "DEUT DE FF"),       # the branch code is not the institution
    ("imo", "IMO 9176187", "9176187"),
    ("lei", "2138 00WSGIIZCXF1P5 72", "213800WSGIIZCXF1P572"),
    ("passport", "АВ1234567", "AB1234567"),           # a Cyrillic series and its Latin look-alike
])
def test_identifier_values_compare_in_one_form(type_, a, b):
    from matchers.identifiers import comparable_value
    assert comparable_value(type_, normalize_id(a)) == comparable_value(type_, normalize_id(b))


def test_cyrillic_letters_in_an_identifier_are_not_dropped():
    from matchers.identifiers import comparable_value
    assert comparable_value("passport", normalize_id("ЖЖ1234567")) != comparable_value("passport",
                                                                                       normalize_id("1234567"))


# --- organisations with branches ------------------------------------------------------------------------

def org(key, name, *aliases, countries=()):
    return Designation(source=key.split(":")[0], source_id=key.split(":")[1], key=key, kind="organization",
                       name=name, names=[Name(name)] + [Name(a, "alias") for a in aliases],
                       addresses=[Address(text=c, country=c) for c in countries])


def test_branch_offices_of_one_charity_are_told_apart():
    kenya_us = org("us-sdn:1", "AL-HARAMAIN FOUNDATION (KENYA)", countries=["KE"])
    kenya_un = org("un:2", "AL-HARAMAIN FOUNDATION - KENYA BRANCH", countries=["KE"])
    pakistan_un = org("un:3", "AL-HARAMAIN FOUNDATION - PAKISTAN BRANCH", countries=["PK"])
    unnamed_pk = org("gb:4", "AL-HARAMAIN FOUNDATION", countries=["PK"])
    same, why_same = score(kenya_us, kenya_un, pakistan_un, unnamed_pk)
    other, why_other = score(kenya_us, pakistan_un, kenya_un, unnamed_pk)
    assert same >= 0.88 and why_same["branch"]["value"].startswith("same office")
    assert other < 0.70 and why_other["branch"]["value"].startswith("another office")
    # No country in one name: the addresses tell which office it is.
    address, why = score(kenya_us, unnamed_pk, kenya_un, pakistan_un)
    assert address < 0.88 and why["branch"]["value"] == "another office: named ['KE'] vs addresses in ['PK']"


# --- names across scripts -------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b", [
    ("محمد علي", "Mohamed Ali"),
    ("عبد الرحمن الحسيني", "Abdul Rahman al-Husseini"),
    ("أسامة بن لادن", "Usama bin Laden"),
    ("김정은", "Kim Jong Un"),
    ("김정은", "Gim Jeong Eun"),
    ("최룡해", "Choe Ryong Hae"),
    ("김여정", "Kim Yo Jong"),
])
def test_names_across_scripts(a, b):
    s, why = score(person("un:1", a), person("us-sdn:2", b))
    assert s >= 0.70, why


@pytest.mark.parametrize("a, b", [("محمد علي", "Hamid Reza"), ("김정은", "Pak Pong Ju")])
def test_other_names_across_scripts_stay_apart(a, b):
    assert score(person("un:1", a), person("us-sdn:2", b))[0] < 0.60


def test_kanji_of_a_japanese_name_are_not_read_as_chinese():
    chinese_reading = person("us-sdn:2", "Ma Yuan Zhang Huang")
    japanese = person("un:1", "麻原彰晃", nationality="JP")
    assert score(japanese, chinese_reading)[0] == 0.0
    assert score(person("un:1", "あさはら しょうこう 麻原彰晃"), chinese_reading)[0] == 0.0


# --- legal forms: the longest phrase first, from one table -------------------------------------------

@pytest.mark.parametrize("name", ["Private Joint Stock Company Romashka", "Romashka S.A.R.L.", "ROMASHKA, S.A. DE C.V.",
                                  "Publichnoe Aktsionernoe Obshchestvo Romashka", "Romashka Co., Ltd."])
def test_legal_forms_longest_phrase_first(name):
    assert name_tokens(name, "organization") == ("romashka",)


# --- one target listed twice ----------------------------------------------------------------------------

def test_one_publisher_listing_one_person_twice():
    # us-sdn:24143 and us-sdn:36397: Vladimir Vasilyevich USTINOV, born 1953-02-25, in both.
    a = person("us-sdn:24143", "Vladimir Vasilyevich USTINOV", dob="25 Feb 1953")
    b = person("us-sdn:36397", "Vladimir Vasilyevich USTINOV", dob="25 Feb 1953")
    s, why = score(a, b)
    assert s == 1.0 and why["duplicate"]["value"].startswith("same full name")
    # The same name alone, or a year of birth only, is not enough inside one list.
    assert score(person("us-sdn:1", "Vladimir USTINOV"), person("us-sdn:2", "Vladimir USTINOV"))[0] == 0.0
    assert score(person("us-sdn:1", "Vladimir Vasilyevich USTINOV", dob="1953"),
                 person("us-sdn:2", "Vladimir Vasilyevich USTINOV", dob="1953"))[0] == 0.0


def test_same_ofac_entry_on_both_lists_is_one_target():
    sdn = org("us-sdn:18725", "BANCO VTB AFRICA SA")
    cons = org("us-cons:18725", "BANCO VTB AFRICA, S.A.")
    records = [features(d) for d in (sdn, cons)]
    assert (0, 1) in candidate_pairs(records, TokenStats.build(records)).pairs
    s, why = score(sdn, cons)
    assert s == 1.0 and why["duplicate"]["value"] == "same OFAC entry number 18725"


def test_cluster_holds_a_publishers_duplicates_but_nothing_weaker():
    keys = ["us-sdn:1", "us-sdn:2", "gb:A", "gb:B", "un:1"]
    sources = {k: k.split(":")[0] for k in keys}
    links = [("us-sdn:1", "us-sdn:2", 1.05), ("gb:A", "us-sdn:1", 0.99), ("gb:B", "us-sdn:2", 0.95),
             ("un:1", "us-sdn:2", 0.93)]
    (joined,) = cluster(keys, sources, links)
    # gb:B would be a second UK record joined by an ordinary link: refused.
    assert joined == {"us-sdn:1", "us-sdn:2", "gb:A", "un:1"}
    # An officer's "different" still keeps the two records apart.
    apart = cluster(keys, sources, links, different=[("us-sdn:1", "us-sdn:2")])
    assert not any({"us-sdn:1", "us-sdn:2"} <= c for c in apart)


def test_features_share_empty_and_country_sets_and_still_pickle():
    """A full match holds 400,000 records' features: equal country sets and empty identifier
    maps are one object each, and a record still copies whole (pickle) and reads alike."""
    import pickle

    a = features(person("un:QDi.1", "Ahmad ZIA", nationality="AF"))
    b = features(person("eu:2", "Zia AHMAD", nationality="AF", passport="OR801168"))
    c = features(person("gb:3", "Ahmad ZIA"))
    assert a.nationalities is b.nationalities and a.nationalities == {"AF"}
    assert a.identifiers is c.identifiers and not a.identifiers and a.identifiers.get("passport") is None
    assert b.identifiers["passport"] == {"OR801168"}
    copied = pickle.loads(pickle.dumps(a))
    assert copied == a and copied.identifiers is a.identifiers
    assert score_pair(copied, b, TokenStats.build([a, b]))[0] == score_pair(a, b, TokenStats.build([a, b]))[0]


def _candidate_records(lists):
    from importers import open_location, parse
    records = []
    for source, path in lists:
        records += [features(d) for d in parse(source, open_location(str(path), source)).designations]
    return records


def _floor_changes_nothing_kept(records, config):
    """Every candidate pair scored with and without the matcher's floor (``near``):
    the pairs a match keeps get the same score and explanation; the rest stay below it.
    Returns how many were kept, and how many of the rest the floor cut short."""
    stats = TokenStats.build(records, config)
    kept = cut_short = 0
    for i, j in sorted(candidate_pairs(records, stats, config).pairs):
        a, b = sorted((records[i], records[j]), key=lambda r: r.key)
        exact = score_pair(a, b, stats, config)
        bounded = score_pair(a, b, stats, config, floor=config.near)
        if config.band(exact[0]) is None:
            assert config.band(bounded[0]) is None, (a.key, b.key)
            cut_short += bounded != exact
        else:
            assert bounded == exact, (a.key, b.key)
            kept += 1
    return kept, cut_short


def test_scoring_with_a_floor_keeps_every_pair_a_match_stores_unchanged():
    from sanctions.demo import SAMPLE_FILES
    from matchers.candidates import DEFAULT
    kept, cut_short = _floor_changes_nothing_kept(_candidate_records(SAMPLE_FILES), DEFAULT)
    assert kept > 100 and cut_short > 50


def test_scoring_with_a_floor_on_full_lists_and_a_stricter_configuration():
    """The UN and Canadian lists in full (5,762 records), under the default settings and under thresholds and factors that move every bound."""
    from dataclasses import replace
    from matchers.candidates import DEFAULT
    from tests.conftest import real_file
    records = _candidate_records([("un", real_file("un", "consolidated.xml")),
                                  ("ca", real_file("ca", "sema-lmes.xml"))])
    kept, cut_short = _floor_changes_nothing_kept(records, DEFAULT)
    assert kept > 200 and cut_short > 1000
    strict = replace(DEFAULT, near=0.8, low=0.85, weak_name_factor=0.7, mismatch_factor=0.8, dob_conflict=-0.6)
    kept, cut_short = _floor_changes_nothing_kept(records, strict)
    assert kept > 100 and cut_short > 1000
    # A near band from 0 keeps every pair that is not of two kinds (scores are clamped at 0):
    # nothing may be cut short, even where the other evidence alone sinks a pair far below 0.
    everything = replace(DEFAULT, near=0.0, low=0.5, dob_conflict=-1.2)
    kept, cut_short = _floor_changes_nothing_kept(records[:1500] + records[-1500:], everything)
    assert kept > 1000 and cut_short == 0
