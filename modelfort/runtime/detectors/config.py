"""Typed detector configuration with safe defaults, loadable from a JSON or TOML file.

Defaults lean towards reporting: an empty domain allow-list reports every external link in retrieved passages, and
thresholds are set where the labelled corpus (`tests/detectors/corpus/`) shows no false positives on realistic
traffic while catching the attacks. A deployment tunes them per zone; the `redteam` zone may loosen them, the
`high-sensitivity` zone should tighten them.

Loading is strict: an unknown key or a value of the wrong type raises `ConfigError` naming the key, because a
misspelt threshold that silently fell back to its default is a detector that does not do what its owner thinks.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DETECTOR_NAMES = ("extraction", "jailbreak", "tool_use", "rag_poisoning")


class ConfigError(ValueError):
    """A configuration value that cannot be used; `key` is its dotted path (`tool_use.window_s`)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class ExtractionConfig:
    """Model extraction and weight exfiltration (WP-04, WP-07)."""

    default_max_response_tokens: int = 4096
    """Defaults to 4096: the response token limit (RC-09) assumed for a model not listed below."""
    max_response_tokens: dict[str, int] = field(default_factory=dict)
    """Per-model response token limit, by model name. Defaults to none. A response above it means the limit is
    not enforced where it should be."""
    baseline_min_samples: int = 20
    """Defaults to 20: responses a caller needs before its own baseline is trusted."""
    baseline_ratio: float = 8.0
    """Defaults to 8.0: a response this many times the caller's mean length is anomalous..."""
    baseline_min_tokens: int = 1500
    """...and only if it is also at least this long (defaults to 1500), so short-answer callers asking for one
    essay are not paged."""
    baseline_alpha: float = 0.05
    """Defaults to 0.05: weight of the newest response in the caller's moving average (about 20 responses)."""
    float_run_min: int = 128
    """Defaults to 128: consecutive high-precision decimals (e.g. -0.0213), mostly small and of both signs, that
    look like a weight dump. A printed 10x10 random tensor in a coding answer is 100."""
    int_run_min: int = 256
    """Defaults to 256: consecutive small integers (-128..255, quantised weights) that look like a weight dump."""
    hex_run_min_chars: int = 512
    """Defaults to 512: hex digits in one unbroken run (256 bytes); a SHA-256 digest is 64."""
    hex_token_run_min: int = 128
    """Defaults to 128: consecutive hex byte literals (0x3f, \\x3f)."""
    hex_dump_min_lines: int = 32
    """Defaults to 32: hexdump/xxd lines (512 bytes at 16 per line) in one output."""
    base64_run_min_chars: int = 2048
    """Defaults to 2048: characters of one base64 blob (line-wrapped or not); a PEM certificate is about 1,200."""
    base64_min_entropy: float = 5.2
    """Defaults to 5.2 bits per character: random bytes encode at about 6, English text at about 4.5."""
    probe_window_s: int = 600
    """Defaults to 600 s: the sliding window in which near-duplicate requests from one caller are counted."""
    probe_threshold: int = 30
    """Defaults to 30: near-duplicate requests within the window that make a probing campaign (also the size of
    the per-caller ring of timestamps)."""
    probe_history: int = 16
    """Defaults to 16: recent requests per caller each new request is compared with."""
    probe_min_similarity: float = 0.75
    """Defaults to 0.75: estimated word-bigram Jaccard similarity above which two prompts are near-duplicates."""
    probe_min_words: int = 4
    """Defaults to 4: prompts shorter than this are ignored (greetings repeat by nature)."""
    canaries: tuple[str, ...] = ()
    """Defaults to none: secret marker strings planted in system prompts; one in an output is a proven leak."""


