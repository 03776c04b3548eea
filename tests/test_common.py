"""Shared importer helpers: birth dates with precision, countries, identifiers, regimes."""
import pytest

from importers.common import DateError, imo_is_valid, normalize_id, parse_birth_dates
from importers.countries import country_code, country_codes
from sanctions.regimes import regimes_for
from matchers.features import birth_interval
from matchers.score import birth_date_relation
from sanctions.schema import BirthDate


def one(text):
    (dob,) = parse_birth_dates(text)
    return dob.earliest, dob.latest, dob.precision


@pytest.mark.parametrize("text, expected", [
    ("31 Aug 1960", ("1960-08-31", "1960-08-31", "day")),
    ("Feb 1961", ("1961-02-01", "1961-02-28", "month")),
    ("1960", ("1960-01-01", "1960-12-31", "year")),
    ("1960 to 1962", ("1960-01-01", "1962-12-31", "range")),
    ("01 Jan 1960 to 31 Dec 1962", ("1960-01-01", "1962-12-31", "range")),
    ("1965-04-29", ("1965-04-29", "1965-04-29", "day")),
    ("1972-08", ("1972-08-01", "1972-08-31", "month")),
    (" 1953-10-27", ("1953-10-27", "1953-10-27", "day")),
    ("12/04/1976", ("1976-04-12", "1976-04-12", "day")),
    ("00/00/1994", ("1994-01-01", "1994-12-31", "year")),
    ("00/05/1970", ("1970-05-01", "1970-05-31", "month")),
    ("dd/mm/1945", ("1945-01-01", "1945-12-31", "year")),
    ("dd/09/1958", ("1958-09-01", "1958-09-30", "month")),
    ("05/1970", ("1970-05-01", "1970-05-31", "month")),
    ("15/08/19yy", ("1900-01-01", "1999-12-31", "range")),
    ("1963-1964", ("1963-01-01", "1964-12-31", "range")),
    ("born in the early 1970s", ("1970-01-01", "1973-12-31", "range")),
    ("Sep-99", ("1999-09-01", "1999-09-30", "month")),
])
def test_birth_date_forms(text, expected):
    assert one(text) == expected


def test_circa_and_alternatives():
    (dob,) = parse_birth_dates("circa 1951")
    assert dob.circa and dob.precision == "year"
    first, second = parse_birth_dates("1965-07-15 OR 1969-09-28")
    assert (first.earliest, second.earliest) == ("1965-07-15", "1969-09-28")
    assert [d.precision for d in parse_birth_dates("1963 or 1964")] == ["year", "year"]


def test_compatibility_of_precisions():
    """Parsed dates go through the matcher's rule, the only one that compares dates of birth."""
    def relation(a, b):
        return birth_date_relation([birth_interval(d.earliest, d.latest, d.circa) for d in parse_birth_dates(a)],
                                   [birth_interval(d.earliest, d.latest, d.circa) for d in parse_birth_dates(b)])
    assert relation("1965", "1965-04-29") == relation("1965-04-29", "1965") == "compatible"
    assert relation("1965-04-29", "1971-07-09") == "conflict"
    assert relation("circa 1966", "1965-04-29") == "compatible"
    assert relation("1965-04-29", "1965-04-29") == "same-day"
    # OFAC writes a year alone as 01 Jan: a bare 1 January is the whole year.
    assert relation("1965-01-01", "1965-04-29") == "compatible"
    assert relation("1952-09-05", "1962-09-05") == "near"
    assert not hasattr(BirthDate, "compatible_with")


@pytest.mark.parametrize("text", ["unknown", "31 Foo 1960", "1960-13-01", "31/02/1970"])
def test_bad_dates_raise(text):
    with pytest.raises(DateError):
        parse_birth_dates(text)


@pytest.mark.parametrize("text, code", [
    ("Burma", "MM"), ("Russia / Russie", "RU"), ("Korea, North", "KP"), ("Türkiye", "TR"), ("Turkey", "TR"),
    ("IRAN (ISLAMIC REPUBLIC OF)", "IR"), ("Region: Gaza", "PS"), ("Palestinian", "PS"),
    ("CONGO, Democratic Republic of (was Zaire)", "CD"), ("Myanmar (Burma) / Myanmar (Birmanie)", "MM"),
    ("Russian Federation", "RU"), ("United Kingdom", "GB"), ("DE", "DE"), ("Bosnia-Herzegovina", "BA"),
])
def test_country_spellings(text, code):
    assert country_code(text) == code


