"""Pod-spec discovery by shape: the one place the pack finds pod specs, in any Kubernetes object.

The seven built-in workload kinds keep their pod spec at a fixed path. Custom resources (KServe InferenceService,
Ray RayCluster/RayService, Kubeflow PyTorchJob/TFJob/Notebook, Argo Workflow/CronWorkflow, LeaderWorkerSet, Knative
Service, or any CRD the pack has never heard of) embed pod templates wherever their authors chose. Rather than a
table of known CRDs that an unknown one slips past, the object is walked and every mapping that *is* a pod spec by
shape is returned:

- a mapping with a `containers` list whose entries are mappings naming an `image` is a pod spec;
- a KServe component (predictor, transformer, explainer) may carry a container's fields directly under a framework
  key (`model`, `pytorch`, `triton`, ...), instead of or beside a `containers` list: such a component is a pod spec
  of that entry and the listed containers (its sidecars);
- an Argo template runs one `container` (or `script`) with `sidecars` and `initContainers`: it is a pod spec of those,
  and the workflow-wide pod settings (`hostNetwork`, `securityContext`, ...) of its spec apply to it.

The metadata of a pod spec found at `<...>.spec` is its sibling `<...>.metadata` (the pod template's labels and
annotations), which is where model labels and profile annotations sit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy.proxy import UnknownValueError

PATCH_SUFFIX = "Patch"
POD = "kubernetes:core/v1:Pod"
FIXED_PATHS: dict[str, tuple[str, ...]] = {
    POD: ("spec",),
    "kubernetes:core/v1:PodTemplate": ("template", "spec"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
"""The built-in workload kinds: their pod spec is read where the API puts it (and nowhere else)."""

NOT_WORKLOADS = frozenset({
    "kubernetes:helm.sh/v3:Release",  # values are a chart's own schema: judged by the Helm values rule
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:Secret",
})
KSERVE_CONTAINER_KEYS = frozenset({
    "model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "huggingface", "lightgbm", "paddle",
    "pmml", "alibi", "art", "torchserve",
})
"""KServe component keys whose value is one container's fields (image, env, securityContext, resources...)."""
CONTAINER_FIELDS = frozenset({"image", "securityContext", "env", "envFrom", "args", "command", "storageUri", "modelFormat",
                              "resources", "ports", "volumeMounts"})
DESCRIPTIVE_SUBTREES: dict[str, frozenset[str]] = {"kyverno.io": frozenset({"validate", "verifyImages", "match", "exclude"})}
"""Per API group, keys whose subtrees describe pods (admission patterns that pods must match) instead of running them.
Only a policy engine's own group is listed, and only its validating parts: a mutation that injects settings is judged."""
SINGLE_CONTAINER_KEYS = ("container", "script")
WORKFLOW_POD_FIELDS = ("hostNetwork", "hostPID", "hostIPC", "securityContext", "automountServiceAccountToken", "volumes")
"""Argo workflow-level settings every template's pod inherits unless the template sets its own."""
MAX_DEPTH = 24
"""Pod templates sit a few levels deep; the bound keeps a hostile, deeply nested object from exhausting the stack."""


