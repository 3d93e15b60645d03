"""Markdown for pull-request comments: verdict first, then violations, waivers, and a diagram of the planned zone."""

from __future__ import annotations

import re
from collections import Counter

from modelfort.gate.engine import GateReport, describe_gap
from modelfort.gate.reports.common import custom_resource_count, zone_label

MAX_TYPES_PER_COMPONENT = 12


def render_markdown(report: GateReport) -> str:
    verdict = report.verdict
    icon = {"pass": "✅", "blocked": "⛔", "error": "⚠️"}[report.verdict_name]
    out = [f"## {icon} ModelFort gate: {report.verdict_name.upper()} — stack `{report.options.stack}`", ""]
    out.append(f"Zone: **{zone_label(report)}** · Resources planned: **{custom_resource_count(report)}** · "
               f"Mandatory violations: **{len(verdict.blocking)}** · Advisory: **{len(verdict.advisory)}**")
    if report.error:
        out += ["", "### Error", "", "```", report.error.strip()[:4000], "```"]
        return "\n".join(out) + "\n"
    if verdict.violations:
        out += ["", "### Violations", "", "| | Policy | Severity | Controls | Resource | Message |", "|---|---|---|---|---|---|"]
        for v in verdict.violations:
            mark = "⛔" if v.blocking else "⚠️"
            out.append(f"| {mark} | `{v.policy}` | {v.severity} | {', '.join(v.controls) or '-'} | "
                       f"`{_cell(v.resource_name or 'stack')}` | {_cell(v.message)} |")
    if report.mock_gaps:
        out += ["", "### Gaps of the offline gate", "", "The gate's mocks had no answer for these; the program got empty or "
                "placeholder values there (a gap of the gate, not of the program):", ""]
        out += [f"- {_cell(describe_gap(g))}" for g in report.mock_gaps]
    if report.waivers:
        out += ["", "### Waivers in force", "", "| Policy | Resource | Owner | Expires | Reason |", "|---|---|---|---|---|"]
        for w in report.waivers:
            out.append(f"| `{w['policy']}` | `{_cell(w['resource'])}` | {_cell(w['owner'])} | {w['expires']} | {_cell(w['reason'])} |")
    out += ["", "### Planned zone", "", "```mermaid", *zone_diagram(report), "```"]
    return "\n".join(out) + "\n"


def zone_diagram(report: GateReport) -> list[str]:
    """Components as boxes nested like the program builds them, with their resources counted by type.
    A resource type with a blocking violation is drawn in red."""
    blocked_urns = {v.urn for v in report.verdict.blocking}
    by_urn = {r["urn"]: r for r in report.resources}
    children: dict[str, list[dict]] = {}
    for r in report.resources:
        children.setdefault(r.get("parent", ""), []).append(r)
    lines = ["flowchart TB"]
    red: list[str] = []

    def node_id(urn: str) -> str:
        return "n" + re.sub(r"[^A-Za-z0-9]", "", str(abs(hash(urn))))

    def draw(urn: str, depth: int) -> None:
        resource = by_urn[urn]
        kids = children.get(urn, [])
        components = [k for k in kids if not k["custom"]]
        customs = [k for k in kids if k["custom"] and not k["type"].startswith("pulumi:providers:")]
        indent = "  " * depth
        lines.append(f'{indent}subgraph {node_id(urn)}["{_label(resource["type"].split(":")[-1])} {_label(resource["name"])}"]')
        counts = Counter(k["type"] for k in customs)
        blocked_types = {k["type"] for k in customs if k["urn"] in blocked_urns}
        for index, (resource_type, count) in enumerate(sorted(counts.items())[:MAX_TYPES_PER_COMPONENT]):
            leaf = f"{node_id(urn)}t{index}"
            lines.append(f'{indent}  {leaf}["{count} × {_label(resource_type.split(":")[-1])}"]')
            if resource_type in blocked_types:
                red.append(leaf)
        if len(counts) > MAX_TYPES_PER_COMPONENT:
            lines.append(f'{indent}  {node_id(urn)}more["… {len(counts) - MAX_TYPES_PER_COMPONENT} more types"]')
        for component in components:
            draw(component["urn"], depth + 1)
        lines.append(f"{indent}end")

    roots = [r for r in report.resources if r["type"] == "pulumi:pulumi:Stack"]
    for root in roots:
        draw(root["urn"], 1)
    if red:
        lines.append("  classDef blocked fill:#fdd,stroke:#c00,stroke-width:2px")
        lines.append(f"  class {','.join(red)} blocked")
    return lines


def _label(text: str) -> str:
    return text.replace('"', "'").replace("[", "(").replace("]", ")")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_markdown(report: GateReport, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render_markdown(report))