def test_country_lists_split_only_when_every_piece_is_a_country():
    assert country_codes("Germany. Russia") == ["DE", "RU"]
    assert country_codes("Korea, North") == ["KP"]
    assert country_codes("Atlantis, Russia") == []


def test_identifiers():
    assert normalize_id("No. 12-34 56/A") == "NO123456A"
    # Letters of other scripts are part of the number, not noise to drop.
    assert normalize_id("АВ 1234567") == "АВ1234567" != normalize_id("ВМ 1234567")
    assert normalize_id("Pasaporte é-12") == "PASAPORTEE12"
    assert imo_is_valid("7406784") and imo_is_valid("9074729")
    assert not imo_is_valid("7406785")


@pytest.mark.parametrize("jurisdiction, programme, codes", [
    ("us", "RUSSIA-EO14024", ("russia",)),
    ("us", "UKRAINE-EO13662", ("russia",)),
    ("ca", "Russia / Russie", ("russia",)),
    ("gb", "Russia", ("russia",)),
    ("gb", "The Russia (Sanctions) (EU Exit) Regulations 2019", ("russia",)),
    ("gb", "Isil (Da'esh) and Al-Qaeda (United Nations Sanctions) (EU Exit) Regulations 2019", ("counter-terrorism",)),
    ("eu", "UKR", ("russia",)),
    ("un", "Taliban", ("afghanistan",)),
    ("us", "BURMA-EO14014", ("myanmar",)),
])
def test_regime_crosswalk(jurisdiction, programme, codes):
    assert regimes_for(jurisdiction, programme) == codes


def test_unknown_programme_is_none():
    assert regimes_for("us", "NO-SUCH-PROGRAM") is None


def test_element_to_dict_keeps_every_shape_of_xml():
    """The raw evidence copy of an XML record (hashed with the record, so its form and its key
    order must not drift): namespaces dropped from names, attributes as ``@name``, repeated
    children as a list, comments and processing instructions ignored, leaves as their
    stripped text.  Text after a child element (a tail, "tail" below) is not kept: no
    publisher's format puts data there."""
    import json

    from lxml import etree

    from importers.common import element_to_dict

    root = etree.fromstring(b'<r xmlns="urn:x" xmlns:y="urn:y" a="1"><!-- c --><n>t<!-- c2 --></n>'
                            b'<n y:k="v"> s </n><e/><m><!-- only --></m><l><y:q>1</y:q><q>2</q></l>tail'
                            b'<?pi x?><w>  </w></r>')
    assert json.dumps(element_to_dict(root)) == json.dumps(
        {"@a": "1", "n": ["t", {"@k": "v", "#text": "s"}], "e": "", "m": "", "l": {"q": ["1", "2"]}, "w": ""})
    assert element_to_dict(etree.fromstring(b"<x> only text </x>")) == "only text"


def test_raw_copy_reads_as_the_element_does():
    """``raw_text``, ``raw_items`` and ``raw_path_texts`` on ``element_to_dict(el)`` give what
    ``child_text``, ``children`` and ``path_texts`` give on ``el`` (the UN and Canadian
    importers read their records from their raw copies): namespaces, repeated children,
    attributes, text beside children, empty and whitespace-only elements, null markers."""
    from lxml import etree

    from importers.common import (child_text, children, element_to_dict, path_texts, raw_items,
                                  raw_path_texts, raw_text)

    el = etree.fromstring(
        b'<r xmlns:y="urn:y"><y:A> first\n  line </y:A><A>second</A><B k="1"> with  attribute </B>'
        b'<C>text<D>inner</D></C><E/><F>   </F><G>-0-</G><H><V>1</V><V> 2 </V></H><H><V>3</V><W>x</W></H>'
        b'<I/><I><J>j</J></I><K k="1"/></r>')
    raw = element_to_dict(el)
    for name in "ABCDEFGHIJKZ":
        assert raw_text(raw, name) == child_text(el, name), name
        assert len(raw_items(raw, name)) == len(children(el, name)), name
        for item, child in zip(raw_items(raw, name), children(el, name)):
            for inner in "DVWJ":
                assert raw_text(item, inner) == child_text(child, inner), (name, inner)
    for path in (("H", "V"), ("H", "W"), ("I", "J"), ("C", "D"), ("Z", "V"), ("A",)):
        assert raw_path_texts(raw, *path) == path_texts(el, *path), path
    assert raw_path_texts(raw, "H", "V") == ["1", "2", "3"]
