"""Guardrail backends: Amazon Bedrock ApplyGuardrail and Google Cloud Model Armor, behind one small interface.

Both are asked twice per request: once on the caller's input (`check_input`) and once per output window
(`check_output`). The answer is a `Verdict`: whether the guardrail intervened, whether the text must be blocked,
the categories it matched (for telemetry), the control IDs they serve, and, when it only anonymised personal data,
the anonymised text to use instead (RC-01).

Category to control mapping (the refusal names these IDs):
- personal data (Bedrock `sensitiveInformationPolicy`, Model Armor `sdp`): RC-01
- toxicity (Bedrock content filters HATE, INSULTS, SEXUAL, VIOLENCE, MISCONDUCT and word filters; Model Armor
  `rai` hate_speech, harassment, sexually_explicit, and `csam`): RC-02
- unsafe domains (Bedrock denied topics; Model Armor `rai` dangerous and `malicious_uris`): RC-03
- grounding (Bedrock contextual grounding GROUNDING / RELEVANCE, checked when the request carries sources): RC-04
- prompt attacks (Bedrock PROMPT_ATTACK; Model Armor `pi_and_jailbreak`): RC-08

Any failure to get a verdict (network error, throttling, a timeout, an answer that cannot be read, a Model Armor
`invocationResult` other than SUCCESS) raises `GuardrailError`; the caller decides fail-closed or fail-open from the
config. Boto3 is blocking, so the Bedrock call runs in a worker thread (`anyio.to_thread`, abandoned on timeout) with
botocore's own timeouts set to the guardrail timeout and retries off, so an abandoned thread also ends soon.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import httpx

from modelfort.runtime.guard.config import BedrockSettings, GuardrailSettings, ModelArmorSettings

TokenProvider = Callable[[], Awaitable[str | None]]


class GuardrailError(Exception):
    """No verdict could be obtained; the message never carries the checked text."""


@dataclass(frozen=True)
class Verdict:
    intervened: bool = False
    blocked: bool = False
    categories: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    text: str | None = None
    """The text to pass on instead of the original (anonymised), or None to keep the original."""
    reason: str = ""

    @staticmethod
    def clean() -> Verdict:
        return _CLEAN


_CLEAN = Verdict()


class Guardrail(Protocol):
    name: str

    async def check_input(self, text: str) -> Verdict: ...

    async def check_output(self, text: str, *, query: str = "", sources: Sequence[str] = ()) -> Verdict: ...

    async def aclose(self) -> None: ...


class NoGuardrail:
    """`guardrail.provider: none`: only allowed where the config rules allow it (never by default at high/critical)."""

    name = "none"

    async def check_input(self, text: str) -> Verdict:
        return _CLEAN

    async def check_output(self, text: str, *, query: str = "", sources: Sequence[str] = ()) -> Verdict:
        return _CLEAN

    async def aclose(self) -> None:
        return None


@dataclass
class _Tally:
    intervened: bool = False
    blocked: bool = False
    categories: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    anonymised: bool = False

    def add(self, category: str, control: str, blocked: bool, reason: str) -> None:
        self.intervened = True
        self.blocked = self.blocked or blocked
        if category not in self.categories:
            self.categories.append(category)
        if control not in self.controls:
            self.controls.append(control)
        self.reasons.append(reason)

    def verdict(self, text: str | None) -> Verdict:
        return Verdict(self.intervened, self.blocked, tuple(self.categories), tuple(sorted(self.controls)),
                       text if (self.anonymised and not self.blocked) else None, "; ".join(self.reasons[:6]))


# --- Amazon Bedrock ---------------------------------------------------------------------------------------------

_BEDROCK_TOXIC = {"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT"}


def bedrock_client(settings: BedrockSettings, timeout_s: float) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("bedrock-runtime", region_name=settings.region, endpoint_url=settings.endpoint_url,
                        config=Config(connect_timeout=timeout_s, read_timeout=timeout_s,
                                      retries={"max_attempts": 1, "mode": "standard"}))


class BedrockGuardrail:
    """ApplyGuardrail with the pinned guardrailIdentifier and guardrailVersion from the config."""

    name = "bedrock"

    def __init__(self, settings: BedrockSettings, timeout_s: float, client: Any = None) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.client = client if client is not None else bedrock_client(settings, timeout_s)

    async def check_input(self, text: str) -> Verdict:
        return await self._apply("INPUT", [{"text": {"text": text}}])

    async def check_output(self, text: str, *, query: str = "", sources: Sequence[str] = ()) -> Verdict:
        content: list[dict[str, Any]]
        if sources:
            # Contextual grounding (RC-04): the sources and the question travel with the answer being judged.
            content = [{"text": {"text": "\n\n".join(sources), "qualifiers": ["grounding_source"]}},
                       {"text": {"text": query or " ", "qualifiers": ["query"]}},
                       {"text": {"text": text, "qualifiers": ["guard_content"]}}]
        else:
            content = [{"text": {"text": text}}]
        return await self._apply("OUTPUT", content)

    async def _apply(self, source: str, content: list[dict[str, Any]]) -> Verdict:
        call = functools.partial(self.client.apply_guardrail, guardrailIdentifier=self.settings.guardrail_id,
                                 guardrailVersion=self.settings.guardrail_version, source=source, content=content)
        try:
            with anyio.fail_after(self.timeout_s):
                response = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        except TimeoutError as exc:
            raise GuardrailError(f"bedrock ApplyGuardrail timed out after {self.timeout_s} s") from exc
        except Exception as exc:  # noqa: BLE001 - botocore raises many types; all mean "no verdict"
            raise GuardrailError(f"bedrock ApplyGuardrail failed ({type(exc).__name__})") from exc
        try:
            return parse_bedrock(response)
        except (KeyError, TypeError, AttributeError) as exc:
            raise GuardrailError("bedrock ApplyGuardrail answer could not be read") from exc

    async def aclose(self) -> None:
        return None


def parse_bedrock(response: dict[str, Any]) -> Verdict:
    tally = _Tally()
    for assessment in response.get("assessments") or []:
        for topic in (assessment.get("topicPolicy") or {}).get("topics") or []:
            if topic.get("action") == "BLOCKED":
                tally.add("DENIED_TOPIC", "RC-03", True, f"denied topic {topic.get('name', '?')}")
        for flt in (assessment.get("contentPolicy") or {}).get("filters") or []:
            if flt.get("action") == "BLOCKED":
                kind = str(flt.get("type", "CONTENT"))
                control = "RC-08" if kind == "PROMPT_ATTACK" else "RC-02" if kind in _BEDROCK_TOXIC else "RC-03"
                tally.add(kind, control, True, f"content filter {kind}")
        words = assessment.get("wordPolicy") or {}
        for item in (words.get("customWords") or []) + (words.get("managedWordLists") or []):
            if item.get("action") == "BLOCKED":
                tally.add(str(item.get("type", "WORDS")), "RC-02", True, "word filter")
        pii = assessment.get("sensitiveInformationPolicy") or {}
        for item in (pii.get("piiEntities") or []) + (pii.get("regexes") or []):
            action = item.get("action")
            if action == "BLOCKED":
                tally.add("PII", "RC-01", True, f"personal data {item.get('type') or item.get('name') or ''}".strip())
            elif action == "ANONYMIZED":
                tally.anonymised = True
                tally.add("PII", "RC-01", False, "personal data anonymised")
        for flt in (assessment.get("contextualGroundingPolicy") or {}).get("filters") or []:
            if flt.get("action") == "BLOCKED":
                kind = str(flt.get("type", "GROUNDING"))
                tally.add(kind, "RC-04", True, f"{kind.lower()} score {flt.get('score')} below {flt.get('threshold')}")
    if response.get("action") == "GUARDRAIL_INTERVENED" and not tally.intervened:
        # Intervened for a policy this parser does not know: block rather than guess.
        tally.add("GUARDRAIL", "RC-03", True, "guardrail intervened")
    text = None
    if tally.anonymised:
        outputs = response.get("outputs") or []
        text = "".join(str(o.get("text", "")) for o in outputs)
        if not outputs:
            tally.blocked = True  # anonymised but no anonymised text returned: nothing safe to pass on
    return tally.verdict(text)


# --- Google Cloud Model Armor ------------------------------------------------------------------------------------

_ARMOR_RAI = {"hate_speech": ("HATE", "RC-02"), "harassment": ("HARASSMENT", "RC-02"),
              "sexually_explicit": ("SEXUAL", "RC-02"), "dangerous": ("DANGEROUS", "RC-03")}


def google_token_provider() -> TokenProvider:
    """Access tokens from Application Default Credentials (workload identity on GKE), refreshed before expiry."""
    state: dict[str, Any] = {"credentials": None}

    def refresh() -> str | None:
        import google.auth
        import google.auth.transport.requests

        creds = state["credentials"]
        if creds is None:
            creds, _project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
            state["credentials"] = creds
        if not creds.valid or (creds.expiry is not None and creds.expiry.timestamp() - time.time() < 120):
            creds.refresh(google.auth.transport.requests.Request())
        return creds.token

    async def provide() -> str | None:
        return await anyio.to_thread.run_sync(refresh, abandon_on_cancel=True)

    return provide


class ModelArmorGuardrail:
    """`templates/{t}:sanitizeUserPrompt` and `:sanitizeModelResponse` over REST."""

    name = "model-armor"

    def __init__(self, settings: ModelArmorSettings, timeout_s: float, http: httpx.AsyncClient | None = None,
                 token_provider: TokenProvider | None = None) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._own_http = http is None
        self.http = http if http is not None else httpx.AsyncClient(timeout=timeout_s)
        self.token_provider = token_provider if token_provider is not None else google_token_provider()
        base = (settings.endpoint_url or f"https://modelarmor.{settings.location}.rep.googleapis.com").rstrip("/")
        self._template = (f"{base}/v1/projects/{settings.project}/locations/{settings.location}"
                          f"/templates/{settings.template}")

    async def check_input(self, text: str) -> Verdict:
        return await self._call("sanitizeUserPrompt", {"userPromptData": {"text": text}})

    async def check_output(self, text: str, *, query: str = "", sources: Sequence[str] = ()) -> Verdict:
        body: dict[str, Any] = {"modelResponseData": {"text": text}}
        if query:
            body["userPrompt"] = query
        return await self._call("sanitizeModelResponse", body)

    async def _call(self, method: str, body: dict[str, Any]) -> Verdict:
        try:
            with anyio.fail_after(self.timeout_s):
                token = await self.token_provider()
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                response = await self.http.post(f"{self._template}:{method}", json=body, headers=headers,
                                                timeout=self.timeout_s)
        except TimeoutError as exc:
            raise GuardrailError(f"model armor {method} timed out after {self.timeout_s} s") from exc
        except Exception as exc:  # noqa: BLE001 - transport and credential errors alike mean "no verdict"
            raise GuardrailError(f"model armor {method} failed ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise GuardrailError(f"model armor {method} answered HTTP {response.status_code}")
        try:
            return parse_model_armor(response.json())
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise GuardrailError(f"model armor {method} answer could not be read") from exc

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()


def parse_model_armor(data: dict[str, Any]) -> Verdict:
    result = data["sanitizationResult"]
    invocation = result.get("invocationResult", "SUCCESS")
    if invocation != "SUCCESS":
        raise GuardrailError(f"model armor invocationResult {invocation}")
    tally = _Tally()
    anonymised_text = None
    for name, wrapper in (result.get("filterResults") or {}).items():
        for inner_name, inner in (wrapper or {}).items():
            if not isinstance(inner, dict):
                continue
            if inner_name == "raiFilterResult":
                typed_match = False
                for rai_type, typed in (inner.get("raiFilterTypeResults") or {}).items():
                    if (typed or {}).get("matchState") == "MATCH_FOUND":
                        typed_match = True
                        category, control = _ARMOR_RAI.get(rai_type, (rai_type.upper(), "RC-02"))
                        tally.add(category, control, True, f"responsible-AI filter {rai_type}")
                if inner.get("matchState") == "MATCH_FOUND" and not typed_match:
                    tally.add("RAI", "RC-02", True, "responsible-AI filter")
            elif inner_name == "sdpFilterResult":
                deid = inner.get("deidentifyResult") or {}
                inspect = inner.get("inspectResult") or {}
                if deid.get("matchState") == "MATCH_FOUND" and (deid.get("data") or {}).get("text") is not None:
                    tally.anonymised = True
                    anonymised_text = deid["data"]["text"]
                    tally.add("PII", "RC-01", False, "personal data de-identified")
                elif inspect.get("matchState") == "MATCH_FOUND" or deid.get("matchState") == "MATCH_FOUND":
                    tally.add("PII", "RC-01", True, "personal data")
            elif inner.get("matchState") == "MATCH_FOUND":
                if inner_name == "piAndJailbreakFilterResult":
                    tally.add("PROMPT_ATTACK", "RC-08", True, "prompt injection or jailbreak")
                elif inner_name == "maliciousUriFilterResult":
                    tally.add("MALICIOUS_URI", "RC-03", True, "malicious URI")
                elif inner_name.startswith("csam"):
                    tally.add("CSAM", "RC-02", True, "child safety")
                else:
                    tally.add(name.upper(), "RC-03", True, f"filter {name}")
    if result.get("filterMatchState") == "MATCH_FOUND" and not tally.intervened:
        tally.add("GUARDRAIL", "RC-03", True, "guardrail matched")
    return tally.verdict(anonymised_text)


def build_guardrail(settings: GuardrailSettings, *, bedrock_client: Any = None,
                    http: httpx.AsyncClient | None = None, token_provider: TokenProvider | None = None) -> Guardrail:
    if settings.provider == "bedrock" and settings.bedrock is not None:
        return BedrockGuardrail(settings.bedrock, settings.timeout_s, bedrock_client)
    if settings.provider == "model-armor" and settings.model_armor is not None:
        return ModelArmorGuardrail(settings.model_armor, settings.timeout_s, http, token_provider)
    return NoGuardrail()