@dataclass(frozen=True)
class JailbreakConfig:
    """Jailbreak and prompt-injection attempts in inputs (OB-05, OB-06, RC-08)."""

    threshold: float = 1.0
    """Defaults to 1.0: summed pattern weight that makes a finding. A strong pattern weighs 1.0, a weak one less,
    so weak cues ("stay in character") only fire together."""
    guardrail_categories: frozenset[str] = frozenset({"PROMPT_ATTACK", "JAILBREAK", "PROMPT_INJECTION"})
    """Guardrail categories that mean a prompt attack. Defaults to PROMPT_ATTACK, JAILBREAK, PROMPT_INJECTION."""
    flag_quoted_mentions: bool = False
    """Defaults to False: a pattern quoted in a question about it ("what does 'ignore previous instructions' do?")
    is not reported. Turning it on reports security discussions as attacks."""
    repeat_window_s: int = 3600
    """Defaults to 3600 s: fixed window in which a caller's attempts are counted..."""
    repeat_escalation: int = 5
    """...and from this many attempts (defaults to 5) its findings are raised one severity level."""
    base64_max_candidates: int = 4
    """Defaults to 4: base64 strings decoded and scanned per text (bounds the work a hostile prompt can cause)."""
    base64_max_chars: int = 8192
    """Defaults to 8192: longer base64 strings are not decoded (payloads are short; weights are not prompts)."""


@dataclass(frozen=True)
class ToolUseConfig:
    """Anomalous tool use per caller (OB-07)."""

    window_s: int = 60
    """Defaults to 60 s: the sliding window for call rates, and the fixed window for denial counts."""
    max_calls_per_window: int = 30
    """Defaults to 30: tool calls per caller within the window above which the caller is bursting."""
    profile_min_calls: int = 20
    """Defaults to 20: calls a caller needs before a tool it never used is reported as new."""
    sensitive_tools: frozenset[str] = frozenset({
        "shell", "exec", "run_command", "code_interpreter", "http_request", "fetch_url", "send_email",
        "write_file", "delete_file", "sql_query", "transfer_funds",
    })
    """Tools whose first use or denial is reported one level higher. Defaults to common side-effecting tools."""
    max_argument_bytes: int = 65536
    """Defaults to 64 KiB: argument size reported whatever the caller's history."""
    argument_ratio: float = 10.0
    """Defaults to 10.0: an argument this many times the caller's mean for that tool is unusual..."""
    argument_min_bytes: int = 4096
    """...if also at least this large (defaults to 4096)..."""
    argument_min_samples: int = 10
    """...once the caller has used the tool this many times (defaults to 10)."""
    max_tools_per_caller: int = 32
    """Defaults to 32: distinct tools remembered per caller (bounds memory: about 200 bytes each; calls to further
    tools are still checked for denials, bursts and absolute argument size)."""
    denial_escalation: int = 3
    """Defaults to 3: denials in one window from which denial findings are raised one level."""


@dataclass(frozen=True)
class RagConfig:
    """RAG poisoning signals in retrieved passages (OB-08, RC-06)."""

    allowed_domains: tuple[str, ...] = ()
    """Domains (and their subdomains) passages may link to and come from. Defaults to none: every web link in a
    passage is reported until the deployment names its sources."""
    check_source_urls: bool = True
    """Defaults to True: a passage whose own http(s) source is outside the allow-list is reported."""
    zero_width_min: int = 3
    """Defaults to 3: zero-width characters inside words of one passage that count as hidden text (a stray one is
    common in scraped pages)."""


@dataclass(frozen=True)
class StateConfig:
    """Bounds on per-caller memory."""

    max_callers: int = 20_000
    """Defaults to 20,000: callers whose history is kept; the least recently seen is forgotten first. A caller
    costs about 4 KB in practice and about 12 KB at worst (32 tools with the longest names; measured by
    benchmarks/bench_detectors.py), so the default bounds per-caller state to about 250 MB."""
    idle_ttl_s: int = 86_400
    """Defaults to one day: a caller idle this long is forgotten (its baseline is stale anyway)."""


