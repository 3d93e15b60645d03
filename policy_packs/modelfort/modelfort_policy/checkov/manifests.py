"""Turn a stack's Kubernetes objects, as the engine sends them, into the manifests checkov's kubernetes runner reads.

The engine already holds each object in the API server's own shape (apiVersion, kind, metadata, spec in camelCase),
so the conversion is small, and each step is one the API server or the provider would take:
- apiVersion and kind come from the type token when the program left them out (kubernetes:apps/v1:Deployment);
- an object without metadata.name gets the provider's auto-name shape, `<logical name>-<suffix>`;
- numbers cross the wire as doubles (runAsUser: 65532.0); whole ones become integers again;
- Secret values are never written, not even to the scratch file checkov reads: no check reads them.

What is not converted, and why:
- objects the provider renders at deploy time (Helm releases, yaml/v2 and kustomize/v2): their objects do not exist
  in the plan (the pack's own rules judge a chart's values);
- server-side-apply patches (`...Patch`): a partial object, on which every "must be set" check would fail falsely.

checkov honours skip annotations (`checkov.io/skip1: CKV_K8S_16=...`) on the objects it reads. In ModelFort a check is
waived in the stack's config, with a reason, an owner and an expiry, and appears in every report; an annotation in
the program would be a silent waiver, so every one is removed before checkov sees the object.

Values unknown until apply are left out, as the Terraform conversion leaves them out of planned values: the caller
records where they were (StackInput.unknown), so a check that passes an object with unknowns can say it could not
judge it rather than pass it.

Pure functions over plain data: no checkov import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelfort_policy.checkov.convert import StackInput

KUBERNETES_PREFIX = "kubernetes:"
RENDERED_AT_DEPLOY = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")
SECRET_TYPES = frozenset({"kubernetes:core/v1:Secret"})
SKIP_ANNOTATION_MARKS = ("checkov.io/skip", "bridgecrew.io/skip", "cortex.io/skip")
"""checkov treats an annotation whose key contains any of these as a skip (kubernetes_utils.get_skipped_checks)."""
SECRET_PLACEHOLDER = "<secret>"
AUTONAME_SUFFIX = "modelfort"
"""Stands for the provider's random suffix; no check reads it, and it keeps `default` from being anyone's name."""


@dataclass
class ManifestConversion:
    documents: list[dict[str, Any]] = field(default_factory=list)
    urns: list[str] = field(default_factory=list)
    """The URN of each document, by position."""
    unknown: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """URN → the properties that were unknown until apply (left out of its document)."""
    kinds: dict[str, str] = field(default_factory=dict)
    """URN → the object's kind (which checks apply to it)."""
    not_converted: dict[str, str] = field(default_factory=dict)
    """URN → why the object is not handed to checkov."""


def is_kubernetes_object(resource_type: str) -> bool:
    return resource_type.startswith(KUBERNETES_PREFIX)


def convert_manifests(resources: Sequence[StackInput]) -> ManifestConversion:
    result = ManifestConversion()
    for resource in resources:
        if not is_kubernetes_object(resource.resource_type):
            continue
        if resource.resource_type.startswith(RENDERED_AT_DEPLOY):
            result.not_converted[resource.urn] = "rendered by the provider at deploy time"
            continue
        if resource.resource_type.endswith("Patch"):
            result.not_converted[resource.urn] = "a patch of an existing object, not a whole object"
            continue
        document = to_manifest(resource)
        result.documents.append(document)
        result.urns.append(resource.urn)
        result.kinds[resource.urn] = str(document["kind"])
        if resource.unknown:
            result.unknown[resource.urn] = tuple(resource.unknown)
    return result


def to_manifest(resource: StackInput) -> dict[str, Any]:
    """The Kubernetes object one engine resource stands for."""
    props = _plain(resource.props)
    if resource.resource_type in SECRET_TYPES:
        for key in ("data", "stringData"):
            if isinstance(props.get(key), dict):
                props[key] = {name: SECRET_PLACEHOLDER for name in props[key]}
    group_version, kind = resource.resource_type.split(":", 2)[1:]
    api_version = props.pop("apiVersion", None) or group_version.removeprefix("core/")
    kind = props.pop("kind", None) or kind
    metadata = props.pop("metadata", None)
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    if not metadata.get("name"):
        metadata["name"] = f"{resource.name}-{AUTONAME_SUFFIX}"
    return _without_skip_annotations({"apiVersion": api_version, "kind": kind, "metadata": metadata, **props})


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return f"<{type(value).__name__}>"


def _without_skip_annotations(value: Any) -> Any:
    """Drop checkov's skip annotations wherever a metadata block holds annotations (the object's, a pod template's)."""
    if isinstance(value, dict):
        cleaned = {key: _without_skip_annotations(child) for key, child in value.items()}
        metadata = cleaned.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("annotations"), dict):
            annotations = {key: text for key, text in metadata["annotations"].items()
                           if not any(mark in key for mark in SKIP_ANNOTATION_MARKS)}
            metadata = {**metadata, "annotations": annotations}
            if not annotations:
                metadata.pop("annotations")
            cleaned["metadata"] = metadata
        return cleaned
    if isinstance(value, list):
        return [_without_skip_annotations(child) for child in value]
    return value
