"""Names in scripts that a character-by-character transliteration gets wrong.

``anyascii`` serves Cyrillic, Greek and Chinese well, but three scripts need
more:

- **Arabic** is written without short vowels: ``محمد علي`` becomes ``mhmd
  `ly``, which shares nothing with ``Mohamed Ali``.  Both sides are reduced
  to a *consonant skeleton* instead: letters mapped to classes that cover the
  usual correspondences (``ث``/th/s, ``ق``/q/k, ``ج``/j/g, ``خ``/kh/h …), vowels,
  ``ع`` and the long-vowel letters dropped, the article ``al-``/``ال`` removed.
- **Hangul** is romanised per syllable, once as the DPRK system writes names
  (``김정은`` -> ``Kim Jong Un``) and once as the South Korean Revised
  Romanization does (``Gim Jeong Eun``), so either spelling on a list matches.
- **Japanese** names in kanji would get Chinese readings from ``anyascii``
  (``麻原彰晃`` -> ``Ma Yuan Zhang Huang``), matching Chinese names by accident:
  in a Japanese name the kanji are left out, kana are romanised.
"""
from __future__ import annotations

import re

_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
_HANGUL = re.compile(r"[\uAC00-\uD7A3]")
_KANA = re.compile(r"[\u3040-\u30FF\u31F0-\u31FF]")
_HAN = re.compile(r"[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]")


def has_arabic(text: str) -> bool:
    return bool(_ARABIC.search(text))


def has_hangul(text: str) -> bool:
    return bool(_HANGUL.search(text))


def has_kana(text: str) -> bool:
    return bool(_KANA.search(text))


def drop_han(text: str) -> str:
    return _HAN.sub(" ", text)


# --- Arabic consonant skeletons ----------------------------------------------

# Arabic (and Persian/Urdu) letters -> consonant class; "" drops the letter.
_ARABIC_CLASS = {
    "ب": "b", "پ": "b", "ت": "t", "ث": "s", "ج": "j", "چ": "j", "ح": "h", "خ": "h", "د": "d", "ذ": "z",
    "ر": "r", "ز": "z", "ژ": "z", "س": "s", "ش": "S", "ص": "s", "ض": "d", "ط": "t", "ظ": "z", "غ": "g",
    "ف": "f", "ڤ": "f", "ق": "k", "ك": "k", "ک": "k", "گ": "g", "ل": "l", "م": "m", "ن": "n", "ه": "h",
    "ة": "", "و": "", "ي": "", "ی": "", "ى": "", "ا": "", "أ": "", "إ": "", "آ": "", "ٱ": "", "ء": "",
    "ؤ": "", "ئ": "", "ع": "", "ے": "",
}
# Latin spellings -> the same classes, digraphs first.
_LATIN_DIGRAPHS = [("sh", "S"), ("ch", "S"), ("kh", "h"), ("gh", "g"), ("th", "s"), ("dh", "z"), ("ph", "f"),
                   ("ou", ""), ("ee", ""), ("oo", "")]
_LATIN_CLASS = str.maketrans({"q": "k", "c": "k", "g": "j", "v": "f", "p": "b", "x": "ks", "a": "", "e": "",
                              "i": "", "o": "", "u": "", "y": "", "w": "", "'": "", "`": ""})
_ARTICLE = ("al", "el", "ul", "ال", "بن", "ابن", "بنت")  # the article, and "son/daughter of"


def _collapse(skeleton: str) -> str:
    return re.sub(r"(.)\1+", r"\1", skeleton)


def arabic_skeleton(token: str) -> str:
    """Consonant skeleton of one Arabic-script word, without the article."""
    if token.startswith("ال") and len(token) > 3:
        token = token[2:]
    skeleton = "".join(_ARABIC_CLASS.get(ch, "") for ch in token)
    # Written Arabic does not tell g from j (Egyptian "Gamal" is "Jamal").
    return _collapse(skeleton.replace("g", "j"))


def latin_skeleton(token: str) -> str:
    """Consonant skeleton of one Latin-script word, comparable with ``arabic_skeleton``."""
    t = token.lower()
    # "Abdul Rahman" is "Abd al-Rahman": the article is glued to the first word.
    t = re.sub(r"^(abd)(?:ul|el|al|ol)$", r"\1", t)
    t = re.sub(r"(?<=[aeiou])h$", "", t)  # "Fatimah"/"Fatima": a final h after a vowel is the ta marbuta
    for digraph, cls in _LATIN_DIGRAPHS:
        t = t.replace(digraph, cls)
    return _collapse(t.translate(_LATIN_CLASS))


def arabic_tokens(text: str) -> tuple[str, ...]:
    words = [w for w in re.split(r"[\s\-_.,/()]+", text) if w]
    out = []
    for word in words:
        if word in _ARTICLE:
            continue
        skeleton = arabic_skeleton(word)
        if skeleton:
            out.append(skeleton)
    return tuple(out)


# --- Hangul ---------------------------------------------------------------------

_INITIALS_DPRK = ["k", "kk", "n", "t", "tt", "r", "m", "p", "pp", "s", "ss", "", "j", "jj", "ch", "kh", "th", "ph", "h"]
_INITIALS_RR = ["g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h"]
_VOWELS_DPRK = ["a", "ae", "ya", "yae", "o", "e", "yo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi",
                "yu", "u", "ui", "i"]
_VOWELS_RR = ["a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi",
              "yu", "eu", "ui", "i"]
_FINALS = ["", "k", "k", "k", "n", "n", "n", "t", "l", "l", "l", "l", "l", "l", "l", "l", "m", "p", "p", "t", "t",
           "ng", "t", "t", "k", "t", "p", "t"]
# Common surnames as both Koreas write them in Latin letters.
_SURNAMES = {"김": "kim", "리": "ri", "이": "lee", "박": "pak", "최": "choe", "정": "jong", "조": "jo", "강": "kang",
             "윤": "yun", "장": "jang", "한": "han", "오": "o", "현": "hyon", "로": "ro", "노": "ro", "류": "ryu",
             "유": "yu", "림": "rim", "임": "im"}


def _syllable(ch: str, initials: list[str], vowels: list[str]) -> str:
    code = ord(ch) - 0xAC00
    initial, rest = divmod(code, 588)
    vowel, final = divmod(rest, 28)
    return initials[initial] + vowels[vowel] + _FINALS[final]


def hangul_romanisations(text: str) -> list[str]:
    """The name romanised as the DPRK and as South Korea's Revised Romanization write it,
    one syllable per word (``김정은`` -> ``Kim Jong Un``, ``Gim Jeong Eun``)."""
    out = []
    for initials, vowels in ((_INITIALS_DPRK, _VOWELS_DPRK), (_INITIALS_RR, _VOWELS_RR)):
        words = []
        for word in text.split():
            syllables = []
            for i, ch in enumerate(word):
                if not _HANGUL.match(ch):
                    syllables.append(ch)
                elif i == 0 and initials is _INITIALS_DPRK and ch in _SURNAMES:
                    syllables.append(_SURNAMES[ch])
                else:
                    syllables.append(_syllable(ch, initials, vowels))
            words.append(" ".join(syllables))
        out.append(" ".join(words))
    return list(dict.fromkeys(out))