@dataclass(frozen=True)
class DetectorConfig:
    """Everything the detector engine needs; the default instance is a safe starting point."""

    enabled: frozenset[str] = frozenset(DETECTOR_NAMES)
    """Detectors to run. Defaults to all four."""
    evidence_max_chars: int = 160
    """Defaults to 160: maximum length of a finding's redacted evidence excerpt."""
    extraction: ExtractionConfig = field(default_factory=ExtractionConfig)
    jailbreak: JailbreakConfig = field(default_factory=JailbreakConfig)
    tool_use: ToolUseConfig = field(default_factory=ToolUseConfig)
    rag: RagConfig = field(default_factory=RagConfig)
    state: StateConfig = field(default_factory=StateConfig)

    def __post_init__(self) -> None:
        _validate(self, "")

    def max_response_tokens_for(self, model: str) -> int:
        return self.extraction.max_response_tokens.get(model, self.extraction.default_max_response_tokens)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DetectorConfig:
        """Build a config from decoded JSON/TOML; missing keys keep their defaults, unknown keys are errors."""
        return _build(cls, data, "")


def load_config(path: str | Path) -> DetectorConfig:
    """Read a `.toml` or `.json` config file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(str(path), f"cannot read the config file ({error.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8")) if path.suffix == ".toml" else json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), f"not valid {'TOML' if path.suffix == '.toml' else 'JSON'} ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "the config must be an object (a table)")
    return DetectorConfig.from_mapping(data)


# --- loading and validation ----------------------------------------------------------------------------------------

_MINIMUMS = {
    # (field name: smallest sensible value); everything numeric must also be positive unless listed with 0.
    "baseline_alpha": 0.0,
    "base64_max_candidates": 0,
}
_FRACTIONS = {"baseline_alpha", "probe_min_similarity"}


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(prefix or "<root>", "expected a table of settings")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(path, f"unknown setting (expected one of: {', '.join(sorted(names))})")
        kwargs[key] = _coerce(hints[key], value, path)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{path}.")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected a number, got {value!r}")
        return float(value)
    if origin in (tuple, frozenset):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(path, f"expected a list of strings, got {value!r}")
        return tuple(value) if origin is tuple else frozenset(value)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(path, f"expected a table of model name to token limit, got {value!r}")
        for key, limit in value.items():
            if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
                raise ConfigError(f"{path}.{key}", f"expected a positive integer, got {limit!r}")
        return dict(value)
    raise ConfigError(path, f"unsupported setting type {hint!r}")  # a programming error, not a user one


def _validate(config: Any, prefix: str) -> None:
    """Range checks for every section; a zero window or a negative threshold would silently disable a detector."""
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        path = f"{prefix}{item.name}"
        if dataclasses.is_dataclass(value):
            _validate(value, f"{path}.")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, (int, float)):
            minimum = _MINIMUMS.get(item.name)
            if minimum is None and value <= 0:
                raise ConfigError(path, f"must be positive, got {value!r}")
            if minimum is not None and value < minimum:
                raise ConfigError(path, f"must be at least {minimum}, got {value!r}")
            if item.name in _FRACTIONS and not 0 < value <= 1:
                raise ConfigError(path, f"must be in (0, 1], got {value!r}")
    if prefix == "":
        unknown = set(config.enabled) - set(DETECTOR_NAMES)
        if unknown:
            raise ConfigError("enabled", f"unknown detector(s) {sorted(unknown)} (expected {list(DETECTOR_NAMES)})")
        if config.evidence_max_chars < 40:
            raise ConfigError("evidence_max_chars", "must be at least 40 to be useful")
        _check_domains(config.rag.allowed_domains)


def _check_domains(domains: tuple[str, ...]) -> None:
    for domain in domains:
        if not domain or "/" in domain or ":" in domain or domain.startswith(".") or " " in domain:
            raise ConfigError("rag.allowed_domains", f"{domain!r} is not a bare domain name (e.g. docs.example.com)")
