"""What every detector gets for one event: the event, the config, the caller's state, and shared lazy scans.

The input and each retrieved passage are normalised and pattern-scanned at most once per event, however many
detectors look at them (the jailbreak and extraction detectors share the input scan).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from modelfort.runtime.detectors import redact
from modelfort.runtime.detectors.config import DetectorConfig
from modelfort.runtime.detectors.findings import Finding, Severity
from modelfort.runtime.detectors.normalize import strip_marks
from modelfort.runtime.detectors.patterns import Kind
from modelfort.runtime.detectors.scan import Hit, ScanResult, TextAnalysis, scan
from modelfort.runtime.telemetry import TelemetryEvent

INPUT_KINDS = frozenset({Kind.JAILBREAK, Kind.INJECTION, Kind.CONFIG_DUMP})
PASSAGE_KINDS = frozenset({Kind.JAILBREAK, Kind.INJECTION, Kind.DIRECTIVE})
MATERIAL_KINDS = frozenset({Kind.DIRECTIVE})
# Which input kinds each detector reads from `input_scan`: the others' regexes are skipped when it is disabled.
_INPUT_READERS = {"jailbreak": frozenset({Kind.JAILBREAK, Kind.INJECTION}), "extraction": frozenset({Kind.CONFIG_DUMP})}

# A request to process material the user pasted (summarise this email, translate this review...). Only then is
# text that addresses "the AI reading this" evidence of indirect injection rather than a user talking to the model.
# Looked for near the start of the input, where the request is; the material follows it.
_PROCESSING_REQUEST = re.compile(
    r"\b(?:summari[sz]e|summary of|translate|proofread|classify|extract|review|rewrite|paraphrase|analy[sz]e|"
    r"reply to|respond to|answer this|check this|tl;?dr|read this|"
    r"resume|resumeme|traduce|traducir|corrige|revisa|clasifica|saca|extrae|analiza|responde a|"
    r"resume|resumer|traduis|traduire|relis|corrige|classe|extrais|analyse|reponds a|"
    r"fasse|zusammen|ubersetze|ubersetz|korrigiere|prufe|klassifiziere|zieh|extrahiere|analysiere|beantworte)\b")
_REQUEST_WINDOW = 240
_INPUT_ONLY: dict[frozenset[str], frozenset[Kind] | None] = {}


def _input_only(enabled: frozenset[str]) -> frozenset[Kind] | None:
    """`scan`'s `only` for the input: the kinds the enabled detectors read (None when that is every input kind)."""
    enabled = frozenset(enabled)  # the same object when it already is one
    only = _INPUT_ONLY.get(enabled)
    if only is None and enabled not in _INPUT_ONLY:
        read = frozenset().union(*(kinds for name, kinds in _INPUT_READERS.items() if name in enabled))
        only = _INPUT_ONLY[enabled] = None if read == INPUT_KINDS else read
    return only


class CallerState:
    """Everything remembered about one caller; each detector owns one slot and fills it on first use."""

    __slots__ = ("extraction", "jailbreak", "tool_use", "enumeration")

    def __init__(self) -> None:
        self.extraction: object | None = None
        self.jailbreak: object | None = None
        self.tool_use: object | None = None
        self.enumeration: object | None = None


