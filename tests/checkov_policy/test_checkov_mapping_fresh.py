"""The committed mapping.json and titles.json cannot drift from the pinned SDKs and checkov: the mapping is regenerated
in memory, by scripts/regenerate_checkov_mapping.py's own functions, and compared with what is committed.

What an offline run can regenerate, and what it cannot:
- AWS, entirely: the SDK's type metadata, the exceptions table and checkov's catalog (asked of checkov in the pack's
  own environment) are all here, so the regenerated AWS entries must equal the committed ones.
- GCP, in part: its Terraform types and the names of some blocks come from pulumi-gcp's published bridge metadata
  (provider/cmd/pulumi-resource-gcp/bridge-metadata.json in the pulumi-gcp repository), which is not vendored and not
  reachable offline. So each committed GCP entry is checked against what the SDK alone says: the same properties,
  nested the same way, each Terraform name one the SDK allows and each shape the SDK's (or the block/blocks choice
  the bridge settles). A GCP resource new in the SDK, whose Terraform type checkov now checks, is not caught here:
  regenerate with the bridge metadata when bumping pulumi-gcp.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PACK_DIR = REPO / "policy_packs" / "modelfort"
DATA_DIR = PACK_DIR / "modelfort_policy" / "checkov"
SCRIPT = REPO / "scripts" / "regenerate_checkov_mapping.py"


@lru_cache(maxsize=1)
def generator():
    spec = importlib.util.spec_from_file_location("regenerate_checkov_mapping", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads((DATA_DIR / "mapping.json").read_text())


@pytest.fixture(scope="module")
def exceptions() -> dict:
    return yaml.safe_load((DATA_DIR / "exceptions.yaml").read_text())


@pytest.fixture(scope="module")
def catalog() -> dict:
    from modelfort.gate.environments import pack_interpreter

    return generator().checkov_catalog(pack_interpreter(str(PACK_DIR)).python)


def test_the_mapping_was_generated_from_the_pinned_sdks(committed):
    import pulumi_aws
    import pulumi_gcp

    assert committed["sdk_versions"] == {"pulumi-aws": pulumi_aws._utilities.get_version(),
                                         "pulumi-gcp": pulumi_gcp._utilities.get_version()}, \
        "the SDK pins moved: rerun scripts/regenerate_checkov_mapping.py"


@pytest.mark.control("ST-07")
def test_the_aws_mapping_regenerates_to_the_committed_one(committed, exceptions, catalog):
    types, _notes = generator().generate(exceptions, set(catalog["types"]), None)
    regenerated = {token: entry for token, entry in types.items() if token.startswith("aws:")}
    committed_aws = {token: entry for token, entry in committed["types"].items() if token.startswith("aws:")}
    assert sorted(regenerated) == sorted(committed_aws), "resource types differ: rerun the regeneration script"
    changed = sorted(token for token in regenerated if regenerated[token] != committed_aws[token])
    assert not changed, f"properties differ for {changed[:10]}: rerun scripts/regenerate_checkov_mapping.py"


def _sdk_gcp_entries(exceptions: dict) -> dict[str, dict]:
    script, entries = generator(), {}
    for module in exceptions["modules"]["gcp"]:
        inputs_module = importlib.import_module(f"pulumi_gcp.{module}._inputs")
        for token, cls, state in script.resource_classes("pulumi_gcp", module):
            props = script.properties_of(state, cls.__name__, inputs_module, [])
            script.apply_property_exceptions(token, props, exceptions)
            entries[token] = props
    return entries


def _disagreements(committed: dict, sdk: dict, where: str) -> list[str]:
    problems = []
    for name in sorted(set(committed) ^ set(sdk)):
        problems.append(f"{where}.{name}: {'only committed' if name in committed else 'new in the SDK'}")
    for name in sorted(set(committed) & set(sdk)):
        mine, theirs = committed[name], sdk[name]
        if mine["tf"] not in (theirs["tf"], *theirs.get("also", ())):
            problems.append(f"{where}.{name}: Terraform name {mine['tf']!r}, the SDK allows {theirs['tf']!r}")
        if mine["kind"] != theirs["kind"] and {mine["kind"], theirs["kind"]} != {"block", "blocks"}:
            problems.append(f"{where}.{name}: shape {mine['kind']!r}, the SDK says {theirs['kind']!r}")
        if "fields" in mine or "fields" in theirs:
            problems += _disagreements(mine.get("fields", {}), theirs.get("fields", {}), f"{where}.{name}")
    return problems


@pytest.mark.control("ST-07")
def test_the_gcp_mapping_agrees_with_the_sdk_and_checkov(committed, exceptions, catalog):
    sdk = _sdk_gcp_entries(exceptions)
    committed_gcp = {token: entry for token, entry in committed["types"].items() if token.startswith("gcp:")}
    assert committed_gcp, "the mapping has no GCP types"
    missing = sorted(set(committed_gcp) - set(sdk))
    assert not missing, f"committed GCP types the SDK no longer has: {missing}"
    unchecked = sorted(token for token, entry in committed_gcp.items() if entry["terraform"] not in catalog["types"])
    assert not unchecked, f"committed GCP types checkov has no checks for: {unchecked}"
    problems = [problem for token, entry in sorted(committed_gcp.items())
                for problem in _disagreements(entry["properties"], sdk[token], token)]
    assert not problems, "rerun scripts/regenerate_checkov_mapping.py:\n  " + "\n  ".join(problems[:20])


def test_the_titles_are_checkovs_own(catalog):
    titles = json.loads((DATA_DIR / "titles.json").read_text())
    expected = {check_id: title for check_id, title in catalog["titles"].items()
                if check_id.startswith(("CKV_AWS_", "CKV2_AWS_", "CKV_GCP_", "CKV2_GCP_", "CKV_K8S_", "CKV2_K8S_"))}
    assert titles["titles"] == expected, "checkov's titles moved: rerun scripts/regenerate_checkov_mapping.py"
