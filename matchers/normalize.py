"""Name normalisation: from any script and spelling to comparable Latin tokens.

``name_tokens`` turns ``Евгений Викторович ПРИГОЖИН``, ``Yevgeniy Viktorovich
PRIGOZHIN`` and ``Evgeny Prigozhin`` into token lists that compare equal
where the names are the same.  The steps, in order:

1. transliterate to ASCII (``anyascii``: Cyrillic, Arabic, Persian, CJK,
   Hangul, Greek …) and lower-case;
2. split on anything that is not a letter or digit (punctuation, hyphens,
   apostrophes in ``Yur'evich``/``Man’am`` are dropped, not split);
3. drop honorifics and titles (``haji``, ``mullah``, ``general`` …) and the
   Arabic article/connectives ``al``, ``el``, ``bin``, ``ibn``;
4. recognise legal forms (``OOO``, ``LLC``, ``Limited Liability Company``,
   ``PJSC`` …) as one class: removed from the distinctive tokens and kept
   aside, so ``OOO Ромашка`` and ``Romashka LLC`` compare on ``romashka``;
5. fold common transliteration variants to one spelling, first by a
   dictionary of given names (Aleksandr/Alexander/Oleksandr,
   Mohammed/Muhammad/Mohamed, Yevgeny/Evgeniy …), then by spelling rules
   (kh->h, -iy/-yi/-ii->i, y->i, ou->u, double letters …).

Token order is kept; comparison functions decide whether it matters.
"""
from __future__ import annotations

import functools
import re
import unicodedata

from anyascii import anyascii

HONORIFICS = frozenset("""
mr mrs ms miss dr doctor prof professor sir lord lady sheikh shaikh shaykh sheik haji hajji hadji al-haj alhaj
mullah mulla maulavi mawlawi maulvi mawlavi qari hafiz sayed sayyid syed mufti imam amir emir
general gen colonel col major maj captain capt lieutenant lt admiral commander brigadier
""".split())
# Words that carry no identity in organisation names ("AL-HARAMAIN : PAKISTAN BRANCH").
ORG_STOPWORDS = frozenset("the of and in for branch office de la del des du le les et y".split())
CONNECTIVES = frozenset({"al", "el", "bin", "ibn", "bint", "ben", "ul", "ad", "ud", "as", "ar", "an", "at", "az"})

# Legal forms, written as they appear after transliteration and tokenising: one table,
# matched longest phrase first, so that the result never depends on the order of the table
# ("private joint stock company" before "joint stock company", "s a r l" before "s a").
LEGAL_FORMS = """
limited liability company | limited liability partnership | public joint stock company
closed joint stock company | open joint stock company | joint stock company | private joint stock company
public limited company | private limited company | limited company | joint venture
obshchestvo s ogranichennoi otvetstvennostiu | obshchestvo s ogranichennoy otvetstvennostyu
aktsionernoe obshchestvo | aktsionernoye obshchestvo | publichnoe aktsionernoe obshchestvo
zakrytoe aktsionernoe obshchestvo | otkrytoe aktsionernoe obshchestvo
free zone establishment | free zone company | sociedad anonima | company limited
co ltd | pte ltd | pvt ltd | sdn bhd | s a | s a r l | s r l | s p a | b v | n v | l l c | j s c
s a de c v | sa de cv | s de r l | s de r l de c v | s a s | c v | s c
ooo | oao | zao | pao | ao | pjsc | jsc | cjsc | ojsc | ltd | llc | llp | lp | plc | gmbh | ag | kg | sa | sarl
srl | spa | bv | nv | oy | ab | as | fze | fzco | fzc | fzllc | dmcc | inc | incorporated | corp | corporation
co | company | limited | ltda | eirl | sas | sac | tov | pat | tdv | pte | pvt | bhd | sdn | kft | zrt | sro
doo | dd | ad | eood | ip | fgup | gup | mup | fgbu | fkp | ano | nko
"""
_LEGAL_FORMS: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted({tuple(p.split()) for p in LEGAL_FORMS.replace("\n", "|").split("|") if p.strip()},
                      key=lambda p: (-len(p), p)):
    _LEGAL_FORMS.setdefault(_phrase[0], []).append(_phrase)

