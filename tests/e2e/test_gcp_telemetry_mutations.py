"""The guard's telemetry on GKE, undone one way at a time (tests/programs/gcp-telemetry-mutant): the gate must block each,
for that reason alone, naming the model Deployment whose prompts and responses would be left unlocked.

GuardTelemetryLog has no switch that weakens it, so the mutations are what a program could do beside it: the sink
gone (disabled) or routing something else, the exclusion gone or keeping out only some lines, the bucket unlocked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelfort.gate.engine import GateOptions, run_gate
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT = "production-llama-guard"
LOCKED, NOT_IN_DEFAULT = "gcp-guard-telemetry-locked", "gcp-guard-telemetry-not-in-default"

# mutation -> the (policy, resource) pairs that block it, and nothing else
MUTATIONS = {
    "telemetry-sink-disabled": {(LOCKED, DEPLOYMENT)},
    "telemetry-sink-other-container": {(LOCKED, DEPLOYMENT)},
    "telemetry-sink-stderr-only": {(LOCKED, DEPLOYMENT)},
    "telemetry-bucket-unlocked": {(LOCKED, DEPLOYMENT), ("gcp-log-bucket-locked", "production-guard-telemetry-bucket")},
    "default-exclusion-disabled": {(NOT_IN_DEFAULT, DEPLOYMENT)},
    "default-exclusion-some-lines": {(NOT_IN_DEFAULT, DEPLOYMENT)},
}


def gate(program, mutation: str):
    production = read_stack(read_project(str(REPO)), "gcp-production").raw
    directory = program("gcp-telemetry-mutant", config={**production, "telemetry-mutant:mutation": mutation})
    return run_gate(GateOptions(program_dir=str(directory), stack="test"))


@pytest.mark.control("OB-01", "OB-03")
def test_the_unmutated_zone_passes(program):
    report = gate(program, "none")
    assert report.error is None, report.error
    assert report.exit_code == 0, [v.message for v in report.verdict.blocking]


@pytest.mark.control("OB-01", "OB-03")
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_telemetry_mutation_is_blocked_for_that_reason_alone(program, mutation):
    report = gate(program, mutation)
    assert report.error is None, report.error
    assert report.exit_code == 1
    assert {(v.policy, v.resource_name) for v in report.verdict.blocking} == MUTATIONS[mutation]


def test_the_mutant_program_knows_exactly_these_mutations():
    import ast

    source = (REPO / "tests" / "programs" / "gcp-telemetry-mutant" / "__main__.py").read_text()
    (assignment,) = [node for node in ast.parse(source).body if isinstance(node, ast.Assign)
                     and any(getattr(t, "id", None) == "MUTATIONS" for t in node.targets)]
    assert {key.value for key in assignment.value.keys} == set(MUTATIONS)
