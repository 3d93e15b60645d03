"""The human summary printed on stdout."""

from __future__ import annotations

from modelfort.gate.engine import GateReport, describe_gap, registration_counts
from modelfort.gate.reports.common import custom_resource_count, plan_by_component, zone_label

SEVERITY_RANK = ("critical", "high", "medium", "low", "unspecified")


def render_summary(report: GateReport) -> str:
    options = report.options
    lines = [f"ModelFort gate — stack '{options.stack}', zone {zone_label(report)}"]
    if report.project:
        lines.append(f"program: {report.project.directory}")
    if report.pack:
        lines.append(f"policy pack: {report.pack.name} ({len(report.pack.policies)} policies, plus the gate's own checks)")
    for label, interpreter in (("program runs in", report.program_python), ("pack runs in", report.pack_python)):
        if interpreter is not None:
            lines.append(f"{label}: {interpreter.python} — {interpreter.source}")
    if report.error:
        if report.exit_code == 1:
            # The program itself refused to plan (a release that does not match its artifacts, say): a block.
            lines += ["", f"REFUSED (exit 1): {report.error.strip()}", "", "VERDICT: BLOCKED — the program refused to plan this stack."]
        else:
            lines += ["", f"ERROR (exit {report.exit_code}): {report.error.strip()}", "", "VERDICT: ERROR — nothing was judged; fix the error and run again."]
        return "\n".join(lines) + "\n"

    counts = registration_counts(report.resources)
    lines += ["", f"Plan: {custom_resource_count(report)} resources (the program also registered {counts['components']} "
              f"components, {counts['providers']} providers and {counts['stack']} stack, which are not planned resources)"]
    for component, counts in sorted(plan_by_component(report).items()):
        lines.append(f"  {component}: {sum(counts.values())}")
        for resource_type, count in sorted(counts.items()):
            lines.append(f"      {count:>3} × {resource_type}")

    verdict = report.verdict
    if verdict.violations:
        lines += ["", "Violations:"]
        for severity in SEVERITY_RANK:
            group = [v for v in verdict.violations if v.severity == severity]
            if not group:
                continue
            lines.append(f"  {severity.upper()}")
            for v in group:
                label = "BLOCKING" if v.blocking else "advisory"
                controls = ", ".join(v.controls) or "-"
                where = v.resource_name or v.urn or "(stack)"
                lines.append(f"    [{label}] {v.policy} ({controls}) — {where}")
                lines.append(f"        {v.message}")
                if v.remediation:
                    lines.append(f"        fix: {v.remediation}")
    if report.waivers:
        lines += ["", "Waivers in force:"]
        for waiver in report.waivers:
            lines.append(f"  {waiver['policy']} on {waiver['resource']} — {waiver['owner']}, expires {waiver['expires']}: {waiver['reason']}")
        for record in verdict.waiver_records:
            lines.append(f"    · {record.message}")
    if report.mock_gaps:
        lines += ["", "Note: the gate's mocks had no answer for these (a gap of the offline gate, not of the program; "
                  "the program got empty or placeholder values there): " + "; ".join(describe_gap(g) for g in report.mock_gaps)]
    if report.unanswered_invokes:
        lines += ["", "Note: the mocks had no answer for these invokes (the program got empty results): " + ", ".join(report.unanswered_invokes)]
    lines.append("")
    blocking, advisory = len(verdict.blocking), len(verdict.advisory)
    if blocking:
        lines.append(f"VERDICT: BLOCKED — {blocking} mandatory violation(s), {advisory} advisory.")
    else:
        lines.append(f"VERDICT: PASS — no mandatory violations, {advisory} advisory.")
    total = report.timings.get("total")
    if total is not None:
        lines.append(f"(gated in {total:.2f}s)")
    return "\n".join(lines) + "\n"
