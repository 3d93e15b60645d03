"""Anomalous tool use per caller (OB-07): bursts, first use of a tool, denied calls, unusual argument sizes.

An agent turned by a prompt injection shows up in its tool calls before anywhere else: it calls more, calls tools it
never needed, hits the tool policy's denials, or stuffs data into arguments (exfiltration through a `send_email` or
`http_request`). Rules:
- `tool_use.burst`: more than `max_calls_per_window` calls by one caller within `window_s` (default 60 s, sliding:
  the times of the last `max_calls_per_window + 1` calls are kept in a ring, `state.RecentTimes`). Reported once
  per window length while the burst lasts.
- `tool_use.new_tool`: a tool this caller never used, once the caller has a profile (`profile_min_calls` calls).
  Before that every tool is new and nothing is reported. The profile holds at most `max_tools_per_caller` names;
  a caller past that cap is not reported for new tools (a caller using 32 tools has no stable profile anyway).
- `tool_use.denied`: calls the tool policy denied. Always reported: a denial means the model asked for something
  outside policy, the classic trace of injected intent. Raised one level for sensitive tools and from the
  `denial_escalation`-th denial in a window.
- `tool_use.argument_size`: arguments above `max_argument_bytes`, or far above this caller's mean for that tool
  (moving average per caller and tool, `argument_ratio` times and at least `argument_min_bytes`).

- `tool_use.risky_tool`: a call to a tool whose name scores as risky (execution, IAM, payments, data export; see
  `risk_category`), allowed by policy, by a caller with little history (fewer than `profile_min_calls` calls) that never used it.
  `new_tool` covers callers with a profile; this covers the first calls, when a stolen key or a fresh agent
  turned by injection has no history to compare with.
- `tool_use.enumeration`: one caller walking identifiers in order (order 48213, 48214, 48215...): the last number
  of 3 to 12 digits in each input, a run grows while each is 1 to `_ENUM_MAX_STEP` above the previous one, within
  `window_s` x 10 of the run's start. Reported once when the run reaches `_ENUM_MIN_RUN`. Judged on every event,
  with or without tool calls (an agent's look-ups and a user's pasted ids alike); three numbers per caller.

Per-caller memory: a ring of `max_calls_per_window + 1` timestamps, a fixed-window denial counter, a call count,
and at most `max_tools_per_caller` (name -> moving average).
"""

from __future__ import annotations

import re

from modelfort.runtime.detectors.context import EventContext
from modelfort.runtime.detectors.findings import Finding, Severity
from modelfort.runtime.detectors.state import Ewma, FixedWindow, RecentTimes
from modelfort.runtime.telemetry import ToolCall

NAME = "tool_use"
CONTROLS = ("OB-07",)
_ARGUMENT_ALPHA = 0.1
_ENUM_MIN_RUN = 8
"""Consecutive identifiers that make an enumeration: far more than a user checking a few orders in a row."""
_ENUM_MAX_STEP = 3
_ENUM_WINDOW_FACTOR = 10
_IDENTIFIER = re.compile(r"(?<![\d.,])\d{3,12}(?![\d]|[.,]\d)")

# Name tokens that make a tool risky, by category. A token matches a whole part of the name split at `_`, `-`,
# `.`, `/` and camelCase humps, so `get_weather` never matches and `run_shell_command` matches `shell`.
RISKY_TOKENS: dict[str, frozenset[str]] = {
    "execution": frozenset({"shell", "exec", "execute", "bash", "sh", "powershell", "cmd", "command", "eval",
                            "subprocess", "terminal", "interpreter", "python", "script", "ssh"}),
    "iam": frozenset({"iam", "role", "roles", "policy", "permission", "permissions", "grant", "admin", "sudo",
                      "privilege", "privileges", "credential", "credentials", "accesskey", "access_key"}),
    "payments": frozenset({"payment", "payments", "pay", "refund", "refunds", "transfer", "wire", "payout",
                           "charge", "remit", "withdraw", "withdrawal"}),
    "data_export": frozenset({"export", "dump", "bulk", "backup", "exfiltrate", "download_all", "database",
                              "db", "table"}),
}
_NAME_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


