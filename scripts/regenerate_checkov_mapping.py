#!/usr/bin/env python3
"""Regenerate policy_packs/modelfort/modelfort_policy/checkov/mapping.json: how the pack turns a Pulumi resource into
the Terraform resource checkov judges.

Sources, in order of authority:
1. the exceptions table (checkov/exceptions.yaml), the one place where the mapping departs from the rules;
2. pulumi-gcp's published bridge metadata (Terraform type → Pulumi token, and which fields are one-element blocks),
   when given with --gcp-bridge-metadata (provider/cmd/pulumi-resource-gcp/bridge-metadata.json in pulumi-gcp);
3. the Python SDKs' own type metadata: `pulumi.getter(name=...)` gives each engine property name, the Python attribute
   the Terraform attribute, and the annotation whether it is a scalar, a map, a list, one nested block or a list of
   blocks (the nested type's class name gives the Terraform block's singular name).

Only resource types checkov has checks for are kept (asked of checkov in its own environment, --checkov-python), so
the pack loads a small file. Run with the project's venv, which has the provider SDKs:

    .venv/bin/python scripts/regenerate_checkov_mapping.py --gcp-bridge-metadata PATH
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "policy_packs" / "modelfort" / "modelfort_policy" / "checkov"
TOKEN_PATTERN = re.compile(r"__init__\(\s*'((?:aws|gcp):[^']+)'")
# Nested input types end in Args; other forward references are enums (strings on the wire).
FORWARD_REF = re.compile(r"ForwardRef\('(?:outputs\.)?([A-Za-z0-9_]+Args)'\)")

CHECKOV_TYPES_SCRIPT = """
import json
from checkov.terraform.checks.resource.registry import resource_registry
from checkov.kubernetes.checks.resource.registry import registry as kubernetes_registry
from checkov.common.checks_infra.registry import get_graph_checks_registry
from checkov.common.bridgecrew.check_type import CheckType
import checkov.terraform.plan_runner, checkov.kubernetes.runner  # registers every check
types, titles = set(resource_registry.checks), {}
for checks in [*resource_registry.checks.values(), *kubernetes_registry.checks.values()]:
    titles.update({check.id: check.name for check in checks})
graph = get_graph_checks_registry(CheckType.TERRAFORM)
graph.load_checks()
for check in graph.checks:
    types.update(t for t in check.resource_types if t.startswith(("aws_", "google_")))
    titles[check.id] = check.name
