"""Identifier values as the matcher compares them, and which types may be compared.

Publishers write one number differently: ``IMO 9176187`` and ``9176187``, a
BIC with or without its branch code (``DEUTDEFFXXX``/``DEUTDEFF``), a Russian
passport series in Cyrillic (``АВ 1234567``) or in Latin (``AB1234567``).
python-stdnum knows the layout of IMO numbers, BICs, LEIs, ISINs and IBANs:
its ``compact`` gives one form and its check digits tell a real number from
a typo.  Cyrillic and Greek letters that look like Latin ones are folded to
those, and other non-Latin letters are transliterated, so that letters are
compared instead of being dropped.

Types are only compared with types that can hold the same number: a company's
IMO is sometimes filed as a registration number, and a passport number as a
national id, but a passport number equal to a tax number is a coincidence.
"""
from __future__ import annotations

import functools
import re

from anyascii import anyascii
from stdnum import bic, iban, imo, isin, lei
from stdnum.exceptions import ValidationError

# Cyrillic and Greek capitals that publishers use interchangeably with Latin ones in document numbers.
_LOOKALIKES = str.maketrans("АВЕКМНОРСТУХІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEKMHOPCTYXIJSABEZHIKMNOPTYX")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_STDNUM = {"imo": imo, "swift-bic": bic, "lei": lei, "isin": isin, "iban": iban}

# Pairs of types that may carry the same number (each type is always comparable with itself).
_COMPATIBLE = {
    frozenset({"passport", "national-id"}),
    frozenset({"national-id", "tax-id"}),
    frozenset({"tax-id", "registration"}),
    frozenset({"registration", "imo"}),
    frozenset({"registration", "lei"}),
    frozenset({"aircraft-serial", "aircraft-tail"}),
}


def compatible_types(a: str, b: str) -> bool:
    return a == b or frozenset({a, b}) in _COMPATIBLE


@functools.lru_cache(maxsize=100_000)
def comparable_value(type_: str, normalized: str, country: str | None = None) -> str:
    """One spelling of an identifier value for comparison ('' if nothing is left)."""
    text = normalized.upper().translate(_LOOKALIKES)
    text = _NOT_ALNUM.sub("", anyascii(text).upper())
    module = _STDNUM.get(type_)
    if module is not None:
        try:
            text = module.compact(text)
        except ValidationError:
            pass
        if type_ == "imo":
            text = text.removeprefix("IMO")
        elif type_ == "swift-bic":
            # The last three characters name a branch; the first eight the institution.
            text = text[:8]
    return text


def is_valid(type_: str, value: str) -> bool | None:
    """Whether python-stdnum accepts the value (None where it does not know the type)."""
    module = _STDNUM.get(type_)
    if module is None:
        return None
    return bool(module.is_valid(value))