class _ToolState:
    __slots__ = ("calls", "denials", "total", "tools")

    def __init__(self, max_calls: int) -> None:
        self.calls = RecentTimes(max_calls + 1)
        self.denials = FixedWindow()
        self.total = 0
        self.tools: dict[str, Ewma] = {}


class ToolUseDetector:
    name = NAME

    def inspect(self, ctx: EventContext) -> list[Finding]:
        enumeration = _enumeration(ctx)
        calls = ctx.event.tool_calls
        if not calls:
            return [enumeration] if enumeration is not None else []
        state = ctx.caller.tool_use
        if state is None:
            state = ctx.caller.tool_use = _ToolState(ctx.config.tool_use.max_calls_per_window)
        assert isinstance(state, _ToolState)
        findings = [
            finding
            for finding in (
                self._burst(ctx, state, calls),
                self._new_tools(ctx, state, calls),
                self._risky_first_calls(ctx, state, calls),
                self._denied(ctx, state, calls),
                self._argument_sizes(ctx, state, calls),
            )
            if finding is not None
        ]
        if enumeration is not None:
            findings.append(enumeration)
        self._learn(ctx, state, calls)
        return findings

    @staticmethod
    def _burst(ctx: EventContext, state: _ToolState, calls: tuple[ToolCall, ...]) -> Finding | None:
        config = ctx.config.tool_use
        bursting = state.calls.add(ctx.now, config.window_s, len(calls))
        if not bursting or not state.calls.report(ctx.now, config.window_s):
            return None
        return ctx.finding(NAME, f"{NAME}.burst", CONTROLS, Severity.MEDIUM,
                           f"more than {config.max_calls_per_window} tool calls by this caller within "
                           f"{config.window_s} s",
                           ctx.evidence(_tool_list(calls)))

    @staticmethod
    def _new_tools(ctx: EventContext, state: _ToolState, calls: tuple[ToolCall, ...]) -> Finding | None:
        config = ctx.config.tool_use
        if state.total < config.profile_min_calls or len(state.tools) >= config.max_tools_per_caller:
            return None
        new = sorted({call.name for call in calls if call.name not in state.tools})
        if not new:
            return None
        sensitive = [name for name in new if name in config.sensitive_tools]
        severity = Severity.HIGH if sensitive else Severity.MEDIUM
        reason = (f"first use of {', '.join(new)} by this caller after {state.total} calls to "
                  f"{len(state.tools)} other tool(s)")
        if sensitive:
            reason += f"; sensitive: {', '.join(sensitive)}"
        return ctx.finding(NAME, f"{NAME}.new_tool", CONTROLS, severity, reason, ctx.evidence(_tool_list(calls)))

    @staticmethod
    def _risky_first_calls(ctx: EventContext, state: _ToolState, calls: tuple[ToolCall, ...]) -> Finding | None:
        if state.total >= ctx.config.tool_use.profile_min_calls:
            return None  # a caller with a profile: `new_tool` judges its new tools
        # Denied calls are already reported (and raised for sensitive tools) by `denied`: only calls that ran here.
        risky = sorted({(call.name, category) for call in calls if call.allowed and call.name not in state.tools
                        for category in (risk_category(call.name),) if category})
        if not risky:
            return None
        listed = ", ".join(f"{name} ({category})" for name, category in risky)
        return ctx.finding(NAME, f"{NAME}.risky_tool", CONTROLS, Severity.HIGH,
                           f"risky tool(s) {listed} called by a caller with only {state.total} earlier call(s)",
                           ctx.evidence(_tool_list(calls)))

    @staticmethod
    def _denied(ctx: EventContext, state: _ToolState, calls: tuple[ToolCall, ...]) -> Finding | None:
        config = ctx.config.tool_use
        denied = [call.name for call in calls if not call.allowed]
        if not denied:
            return None
        count = state.denials.add(ctx.now, config.window_s, len(denied))
        severity = Severity.MEDIUM
        sensitive = sorted({name for name in denied if name in config.sensitive_tools})
        if sensitive:
            severity = severity.raised()
        if count >= config.denial_escalation:
            severity = severity.raised()
        reason = f"tool policy denied {', '.join(sorted(set(denied)))} ({count} denial(s) in the current window)"
        if sensitive:
            reason += f"; sensitive: {', '.join(sensitive)}"
        return ctx.finding(NAME, f"{NAME}.denied", CONTROLS, severity, reason, ctx.evidence(_tool_list(calls)))

    @staticmethod
    def _argument_sizes(ctx: EventContext, state: _ToolState, calls: tuple[ToolCall, ...]) -> Finding | None:
        config = ctx.config.tool_use
        worst: tuple[Severity, str] | None = None
        for call in calls:
            size = call.argument_bytes
            stats = state.tools.get(call.name)
            if size > config.max_argument_bytes:
                candidate = (Severity.HIGH, f"{call.name} called with {size} bytes of arguments "
                                            f"(limit {config.max_argument_bytes})")
            elif (stats is not None and stats.n >= config.argument_min_samples and size >= config.argument_min_bytes
                  and size >= config.argument_ratio * stats.mean):
                candidate = (Severity.MEDIUM, f"{call.name} called with {size} bytes of arguments, "
                                              f"{size / max(stats.mean, 1):.0f}x this caller's average of "
                                              f"{stats.mean:.0f}")
            else:
                continue
            if worst is None or candidate[0].rank > worst[0].rank:
                worst = candidate
        if worst is None:
            return None
        return ctx.finding(NAME, f"{NAME}.argument_size", CONTROLS, worst[0], worst[1], ctx.evidence(_tool_list(calls)))

    @staticmethod
    def _learn(ctx: EventContext, state: _ToolState, calls: tuple[ToolCall, ...]) -> None:
        config = ctx.config.tool_use
        for call in calls:
            state.total += 1
            stats = state.tools.get(call.name)
            if stats is None:
                if len(state.tools) >= config.max_tools_per_caller:
                    continue
                stats = state.tools[call.name] = Ewma()
            stats.update(call.argument_bytes, _ARGUMENT_ALPHA)


