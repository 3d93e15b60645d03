"""Model extraction and weight exfiltration through the inference API (WP-04, WP-07).

Signals, each its own rule:
- `extraction.response_over_limit`: a response longer than the model's configured maximum (RC-09). It should be
  impossible; when it happens the token limit is not enforced where it should be, which is what a bulk exfiltration
  needs.
- `extraction.response_vs_baseline`: a response far longer than this caller's usual (moving average over about the
  last 20 responses, `baseline_alpha`), once the caller has `baseline_min_samples` responses.
- `extraction.weight_dump`: the output carries a long run of weight-like numbers: small signed high-precision
  decimals, small integers (quantised weights), hex (contiguous, `0x`/`\\x` byte lists, hexdump lines) or a
  high-entropy base64 blob. Shape tests (magnitude, mixed signs, not a counting sequence, letters in hex) keep
  coordinates, prices, digits of pi, probabilities and digests out.
- `extraction.canary_leak`: a planted system-prompt canary appears in the output: a proven leak (CRITICAL).
- `extraction.config_dump`: the input asks for the system prompt, configuration or weights (pattern set,
  kind CONFIG_DUMP).
- `extraction.probing`: many near-duplicate prompts from one caller within `probe_window_s` (default 10 min,
  sliding). Each prompt is reduced to a bottom-8 MinHash sketch of word bigrams (digits folded, so "what is 17*3"
  and "what is 18*3" match) and compared with the caller's last `probe_history` sketches; the times of the last
  `probe_threshold` near-duplicates are kept in a ring (`state.RecentTimes`), so a campaign straddling a clock
  boundary is not split, and one campaign yields one finding per window length.

Per-caller memory: one moving average (3 numbers), a ring of 16 sketches in a 512-byte array plus 16 timestamps,
and a ring of `probe_threshold` timestamps.
"""

from __future__ import annotations

import heapq
import math
import re
import zlib
from array import array
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache

from modelfort.runtime.detectors.context import EventContext, hit_ids
from modelfort.runtime.detectors.findings import Finding, Severity
from modelfort.runtime.detectors.patterns import Kind
from modelfort.runtime.detectors.state import Ewma, RecentTimes

NAME = "extraction"
CONTROLS = ("WP-04", "WP-07")
_DUMP_KINDS = frozenset({Kind.CONFIG_DUMP})

_SKETCH_SIZE = 8
_SKETCH_WORDS = 128
_BASE64_MIN_LINE = 16  # shortest line length of wrapped base64 we look for
_DIGITS = str.maketrans("0123456789", "0000000000")

_SEP = r"[\s,;\[\]()]{1,8}"
_FLOAT = r"[-+]?(?:\d(?:\.\d+)?[eE][-+]?\d{1,3}|\d+\.\d{3,})"  # scientific first, so values keep exponents
_INT = r"-?\d{1,3}"
_HEX_TOKEN = r"(?:0[xX][0-9a-fA-F]{1,8}|\\x[0-9a-fA-F]{2})"
_HEXDUMP_LINE = re.compile(r"^[ \t]*(?:[0-9a-fA-F]{4,8}:?[ \t]+)?(?:[0-9a-fA-F]{2,4}[ \t]+){7,}[0-9a-fA-F]{2,4}",
                           re.M)
_FLOAT_VALUE = re.compile(_FLOAT)
_INT_VALUE = re.compile(_INT)


# Maximal runs in one left-to-right pass (each run is consumed once, so the scan is linear in the output length);
# the number of values in a run is counted only for runs long enough in characters to hold the minimum.
_FLOAT_RUN = re.compile(rf"(?<![\d.])(?:{_FLOAT}{_SEP})+{_FLOAT}")  # anchored: a long digit run is read once
_INT_RUN = re.compile(rf"(?<![\w.])(?:{_INT}{_SEP})+{_INT}(?![\w.])")
_HEX_TOKEN_RUN = re.compile(rf"(?:{_HEX_TOKEN}[\s,;]{{0,4}})+")
_HEX_TOKEN_VALUE = re.compile(_HEX_TOKEN)