class EventContext:
    # The lazy scans are plain attributes filled on first use (functools.cached_property takes a lock per read on
    # this Python, a measurable cost at one context per event).
    __slots__ = ("event", "config", "caller", "now", "reference", "_passage_scans", "_analysis", "_input_scan",
                 "_material_scan", "_material_done", "__dict__")

    def __init__(self, event: TelemetryEvent, config: DetectorConfig, caller: CallerState, *,
                 reference: bool = False) -> None:
        self.event = event
        self.config = config
        self.caller = caller
        self.now = event.epoch
        self.reference = reference
        """Scan as the original engine did (no shared per-text work, every input kind): for equivalence checks."""
        self._passage_scans: dict[int, ScanResult] = {}
        self._analysis: TextAnalysis | None = None
        self._input_scan: ScanResult | None = None
        self._material_scan: ScanResult | None = None
        self._material_done = False

    @property
    def _input_analysis(self) -> TextAnalysis:
        """The input's skeleton, stems and payloads, shared by `input_scan` and `material_scan`."""
        analysis = self._analysis
        if analysis is None:
            analysis = self._analysis = TextAnalysis(self.event.input.text)
        return analysis

    @property
    def input_scan(self) -> ScanResult:
        """Input patterns; hits of kinds no enabled detector reads are left out (see `scan`'s `only`)."""
        result = self._input_scan
        if result is None:
            result = self._input_scan = self._scan_input()
        return result

    def _scan_input(self) -> ScanResult:
        jailbreak = self.config.jailbreak
        if self.reference:
            return scan(self.event.input.text, INPUT_KINDS, base64_candidates=jailbreak.base64_max_candidates,
                        base64_max_chars=jailbreak.base64_max_chars, flag_quoted=jailbreak.flag_quoted_mentions,
                        reference=True)
        return scan(self.event.input.text, INPUT_KINDS, base64_candidates=jailbreak.base64_max_candidates,
                    base64_max_chars=jailbreak.base64_max_chars, flag_quoted=jailbreak.flag_quoted_mentions,
                    only=_input_only(self.config.enabled), analysis=self._input_analysis)

    @property
    def material_scan(self) -> ScanResult | None:
        """Directive patterns in the input when the user asks the model to process pasted material, else None.

        Quoted text is judged as an order here (`flag_quoted`): in pasted material, quotes are how the attacker's
        text arrives, not a sign that the user is discussing it."""
        if not self._material_done:
            self._material_scan = self._scan_material()
            self._material_done = True
        return self._material_scan

    def _scan_material(self) -> ScanResult | None:
        text = self.event.input.text
        head = text[:_REQUEST_WINDOW]
        # For ASCII, stripping marks changes nothing and case folding is lower-casing: the same string, cheaper.
        if not _PROCESSING_REQUEST.search(head.lower() if head.isascii() else strip_marks(head).casefold()):
            return None
        jailbreak = self.config.jailbreak
        return scan(text, MATERIAL_KINDS, base64_candidates=jailbreak.base64_max_candidates,
                    base64_max_chars=jailbreak.base64_max_chars, flag_quoted=True, reference=self.reference,
                    analysis=None if self.reference else self._input_analysis)

    def passage_scan(self, index: int) -> ScanResult:
        result = self._passage_scans.get(index)
        if result is None:
            jailbreak = self.config.jailbreak
            result = scan(self.event.retrieved[index].text, PASSAGE_KINDS,
                          base64_candidates=jailbreak.base64_max_candidates,
                          base64_max_chars=jailbreak.base64_max_chars, flag_quoted=jailbreak.flag_quoted_mentions,
                          reference=self.reference)
            self._passage_scans[index] = result
        return result

    def evidence(self, text: str, start: int = 0, end: int = 0, label: str = "") -> str:
        """A redacted excerpt of `text` around `[start, end)`, bounded by `evidence_max_chars` (label included)."""
        prefix = f"[{label}] " if label else ""
        limit = self.config.evidence_max_chars - len(prefix)
        return prefix + redact.excerpt(text, start, end, limit, self.config.extraction.canaries)

    def hit_evidence(self, hit: Hit) -> str:
        label = {"text": "", "hidden": "hidden text", "base64": "base64-decoded"}[hit.source]
        if not label and hit.obfuscated:
            label = "normalised" if hit.window_is_skeleton else "obfuscated"
        return self.evidence(hit.window, hit.start, hit.end, label)

    def finding(self, detector: str, rule: str, controls: Iterable[str], severity: Severity, reason: str,
                evidence: str) -> Finding:
        event = self.event
        return Finding(
            detector=detector,
            rule=rule,
            controls=tuple(sorted(set(controls))),
            severity=severity,
            caller=event.caller,
            model=event.model,
            model_version=event.model_version,
            root_digest=event.root_digest,
            request_id=event.request_id,
            timestamp=event.timestamp.isoformat().replace("+00:00", "Z"),
            reason=reason,
            evidence=evidence,
        )


def hit_ids(hits: Iterable[Hit], limit: int = 4) -> str:
    """Pattern ids for a reason line: the first `limit`, then a count."""
    ids = [hit.pattern.id for hit in hits]
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
