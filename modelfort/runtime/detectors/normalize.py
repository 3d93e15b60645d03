"""Undo the obfuscations attackers use to slip text past pattern matching, so one pattern set sees through them all.

`normalize(text)` returns a *skeleton*: the text as a pattern should see it.

1. Unicode NFKC: full-width letters, mathematical alphanumerics (𝐢𝐠𝐧𝐨𝐫𝐞) and ligatures become plain letters.
2. Invisible characters removed: every format character (category Cf: zero-width space/joiners, bidi controls,
   soft hyphen, Unicode tag characters) and the blank-looking Hangul fillers. Tag characters are also *decoded*:
   U+E0020..U+E007E mirror ASCII and are an invisible way to smuggle instructions ("ASCII smuggling"); the decoded
   text is returned as `hidden` so it is scanned too. Emoji subdivision flags (🏴 + tags) are left alone.
3. Case folded and combining marks stripped, so "IGNORÉ" and "ignore" meet; patterns are written without accents.
4. Homoglyphs folded: Cyrillic and Greek look-alikes (а, е, о, р, с, ο, ν, ...) become Latin letters in words that
   mix scripts; words made only of look-alikes ("το") are folded too when the text is Latin-dominated or already
   has a mixed word (deliberate mixing). Russian or Greek prose is left as it is, so patterns in those languages
   still match.
5. Spaced-out letters joined: runs of four or more single characters separated by up to three non-word characters
   ("i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e") become one word.
6. Leetspeak folded inside words that mix letters and digits/symbols ("1gn0r3", "pr3v10u$"). Short standalone
   digit groups ("70 be 4n") are folded only when the text has at least two such mixed words, so quoting figures
   never looks like leetspeak.

Plain ASCII text, by far the most common, takes a fast path (lower-casing only, plus steps 5-6 when a cheap probe
says they apply). When positions are unchanged (`positions_preserved`), callers can cut evidence from the original.

Patterns treat `i` and `l` as one letter (leetspeak "1" stands for both), see `patterns.compile_pattern`.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass


def _build_tables() -> tuple[dict[int, None], dict[int, None]]:
    """Translation tables deleting invisible characters and combining marks (planes 0, 1 and 14 cover them all)."""
    invisible: dict[int, None] = {}
    marks: dict[int, None] = {}
    for code in list(range(0x20000)) + list(range(0xE0000, 0xE1000)):
        category = unicodedata.category(chr(code))
        if category == "Cf":
            invisible[code] = None
        elif category == "Mn":
            marks[code] = None
    for code in (0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0x034F):  # blank-looking letters and the grapheme joiner
        invisible[code] = None
    return invisible, marks


_INVISIBLE, _MARKS = _build_tables()


def _char_class(codes: dict[int, None]) -> re.Pattern[str]:
    """A regex matching one character of `codes` or any character outside the Basic Multilingual Plane (the regex
    engine tests a large class of BMP characters with one table lookup, but outside the BMP one range at a time: a
    text with such characters is simply treated as possibly holding one of `codes`)."""
    ranges: list[list[int]] = []
    for code in sorted(code for code in codes if code <= 0xFFFF):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    ranges.append([0x10000, 0x10FFFF])
    body = "".join(re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges)
    return re.compile(f"[{body}]")


# Whether a text may have a character the tables delete (None: certainly not): a search is far cheaper than a
# translation that changes nothing, and a text without any is left as it is (the translation gives an equal string).
_ANY_INVISIBLE = _char_class(_INVISIBLE)
_ANY_MARK = _char_class(_MARKS)

_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F
_TAG_RUN = re.compile("[\U000E0000-\U000E007F]+")
_BLACK_FLAG = "\U0001F3F4"

# Look-alikes, lower case (folding runs after casefold). Only letters a reader would take for the Latin one.
_CONFUSABLES = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "і": "i", "ї": "i", "ј": "j", "к": "k", "м": "m", "н": "h",
    "о": "o", "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ӏ": "l", "ь": "b", "г": "r",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "ς": "c", "μ": "u",
    # Latin variants NFKC keeps
    "ɡ": "g", "ɑ": "a", "ı": "i", "ȷ": "j", "ʟ": "l", "ɪ": "i", "ɴ": "n", "ʀ": "r", "ꜱ": "s", "ᴏ": "o", "ᴄ": "c",
    "ᴅ": "d", "ᴇ": "e", "ᴋ": "k", "ᴍ": "m", "ᴘ": "p", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
})
_CONFUSABLE_CHARS = frozenset(chr(code) for code in _CONFUSABLES)
_CONFUSABLE_CLASS = "".join(sorted(_CONFUSABLE_CHARS))
_MIXED_WORD = re.compile(rf"\b(?=\w*[a-z])(?=\w*[{_CONFUSABLE_CLASS}])\w+")
_WORD = re.compile(r"\w+")
_ANY_CONFUSABLE = re.compile(f"[{_CONFUSABLE_CLASS}]")
# A whole word (starting where `\w+` would: no word character before it) that holds a look-alike. Linear: tried only
# at word starts, each word read forward once and backtracked at most once.
_CONFUSABLE_WORD = re.compile(rf"(?<!\w)\w*[{_CONFUSABLE_CLASS}]\w*")
_ASCII_LETTER = re.compile(r"[a-z]")

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
                       "@": "a", "$": "s", "!": "i", "€": "e"})
# A probe (cheap) and the token matcher: a word where letters and leet symbols touch.
_LEET_PROBE = re.compile(r"[a-z][0-9@$]|[0-9@$!][a-z]")
# Starts only at a token boundary (lookbehind) and scans forward lazily, so each token is read once: without the
# anchor, a long run of letters would be rescanned from every position (quadratic).
_LEET_TOKEN = re.compile(r"(?<![a-z0-9@$!€])[a-z0-9@$!€]*?(?:[a-z][0-9@$€]|[0-9@$!€][a-z])[a-z0-9@$!€]*")
_TRAILING_BANG = re.compile(r"!+$")
_LEET_DIGITS = re.compile(r"(?<![\w.,])[0134578-9]{1,4}(?![\w.,])")

_SPACED_RUN = re.compile(r"(?<![^\W_])(?:[^\W_][\W_]{1,3}){3,}[^\W_](?![^\W_])")
_NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class Normalized:
    """A skeleton and what it took to get there."""

    text: str
    """The skeleton patterns run on."""
    transforms: tuple[str, ...]
    """Normalisation steps that changed something: compatibility-forms, invisible-characters, homoglyphs,
    spacing, leetspeak. Benign text triggers some (accents, "gpt4"), so a transform alone proves nothing."""
    positions_preserved: bool
    """True when character i of the skeleton is character i of the input (evidence can quote the original)."""
    hidden: str = ""
    """Text decoded from Unicode tag characters, empty if there were none."""


def normalize(text: str) -> Normalized:
    """The skeleton of `text` (see the module docstring for the steps and why)."""
    if text.isascii():
        return _normalize_ascii(text)
    return _normalize_unicode(text)


def plain_form(text: str) -> str:
    """Case-folded text with accents stripped and nothing else undone: what a naive filter would see.

    A pattern that matches the skeleton but not this form matched only because an obfuscation was undone."""
    if text.isascii():
        return text.lower()
    return strip_marks(text.casefold())


def strip_marks(text: str) -> str:
    """Remove combining marks (accents), keeping base letters: 'précédentes' -> 'precedentes'."""
    decomposed = unicodedata.normalize("NFD", text)
    if _ANY_MARK.search(decomposed) is None:
        # Nothing to strip: what the translation below would give is `decomposed` itself, recomposed (the
        # translation returns a new string, so the identity case never applies).
        return unicodedata.normalize("NFC", decomposed)
    stripped = decomposed.translate(_MARKS)
    return stripped if stripped is decomposed else unicodedata.normalize("NFC", stripped)


def _normalize_ascii(text: str) -> Normalized:
    skeleton = text.lower()
    transforms: list[str] = []
    preserved = True
    if _SPACED_RUN.search(skeleton):
        skeleton = _join_spaced(skeleton)
        transforms.append("spacing")
        preserved = False
    if _LEET_PROBE.search(skeleton):
        folded = _fold_leet(skeleton)
        if folded != skeleton:
            transforms.append("leetspeak")
            skeleton = folded
    return Normalized(skeleton, tuple(transforms), preserved)


def _normalize_unicode(text: str) -> Normalized:
    transforms: list[str] = []
    hidden = _decode_tags(text)
    compat = unicodedata.normalize("NFKC", text)
    if compat != text:
        transforms.append("compatibility-forms")
    visible = compat.translate(_INVISIBLE) if _ANY_INVISIBLE.search(compat) is not None else compat
    if len(visible) != len(compat):
        transforms.append("invisible-characters")
    skeleton = strip_marks(visible.casefold())
    folded = _fold_homoglyphs(skeleton)
    if folded != skeleton:
        transforms.append("homoglyphs")
        skeleton = folded
    if _SPACED_RUN.search(skeleton):
        skeleton = _join_spaced(skeleton)
        transforms.append("spacing")
    if _LEET_PROBE.search(skeleton):
        leet = _fold_leet(skeleton)
        if leet != skeleton:
            transforms.append("leetspeak")
            skeleton = leet
    skeleton = " ".join(skeleton.split())
    return Normalized(skeleton, tuple(transforms), False, hidden)


def _decode_tags(text: str) -> str:
    """ASCII hidden in Unicode tag characters, except the tag sequences of emoji subdivision flags."""
    if _TAG_RUN.search(text) is None:  # no tag character at all
        return ""
    decoded: list[str] = []
    for match in _TAG_RUN.finditer(text):
        run = match.group()
        is_flag = match.start() > 0 and text[match.start() - 1] == _BLACK_FLAG and run.endswith("\U000E007F")
        if is_flag:
            continue
        decoded.append("".join(chr(ord(ch) - _TAG_FIRST) for ch in run if 0x20 <= ord(ch) - _TAG_FIRST <= 0x7E))
    return " ".join(part for part in decoded if part)


def _fold_homoglyphs(text: str) -> str:
    if _ANY_CONFUSABLE.search(text) is None:
        return text
    # Fold words made only of look-alikes too ("ѕсоре", "το") when the text is Latin-dominated or mixes scripts
    # inside a word somewhere: both say the look-alikes stand in for Latin letters.
    deliberate = len(text.encode("ascii", "ignore")) >= 0.8 * len(text) or _MIXED_WORD.search(text) is not None

    def fold(match: re.Match[str]) -> str:
        word = match.group()
        if not any(ch in _CONFUSABLE_CHARS for ch in word):
            return word
        mixed = _ASCII_LETTER.search(word) is not None
        only_lookalikes = all(ch in _CONFUSABLE_CHARS or ch.isdigit() for ch in word)
        if mixed or (deliberate and only_lookalikes):
            return word.translate(_CONFUSABLES)
        return word

    # Only words holding a look-alike can change (`fold` returns the others as they are): `_CONFUSABLE_WORD` matches
    # exactly those words, whole, as `_WORD` would.
    return _CONFUSABLE_WORD.sub(fold, text)


def _join_spaced(text: str) -> str:
    return _SPACED_RUN.sub(lambda match: _NON_WORD.sub("", match.group()), text)


def _fold_leet(text: str) -> str:
    mixed = 0

    def fold(match: re.Match[str]) -> str:
        nonlocal mixed
        mixed += 1
        token = match.group()
        bangs = _TRAILING_BANG.search(token)  # "hello!" is punctuation, not "helloi"
        core = token[: bangs.start()] if bangs else token
        return core.translate(_LEET) + (bangs.group() if bangs else "")

    folded = _LEET_TOKEN.sub(fold, text)
    if mixed >= 2:  # leetspeak is in use: "70 be 4n" stands for "to be an"
        folded = _LEET_DIGITS.sub(lambda match: match.group().translate(_LEET), folded)
    return folded


# --- base64-embedded payloads --------------------------------------------------------------------------------------

_BASE64_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}")
_PRINTABLE_RATIO = 0.9


def base64_payloads(text: str, max_candidates: int, max_chars: int) -> list[str]:
    """Decode up to `max_candidates` base64 strings (16..`max_chars` chars) in `text` that decode to readable text.

    Bounded on purpose: a prompt full of base64 cannot make the detector decode megabytes. Candidates that decode
    to binary (keys, hashes, images) are skipped: only text can carry an instruction."""
    if max_candidates <= 0:
        return []
    found: list[str] = []
    for match in _BASE64_CANDIDATE.finditer(text):
        candidate = match.group()
        if len(candidate) > max_chars or candidate.isalpha() or candidate.isdigit():
            continue  # long words and numbers are not base64 payloads
        decoded = _decode_base64(candidate)
        if decoded is not None:
            found.append(decoded)
            if len(found) >= max_candidates:
                break
    return found


def _decode_base64(candidate: str) -> str | None:
    padded = candidate.rstrip("=")
    padded += "=" * (-len(padded) % 4)
    try:
        if "-" in padded or "_" in padded:
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if len(decoded) < 8:
        return None
    printable = sum(1 for ch in decoded if ch.isprintable() or ch in "\n\t")
    letters = sum(1 for ch in decoded if ch.isalpha())
    if printable < _PRINTABLE_RATIO * len(decoded) or letters < 0.5 * len(decoded) or " " not in decoded.strip():
        return None
    return decoded
