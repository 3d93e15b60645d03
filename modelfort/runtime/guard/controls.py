"""The guard's controls, one function each, applied in the order of `config.CONTROL_TABLE`.

A control either passes, changes the request or response (clamp, prepend, anonymise, redact), or raises `Refusal`,
which the app turns into an OpenAI-shaped error body (`{"error": {"message", "type", "code", "param"}}`) whose
message starts with the control IDs, plus an `x-modelfort-controls` header with the same IDs.

Token counting (RC-05). Without a tokenizer the guard estimates, and the estimate must never undercount what a
BPE tokenizer would produce for ordinary text, or the limit could be bypassed: `estimate_tokens` is the larger of
ceil(UTF-8 bytes / 3) and the number of word and punctuation pieces (every BPE tokenizer spends at least one token
per piece). English averages about 4 bytes per token and CJK about 3, so the estimate errs on the high side; a
deployment that needs exact counts configures `model.tokenizer` (a Hugging Face `tokenizer.json`, used when the
`tokenizers` package is installed).

Retrieved passages (RC-06). A RAG caller puts the passages it retrieved in the request body as
`"retrieved": [{"source_url": "https://...", "text": "..."}, ...]` (at most 64). The guard scans them for
instructions aimed at the model and hidden text, uses them as grounding sources for the output guardrail (RC-04),
logs them in telemetry (`retrieved`), and removes the field before the request reaches the model server.

Caller text the guard cannot inspect is refused rather than passed: non-text message parts (images, audio) and
token-id prompts.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from modelfort.runtime.detectors.config import DetectorConfig, ExtractionConfig
from modelfort.runtime.detectors.engine import Detector
from modelfort.runtime.detectors.normalize import normalize, plain_form
from modelfort.runtime.detectors.redact import REDACTION_RULES as _REDACT_RULES
from modelfort.runtime.guard.config import GuardConfig
from modelfort.runtime.guard.guardrails import GuardrailError, Verdict
from modelfort.runtime.telemetry import (
    GuardrailAction,
    GuardrailVerdict,
    RetrievedPassage,
    TelemetryEvent,
    TextPart,
)

CHAT = "chat"
COMPLETIONS = "completions"
MAX_PASSAGES = 64


class Refusal(Exception):
    """A control refused the request (or the response). `status` is the HTTP status the caller gets."""

    def __init__(self, status: int, controls: Sequence[str], message: str, *, code: str,
                 type_: str = "invalid_request_error", param: str | None = None,
                 categories: Sequence[str] = (), intervened: bool = True) -> None:
        self.status = status
        self.controls = tuple(controls)
        self.message = f"{', '.join(self.controls)}: {message}" if self.controls else message
        self.code = code
        self.type = type_
        self.param = param
        self.categories = tuple(categories)
        self.intervened = intervened
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}


def error_body(message: str, *, type_: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


@dataclass
class Prompt:
    """The parsed request: the body to forward, plus the texts the controls judge."""

    kind: str
    body: dict[str, Any]
    caller_texts: list[str]
    """Everything the caller wrote (all messages, or the prompt), in order."""
    passages: list[tuple[str, str]] = field(default_factory=list)
    stream: bool = False
    changed: list[str] = field(default_factory=list)
    """Control IDs that changed the request (clamp, system prompt)."""

    @property
    def caller_text(self) -> str:
        return "\n".join(self.caller_texts)

    @property
    def last_user_text(self) -> str:
        if self.kind == CHAT:
            for message in reversed(self.body.get("messages", [])):
                if message.get("role") == "user":
                    return _content_text(message.get("content"), "messages") or ""
        return self.caller_texts[-1] if self.caller_texts else ""

    def model_input(self) -> str:
        """The prompt as the model receives it (after templating), for telemetry."""
        if self.kind == CHAT:
            return "\n".join(f"{m.get('role')}: {_content_text(m.get('content'), 'messages') or ''}"
                             for m in self.body.get("messages", []))
        prompt = self.body.get("prompt")
        return "\n".join(prompt) if isinstance(prompt, list) else str(prompt or "")


def _content_text(content: Any, param: str) -> str | None:
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise Refusal(400, (), "only text content parts can be inspected by the guard",
                              code="unsupported_content",
                              param=param, intervened=False)
            parts.append(part["text"])
        return "\n".join(parts)
    raise Refusal(400, (), "message content must be a string or a list of text parts", code="invalid_content",
                  param=param, intervened=False)


def parse_request(kind: str, body: Any) -> Prompt:
    """Checks the shape the controls rely on; anything else is a 400 before any control runs."""
    if not isinstance(body, dict):
        raise Refusal(400, (), "the request body must be a JSON object", code="invalid_json", intervened=False)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise Refusal(400, (), "stream must be true or false", code="invalid_type", param="stream", intervened=False)
    n = body.get("n", 1)
    if n not in (1, None) and stream:
        raise Refusal(400, (), "streaming supports n=1 only behind the guard", code="unsupported_parameter",
                      param="n", intervened=False)
    if stream and (body.get("tools") or body.get("functions")):
        raise Refusal(400, (), "streaming with tools is not supported behind the guard; use stream=false",
                      code="unsupported_parameter", param="tools", intervened=False)
    passages = _passages(body.pop("retrieved", None))
    texts: list[str] = []
    if kind == CHAT:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise Refusal(400, (), "messages must be a non-empty list", code="invalid_messages", param="messages",
                          intervened=False)
        for message in messages:
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise Refusal(400, (), "every message needs a role", code="invalid_messages", param="messages",
                              intervened=False)
            text = _content_text(message.get("content"), "messages")
            if text:
                texts.append(text)
    else:
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            texts.append(prompt)
        elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
            texts.extend(prompt)
        else:
            raise Refusal(400, (), "prompt must be a string or a list of strings (token ids cannot be inspected)",
                          code="invalid_prompt", param="prompt", intervened=False)
    return Prompt(kind, body, texts, passages, stream)


def _passages(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_PASSAGES:
        raise Refusal(400, ("RC-06",), f"retrieved must be a list of at most {MAX_PASSAGES} passages",
                      code="invalid_retrieved", param="retrieved", intervened=False)
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) \
                or not isinstance(item.get("source_url"), str):
            raise Refusal(400, ("RC-06",), "each retrieved passage needs source_url and text strings",
                          code="invalid_retrieved", param="retrieved", intervened=False)
        out.append((item["source_url"], item["text"]))
    return out


# --- RC-05: request size and prompt tokens ------------------------------------------------------------------------

def check_request_size(config: GuardConfig, size: int) -> None:
    limit = config.limits.max_request_bytes
    if config.enabled("requestSize") and size > limit:
        raise Refusal(413, ("RC-05",), f"the request body exceeds {limit} bytes", code="request_too_large",
                      categories=("PROMPT_TOO_LARGE",))


_PIECES = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def estimate_tokens(text: str) -> int:
    """A conservative token count (see the module docstring): never below a BPE count for ordinary text."""
    if not text:
        return 0
    by_bytes = math.ceil(len(text.encode("utf-8")) / 3)
    if by_bytes > 1_000_000:
        return by_bytes
    return max(by_bytes, sum(1 for _ in _PIECES.finditer(text)))


class TokenCounter:
    def __init__(self, tokenizer_path: str | None = None) -> None:
        self._tokenizer = None
        if tokenizer_path:
            try:
                from tokenizers import Tokenizer  # type: ignore[import-not-found]

                self._tokenizer = Tokenizer.from_file(tokenizer_path)
            except Exception:  # noqa: BLE001 - the estimate is the documented fallback, never an undercount
                self._tokenizer = None

    @property
    def exact(self) -> bool:
        return self._tokenizer is not None

    def count(self, text: str) -> int:
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text).ids)
        return estimate_tokens(text)


def check_prompt_tokens(config: GuardConfig, counter: TokenCounter, prompt: Prompt) -> int:
    tokens = counter.count(prompt.caller_text) + sum(counter.count(t) for _s, t in prompt.passages)
    limit = config.controls["promptTokens"].options["maxTokens"]
    if config.enabled("promptTokens") and tokens > limit:
        how = "tokens" if counter.exact else "tokens (conservative estimate)"
        raise Refusal(413, ("RC-05",), f"the prompt is {tokens} {how}; the limit is {limit}",
                      code="context_length_exceeded", param="messages" if prompt.kind == CHAT else "prompt",
                      categories=("PROMPT_TOO_LARGE",))
    return tokens


# --- RC-09: max_tokens clamp ---------------------------------------------------------------------------------------

def clamp_max_tokens(config: GuardConfig, prompt: Prompt) -> None:
    if not config.enabled("maxTokensClamp"):
        return
    limit = config.model.max_output_tokens
    body = prompt.body
    keys = [k for k in ("max_tokens", "max_completion_tokens") if body.get(k) is not None]
    for key in keys:
        value = body[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise Refusal(400, ("RC-09",), f"{key} must be a positive integer", code="invalid_type", param=key,
                          intervened=False)
        if value > limit:
            body[key] = limit
            prompt.changed.append("RC-09")
    if not keys:
        body["max_tokens"] = limit
        prompt.changed.append("RC-09")


# --- RC-07: disallowed keywords -----------------------------------------------------------------------------------

def _fold(text: str) -> str:
    return " ".join(plain_form(unicodedata.normalize("NFKC", text)).split())


class KeywordMatcher:
    """Case-, accent- and spacing-insensitive keyword matching, on the text and on its de-obfuscated skeleton."""

    def __init__(self, words: Iterable[str]) -> None:
        folded = sorted({_fold(w) for w in words if w.strip()}, key=len, reverse=True)
        self._pattern = re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in folded)) if folded else None

    def find(self, text: str) -> str | None:
        if self._pattern is None or not text:
            return None
        for form in (_fold(text), " ".join(normalize(text).text.split())):
            match = self._pattern.search(form)
            if match:
                return match.group()
        return None


def check_keywords(config: GuardConfig, matcher: KeywordMatcher, prompt: Prompt) -> None:
    if not config.enabled("keywords"):
        return
    for text in prompt.caller_texts + [t for _s, t in prompt.passages]:
        if matcher.find(text) is not None:
            # The keyword itself is not echoed: the list is part of the defence.
            raise Refusal(400, ("RC-07",), "the request contains a disallowed keyword", code="disallowed_keyword",
                          categories=("DISALLOWED_KEYWORD",))


# --- RC-08 / RC-06: stateless detectors inline --------------------------------------------------------------------

class InlineDetectors:
    """The stateless detectors of `modelfort.runtime.detectors`, run on one request at a time."""

    def __init__(self, config: GuardConfig) -> None:
        self.config = config
        canaries = tuple(config.controls["extractionDetectors"].options.get("canaries") or ())
        extraction = ExtractionConfig(default_max_response_tokens=config.model.max_output_tokens, canaries=canaries)
        self.canaries = canaries
        self._input = Detector(DetectorConfig(enabled=frozenset({"jailbreak"})), stateless=True)
        self._rag = Detector(DetectorConfig(enabled=frozenset({"rag_poisoning"})), stateless=True)
        self._output = Detector(DetectorConfig(enabled=frozenset({"extraction"}), extraction=extraction),
                                stateless=True)

    def _event(self, input_text: str, output_text: str = "",
               passages: Sequence[tuple[str, str]] = ()) -> TelemetryEvent:
        model = self.config.model
        return TelemetryEvent(1, "inline", datetime.now(timezone.utc), "inline", model.name, model.version,
                              model.root_digest, TextPart(input_text, 0), TextPart(output_text, 0), 0.0,
                              GuardrailVerdict(GuardrailAction.NONE, ()), (),
                              tuple(RetrievedPassage(s, t) for s, t in passages))

    def injection(self, text: str) -> list[Any]:
        return [f for f in self._input.process(self._event(text)) if f.rule == "jailbreak.patterns"]

    def rag(self, passages: Sequence[tuple[str, str]]) -> list[Any]:
        # Links and sources outside an allow-list are the detectors' business downstream; inline, the guard
        # refuses what attacks the model: instructions aimed at it and text hidden from reviewers.
        findings = self._rag.process(self._event("", "", passages))
        return [f for f in findings if f.rule in ("rag_poisoning.instructions", "rag_poisoning.hidden_text")]

    def extraction(self, output_text: str) -> list[Any]:
        rules = ("extraction.weight_dump", "extraction.canary_leak")
        return [f for f in self._output.process(self._event("", output_text)) if f.rule in rules]


def check_injection(config: GuardConfig, detectors: InlineDetectors, prompt: Prompt) -> None:
    if not config.enabled("injectionDetectors"):
        return
    findings = detectors.injection(prompt.caller_text)
    if findings:
        raise Refusal(400, ("RC-08",), "the prompt was refused as a prompt-injection or jailbreak attempt",
                      code="prompt_injection", param="messages" if prompt.kind == CHAT else "prompt",
                      categories=("PROMPT_INJECTION",))


def check_rag(config: GuardConfig, detectors: InlineDetectors, prompt: Prompt) -> None:
    if not config.enabled("ragSanitisation") or not prompt.passages:
        return
    findings = detectors.rag(prompt.passages)
    if findings:
        raise Refusal(400, ("RC-06",), "a retrieved passage carries instructions aimed at the model or hidden text",
                      code="rag_injection", param="retrieved", categories=("RAG_POISONING",))


# --- GR-09: the configured system prompt --------------------------------------------------------------------------

_SYSTEM_ROLES = ("system", "developer")


def apply_system_prompt(config: GuardConfig, prompt: Prompt) -> None:
    if not config.enabled("systemPrompt"):
        return
    mode = config.controls["systemPrompt"].options["callerSystem"]
    text = config.system_prompt
    if prompt.kind == CHAT:
        messages = prompt.body["messages"]
        if any(m.get("role") in _SYSTEM_ROLES for m in messages):
            if mode != "demote":
                raise Refusal(400, ("GR-09",), "system messages are set by the deployment, not the caller",
                              code="caller_system_message", param="messages", categories=("CALLER_SYSTEM",))
            messages = [{**m, "role": "user"} if m.get("role") in _SYSTEM_ROLES else m for m in messages]
            prompt.changed.append("GR-09")
        if text:
            messages = [{"role": "system", "content": text}, *messages]
            prompt.changed.append("GR-09")
        prompt.body["messages"] = messages
    elif text:
        prefix = text.rstrip("\n") + "\n\n"
        value = prompt.body["prompt"]
        prompt.body["prompt"] = [prefix + p for p in value] if isinstance(value, list) else prefix + value
        prompt.changed.append("GR-09")


# --- output: extraction detectors and post-processing redaction ---------------------------------------------------

def check_extraction(config: GuardConfig, detectors: InlineDetectors, output_text: str) -> None:
    if not config.enabled("extractionDetectors") or not output_text:
        return
    findings = detectors.extraction(output_text)
    if findings:
        rule = findings[0].rule
        what = "a planted canary (system prompt leak)" if rule.endswith("canary_leak") else "weight-like content"
        controls = ("GR-09", "WP-04", "WP-07") if rule.endswith("canary_leak") else ("WP-04", "WP-07")
        raise Refusal(403, controls, f"the response was withheld: it carries {what}", code="output_blocked",
                      type_="content_filter_error", categories=("EXTRACTION",))


# Credentials only: the detectors' redaction rules for keys and tokens (personal data is the guardrail's job,
# RC-01; the other evidence rules, such as URL paths and whitespace collapsing, would damage legitimate answers).
_CREDENTIAL_LABELS = ("[PRIVATE_KEY]", "[JWT]", "[AWS_KEY_ID]", "[API_KEY]")
_CREDENTIAL_RULES = tuple((p, r) for p, r in _REDACT_RULES if r in _CREDENTIAL_LABELS)


# Each rule runs only where the text holds a substring that every match of it must contain (most answers hold
# none, and the case-insensitive scans are most of the redaction's cost). The screen is a necessary condition, never
# a heuristic: it reads the text folded the way `re.IGNORECASE` folds it, including the four non-ASCII letters that
# match ASCII ones (U+0130 and U+0131 match "i", U+017F "s", U+212A "k"). tests/runtime/guard pins that equivalence.
_CREDENTIAL_SCREENS: dict[str, tuple[str, ...]] = {
    "-----BEGIN": ("-----begin",),
    r"\beyJ": ("eyj",),
    r"\b(?:AKIA": ("akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa"),
    r"\b(?:sk|pk|rk)": ("sk-", "sk_", "pk-", "pk_", "rk-", "rk_"),
    r"\b(?:ghp": ("gh", "xox", "glpat", "aiza"),
}
_RE_I_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _screen(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    for prefix, needles in _CREDENTIAL_SCREENS.items():
        if pattern.pattern.startswith(prefix):
            return needles
    return None  # a rule without a screen always runs


_SCREENED_RULES = tuple((p, r, _screen(p)) for p, r in _CREDENTIAL_RULES)


@functools.lru_cache(maxsize=8)
def _canary_pattern(canaries: tuple[str, ...]) -> re.Pattern[str] | None:
    ordered = sorted({c for c in canaries if c}, key=len, reverse=True)
    return re.compile("|".join(re.escape(c) for c in ordered), re.I) if ordered else None


def redact_output(config: GuardConfig, text: str, canaries: Sequence[str] = ()) -> tuple[str, bool]:
    """Post-processing redaction (RC-01, GR-09): credentials and canaries masked. Returns (text, changed)."""
    if not config.enabled("redaction") or not text:
        return text, False
    original = text
    canary = _canary_pattern(tuple(canaries))
    if canary is not None:
        text = canary.sub("[CANARY]", text)
    folded = text.translate(_RE_I_FOLD).lower()
    for pattern, replacement, needles in _SCREENED_RULES:
        if needles is None or any(n in folded for n in needles):
            text = pattern.sub(replacement, text)
    return text, text != original


# --- the guardrail, on input and on output ------------------------------------------------------------------------

def _guardrail_failure(config: GuardConfig, where: str, error: Exception, controls: Sequence[str]) -> None:
    """Fail closed (503) unless `guardrail.failOpen` is set, which the config refuses at tier critical."""
    if config.guardrail.fail_open:
        return
    raise Refusal(503, controls, f"the {where} guardrail is unavailable ({error}); the request is refused",
                  code="guardrail_unavailable", type_="service_unavailable_error", categories=("GUARDRAIL_ERROR",),
                  intervened=False)


async def input_guardrail(config: GuardConfig, guardrail: Any, prompt: Prompt) -> Verdict:
    if not config.enabled("inputGuardrail") or getattr(guardrail, "name", "") == "none":
        return Verdict.clean()
    try:
        verdict = await guardrail.check_input(prompt.caller_text)
    except GuardrailError as error:
        _guardrail_failure(config, "input", error, ("RC-02", "RC-03", "RC-08"))
        return Verdict(categories=("GUARDRAIL_FAIL_OPEN",))
    if verdict.blocked:
        raise Refusal(400, verdict.controls or ("RC-08",), "the guardrail refused the input",
                      code="content_filter", categories=verdict.categories)
    # Input anonymisation is applied by the guardrail service to what it logs; the guard forwards the prompt as
    # written (the model needs it) and records the verdict.
    return verdict


async def output_guardrail(config: GuardConfig, guardrail: Any, text: str, prompt: Prompt) -> tuple[str, Verdict]:
    if not config.enabled("outputGuardrail") or getattr(guardrail, "name", "") == "none" or not text.strip():
        return text, Verdict.clean()
    try:
        verdict = await guardrail.check_output(text, query=prompt.last_user_text,
                                               sources=[t for _s, t in prompt.passages])
    except GuardrailError as error:
        _guardrail_failure(config, "output", error, ("RC-01", "RC-02", "RC-03", "RC-04"))
        return text, Verdict(categories=("GUARDRAIL_FAIL_OPEN",))
    if verdict.blocked:
        raise Refusal(403, verdict.controls or ("RC-02",), "the response was withheld by the output guardrail",
                      code="content_filter", type_="content_filter_error", categories=verdict.categories)
    return (verdict.text if verdict.text is not None else text), verdict
