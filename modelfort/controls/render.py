"""The matrix as JSON, Markdown and a terminal summary."""

from __future__ import annotations

from collections import Counter
from typing import Any

from modelfort.controls.catalog import SECTIONS
from modelfort.controls.matrix import Coverage
from modelfort.controls.stack_view import StackStatus, status_dict


def matrix_dict(coverage: list[Coverage], statuses: dict[str, StackStatus] | None, stack: str | None) -> dict[str, Any]:
    controls = []
    for row in coverage:
        entry = {
            "id": row.control.id,
            "section": row.control.section,
            "requirement": row.control.requirement,
            "where": list(row.control.where),
            "components": [{"name": c.name, "module": c.module, "type": c.type_token} for c in row.components],
            "runtime": [r.module for r in row.runtime],
            "policies": row.policies,
            "tests": row.tests,
            "rationale": row.control.rationale or None,
            "covered": row.covered,
        }
        if statuses is not None:
            entry["stack"] = status_dict(statuses[row.control.id])
        controls.append(entry)
    return {"stack": stack, "controls": controls}


def matrix_markdown(coverage: list[Coverage], statuses: dict[str, StackStatus] | None, stack: str | None) -> str:
    title = f"# Control matrix — stack `{stack}`" if stack else "# Control matrix"
    lines = [title, ""]
    for prefix, section in SECTIONS.items():
        rows = [r for r in coverage if r.control.id.startswith(prefix)]
        lines += [f"## {prefix} — {section}", ""]
        header = "| ID | Requirement | Components | Policies | Tests |" + (" In this stack |" if statuses else "")
        lines += [header, "|---" * (5 + bool(statuses)) + "|"]
        for row in rows:
            components = ", ".join(sorted({c.name for c in row.components} | {r.name for r in row.runtime})) or "—"
            policies = ", ".join(f"`{p}`" for p in row.policies) or "—"
            tests = str(len(row.tests)) if row.tests else "**none**"
            cells = [row.control.id, row.control.requirement, components, policies, tests]
            if statuses:
                cells.append(statuses[row.control.id].status)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def summary_lines(coverage: list[Coverage], statuses: dict[str, StackStatus] | None) -> list[str]:
    covered = sum(1 for r in coverage if r.covered)
    lines = [f"{covered}/{len(coverage)} controls implemented or explained, and proven by tests"]
    for row in coverage:
        if not row.covered:
            lines.append(f"  GAP {row.control.id}: {row.control.requirement}")
    if statuses is not None:
        counts = Counter(s.status for s in statuses.values())
        lines.append("in this stack: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return lines