@lru_cache(maxsize=4)
def _hex_run(minimum: int) -> re.Pattern[str]:
    return re.compile(rf"(?<![0-9a-fA-F])[0-9a-fA-F]{{{minimum},}}")


@lru_cache(maxsize=4)
def _base64_run(minimum: int) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9+/])[A-Za-z0-9+/=\r\n]{{{minimum},}}")


def _long_runs(run: re.Pattern[str], value: re.Pattern[str], text: str, minimum: int,
               min_chars_per_value: int) -> Iterator[tuple[re.Match[str], list[str]]]:
    for match in run.finditer(text):
        if match.end() - match.start() < minimum * min_chars_per_value:
            continue
        values = value.findall(match.group())
        if len(values) >= minimum:
            yield match, values


class _ExtractionState:
    __slots__ = ("lengths", "sketches", "times", "cursor", "probes")

    def __init__(self, history: int, threshold: int) -> None:
        self.lengths = Ewma()
        self.sketches = array("I", bytes(4 * _SKETCH_SIZE * history))
        self.times = array("d", [-math.inf]) * history
        self.cursor = 0
        self.probes = RecentTimes(threshold)


class ExtractionDetector:
    name = NAME

    def inspect(self, ctx: EventContext) -> list[Finding]:
        state = ctx.caller.extraction
        if state is None:
            config = ctx.config.extraction
            state = ctx.caller.extraction = _ExtractionState(config.probe_history, config.probe_threshold)
        assert isinstance(state, _ExtractionState)
        findings: list[Finding] = []
        for check in (self._length, self._weight_dump, self._canary, self._config_dump):
            finding = check(ctx, state) if check is self._length else check(ctx)
            if finding is not None:
                findings.append(finding)
        probing = self._probing(ctx, state)
        if probing is not None:
            findings.append(probing)
        return findings

    # --- response length --------------------------------------------------------------------------------------

    @staticmethod
    def _length(ctx: EventContext, state: _ExtractionState) -> Finding | None:
        config = ctx.config.extraction
        tokens = ctx.event.output.tokens
        limit = ctx.config.max_response_tokens_for(ctx.event.model)
        baseline = state.lengths
        finding = None
        if tokens > limit:
            finding = ctx.finding(
                NAME, f"{NAME}.response_over_limit", CONTROLS + ("RC-09",), Severity.HIGH,
                f"response of {tokens} tokens exceeds the configured maximum of {limit} for model "
                f"{ctx.event.model}: the token limit is not enforced",
                ctx.evidence(ctx.event.output.text, 0, 0))
        elif (baseline.n >= config.baseline_min_samples and tokens >= config.baseline_min_tokens
              and tokens >= config.baseline_ratio * baseline.mean):
            finding = ctx.finding(
                NAME, f"{NAME}.response_vs_baseline", CONTROLS, Severity.MEDIUM,
                f"response of {tokens} tokens is {tokens / max(baseline.mean, 1):.0f}x this caller's average of "
                f"{baseline.mean:.0f} over recent responses",
                ctx.evidence(ctx.event.output.text, 0, 0))
        baseline.update(tokens, config.baseline_alpha)
        return finding

    # --- weight-like content --------------------------------------------------------------------------------------

    @staticmethod
    def _weight_dump(ctx: EventContext) -> Finding | None:
        text = ctx.event.output.text
        config = ctx.config.extraction
        if len(text) < 2 * min(config.float_run_min, config.hex_run_min_chars):
            return None  # too short to hold any run we look for
        # Contiguous hex and base64 live in long whitespace-free tokens (wrapped base64: lines of 16+ characters);
        # ordinary prose has none, so one C-level split spares two regex scans.
        longest = max(map(len, text.split()), default=0)
        for describe in (_float_run, _int_run, _hex_run_in, _hex_tokens_in, _hexdump_in, _base64_in):
            if describe is _hex_run_in and longest < config.hex_run_min_chars:
                continue
            if describe is _base64_in and longest < _BASE64_MIN_LINE:
                continue
            found = describe(text, config)
            if found is not None:
                what, start, end = found
                return ctx.finding(NAME, f"{NAME}.weight_dump", CONTROLS, Severity.HIGH,
                                   f"output carries {what}, a pattern of weight exfiltration",
                                   ctx.evidence(text, start, min(end, start + 40)))
        return None

    # --- canaries -------------------------------------------------------------------------------------------------

    @staticmethod
    def _canary(ctx: EventContext) -> Finding | None:
        canaries = ctx.config.extraction.canaries
        if not canaries:
            return None
        output = ctx.event.output.text
        folded = output.casefold()
        for canary in canaries:
            position = folded.find(canary.casefold())
            if canary and position >= 0:
                return ctx.finding(NAME, f"{NAME}.canary_leak", CONTROLS + ("GR-09",), Severity.CRITICAL,
                                   "a system-prompt canary appears in the output: the system prompt leaked",
                                   ctx.evidence(output, position, position + len(canary)))
        return None

    # --- asking for the configuration ---------------------------------------------------------------------------

    @staticmethod
    def _config_dump(ctx: EventContext) -> Finding | None:
        hits = ctx.input_scan.active(_DUMP_KINDS)
        score = sum(hit.pattern.weight for hit in hits)
        if score < ctx.config.jailbreak.threshold:
            return None
        severity = Severity.HIGH if any(hit.obfuscated for hit in hits) else Severity.MEDIUM
        reason = f"input asks for the system prompt, configuration or weights ({hit_ids(hits)}), score {score:.1f}"
        if severity is Severity.HIGH:
            reason += "; obfuscated"
        return ctx.finding(NAME, f"{NAME}.config_dump", CONTROLS, severity, reason, ctx.hit_evidence(hits[0]))

    # --- near-duplicate probing ---------------------------------------------------------------------------------

    @staticmethod
    def _probing(ctx: EventContext, state: _ExtractionState) -> Finding | None:
        config = ctx.config.extraction
        sketch = prompt_sketch(ctx.event.input.text, config.probe_min_words)
        if sketch is None:
            return None
        now = ctx.now
        duplicate = _is_near_duplicate(sketch, state, now, config.probe_window_s, config.probe_min_similarity)
        _remember(sketch, state, now)
        if not duplicate:
            return None
        campaign = state.probes.add(now, config.probe_window_s)
        if not campaign or not state.probes.report(now, config.probe_window_s):
            return None
        return ctx.finding(
            NAME, f"{NAME}.probing", CONTROLS, Severity.MEDIUM,
            f"{config.probe_threshold} near-duplicate prompts from this caller within {config.probe_window_s} s "
            "(systematic probing of the model)",
            ctx.evidence(ctx.event.input.text, 0, 0, "latest prompt"))