# Transliteration variants of common given names, folded to one spelling.
NAME_VARIANTS = {
    "muhammad": "mohammed mohammad muhammed mohamed mohamad muhamad muhamed mohd mohmmad mohammod mahomed "
                "mukhammad mukhammed magomed mahammad mahamed mehmet mohamud",
    "ahmad": "ahmed akhmad akhmed ahmet",
    "aleksandr": "alexander aleksander alexandr oleksandr aleksandre alexandre aliaksandr aliaksandar "
                 "aleksandar alyaksandr",
    "aleksei": "alexei alexey aleksey alexiy aleksiy oleksii oleksiy aliaksei",
    "evgeni": "yevgeny yevgeniy evgeny evgeniy yevgeni evgenii yevhen ievgen jevgenij evgenij yauhen",
    "iuri": "yuri yury yuriy iurii yurii jurij yurij yuryi",
    "dmitri": "dmitry dmitriy dimitri dmytro dmitrii dzmitry dzmitryi",
    "sergei": "sergey sergiy serhii serhiy sergii siarhei serge",
    "andrei": "andrey andriy andrii andrej andrew",
    "nikolai": "nikolay mykola nicolai mikalai nikolaj",
    "mikhail": "mikhael michail mykhailo mikhailo mikhaylo mikhal",
    "vladimir": "volodymyr uladzimir wladimir vladimer",
    "iosif": "joseph yosif iosyf",
    "ivan": "ioann",
    "pavel": "pavlo paul",
    "petr": "pyotr piotr petro peter",
    "grigori": "grigory grigoriy hryhoriy hryhorii",
    "georgi": "georgy georgiy heorhiy heorhii",
    "iakov": "yakov jakov",
    "ilia": "ilya ilja illia",
    "vasili": "vasily vasiliy vasyl vasil",
    "anatoli": "anatoly anatoliy anatolii",
    "valeri": "valery valeriy valerii",
    "vitali": "vitaly vitaliy vitalii",
    "arkadi": "arkady arkadiy arkadii",
    "gennadi": "gennady gennadiy hennadiy",
    "iuli": "yuliy",
    "iulia": "yulia yuliya julia iuliia",
    "natalia": "natalya nataliya natalja",
    "tatiana": "tatyana tatjana",
    "elena": "yelena olena jelena alena",
    "abdul": "abdel abd abdal abdol",
    "abdullah": "abdallah abdulla abdalla abdollah",
    "abdulrahman": "abdurrahman abdelrahman abdalrahman abdurahman",
    "husain": "hussein husein hussain hossein houssein husayn husseyn",
    "hasan": "hassan hasen hassen",
    "yusuf": "yousef yousuf youssef yusef yousif",
    "osama": "usama usamah",
    "omar": "umar omer",
    "uthman": "othman osman usman",
    "ali": "aly",
    "khalid": "khaled halid",
    "said": "saeed sayid saied",
    "mahmud": "mahmood mahmoud",
    "mustafa": "mustapha moustafa mostafa",
    "jamal": "gamal",
    "qasim": "kasim qassim kassem qasem",
    "karim": "kareem",
    "rahman": "rehman",
    "nasrallah": "nasrullah",
    "obaidullah": "ubaidullah obaidollah ubaydullah",
    "zhong": "chung",
    "kim": "gim",
}
_VARIANT_OF = {v: canon for canon, variants in NAME_VARIANTS.items() for v in variants.split()}

_SPLIT = re.compile(r"[^a-z0-9]+")
_APOSTROPHES = re.compile(r"['’`ʼʻ′]")