@dataclass(frozen=True)
class PodTemplate:
    spec: Mapping[str, Any]
    metadata: Mapping[str, Any]
    partial: bool
    where: str
    """The path of the pod spec inside the object ('' for the built-in kinds), so a finding names the template."""


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _is_list(value: Any) -> bool:
    # The SDK hands checks read-only proxies (Sequence/Mapping, not list/dict).
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def is_pod_spec(value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    entries = value.get("containers")
    return _is_list(entries) and any(isinstance(c, Mapping) and "image" in c for c in entries)


def _kserve_component(value: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A KServe component with container fields under a framework key, as a pod spec of that container and of any
    `containers` beside it (KServe runs those as the model container's sidecars)."""
    framework = [
        {"name": key, **value[key]}
        for key in sorted(KSERVE_CONTAINER_KEYS & set(value))
        if isinstance(value[key], Mapping) and CONTAINER_FIELDS & set(value[key])
    ]
    if not framework:
        return None
    listed = value.get("containers")
    sidecars = [c for c in listed if isinstance(c, Mapping)] if _is_list(listed) else []
    rest = {k: v for k, v in value.items() if k not in KSERVE_CONTAINER_KEYS}
    return {**rest, "containers": [*framework, *sidecars]}


def _single_container_template(value: Mapping[str, Any], inherited: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """An Argo-style template (one container plus sidecars) as a pod spec, with the workflow's pod settings."""
    for key in SINGLE_CONTAINER_KEYS:
        entry = value.get(key)
        if isinstance(entry, Mapping) and "image" in entry:
            sidecars = [c for c in (value.get("sidecars") if _is_list(value.get("sidecars")) else []) if isinstance(c, Mapping)]
            own = {k: v for k, v in value.items() if k not in (*SINGLE_CONTAINER_KEYS, "sidecars")}
            return {**inherited, **own, "containers": [{"name": str(value.get("name", key)), **entry}, *sidecars]}
    return None


Found = list[tuple[tuple[str, ...], Mapping, Mapping]]


def _walk(value: Any, path: tuple[str, ...], parent: Mapping[str, Any], found: Found, depth: int,
          skip: frozenset[str] = frozenset()) -> None:
    if depth > MAX_DEPTH:
        return
    try:
        _visit(value, path, parent, found, depth, skip)
    except UnknownValueError:
        return  # a part not known until apply (a real preview) holds nothing to judge yet; the rest is still walked


def _visit(value: Any, path: tuple[str, ...], parent: Mapping[str, Any], found: Found, depth: int, skip: frozenset[str]) -> None:
    if isinstance(value, Mapping):
        # A framework key first: a component that also lists containers would otherwise lose its model container.
        component = _kserve_component(value)
        if component is None and is_pod_spec(value):
            found.append((path, value, _map(parent.get("metadata")) if path and path[-1] == "spec" else _map(value.get("metadata"))))
            return  # a pod spec holds no further pod specs
        if component is None:
            inherited = {k: parent[k] for k in WORKFLOW_POD_FIELDS if k in parent} if path[-2:-1] == ("templates",) else {}
            component = _single_container_template(value, inherited)
        if component is not None:
            found.append((path, component, _map(value.get("metadata"))))
            return
        for key, child in value.items():
            if key != "metadata" and key not in skip:
                _walk(child, (*path, str(key)), value, found, depth + 1, skip)
    elif _is_list(value):
        for index, child in enumerate(value):
            _walk(child, (*path, str(index)), parent, found, depth + 1, skip)


def api_group(resource_type: str) -> str:
    """'kyverno.io' for 'kubernetes:kyverno.io/v1:ClusterPolicy' ('' for the core group)."""
    version = resource_type.split(":")[1] if resource_type.count(":") >= 2 else ""
    return version.rsplit("/", 1)[0] if "/" in version else ""


def discover(props: Mapping[str, Any], resource_type: str = "") -> Found:
    """(path, pod spec, pod metadata) for every pod spec anywhere in an object, found by shape."""
    found: Found = []
    _walk(props, (), props, found, 0, DESCRIPTIVE_SUBTREES.get(api_group(resource_type), frozenset()))
    return found


def pod_templates(resource_type: str, props: Mapping[str, Any]) -> list[PodTemplate]:
    """Every pod template of a Kubernetes object: at the fixed path for built-in kinds, found by shape in any other
    `kubernetes:*` object (custom resources, their patches, and generic `apiextensions` CustomResources alike)."""
    if not resource_type.startswith("kubernetes:"):
        return []
    partial = resource_type.endswith(PATCH_SUFFIX)
    base = resource_type.removesuffix(PATCH_SUFFIX)
    if base in NOT_WORKLOADS:
        return []
    path = FIXED_PATHS.get(base)
    if path is not None:
        spec = _get(props, *path)
        metadata = _get(props, *path[:-1], "metadata") if len(path) > 1 else props.get("metadata")
        return [PodTemplate(_map(spec), _map(metadata), partial, "")]
    return [PodTemplate(spec, meta, partial, ".".join(where)) for where, spec, meta in discover(_map(props), base)]