# --- sketches ---------------------------------------------------------------------------------------------------


def prompt_sketch(text: str, min_words: int) -> tuple[int, ...] | None:
    """Bottom-8 MinHash sketch of the prompt's first 128 word bigrams (case and digits folded), or None if too short.

    Probing prompts are templates, so their opening is what repeats; the cap bounds the cost per event.
    CRC32 rather than `hash()`: Python's string hash changes per process, and findings must be reproducible."""
    words = text[:2048].lower().translate(_DIGITS).encode("utf-8", "replace").split()[:_SKETCH_WORDS]
    if len(words) < min_words:
        return None
    hashes = list(map(zlib.crc32, words))
    bigrams = {((a * 0x9E3779B1) ^ b) * 0x85EBCA6B & 0xFFFFFFFF for a, b in zip(hashes, hashes[1:])}
    return tuple(heapq.nsmallest(_SKETCH_SIZE, bigrams))


def _is_near_duplicate(sketch: tuple[int, ...], state: _ExtractionState, now: float, window: float,
                       min_similarity: float) -> bool:
    new = set(sketch)
    needed = math.ceil(min_similarity * len(new))
    for slot, seen in enumerate(state.times):
        if now - seen > window:
            continue
        stored = state.sketches[slot * _SKETCH_SIZE:(slot + 1) * _SKETCH_SIZE]
        if len(new.intersection(stored)) >= needed:
            return True
    return False