def ascii_lower(text: str) -> str:
    if not text.isascii():  # NFKC and transliteration leave ASCII text as it is (nine names in ten)
        text = anyascii(unicodedata.normalize("NFKC", text))
    return _APOSTROPHES.sub("", text).lower()


def raw_tokens(text: str) -> list[str]:
    return [t for t in _SPLIT.split(ascii_lower(text)) if t]


# fold_token's patterns, compiled once: ``re.sub`` with a pattern string looks it up in re's
# own cache on every call, and a full match folds every distinct word of the store.
_FINAL_I = re.compile(r"(?:iy|yi|ii|ij|yj|ei|ey|ai|ay)$")
_FINAL_DIPHTHONGS = {"ei": "ei", "ey": "ei", "ai": "ai", "ay": "ai"}
_DOUBLED = re.compile(r"(.)\1+")
_IEVICH = re.compile(r"ievich$|yevich$")


@functools.lru_cache(maxsize=200_000)
def fold_token(token: str) -> str:
    """One spelling for transliteration variants of a token."""
    token = _VARIANT_OF.get(token, token)
    if token.isdigit():
        return token
    t = token
    t = t.replace("kh", "h").replace("ph", "f").replace("ck", "k").replace("q", "k").replace("x", "ks")
    t = t.replace("w", "v").replace("ou", "u").replace("oo", "u").replace("dzh", "j")
    t = t.replace("zh", "j").replace("tch", "ch").replace("tz", "ts").replace("sch", "sh").replace("shch", "sh")
    t = _FINAL_I.sub(lambda m: _FINAL_DIPHTHONGS.get(m[0], "i"), t)
    t = t.replace("y", "i").replace("j", "i") if len(t) > 2 else t
    t = _DOUBLED.sub(r"\1", t)
    t = t.replace("ie", "e")
    t = _DOUBLED.sub(r"\1", t)
    t = _IEVICH.sub("evich", t)
    return _VARIANT_OF.get(t, t)


def _strip_legal_forms(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(tokens without legal forms, legal forms found), taking the longest phrase at each word."""
    rest: list[str] = []
    found: list[str] = []
    i = 0
    while i < len(tokens):
        for phrase in _LEGAL_FORMS.get(tokens[i], ()):
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                found.append(" ".join(phrase))
                i += len(phrase)
                break
        else:
            rest.append(tokens[i])
            i += 1
    return rest, found


def base_tokens(text: str, kind: str = "person") -> list[str]:
    """Lower-case ASCII words of a name without legal forms, titles and articles, not yet folded."""
    tokens = raw_tokens(text)
    if kind != "person":
        tokens, _ = _strip_legal_forms(tokens)
        tokens = [t for t in tokens if t not in ORG_STOPWORDS]
    tokens = [t for t in tokens if t not in HONORIFICS and t not in CONNECTIVES]
    if kind == "person":
        tokens = [t for t in tokens if len(t) > 1 or t.isdigit()]
    return tokens


def name_tokens(text: str, kind: str = "person") -> tuple[str, ...]:
    """Distinctive, folded tokens of a name (legal forms and titles removed)."""
    # A name that is nothing but a legal form ("Общество с ограниченной
    # ответственностью" split off as an alias) identifies nobody.
    return tuple(fold_token(t) for t in base_tokens(text, kind))


def legal_forms(text: str) -> list[str]:
    return _strip_legal_forms(raw_tokens(text))[1]


_PATRONYMIC = re.compile(r"(?:ovich|evich|ich|ovna|evna|ichna|inichna|ogly|oglu|uly|kyzy|qizi)$")


@functools.lru_cache(maxsize=65536)
def is_patronymic(token: str) -> bool:
    """Russian/Belarusian/Turkic patronymics: often left out by one publisher and not another."""
    return len(token) > 5 and bool(_PATRONYMIC.search(token))
