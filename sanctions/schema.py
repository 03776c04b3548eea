"""The common schema: what every importer produces, whatever the publisher.

These are plain dataclasses so that importers and matchers can be used and
tested without a database.  The store (``sanctions.store``) turns them into
rows and into the stored JSON of ``Designation.content()``, which readers (the
matcher's ``content_features``, pages, exports) read as it is.  Field names
here are the names used in JSON output (``sanctions show``, ``sanctions
export``), so renaming one is an API change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JURISDICTIONS = ("us", "eu", "gb", "ca", "un")
SOURCES = {
    "us-sdn": "us",
    "us-cons": "us",
    "eu": "eu",
    "gb": "gb",
    "ca": "ca",
    "un": "un",
}
KINDS = ("person", "organization", "vessel", "aircraft")


@dataclass
class Name:
    """One name of a designation.

    ``type`` is ``primary``, ``alias`` (a good-quality a.k.a. or a spelling
    variant of the primary name), ``fka`` (formerly known as) or ``weak``
    (a low-quality alias: publishers flag these as too vague to screen on).
    ``parts`` keeps the publisher's own split (given/family, Name 1..6, ...)
    where it gives one; ``script`` is detected from the text (ISO 15924).
    """

    full: str
    type: str = "primary"
    parts: dict[str, str] = field(default_factory=dict)
    script: str = "Latn"
    language: str | None = None


@dataclass
class BirthDate:
    """A date of birth as an interval of possible days.

    ``earliest``/``latest`` are ISO dates bounding every day the publisher's
    text allows: ``1965`` is 1965-01-01..1965-12-31, ``1965-04-29`` is one
    day, ``1960 to 1962`` spans three years.  Whether two dates can be one
    person's is decided in one place, the matcher's
    ``matchers.score.birth_date_relation``.
    ``precision`` is ``day``, ``month``, ``year`` or ``range``; ``circa``
    marks an approximate date (the matcher widens it).
    """

    text: str
    earliest: str | None
    latest: str | None
    precision: str
    circa: bool = False


@dataclass
class BirthPlace:
    text: str
    country: str | None = None


@dataclass
class CountryLink:
    """A country tied to a designation, as ISO 3166 alpha-2 with its role."""

    code: str
    role: str
    text: str | None = None


@dataclass
class Identifier:
    """A document or registry number.

    ``value`` is as published; ``normalized`` is upper-case alphanumerics only
    (what the matcher compares); ``country`` is the issuing country.
    """

    type: str
    value: str
    normalized: str
    country: str | None = None
    label: str | None = None
    note: str | None = None


@dataclass
class Address:
    text: str
    city: str | None = None
    country: str | None = None
    note: str | None = None


@dataclass
class Contact:
    """Websites, e-mail addresses and phone numbers: not identifiers."""

    type: str
    value: str


@dataclass
class Attribute:
    """A labelled fact the schema has no field for (kept, never dropped)."""

    label: str
    value: str


@dataclass
class Vessel:
    imo: str | None = None
    mmsi: str | None = None
    call_sign: str | None = None
    type: str | None = None
    flag: str | None = None
    flag_text: str | None = None
    tonnage: str | None = None
    gross_tonnage: str | None = None
    owner: str | None = None
    build_year: str | None = None


@dataclass
class Aircraft:
    model: str | None = None
    manufacturer_serial: str | None = None
    tail_number: str | None = None
    operator: str | None = None
    build_date: str | None = None


@dataclass
class Designation:
    """One publisher's record of one target."""

    source: str
    source_id: str
    key: str
    kind: str
    name: str
    jurisdiction: str = ""
    listed_on: str | None = None
    updated_on: str | None = None
    programmes: list[str] = field(default_factory=list)
    regimes: list[str] = field(default_factory=list)
    legal_basis: str | None = None
    remarks: str | None = None
    reasons: str | None = None
    title: str | None = None
    position: str | None = None
    gender: str | None = None
    names: list[Name] = field(default_factory=list)
    birth_dates: list[BirthDate] = field(default_factory=list)
    birth_places: list[BirthPlace] = field(default_factory=list)
    countries: list[CountryLink] = field(default_factory=list)
    identifiers: list[Identifier] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    vessel: Vessel | None = None
    aircraft: Aircraft | None = None
    linked_to: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.jurisdiction:
            self.jurisdiction = SOURCES[self.source]

    def content(self) -> dict[str, Any]:
        """Everything but ``raw`` and ``warnings``, as JSON-ready data.

        Hand-rolled rather than ``dataclasses.asdict`` (several times slower):
        the parts are flat dataclasses, so a shallow copy of each suffices.
        """
        data = {k: v for k, v in vars(self).items() if k not in ("raw", "warnings")}
        for name in LIST_FIELDS:
            data[name] = [dict(vars(item)) for item in data[name]]
        for name in ("vessel", "aircraft"):
            if data[name] is not None:
                data[name] = dict(vars(data[name]))
        data["programmes"], data["regimes"], data["linked_to"] = (
            list(self.programmes), list(self.regimes), list(self.linked_to))
        return data


LIST_FIELDS = {
    "names": Name,
    "birth_dates": BirthDate,
    "birth_places": BirthPlace,
    "countries": CountryLink,
    "identifiers": Identifier,
    "addresses": Address,
    "contacts": Contact,
    "attributes": Attribute,
}


@dataclass
class ParsedList:
    """What an importer returns for one published file."""

    source: str
    format: str
    designations: list[Designation]
    published_on: str | None = None
    warnings: list[str] = field(default_factory=list)


def material_fingerprint(content: dict[str, Any]) -> str:
    """A hash of what identifies a target: names, kind, birth dates, identifiers, nationalities.

    A decision taken on a designation is flagged for re-review when this
    changes (a new date of birth, a new passport), not when a remark does.
    """
    import hashlib
    import json

    material = {
        "kind": content.get("kind"),
        "names": sorted({n["full"].casefold() for n in content.get("names") or []}),
        "birth_dates": sorted((b["earliest"] or "", b["latest"] or "") for b in content.get("birth_dates") or []),
        "identifiers": sorted((i["type"], i["normalized"]) for i in content.get("identifiers") or []),
        "countries": sorted(c["code"] for c in content.get("countries") or []
                            if c["role"] in ("nationality", "citizenship", "flag")),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
