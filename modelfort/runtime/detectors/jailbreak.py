"""Jailbreak and prompt-injection attempts in inputs (OB-05, OB-06, RC-08).

Two independent signals are combined, because each fails differently:
- the curated pattern set (`patterns.py`) over the normalised input, its hidden tag-character text and its base64
  payloads: transparent and multilingual, but blind to paraphrases it has never seen;
- the guardrail's verdict carried in the event: a trained classifier, but a black box that attackers probe until
  it says NONE.

Indirect injection: when the user asks the model to process pasted material (summarise, translate, proofread...),
directive patterns in that material ("note to the AI reading this: ...") count too (`EventContext.material_scan`).

Severity says how far the attempt got. Patterns the guardrail did not flag reached the model: HIGH. Patterns in a
request the guardrail blocked: MEDIUM. The guardrail alone: MEDIUM when it only detected, LOW when it blocked.
Obfuscation (homoglyphs, zero-width characters, base64...) shows intent and raises the level by one, and so does a
caller's fifth attempt within `repeat_window_s` (fixed window, one counter per caller): persistence is what separates
an attacker from a curious user.
"""

from __future__ import annotations

from modelfort.runtime.detectors.context import EventContext, hit_ids
from modelfort.runtime.detectors.findings import Finding, Severity
from modelfort.runtime.detectors.patterns import Kind
from modelfort.runtime.detectors.state import FixedWindow
from modelfort.runtime.telemetry import GuardrailAction

NAME = "jailbreak"
_KINDS = frozenset({Kind.JAILBREAK, Kind.INJECTION})
_MATERIAL_KINDS = frozenset({Kind.DIRECTIVE})
_KIND_CONTROLS = {Kind.JAILBREAK: ("OB-05",), Kind.INJECTION: ("OB-06", "RC-08"), Kind.DIRECTIVE: ("OB-06", "RC-08")}
_CATEGORY_CONTROLS = {
    "JAILBREAK": ("OB-05",),
    "PROMPT_INJECTION": ("OB-06", "RC-08"),
}
_DEFAULT_CATEGORY_CONTROLS = ("OB-05", "OB-06", "RC-08")  # PROMPT_ATTACK and custom names cover both


class JailbreakDetector:
    name = NAME

    def inspect(self, ctx: EventContext) -> list[Finding]:
        config = ctx.config.jailbreak
        guardrail = ctx.event.guardrail
        flagged = sorted(set(guardrail.categories) & config.guardrail_categories)
        hits = ctx.input_scan.active(_KINDS)
        material = ctx.material_scan
        if material is not None:
            # Indirect injection: orders addressed to the model inside material it is asked to process (OB-06).
            hits = sorted(hits + material.active(_MATERIAL_KINDS), key=lambda hit: -hit.pattern.weight)
        score = sum(hit.pattern.weight for hit in hits)
        if score < config.threshold and not flagged:
            return []

        blocked = guardrail.action is GuardrailAction.INTERVENED
        controls: set[str] = set()
        for category in flagged:
            controls.update(_CATEGORY_CONTROLS.get(category, _DEFAULT_CATEGORY_CONTROLS))
        if score >= config.threshold:
            for hit in hits:
                controls.update(_KIND_CONTROLS[hit.pattern.kind])
            rule = f"{NAME}.patterns"
            severity = Severity.MEDIUM if blocked else Severity.HIGH
            reason = self._pattern_reason(ctx, hits, score, flagged, blocked)
            evidence = ctx.hit_evidence(hits[0])
            if any(hit.obfuscated for hit in hits):
                severity = severity.raised()
        else:
            rule = f"{NAME}.guardrail"
            severity = Severity.LOW if blocked else Severity.MEDIUM
            verb = "blocked" if blocked else "flagged but did not block"
            reason = f"guardrail {verb} the input as {', '.join(flagged)}; no pattern matched"
            evidence = ctx.evidence(ctx.event.input.text, 0, 0)

        attempts = self._count_attempt(ctx)
        if attempts >= config.repeat_escalation:
            severity = severity.raised()
            reason += f"; attempt {attempts} by this caller in the current {config.repeat_window_s} s window"
        return [ctx.finding(NAME, rule, controls, severity, reason, evidence)]

    @staticmethod
    def _pattern_reason(ctx: EventContext, hits: list, score: float, flagged: list[str], blocked: bool) -> str:
        kinds = sorted({hit.pattern.kind.value for hit in hits})
        parts = [f"{' and '.join(kinds)} patterns in the input ({hit_ids(hits)}), score {score:.1f}"]
        sources = sorted({hit.source for hit in hits if hit.source != "text"})
        if sources:
            parts.append(f"found in {' and '.join(sources)} payload")
        elif any(hit.obfuscated for hit in hits):
            parts.append(f"visible only after undoing {', '.join(ctx.input_scan.transforms) or 'obfuscation'}")
        if flagged:
            verb = "blocked" if blocked else "flagged but did not block"
            parts.append(f"guardrail {verb} it as {', '.join(flagged)}")
        elif blocked:
            parts.append("guardrail blocked the request for other categories")
        else:
            parts.append("guardrail did not intervene")
        return "; ".join(parts)

    @staticmethod
    def _count_attempt(ctx: EventContext) -> int:
        window = ctx.caller.jailbreak
        if window is None:
            window = ctx.caller.jailbreak = FixedWindow()
        assert isinstance(window, FixedWindow)
        return window.add(ctx.now, ctx.config.jailbreak.repeat_window_s)
