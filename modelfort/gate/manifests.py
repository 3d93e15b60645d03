"""Write the Kubernetes objects a stack plans as YAML manifests, so third-party judges (kubernetes-validate, checkov,
kubeconform, a reviewer) can read them without Pulumi.

One file per object, named `<kind>_<namespace>_<name>.yaml`, holding what the program registered: apiVersion,
kind, metadata and the rest of the object, with Pulumi's internals removed (its `pulumi.com/*` annotations, and the
wire encodings of secrets and unknown values). Secret values are never written. Objects the provider renders at
deploy time (Helm releases, yaml/v2 and kustomize/v2 components) and server-side-apply patches (partial objects)
are not written but listed in the result, so the caller can say what the files do not cover.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from modelfort.gate.child.mocks import kubernetes_autoname

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
REDACTED = "REDACTED-BY-MODELFORT-GATE"
UNKNOWN_VALUE = "UNKNOWN-UNTIL-APPLY"
PULUMI_ANNOTATION_PREFIX = "pulumi.com/"
RENDERED_AT_DEPLOY = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")
FILE_SAFE = re.compile(r"[^a-z0-9.-]+")
SECRET_KINDS = frozenset({"kubernetes:core/v1:Secret"})


@dataclass
class ManifestResult:
    written: list[str] = field(default_factory=list)
    """Paths of the manifests written."""
    not_written: list[str] = field(default_factory=list)
    """One line per Kubernetes resource the files do not cover, saying why."""


def write_manifests(resources: Iterable[Mapping[str, Any]], directory: str) -> ManifestResult:
    """Write every plain Kubernetes object among `resources` (as the gate records them) into `directory`."""
    os.makedirs(directory, exist_ok=True)
    result = ManifestResult()
    used: set[str] = set()
    for resource in resources:
        typ = str(resource.get("type", ""))
        if not typ.startswith("kubernetes:") or not resource.get("custom", True):
            continue
        name = resource.get("name", "?")
        if typ.startswith(RENDERED_AT_DEPLOY):
            result.not_written.append(f"{typ} '{name}': {_rendered_description(resource)} is rendered by the provider at deploy time")
            continue
        if typ.endswith("Patch"):
            result.not_written.append(f"{typ} '{name}': a patch of an existing object, not a whole object")
            continue
        document = to_manifest(resource)
        filename = _filename(document, used)
        path = os.path.join(directory, filename)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"# {typ} '{name}' (written by modelfort gate; secret values redacted)\n")
            # Sorted keys: the same plan always writes the same bytes (the wire order of properties is not stable).
            yaml.safe_dump(document, handle, sort_keys=True, default_flow_style=False)
        result.written.append(path)
    return result


def to_manifest(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The Kubernetes object a recorded resource stands for."""
    typ = str(resource["type"])
    props = _clean(resource.get("properties") or {}, secret=typ in SECRET_KINDS)
    group_version, kind = typ.split(":", 2)[1:]
    api_version = props.pop("apiVersion", None) or _api_version(group_version)
    kind = props.pop("kind", None) or kind
    metadata = dict(props.pop("metadata", None) or {})
    # The provider names an object without metadata.name `<logical name>-<suffix>` (the gate's mocks do the same).
    metadata.setdefault("name", kubernetes_autoname(typ, str(resource["name"])))
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if not str(k).startswith(PULUMI_ANNOTATION_PREFIX)}
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **props}


def _api_version(group_version: str) -> str:
    # Type tokens say `core/v1` for the core group, whose apiVersion is plain `v1`.
    return group_version.removeprefix("core/")


def _clean(value: Any, *, secret: bool) -> Any:
    """Decode the wire encodings: secrets redacted, unknowns named, whole-number doubles back to integers."""
    if isinstance(value, dict):
        if value.get(SPECIAL_SIG_KEY) == SECRET_SIG:
            return REDACTED
        cleaned = {k: _clean(v, secret=False) for k, v in value.items() if not str(k).startswith("__")}
        if secret:
            # A Secret's values are written as placeholders even when the program did not mark them secret.
            for key in ("data", "stringData"):
                if isinstance(cleaned.get(key), dict):
                    cleaned[key] = {k: REDACTED for k in cleaned[key]}
                elif key in cleaned:
                    cleaned[key] = {}
        return cleaned
    if isinstance(value, list):
        return [_clean(v, secret=False) for v in value]
    if value == UNKNOWN:
        return UNKNOWN_VALUE
    if isinstance(value, float) and value.is_integer():
        # Protobuf Structs carry every number as a double; Kubernetes schemas want integers (replicas, ports...).
        return int(value)
    return value


def _filename(document: Mapping[str, Any], used: set[str]) -> str:
    metadata = document.get("metadata") or {}
    parts = [str(document.get("kind", "object")), str(metadata.get("namespace") or "cluster"), str(metadata.get("name"))]
    stem = "_".join(FILE_SAFE.sub("-", part.lower()).strip("-") or "x" for part in parts)
    candidate, counter = f"{stem}.yaml", 2
    while candidate in used:
        candidate, counter = f"{stem}-{counter}.yaml", counter + 1
    used.add(candidate)
    return candidate


def _rendered_description(resource: Mapping[str, Any]) -> str:
    props = resource.get("properties") or {}
    chart = props.get("chart")
    if chart:
        version = props.get("version")
        return f"Helm chart {chart}{f' {version}' if version else ''}{_namespace_suffix(props.get('namespace'))}"
    return "its content"


def _namespace_suffix(namespace: Any) -> str:
    return f" in namespace {namespace}" if isinstance(namespace, str) and namespace else ""
