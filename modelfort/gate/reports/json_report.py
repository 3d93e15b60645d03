"""The machine-readable report: everything the gate saw and decided."""

from __future__ import annotations

import json
from typing import Any

from modelfort.gate.engine import GateReport
from modelfort.gate.reports.common import public_value

SCHEMA_VERSION = 1


def report_dict(report: GateReport) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "verdict": report.verdict_name,
        "exitCode": report.exit_code,
        "error": report.error,
        "stack": report.options.stack,
        "zone": report.zone,
        "project": report.project.name if report.project else None,
        "stackConfig": report.stack_file.path if report.stack_file else None,
        "policyPack": {"name": report.pack.name, "version": report.pack.version} if report.pack else None,
        "resources": [
            {
                "urn": r["urn"],
                "type": r["type"],
                "name": r["name"],
                "parent": r["parent"] or None,
                "custom": r["custom"],
                "remote": bool(r.get("remote", False)),
                "inputs": public_value(r["properties"]),
            }
            for r in report.resources
        ],
        "violations": [v.to_dict() for v in report.verdict.violations],
        "waivers": report.waivers,
        "waiverRecords": [{"message": w.message, "urn": w.urn} for w in report.verdict.waiver_records],
        "unansweredInvokes": report.unanswered_invokes,
        "mockGaps": report.mock_gaps,
        "unexpandable": report.unexpandable,
        "interpreters": {
            role: ({"python": i.python, "source": i.source, "created": i.created} if i is not None else None)
            for role, i in (("program", report.program_python), ("pack", report.pack_python))
        },
        "timings": {k: round(v, 3) for k, v in report.timings.items()},
    }


def write_json(report: GateReport, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report_dict(report), handle, indent=2, sort_keys=False)
        handle.write("\n")
