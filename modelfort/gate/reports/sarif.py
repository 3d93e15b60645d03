"""SARIF 2.1.0 for code scanning: one rule per policy, one result per violation, waived ones as suppressed."""

from __future__ import annotations

import json
import os
from typing import Any

import modelfort
from modelfort.gate.engine import GateReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub ranks code-scanning alerts by this number (0-10).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "unspecified": "5.0"}


def sarif_dict(report: GateReport) -> dict[str, Any]:
    artifact = _artifact(report)
    rules = []
    rule_index: dict[str, int] = {}
    policies = report.policies
    for name, policy in sorted(policies.items()):
        rule_index[name] = len(rules)
        rules.append(
            {
                "id": name,
                "name": name,
                "shortDescription": {"text": policy.description or name},
                "fullDescription": {"text": policy.description or name},
                "help": {"text": policy.remediation or policy.description or name},
                "defaultConfiguration": {"level": "error" if policy.enforcement == "mandatory" else "warning"},
                "properties": {
                    "tags": ["security", *policy.tags],
                    "security-severity": SECURITY_SEVERITY.get(policy.severity, "5.0"),
                },
            }
        )
    results = []
    for violation in report.verdict.violations:
        result: dict[str, Any] = {
            "ruleId": violation.policy,
            "level": "error" if violation.blocking else "warning",
            "message": {"text": f"{violation.message} ({violation.resource_name or violation.urn or 'stack'})"},
            "locations": [_location(artifact, violation.urn)],
            "properties": {"controls": list(violation.controls), "severity": violation.severity},
        }
        if violation.policy in rule_index:
            result["ruleIndex"] = rule_index[violation.policy]
        results.append(result)
    for record in report.verdict.waiver_records:
        results.append(
            {
                "ruleId": "modelfort-waivers-applied",
                "level": "note",
                "message": {"text": record.message},
                "locations": [_location(artifact, record.urn)],
                "suppressions": [{"kind": "external", "justification": record.message}],
            }
        )
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "modelfort-gate",
                "version": modelfort.__version__,
                "informationUri": "https://github.com/modelfort/modelfort",
                "rules": rules,
            }
        },
        "results": results,
        "invocations": [
            {
                "executionSuccessful": report.error is None,
                "exitCode": report.exit_code,
                **({"toolExecutionNotifications": [{"level": "error", "message": {"text": report.error[:2000]}}]} if report.error else {}),
            }
        ],
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _artifact(report: GateReport) -> str:
    if report.stack_file and report.stack_file.path:
        return os.path.relpath(report.stack_file.path, report.project.directory if report.project else os.getcwd())
    return "Pulumi.yaml"


def _location(artifact: str, urn: str) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": {"uri": artifact}, "region": {"startLine": 1}},
    }
    if urn:
        location["logicalLocations"] = [{"fullyQualifiedName": urn, "kind": "resource"}]
    return location


def write_sarif(report: GateReport, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(sarif_dict(report), handle, indent=2)
        handle.write("\n")
