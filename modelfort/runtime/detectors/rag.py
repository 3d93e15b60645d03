"""RAG poisoning signals in retrieved passages (OB-08, RC-06).

A poisoned document does its work when it is retrieved: it speaks to the model ("note to the AI: ..."), hides what
it says from the humans who review the corpus, or plants links that a rendered answer will fetch. Rules, each
reported once per event across all passages:
- `rag_poisoning.instructions`: a passage carries instructions aimed at the model: the jailbreak and injection
  patterns plus directive patterns ("if you are an AI reading this", "do not tell the user"). CRITICAL when the
  instruction is invisible (tag characters, base64, zero-width obfuscation) or sits in hidden HTML/CSS.
- `rag_poisoning.hidden_text`: text meant not to be seen: Unicode tag characters (always; emoji flags excepted),
  zero-width characters inside Latin words (`zero_width_min` or more; a stray one is common in scraped pages, and
  joiners inside Persian, Indic or emoji sequences are legitimate and ignored), bidi overrides in text with no
  right-to-left script (the "Trojan Source" trick).
- `rag_poisoning.untrusted_link`: links to domains outside `allowed_domains` (subdomains included). HIGH for
  markdown images (fetched when the answer is rendered: a zero-click exfiltration channel) and for script/data
  URLs.
- `rag_poisoning.untrusted_source`: a passage whose own http(s) source is outside the allow-list (the index holds
  content from somewhere it should not). Non-web sources (s3://, kb://) are the organisation's stores and are not
  judged here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from modelfort.runtime.detectors.context import EventContext, hit_ids
from modelfort.runtime.detectors.findings import Finding, Severity
from modelfort.runtime.detectors.patterns import Kind

NAME = "rag_poisoning"
CONTROLS = ("OB-08", "RC-06")
_KINDS = frozenset({Kind.JAILBREAK, Kind.INJECTION, Kind.DIRECTIVE})
_MAX_LINKS = 64  # links examined per passage: bounds the work a link-stuffed passage can cause

_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`)\]]+|\bwww\.[a-z0-9-]+\.[^\s<>\"'`)\]]+"
                  r"|\b(?:javascript|vbscript):[^\s<>\"'`)]{4,}|\bdata:[a-z]+/[a-z0-9.+-]+[;,][^\s<>\"'`)]{4,}", re.I)
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]\n]{0,200}\]\(\s*<?([^)\s>]+)", re.I)
_HIDDEN_MARKUP = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px|pt|em)?\b|"
                            r"opacity\s*:\s*0(?:\.0+)?\b|<!--|color\s*:\s*(?:#fff\b|#ffffff\b|white\b)", re.I)
_ZERO_WIDTH_IN_WORD = re.compile(r"(?<=[A-Za-z0-9])[\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\u180e\ufeff]+"
                                 r"(?=[A-Za-z0-9])")
_TAGS = re.compile("[\U000E0000-\U000E007F]+")
_BIDI_OVERRIDE = re.compile("[\u202a-\u202e\u2066-\u2069]")
_RTL_LETTER = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_BLACK_FLAG = "\U0001F3F4"


class RagPoisoningDetector:
    name = NAME

    def inspect(self, ctx: EventContext) -> list[Finding]:
        passages = ctx.event.retrieved
        if not passages:
            return []
        findings = [
            finding
            for finding in (self._instructions(ctx), self._hidden_text(ctx), self._links(ctx), self._sources(ctx))
            if finding is not None
        ]
        return findings

    # --- instructions aimed at the model ---------------------------------------------------------------------

    @staticmethod
    def _instructions(ctx: EventContext) -> Finding | None:
        threshold = ctx.config.jailbreak.threshold
        best = None
        for index, passage in enumerate(ctx.event.retrieved):
            result = ctx.passage_scan(index)
            hits = result.active(_KINDS)
            score = sum(hit.pattern.weight for hit in hits)
            if score < threshold:
                continue
            concealed = any(hit.obfuscated for hit in hits) or _HIDDEN_MARKUP.search(passage.text) is not None
            if best is None or (concealed, score) > (best[0], best[1]):
                best = (concealed, score, index, hits, result)
        if best is None:
            return None
        concealed, score, index, hits, result = best
        severity = Severity.CRITICAL if concealed else Severity.HIGH
        reason = (f"retrieved passage {index} ({_host_or_scheme(ctx.event.retrieved[index].source_url)}) "
                  f"addresses the model ({hit_ids(hits)}), score {score:.1f}")
        if concealed:
            how = sorted({hit.source for hit in hits if hit.source != "text"} | set(result.transforms))
            reason += "; concealed" + (f" ({', '.join(how)})" if how else " in hidden markup")
        return ctx.finding(NAME, f"{NAME}.instructions", CONTROLS, severity, reason, ctx.hit_evidence(hits[0]))

    # --- hidden text ------------------------------------------------------------------------------------------

    @staticmethod
    def _hidden_text(ctx: EventContext) -> Finding | None:
        minimum = ctx.config.rag.zero_width_min
        for index, passage in enumerate(ctx.event.retrieved):
            text = passage.text
            if text.isascii():
                continue
            tags = [m for m in _TAGS.finditer(text) if not _is_flag(text, m)]
            if tags:
                start = tags[0].start()
                return ctx.finding(NAME, f"{NAME}.hidden_text", CONTROLS, Severity.HIGH,
                                   f"retrieved passage {index} hides {sum(len(m.group()) for m in tags)} Unicode "
                                   "tag characters (invisible text)", ctx.evidence(text, start, start + 1))
            zero_width = _ZERO_WIDTH_IN_WORD.findall(text)
            if len(zero_width) >= minimum:
                first = _ZERO_WIDTH_IN_WORD.search(text)
                assert first is not None
                return ctx.finding(NAME, f"{NAME}.hidden_text", CONTROLS, Severity.MEDIUM,
                                   f"retrieved passage {index} has {len(zero_width)} zero-width characters inside "
                                   "words (splits words to evade filters)", ctx.evidence(text, first.start(),
                                                                                         first.end()))
            bidi = _BIDI_OVERRIDE.search(text)
            if bidi is not None and _RTL_LETTER.search(text) is None:
                return ctx.finding(NAME, f"{NAME}.hidden_text", CONTROLS, Severity.MEDIUM,
                                   f"retrieved passage {index} has bidirectional override characters but no "
                                   "right-to-left text (displayed text differs from what the model reads)",
                                   ctx.evidence(text, bidi.start(), bidi.end()))
        return None

    # --- links and sources ------------------------------------------------------------------------------------

    @staticmethod
    def _links(ctx: EventContext) -> Finding | None:
        allowed = ctx.config.rag.allowed_domains
        worst: tuple[Severity, str, int, str, int, int] | None = None
        for index, passage in enumerate(ctx.event.retrieved):
            text = passage.text
            if "://" not in text and "www." not in text and ":" not in text:
                continue
            images = {m.group(1) for m in _MARKDOWN_IMAGE.finditer(text)}
            for match in list(_URL.finditer(text))[:_MAX_LINKS]:
                url = match.group()
                verdict = _judge_link(url, url in images, allowed)
                if verdict is None:
                    continue
                severity, why = verdict
                if worst is None or severity.rank > worst[0].rank:
                    worst = (severity, why, index, text, match.start(), match.end())
        if worst is None:
            return None
        severity, why, index, text, start, end = worst
        return ctx.finding(NAME, f"{NAME}.untrusted_link", CONTROLS, severity,
                           f"retrieved passage {index} links to {why}", ctx.evidence(text, start, end))

    @staticmethod
    def _sources(ctx: EventContext) -> Finding | None:
        if not ctx.config.rag.check_source_urls:
            return None
        allowed = ctx.config.rag.allowed_domains
        outside = []
        for index, passage in enumerate(ctx.event.retrieved):
            parts = _split(passage.source_url)
            if parts is None or parts[0] not in ("http", "https"):
                continue
            host = parts[1]
            if not _allowed(host, allowed):
                outside.append((index, host))
        if not outside:
            return None
        listed = ", ".join(f"{index}: {host}" for index, host in outside[:4])
        return ctx.finding(NAME, f"{NAME}.untrusted_source", CONTROLS, Severity.MEDIUM,
                           f"retrieved passage(s) from outside the allowed domains ({listed})",
                           ctx.evidence(ctx.event.retrieved[outside[0][0]].source_url, 0, 0))


def _judge_link(url: str, is_image: bool, allowed: tuple[str, ...]) -> tuple[Severity, str] | None:
    lowered = url.lower()
    if lowered.startswith(("javascript:", "vbscript:", "data:")):
        return Severity.HIGH, f"a {lowered.split(':', 1)[0]}: URL (runs or embeds content when rendered)"
    parts = _split(url if "://" in url else f"http://{url}")
    if parts is None:
        return Severity.MEDIUM, "a malformed URL"
    host = parts[1]
    if _allowed(host, allowed):
        return None
    if is_image:
        return Severity.HIGH, f"an image on {host}, outside the allowed domains (fetched when rendered)"
    return Severity.MEDIUM, f"{host}, outside the allowed domains"


def _split(url: str) -> tuple[str, str] | None:
    """(scheme, host) with the host lower-cased, IDNA-encoded and without a trailing dot; None if unparseable."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return None
    host = host.rstrip(".")
    if not host.isascii():  # the IDNA codec returns an ASCII host as it is, or refuses it (and it then stays as is)
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass  # an unencodable host stays as it is and matches no allow-list entry
    return parts.scheme.lower(), host


def _allowed(host: str, allowed: tuple[str, ...]) -> bool:
    for domain in _normalized_domains(allowed):
        if host == domain or host.endswith("." + domain):
            return True
    return False


@lru_cache(maxsize=8)
def _normalized_domains(allowed: tuple[str, ...]) -> tuple[str, ...]:
    normalized = []
    for domain in allowed:
        try:
            normalized.append(domain.lower().rstrip(".").encode("idna").decode("ascii"))
        except UnicodeError:
            normalized.append(domain.lower().rstrip("."))
    return tuple(normalized)


def _is_flag(text: str, match: re.Match[str]) -> bool:
    return match.start() > 0 and text[match.start() - 1] == _BLACK_FLAG and match.group().endswith("\U000E007F")


def _host_or_scheme(url: str) -> str:
    parts = _split(url)
    if parts is None:
        return "unparseable source"
    return parts[1] or f"{parts[0]}:"
