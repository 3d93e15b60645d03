"""Detectors for model extraction, jailbreaks, tool abuse and RAG poisoning in inference telemetry.

Pure Python, standard library only, so the same code runs in a Lambda, a container or a laptop replaying logs.
Input is the telemetry event of `modelfort.runtime.telemetry`; output is `Finding` objects (JSON-serialisable).

- `extraction` (WP-04, WP-07): response length against the model's limit and the caller's baseline, weight-like
  output, requests for the system prompt/configuration/weights, planted canaries, near-duplicate probing.
- `jailbreak` (OB-05, OB-06, RC-08): jailbreak and injection patterns in inputs, normalised against obfuscation,
  combined with the guardrail verdict.
- `tool_use` (OB-07): tool-call bursts, first use of a tool, denied calls, unusual argument sizes.
- `rag_poisoning` (OB-08, RC-06): instructions in retrieved passages, hidden text, links and sources outside an
  allow-list.

Use: `Detector(config).process(event) -> list[Finding]` (or `process_batch(records)` from a Lambda handler);
`modelfort detect EVENTS.jsonl` runs the engine over a JSON-lines file (`cli.py`). The event and finding formats
are in `docs/telemetry-schema.md`.

Windows and memory, and why:
- All windows run on event time (the `timestamp` field), so replaying logs gives the same findings as watching
  live; a caller's clock only moves forward, so a late event cannot reset a window.
- Sliding windows for thresholds that attackers would otherwise split across a clock boundary: tool-call bursts
  (`tool_use.window_s`, 60 s) and near-duplicate probing (`extraction.probe_window_s`, 10 min). Each is a ring of
  the last N occurrence times (N = the threshold), so "N within the window" costs O(N) memory and O(1) time, and
  one sustained campaign yields one finding per window length.
- Fixed windows where only escalation depends on them: jailbreak attempts per caller (1 h) and tool denials per
  caller (60 s). One counter each.
- Exponential decay (moving averages over about the last 20 samples) for baselines: response length per caller,
  argument size per caller and tool. Three numbers each; recent behaviour weighs most.
- Per caller: at most 16 prompt sketches (512 bytes), `probe_threshold` + `max_calls_per_window` + 1 timestamps,
  and at most `max_tools_per_caller` (32) tool profiles: about 4 KB per caller in practice, about 12 KB at worst.
- Callers: an LRU of at most `state.max_callers` (20,000), each forgotten after `state.idle_ttl_s` (1 day) idle.
  Losing a caller costs a warm-up period for that caller (baselines, tool profile); growing without bound would
  cost the whole process. `Detector.callers_evicted` shows when the cap is too small.
- Per event: pattern scans are linear in the text (regexes anchored to avoid rescanning), base64 decoding is capped
  (`jailbreak.base64_max_candidates` strings of at most `base64_max_chars`), links examined per passage are capped,
  and the telemetry parser bounds every field before any detector reads it.
"""

from __future__ import annotations

import importlib
from typing import Any

# Re-exported lazily: `modelfort` imports this package's `cli` for every command, and compiling the pattern set
# costs about 0.1 s that `modelfort --help` should not pay.
_EXPORTS = {
    "BatchResult": "engine", "Detector": "engine", "Stats": "engine",
    "ConfigError": "config", "DetectorConfig": "config", "load_config": "config",
    "Finding": "findings", "Severity": "findings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