def _remember(sketch: tuple[int, ...], state: _ExtractionState, now: float) -> None:
    slot = state.cursor
    padded = sketch + (0,) * (_SKETCH_SIZE - len(sketch))
    state.sketches[slot * _SKETCH_SIZE:(slot + 1) * _SKETCH_SIZE] = array("I", padded)
    state.times[slot] = now
    state.cursor = (slot + 1) % len(state.times)


# --- weight-like runs -------------------------------------------------------------------------------------------
# Each returns (description, start, end) of the first convincing run, or None.


def _float_run(text: str, config) -> tuple[str, int, int] | None:
    if text.count(".") + text.count("e-") < config.float_run_min:
        return None
    for match, found in _long_runs(_FLOAT_RUN, _FLOAT_VALUE, text, config.float_run_min, 4):
        values = [float(v) for v in found]
        small = sum(1 for v in values if abs(v) < 2.0)
        negative = sum(1 for v in values if v < 0)
        # Weights: mostly small, both signs. Coordinates are large; probabilities and prices are all positive.
        if small >= 0.8 * len(values) and 0.15 * len(values) <= negative <= 0.85 * len(values):
            return f"{len(values)} consecutive small signed decimals", match.start(), match.end()
    return None


def _int_run(text: str, config) -> tuple[str, int, int] | None:
    if sum(map(text.count, "0123456789")) < config.int_run_min:
        return None
    for match, found in _long_runs(_INT_RUN, _INT_VALUE, text, config.int_run_min, 2):
        values = [int(v) for v in found]
        if not all(-128 <= v <= 255 for v in values):
            continue
        steps = [b - a for a, b in zip(values, values[1:])]
        rising = sum(1 for s in steps if s > 0)
        falling = sum(1 for s in steps if s < 0)
        if max(rising, falling) > 0.9 * len(steps) or len(set(values)) < 8:
            continue  # a counting sequence or a constant fill, not weights
        return f"{len(values)} consecutive small integers (quantised-weight shape)", match.start(), match.end()
    return None


def _hex_run_in(text: str, config) -> tuple[str, int, int] | None:
    for match in _hex_run(config.hex_run_min_chars).finditer(text):
        run = match.group()
        letters = sum(1 for ch in run if ch.isalpha())
        if 0.1 * len(run) <= letters <= 0.9 * len(run):  # digits of pi are not hex; a word of a-f letters neither
            return f"an unbroken run of {len(run)} hex digits", match.start(), match.end()
    return None


def _hex_tokens_in(text: str, config) -> tuple[str, int, int] | None:
    if text.count("0x") + text.count("0X") + text.count("\\x") < config.hex_token_run_min:
        return None
    for match, values in _long_runs(_HEX_TOKEN_RUN, _HEX_TOKEN_VALUE, text, config.hex_token_run_min, 3):
        return f"a list of {len(values)} hex byte literals", match.start(), match.end()
    return None


def _hexdump_in(text: str, config) -> tuple[str, int, int] | None:
    if text.count("\n") < config.hex_dump_min_lines:
        return None
    lines = list(_HEXDUMP_LINE.finditer(text))
    if len(lines) < config.hex_dump_min_lines:
        return None
    return f"{len(lines)} hexdump lines", lines[0].start(), lines[0].end()


def _base64_in(text: str, config) -> tuple[str, int, int] | None:
    if len(text) < config.base64_run_min_chars:
        return None
    for match in _base64_run(config.base64_run_min_chars).finditer(text):
        blob = match.group().replace("\n", "").replace("\r", "")
        if len(blob) < config.base64_run_min_chars:
            continue
        entropy = _entropy(blob)
        if entropy >= config.base64_min_entropy:
            return (f"a {len(blob)}-character base64 blob ({entropy:.1f} bits/char)", match.start(), match.end())
    return None


def _entropy(text: str) -> float:
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())