def _tool_list(calls: tuple[ToolCall, ...], limit: int = 6) -> str:
    """Evidence for tool findings: names, sizes and decisions only (arguments are never logged)."""
    shown = [f"{c.name}({c.argument_bytes}B,{'allowed' if c.allowed else 'DENIED'})" for c in calls[:limit]]
    more = f" +{len(calls) - limit} more" if len(calls) > limit else ""
    return "calls: " + " ".join(shown) + more


def risk_category(name: str) -> str | None:
    """The first risk category whose tokens appear among the parts of a tool name, or None."""
    parts = [part.lower() for part in _NAME_PARTS.findall(name)]
    joined = {f"{a}_{b}" for a, b in zip(parts, parts[1:])} | {f"{a}{b}" for a, b in zip(parts, parts[1:])}
    candidates = set(parts) | joined
    for category, tokens in RISKY_TOKENS.items():
        if candidates & tokens:
            return category
    return None


class _EnumerationState:
    __slots__ = ("last", "run", "start")

    def __init__(self) -> None:
        self.last = -1
        self.run = 0
        self.start = 0.0


def _enumeration(ctx: EventContext) -> Finding | None:
    numbers = _IDENTIFIER.findall(ctx.event.input.text[-2000:])
    if not numbers:
        return None
    state = ctx.caller.enumeration
    if state is None:
        state = ctx.caller.enumeration = _EnumerationState()
    assert isinstance(state, _EnumerationState)
    value = int(numbers[-1])
    window = ctx.config.tool_use.window_s * _ENUM_WINDOW_FACTOR
    if 0 < value - state.last <= _ENUM_MAX_STEP and ctx.now - state.start <= window:
        state.run += 1
    else:
        state.run, state.start = 1, ctx.now
    state.last = value
    if state.run != _ENUM_MIN_RUN:
        return None
    return ctx.finding(NAME, f"{NAME}.enumeration", CONTROLS, Severity.MEDIUM,
                       f"{state.run} identifiers in sequence from this caller within {ctx.now - state.start:.0f} s "
                       f"(latest {value}): enumeration", ctx.evidence(ctx.event.input.text))
