"""Anomalous tool use per caller: bursts, first use of a tool, denials, argument sizes, bounded profiles."""

from __future__ import annotations

import pytest

from modelfort.runtime.detectors.config import DetectorConfig, ToolUseConfig
from modelfort.runtime.detectors.findings import Severity


def tool(name: str, size: int = 200, allowed: bool = True) -> dict:
    return {"name": name, "argument_bytes": size, "allowed": allowed}


def tool_findings(findings):
    return [f for f in findings if f.detector == "tool_use"]


def profile(make_event, names: list[str], count: int, start: float = 0.0, caller: str = "agent") -> list[dict]:
    return [make_event(at=start + i * 30, caller=caller, tool_calls=[tool(names[i % len(names)])])
            for i in range(count)]


@pytest.mark.control("OB-07")
def test_a_burst_above_the_limit_is_reported_once(engine, make_event, run) -> None:
    events = [make_event(at=i * 2, tool_calls=[tool("search_kb")] * 4) for i in range(15)]  # 60 calls in 30 s
    findings = tool_findings(run(engine(), *events))
    assert [f.rule for f in findings] == ["tool_use.burst"]


def test_a_busy_minute_below_the_limit_is_fine(engine, make_event, run) -> None:
    events = [make_event(at=i * 8, tool_calls=[tool("search_kb")] * 4) for i in range(7)]  # 28 calls
    assert tool_findings(run(engine(), *events)) == []


def test_a_burst_straddling_a_minute_boundary_is_not_split(engine, make_event, run) -> None:
    # 40 calls in 20 s around the 60 s mark: 20 + 20 in two fixed windows, 40 in any sliding one.
    events = [make_event(at=50 + i * 2, tool_calls=[tool("search_kb")] * 4) for i in range(10)]
    assert [f.rule for f in tool_findings(run(engine(), *events))] == ["tool_use.burst"]


@pytest.mark.control("OB-07")
@pytest.mark.parametrize(("new", "severity"), [("translate", Severity.MEDIUM), ("shell", Severity.HIGH)])
def test_first_use_of_a_tool_after_a_profile_is_reported(new, severity, engine, make_event, run) -> None:
    detector = engine()
    assert tool_findings(run(detector, *profile(make_event, ["search_kb", "fetch_doc"], 22))) == []
    findings = tool_findings(run(detector, make_event(at=2000, caller="agent", tool_calls=[tool(new)])))
    assert [(f.rule, f.severity) for f in findings] == [("tool_use.new_tool", severity)]
    # Reported once: the tool is part of the profile afterwards.
    assert tool_findings(run(detector, make_event(at=2100, caller="agent", tool_calls=[tool(new)]))) == []


def test_no_new_tool_findings_while_a_caller_is_warming_up(engine, make_event, run) -> None:
    names = ["search_kb", "fetch_doc", "calendar_create", "crm_lookup", "plot_chart", "shell"]
    found = tool_findings(run(engine(), *profile(make_event, names, 6)))
    assert [f.rule for f in found if f.rule == "tool_use.new_tool"] == []
    # Issue 17: a risky tool is reported even while the caller warms up (once: on its first call).
    assert [(f.rule, f.severity) for f in found] == [("tool_use.risky_tool", Severity.HIGH)]
    assert "shell (execution)" in found[0].reason


@pytest.mark.control("OB-07")
def test_denied_calls_are_reported_and_escalate(engine, make_event, run) -> None:
    detector = engine()
    first = tool_findings(run(detector, make_event(at=0, tool_calls=[tool("admin_api", allowed=False)])))
    assert [(f.rule, f.severity) for f in first] == [("tool_use.denied", Severity.MEDIUM)]
    sensitive = tool_findings(run(detector, make_event(at=5, tool_calls=[tool("shell", allowed=False)])))
    assert sensitive[0].severity is Severity.HIGH
    third = tool_findings(run(detector, make_event(at=10, tool_calls=[tool("shell", allowed=False)])))
    assert third[0].severity is Severity.CRITICAL  # sensitive and the third denial in the window
    assert "DENIED" in third[0].evidence


@pytest.mark.control("OB-07")
def test_argument_sizes_absolute_and_relative(engine, make_event, run) -> None:
    detector = engine()
    huge = tool_findings(run(detector, make_event(at=0, caller="a", tool_calls=[tool("send_email", 70_000)])))
    assert [(f.rule, f.severity) for f in huge] == [("tool_use.argument_size", Severity.HIGH)]

    habit = [make_event(at=i * 10, caller="b", tool_calls=[tool("post_message", 200)]) for i in range(12)]
    assert tool_findings(run(detector, *habit)) == []
    spike = tool_findings(run(detector, make_event(at=500, caller="b", tool_calls=[tool("post_message", 30_000)])))
    assert [(f.rule, f.severity) for f in spike] == [("tool_use.argument_size", Severity.MEDIUM)]
    # 10x the mean but under the minimum size: a chatty tool, not exfiltration.
    assert tool_findings(run(detector, make_event(at=600, caller="b", tool_calls=[tool("post_message", 3000)]))) == []


def test_the_per_caller_tool_profile_is_bounded(engine, make_event, run) -> None:
    limited = DetectorConfig(tool_use=ToolUseConfig(max_tools_per_caller=4, profile_min_calls=2))
    detector = engine(limited)
    events = [make_event(at=i * 30, caller="many", tool_calls=[tool(f"tool_{i}")]) for i in range(40)]
    findings = tool_findings(run(detector, *events))
    state = detector.caller_states()[0].tool_use
    assert len(state.tools) == 4  # never more than the cap
    # New tools are reported until the cap is reached, then the caller has no stable profile to compare with.
    assert len([f for f in findings if f.rule == "tool_use.new_tool"]) == 2
