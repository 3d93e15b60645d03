"""Redacted, bounded evidence excerpts: enough for a human to see why a finding fired, never the payload itself.

Findings travel further than telemetry (alarm e-mails, chat channels, tickets), so an excerpt must not carry what
the telemetry was protecting: credentials, personal data, planted canaries, or the bulk of a weight dump. The
excerpt is cut around the match with a margin, redacted, made visible (control and invisible characters are shown as
`\\u200b`-style escapes so an analyst sees the obfuscation and a terminal cannot be hijacked), then trimmed.

Redaction is by pattern, so it is best effort: anything that looks like a secret or a long opaque token is masked,
erring towards masking too much.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_MARGIN = 48  # extra context redacted before trimming, so a secret cut by the window edge is still recognised

REDACTION_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S | re.I),
     "[PRIVATE_KEY]"),
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]{4,}", re.I), "[JWT]"),
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b", re.I), "[AWS_KEY_ID]"),
    (re.compile(r"\b(?:sk|pk|rk)[-_](?:live[-_]|test[-_]|proj[-_])?[A-Za-z0-9_-]{12,}", re.I), "[API_KEY]"),
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat|xox[abprs]|glpat|AIza)[-_A-Za-z0-9]{10,}", re.I), "[API_KEY]"),
    (re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.I), r"\1 [SECRET]"),
    (re.compile(r"\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|client[_-]?secret|"
                r"private[_-]?key|session[_-]?id|auth)(\s*[:=]\s*|\s+is\s+)[\"']?[^\s\"',;]{3,}", re.I),
     r"\1\2[SECRET]"),
    (re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+"), "[EMAIL]"),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[SSN]"),
    (re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}(?:\s?[A-Z0-9]{1,3})?\b"), "[IBAN]"),
    (re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"), "[IP]"),
    (re.compile(r"(?<!\w)\+\d[\d ()./-]{7,}\d\b|\(\d{3}\)\s?\d{3}-\d{4}\b|\b\d{3}[-.]\d{3}[-.]\d{4}\b"), "[PHONE]"),
    # URLs keep scheme and host (what an analyst needs), never path or query (where data and tokens travel).
    (re.compile(r"\b((?:https?|ftp)://[^/\s?#\"'<>()\[\]]+)[^\s\"'<>()\[\]]*", re.I), r"\1/…"),
)
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
_HEXISH = re.compile(r"(?:0x)?[0-9a-fA-F]{16,}")


def excerpt(text: str, start: int, end: int, max_chars: int, canaries: Iterable[str] = ()) -> str:
    """A redacted excerpt of `text` around `[start, end)`, at most `max_chars` characters."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    room = max(0, max_chars - (end - start)) // 2
    lo = max(0, start - room - _MARGIN)
    hi = min(len(text), end + room + _MARGIN)
    window = redact(text[lo:hi], canaries)
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(text) else ""
    budget = max_chars - 2  # room for both ellipses, so the result never exceeds max_chars
    if len(window) > budget:
        # Trim the margins back off, keeping the match centred as far as the redactions (which move text) allow.
        centre = min(len(window), max(0, start - lo + (end - start) // 2))
        left = max(0, min(centre - budget // 2, len(window) - budget))
        prefix = "…" if prefix or left > 0 else ""
        suffix = "…" if suffix or left + budget < len(window) else ""
        window = window[left:left + budget]
    return f"{prefix}{window}{suffix}"


# For each rule, needles of which a text must contain one (in `_needle_form`) for the rule to match at all: a rule
# whose needles are all absent cannot change the text and is skipped (same result, less work). In ASCII text
# IGNORECASE and `\d` mean exactly ASCII case and digits; elsewhere 'ſ' matches 's' and so on (see
# `_needle_form`), and the digit rules look for any decimal digit instead of their needles.
# `tests/detectors/test_detector_redact_guards.py` checks each needle set against its rule.
_DIGITS = tuple("0123456789")
_RULE_NEEDLES: tuple[tuple[str, ...] | None, ...] = (
    ("-----",),
    ("eyj",),
    ("akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa"),
    ("sk-", "sk_", "pk-", "pk_", "rk-", "rk_"),
    ("ghp", "gho", "ghu", "ghs", "ghr", "github_pat", "xox", "glpat", "aiza"),
    ("bearer", "basic"),
    ("pass", "pwd", "secret", "token", "key", "session", "auth"),
    ("@",),
    _DIGITS,
    _DIGITS,
    _DIGITS,
    _DIGITS,
    ("://",),
)
assert len(_RULE_NEEDLES) == len(REDACTION_RULES)


def redact(text: str, canaries: Iterable[str] = ()) -> str:
    """Mask secrets, personal data and opaque blobs in `text`, then make invisible characters visible."""
    for canary in canaries:
        if canary:
            text = re.sub(re.escape(canary), "[CANARY]", text, flags=re.I)
    lowered = _needle_form(text)
    for (pattern, replacement), needles in zip(REDACTION_RULES, _RULE_NEEDLES):
        if needles is not None:
            if needles is _DIGITS and not text.isascii():
                if _ANY_DIGIT.search(text) is None:  # outside ASCII `\d` is every decimal digit, not just 0-9
                    continue
            else:
                for needle in needles:
                    if needle in lowered:
                        break
                else:
                    continue  # no needle: the rule cannot match
        replaced = pattern.sub(replacement, text)
        if replaced != text:  # the needles of the rules after this one are looked for in the text they will see
            text = replaced
            lowered = _needle_form(text)
    if _ANY_DIGIT.search(text) is not None:  # a card number is digits (`\d`)
        text = _CARD.sub(_mask_card, text)
    text = _HEXISH.sub(_mask_hex, text)
    text = _OPAQUE.sub(_mask_opaque, text)
    return visible(text)


_ANY_DIGIT = re.compile(r"\d")
# The only characters outside ASCII that a case-insensitive pattern takes for an ASCII letter (İ and ı for i, ſ for
# s, the Kelvin sign for k; `tests/detectors/test_detector_fastpath.py` checks every code point): written as that
# letter, a text holds a rule's needle wherever the rule can match, in any script.
_ASCII_LOOKALIKES = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _needle_form(text: str) -> str:
    """`text` lower-cased, with the letters a case-insensitive match reads as ASCII letters written as those."""
    if text.isascii():
        return text.lower()
    return text.translate(_ASCII_LOOKALIKES).lower()


def _mask_hex(match: re.Match[str]) -> str:
    return f"[HEX:{len(match.group())}]"


def visible(text: str) -> str:
    """Whitespace collapsed; control and format characters shown as escapes (\\u200b), never emitted raw."""
    collapsed = " ".join(text.split())
    if collapsed.isprintable():
        # Printable means no character of the categories below (all are "Other") and no line or paragraph
        # separator (Zl, Zp): nothing to escape.
        return collapsed
    out: list[str] = []
    for ch in collapsed:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Co", "Cs", "Cn") or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return "".join(out)


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group()


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_opaque(match: re.Match[str]) -> str:
    """Mask long tokens that mix character classes (keys, base64); leave long plain words (German compounds)."""
    token = match.group()
    if token.isalpha() and (token.islower() or token.isupper() or token[1:].islower()):
        return token  # a word, however long
    classes = sum((any(c.islower() for c in token), any(c.isupper() for c in token), any(c.isdigit() for c in token),
                   any(c in "+/=_-" for c in token)))
    return f"[OPAQUE:{len(token)}]" if classes >= 2 else token
