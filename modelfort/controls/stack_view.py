"""One stack's view of the matrix: for each control, is it implemented, enforced, waived or not applicable here?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelfort.controls.matrix import Coverage
from modelfort.gate.engine import GateReport


@dataclass
class StackStatus:
    status: str
    """implemented+enforced | implemented | enforced | waived | runtime | process | not-applicable"""
    implemented_by: list[str] = field(default_factory=list)
    enforced_by: list[str] = field(default_factory=list)
    advisory_by: list[str] = field(default_factory=list)
    waivers: list[dict[str, str]] = field(default_factory=list)
    note: str = ""


def stack_statuses(coverage: list[Coverage], report: GateReport) -> dict[str, StackStatus]:
    planned_types = {r["type"] for r in report.resources}
    policies = report.pack.policies if report.pack else {}
    statuses: dict[str, StackStatus] = {}
    for row in coverage:
        implemented = sorted({c.name for c in row.components if c.type_token in planned_types})
        enforced = sorted(p for p in row.policies if p in policies and policies[p].enforcement == "mandatory")
        advisory = sorted(p for p in row.policies if p in policies and policies[p].enforcement == "advisory")
        waivers = [w for w in report.waivers if w["policy"] in row.policies]
        status = StackStatus("not-applicable", implemented, enforced, advisory, waivers)
        if waivers:
            status.status = "waived"
        elif implemented and enforced:
            status.status = "implemented+enforced"
        elif implemented:
            status.status = "implemented"
        elif enforced:
            status.status = "enforced"
        elif row.runtime:
            status.status = "runtime"
            status.note = "shipped as runtime code: " + ", ".join(r.module for r in row.runtime)
        elif "process" in row.control.where:
            status.status = "process"
            status.note = row.control.rationale
        else:
            status.note = "no component for it is planned in this stack"
        statuses[row.control.id] = status
    return statuses


def status_dict(status: StackStatus) -> dict[str, Any]:
    return {
        "status": status.status,
        "implementedBy": status.implemented_by,
        "enforcedBy": status.enforced_by,
        "advisoryBy": status.advisory_by,
        "waivers": status.waivers,
        "note": status.note,
    }
