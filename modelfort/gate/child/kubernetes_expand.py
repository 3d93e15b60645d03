"""Kubernetes objects that programs declare through YAML, kustomize and Helm, expanded as the provider would.

`kubernetes.yaml.ConfigFile` / `ConfigGroup` (v1) and `kustomize.Directory` (v1) ask the provider to decode YAML
(`kubernetes:yaml:decode`, `kubernetes:kustomize:directory`) and then register each object from the program; the
v2 `ConfigFile` / `ConfigGroup` and `kustomize.v2.Directory` are components implemented inside the provider
(registered with remote=True), so without expansion here their objects would never reach the policy pack.
What cannot be computed offline (rendering a Helm chart, a kustomization with generators, patches or remote bases)
is reported as unexpandable, so the gate fails it instead of judging a stack with objects missing.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from typing import Any

import yaml

YAML_DECODE = "kubernetes:yaml:decode"
KUSTOMIZE_DIRECTORY = "kubernetes:kustomize:directory"
HELM_TEMPLATE = "kubernetes:helm:template"
V2_YAML_COMPONENTS = ("kubernetes:yaml/v2:ConfigFile", "kubernetes:yaml/v2:ConfigGroup")
V2_KUSTOMIZE = "kubernetes:kustomize/v2:Directory"
V2_HELM_CHART = "kubernetes:helm.sh/v4:Chart"
# A kustomization using any of these transforms its resources in ways only kustomize itself computes.
_KUSTOMIZE_BEYOND_RESOURCES = ("bases", "components", "patches", "patchesStrategicMerge", "patchesJson6902",
                               "configMapGenerator", "secretGenerator", "helmCharts", "replacements", "images",
                               "namePrefix", "nameSuffix", "commonLabels", "commonAnnotations", "labels", "namespace",
                               "replicas", "generators", "transformers", "crds", "openapi")


class Unexpandable(Exception):
    """Raised with the reason when objects exist that an offline run cannot compute."""


def decode(text: str) -> list[dict[str, Any]]:
    """Every object in a multi-document YAML text: empty documents skipped, `List` kinds flattened."""
    objects: list[dict[str, Any]] = []
    for document in yaml.safe_load_all(text):
        objects.extend(_flatten(document))
    return objects


def _flatten(document: Any) -> Iterable[dict[str, Any]]:
    if document is None:
        return []
    if not isinstance(document, dict):
        raise ValueError(f"a Kubernetes YAML document must be a mapping, not {type(document).__name__}")
    kind = document.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(document.get("items"), list):
        return [obj for item in document["items"] for obj in _flatten(item)]
    return [document]


def kustomize_directory(directory: str) -> list[dict[str, Any]]:
    """The objects of a local kustomization whose only content is a `resources:` list of plain YAML files."""
    if "://" in directory or directory.startswith(("git@", "github.com/")):
        raise Unexpandable(f"kustomization {directory!r} is remote: fetching it needs the network")
    path = next((os.path.join(directory, n) for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")
                 if os.path.isfile(os.path.join(directory, n))), None)
    if path is None:
        raise Unexpandable(f"{directory!r} holds no kustomization.yaml")
    with open(path, encoding="utf-8") as handle:
        kustomization = yaml.safe_load(handle) or {}
    beyond = sorted(k for k in kustomization if k in _KUSTOMIZE_BEYOND_RESOURCES)
    if beyond:
        raise Unexpandable(f"kustomization {path!r} uses {', '.join(beyond)}: only kustomize itself can compute the result")
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources") or []:
        target = os.path.join(directory, str(entry))
        if os.path.isdir(target):
            objects.extend(kustomize_directory(target))
        elif os.path.isfile(target):
            objects.extend(read_file(target))
        else:
            raise Unexpandable(f"kustomization {path!r} names resource {entry!r}, which is not a local file or directory")
    return objects


def read_file(path: str) -> list[dict[str, Any]]:
    if "://" in path:
        raise Unexpandable(f"{path!r} is a URL: fetching it needs the network")
    with open(path, encoding="utf-8") as handle:
        return decode(handle.read())


def v2_objects(typ: str, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects a yaml/v2 ConfigFile or ConfigGroup, or a kustomize/v2 Directory, declares in its inputs."""
    if typ == V2_KUSTOMIZE:
        return kustomize_directory(str(inputs.get("directory") or ""))
    objects: list[dict[str, Any]] = []
    files = [inputs["file"]] if typ.endswith("ConfigFile") and inputs.get("file") else list(inputs.get("files") or [])
    for pattern in files:
        matches = sorted(glob.glob(str(pattern))) if glob.has_magic(str(pattern)) else [str(pattern)]
        for path in matches:
            objects.extend(read_file(path))
    text = inputs.get("yaml")
    for chunk in ([text] if isinstance(text, str) else list(text or [])):
        objects.extend(decode(str(chunk)))
    for obj in inputs.get("objs") or []:
        objects.extend(_flatten(obj))
    return objects


def type_token(obj: dict[str, Any]) -> str:
    """`apps/v1` + `Deployment` -> `kubernetes:apps/v1:Deployment`; the core group is `core`."""
    api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
    if not api_version or not kind:
        raise ValueError(f"a Kubernetes object needs apiVersion and kind, got {sorted(obj)}")
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{kind}"


def child_name(prefix: str, obj: dict[str, Any]) -> str:
    """The provider names a component's children `<prefix>:<namespace>/<name>` (no namespace when cluster-scoped)."""
    metadata = obj.get("metadata") or {}
    name = str(metadata.get("name") or "")
    namespace = metadata.get("namespace")
    qualified = f"{namespace}/{name}" if namespace else name
    return f"{prefix}:{qualified}" if prefix else qualified
