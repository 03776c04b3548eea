"""Normalisation, scoring and clustering, without a database, on name variants taken from the real lists."""
from __future__ import annotations

import pytest

from matchers.candidates import TokenStats, candidate_pairs
from matchers.cluster import cluster
from matchers.features import features
from matchers.normalize import legal_forms, name_tokens
from matchers.score import score_pair
from sanctions.schema import CountryLink, Designation, Identifier, Name


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