print(json.dumps({"types": sorted(types), "titles": dict(sorted(titles.items()))}))
"""


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def checkov_catalog(python: str) -> dict[str, Any]:
    """The Terraform types checkov has checks for, and every check's title, asked of checkov in its own env."""
    output = subprocess.run([python, "-c", CHECKOV_TYPES_SCRIPT], check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def catalog_version(python: str) -> str:
    return subprocess.run([python, "-c", "import checkov.version as v; print(v.version)"], check=True,
                          capture_output=True, text=True).stdout.strip()


def aws_terraform_type(token: str, exceptions: dict[str, Any]) -> str:
    if token in exceptions["aws_types"]:
        return exceptions["aws_types"][token][0]
    module, resource = token.split(":")[1].split("/")
    prefix = exceptions["aws_module_prefixes"].get(module, [f"{module}_"])[0]
    return f"aws_{prefix}{snake(resource)}"


def gcp_types_from_bridge(metadata: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Pulumi token → (Terraform type, the bridge's field metadata) from pulumi-gcp's published mapping."""
    resources = metadata["auto-aliasing"]["resources"]
    return {entry["current"]: (tf_type, entry.get("fields", {})) for tf_type, entry in resources.items()}


def resource_classes(package: str, module: str):
    """(token, resource class, state-or-args class) for every custom resource in an SDK module.

    The SDK packages load lazily, so the module's files are read one by one; each holds at most one resource.
    """
    directory = Path(importlib.import_module(package).__file__).parent / module
    for path in sorted(directory.glob("*.py")):
        if path.stem.startswith("_") or path.stem in ("outputs",) or path.stem.startswith("get_"):
            continue
        match = TOKEN_PATTERN.search(path.read_text())
        if match is None:
            continue
        source_module = importlib.import_module(f"{package}.{module}.{path.stem}")
        name = match.group(1).rsplit(":", 1)[1]
        cls = getattr(source_module, name, None)
        state = getattr(source_module, f"_{name}State", None) or getattr(source_module, f"{name}Args", None)
        if cls is not None and state is not None:
            yield match.group(1), cls, state


def classify(annotation: Any) -> tuple[str, str | None]:
    """The shape of a property from its SDK annotation: scalar, map, list, block (one) or blocks, and the nested type."""
    text = repr(annotation)
    nested = FORWARD_REF.search(text)
    first_map, first_seq = text.find("Mapping["), text.find("Sequence[")
    is_map = first_map != -1 and (first_seq == -1 or first_map < first_seq)
    if is_map:
        return "map", None
    if first_seq != -1:
        return ("blocks", nested.group(1)) if nested else ("list", None)
    if nested:
        return "block", nested.group(1)
    return "scalar", None


def properties_of(cls: type, owner: str, inputs_module: Any, problems: list[str], depth: int = 0) -> dict[str, Any]:
    """Engine name → {"tf": Terraform name, "kind": shape, "fields": nested, "also": other candidate names}.

    A list of blocks is ambiguous from the SDK alone: the bridge pluralised a singular Terraform block
    (ebs_block_device → ebsBlockDevices) but left an already plural one alone (production_variants), while the
    nested type is always singular. Both candidates are kept ("also") until published metadata settles it.
    """
    result: dict[str, Any] = {}
    for python_name, member in vars(cls).items():
        if not isinstance(member, property) or member.fget is None:
            continue
        engine_name = getattr(member.fget, "_pulumi_name", None)
        if engine_name is None:
            continue
        kind, nested = classify(member.fget.__annotations__.get("return"))
        tf_name = python_name.rstrip("_")
        entry: dict[str, Any] = {"tf": tf_name, "kind": kind}
        if nested is not None and depth < 6:
            nested_cls = getattr(inputs_module, nested, None)
            base = nested[: -len("Args")] if nested.endswith("Args") else nested
            if kind == "blocks":
                if base.startswith(owner) and len(base) > len(owner):
                    singular = snake(base[len(owner):])
                    if singular != tf_name:
                        entry["tf"], entry["also"] = singular, [tf_name]
                else:
                    problems.append(f"{owner}.{engine_name}: nested type {nested} does not extend {owner}; kept {tf_name}")
            if nested_cls is not None:
                entry["fields"] = properties_of(nested_cls, base, inputs_module, problems, depth + 1)
        result[engine_name] = entry
    return result


def apply_bridge_fields(token: str, props: dict[str, Any], fields: dict[str, Any], problems: list[str]) -> None:
    """Settle block names and one-element flags with the bridge's published field metadata (it names every
    collection field by its Terraform name)."""
    for engine, entry in props.items():
        candidates = [entry["tf"], *entry.get("also", [])]
        known = [name for name in candidates if name in fields]
        if not known:
            continue
        entry["tf"] = known[0]
        entry.pop("also", None)
        meta = fields[known[0]]
        if entry["kind"] in ("block", "blocks"):
            expected = "block" if meta.get("maxItemsOne") else "blocks"
            if entry["kind"] != expected:
                problems.append(f"{token}.{engine}: SDK says {entry['kind']}, bridge says {expected}; bridge wins")
                entry["kind"] = expected
        if "fields" in entry and "elem" in meta:
            apply_bridge_fields(f"{token}.{engine}", entry["fields"], meta["elem"].get("fields", {}), problems)
    named = {entry["tf"] for entry in props.values()}
    for tf_name in fields:
        if tf_name not in named:
            problems.append(f"{token}: bridge field {tf_name} has no SDK property")


def apply_property_exceptions(token: str, props: dict[str, Any], exceptions: dict[str, Any]) -> None:
    for engine_name, (tf_name, _reason) in (exceptions.get("property_names") or {}).get(token, {}).items():
        entry = props.setdefault(engine_name, {"tf": tf_name, "kind": "scalar"})
        entry["tf"] = tf_name
        entry.pop("also", None)


def generate(exceptions: dict[str, Any], checkov_types: set[str], gcp_bridge: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    types: dict[str, Any] = {}
    gcp_from_bridge = gcp_types_from_bridge(gcp_bridge) if gcp_bridge else {}
    for cloud, package in (("aws", "pulumi_aws"), ("gcp", "pulumi_gcp")):
        for module in exceptions["modules"][cloud]:
            inputs_module = importlib.import_module(f"{package}.{module}._inputs")
            for token, cls, state in resource_classes(package, module):
                if cloud == "aws":
                    tf_type, fields = aws_terraform_type(token, exceptions), {}
                elif token in gcp_from_bridge:
                    tf_type, fields = gcp_from_bridge[token]
                else:
                    continue  # without the published mapping a GCP type is not guessed
                if tf_type not in checkov_types:
                    continue
                props = properties_of(state, cls.__name__, inputs_module, problems)
                if fields:
                    apply_bridge_fields(token, props, fields, problems)
                apply_property_exceptions(token, props, exceptions)
                types[token] = {"terraform": tf_type, "properties": props}
    return types, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gcp-bridge-metadata", type=Path, required=True,
                        help="pulumi-gcp's provider/cmd/pulumi-resource-gcp/bridge-metadata.json")
    parser.add_argument("--checkov-python", default=str(REPO / ".venv-checkov" / "bin" / "python"))
    parser.add_argument("--output", type=Path, default=DATA_DIR / "mapping.json")
    args = parser.parse_args(argv)
    exceptions = yaml.safe_load((DATA_DIR / "exceptions.yaml").read_text())
    gcp_bridge = json.loads(args.gcp_bridge_metadata.read_text())
    catalog = checkov_catalog(args.checkov_python)
    types, problems = generate(exceptions, set(catalog["types"]), gcp_bridge)
    import pulumi_aws, pulumi_gcp  # noqa: E401 — only for their versions

    document = {
        "generated_by": "scripts/regenerate_checkov_mapping.py",
        "sdk_versions": {"pulumi-aws": pulumi_aws._utilities.get_version(), "pulumi-gcp": pulumi_gcp._utilities.get_version()},
        "property_kinds": "scalar | map (kept a map) | list | block (one object, a one-element list in Terraform) | blocks",
        "types": dict(sorted(types.items())),
    }
    args.output.write_text(json.dumps(document, sort_keys=False, separators=(",", ":")) + "\n")
    titles = {"generated_by": "scripts/regenerate_checkov_mapping.py", "checkov_version": catalog_version(args.checkov_python),
              "titles": {k: v for k, v in catalog["titles"].items() if re.match(r"CKV2?_(AWS|GCP|K8S)_", k)}}
    (args.output.parent / "titles.json").write_text(json.dumps(titles, indent=1) + "\n")
    for problem in problems:
        print(f"note: {problem}", file=sys.stderr)
    shown = args.output.resolve().relative_to(REPO) if args.output.resolve().is_relative_to(REPO) else args.output
    print(f"wrote {shown}: {len(types)} resource types ({len(problems)} notes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
