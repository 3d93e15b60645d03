"""Model servers are reached only through the inference guard (RC-01..RC-11, GR-09, WP-04, WP-07, OB-01).

The runtime controls act on a request only if the request passes the guard: a `modelfort guard` container in the
model's pod, in front of a server that listens on the pod's loopback. This module judges that shape on any program,
whatever built the pod:

- **The pod.** A serving pod (one with the model label, a serving custom resource such as a KServe
  InferenceService or a Knative Service, or a pod that takes GPUs and that a Service selects) runs a guard container.
  No other container declares a port or binds its server to a non-loopback address.
- **The guard's config.** The file `--config` names is found through the guard's volume mounts in a ConfigMap of the
  stack. Its upstream is a loopback URL and its listen port is a port the guard container declares. A config the
  gate cannot find or read is a violation: an unseen guard is not a guard.
- **The paths in.** Every Service that selects the pod targets the guard's port only, and every NetworkPolicy
  ingress rule that applies to the pod admits the guard's ports only (a rule without ports admits every port).

A second rule, from the high tier, requires the guard to fail closed: no `failOpen`, and a cloud guardrail (no
`provider: none`), and a config tier no weaker than the zone's.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.pod_specs import PodTemplate
from modelfort_policy.props import as_list, as_mappings, referenced
from modelfort_policy.rule import Context, Finding, Rule, StackResource
from modelfort_policy.rules.kubernetes import (
    CONFIG_MAP,
    GPU_RESOURCE,
    MODEL_LABEL,
    NETWORK_POLICY,
    SERVICE,
    Cluster,
    Workload,
    _argv,
    _flag,
    _get,
    _known,
    _map,
    is_guard_container,
)
from modelfort_policy.tiers import HIGH, STANDARD, ZONE_TIERS

CONFIG_ENV = "MODELFORT_GUARD_CONFIG"
# Custom resources whose pods serve requests by definition (the controller gives them their own Service).
SERVING_KINDS = frozenset({
    "kubernetes:serving.kserve.io/v1beta1:InferenceService", "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime",
    "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime", "kubernetes:serving.knative.dev/v1:Service",
    "kubernetes:ray.io/v1:RayService", "kubernetes:ray.io/v1alpha1:RayService",
})
SERVING_CR_KINDS = frozenset({"InferenceService", "ServingRuntime", "ClusterServingRuntime", "RayService"})
BIND_FLAGS = ("--host", "--bind", "--listen", "--address", "--http-address", "--hostname", "--ip")
TIER_RANK = {tier.name: tier.rank for tier in ZONE_TIERS.values()}


def _labels(workload: Workload) -> Mapping[str, Any]:
    return _map(workload.template.metadata.get("labels"))


def _gpus(template: PodTemplate) -> bool:
    return any(
        str(name) == GPU_RESOURCE or str(name).startswith("nvidia.com/")
        for c in (*as_mappings(template.spec.get("containers")), *as_mappings(template.spec.get("initContainers")))
        for part in ("limits", "requests")
        for name in _map(_get(c, "resources", part))
    )


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _serving_kind(resource: StackResource) -> bool:
    if resource.resource_type in SERVING_KINDS:
        return True
    # Generic CustomResources: apiextensions.CustomResource with kind set.
    kind = _known(lambda: resource.props.get("kind"))
    return resource.resource_type.startswith("kubernetes:") and kind in SERVING_CR_KINDS


@dataclass
class GuardView:
    """What the gate can see of one serving pod's guard."""

    containers: list[Mapping[str, Any]]
    config: Mapping[str, Any] | None = None
    config_problem: str | None = None
    ports: set[Any] = field(default_factory=set)
    """The guard's main port, as a number and by name: what a Service may target."""
    admitted: set[Any] = field(default_factory=set)
    """The main port and the health port: what a NetworkPolicy may admit."""


def _pod_containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Long-running containers: regular ones and native sidecars (init containers with restartPolicy Always)."""
    sidecars = [c for c in as_mappings(spec.get("initContainers")) if c.get("restartPolicy") == "Always"]
    return [*as_mappings(spec.get("containers")), *sidecars]


def _config_path(guard: Mapping[str, Any]) -> str | None:
    path = _flag(_argv(guard), "--config")
    if path is None:
        env = {str(e.get("name")): e.get("value") for e in as_mappings(guard.get("env"))}
        path = env.get(CONFIG_ENV)
    return path if isinstance(path, str) and path.startswith("/") else None


def _config_map_for(workload: Workload, cluster: Cluster, name: Any, key: str) -> tuple[StackResource | None, str | None]:
    """The ConfigMap a volume names: by name in the workload's namespace, or, while the name is computed, the one
    ConfigMap the workload's spec depends on that holds `key`."""
    namespace = cluster.namespace_of(workload.resource)
    maps = [r for r in cluster.resources if r.resource_type == CONFIG_MAP]
    if isinstance(name, str):
        for config_map in maps:
            if _known(lambda c=config_map: _get(c.props, "metadata", "name")) == name and cluster.namespace_of(config_map) is namespace:
                return config_map, None
        return None, f"ConfigMap '{name}' is not in this stack"
    dependencies = {d.urn for prop in ("spec", "template") for d in referenced(workload.resource, prop)}
    candidates = [m for m in maps if m.urn in dependencies and _holds(m, key)]
    if len(candidates) == 1:
        return candidates[0], None
    return None, "its ConfigMap's name is computed and no single ConfigMap of this stack that the pod depends on holds it"


def _holds(config_map: StackResource, key: str) -> bool:
    """The ConfigMap's data has `key`; a data map not known until deploy might, so it counts (and is then read as
    unknown, a violation)."""
    try:
        return key in _map(config_map.props.get("data"))
    except UnknownValueError:
        return True


def _read_config(workload: Workload, cluster: Cluster, guard: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str | None]:
    path = _config_path(guard)
    if path is None:
        return None, "the guard names no absolute --config path (or MODELFORT_GUARD_CONFIG)"
    def holds(mount: Mapping[str, Any]) -> bool:
        mount_path = str(mount.get("mountPath", "")).rstrip("/")
        # A directory mount holds the file; a file mount (subPath) is the file.
        return path.startswith(mount_path + "/") or (path == mount_path and bool(mount.get("subPath")))

    mounts = [m for m in as_mappings(guard.get("volumeMounts")) if holds(m)]
    if not mounts:
        return None, f"the guard's config {path} is on no volume"
    mount = max(mounts, key=lambda m: len(str(m.get("mountPath", ""))))
    if path == str(mount.get("mountPath", "")).rstrip("/"):
        relative = str(mount.get("subPath"))
    else:
        relative = posixpath.relpath(path, str(mount.get("mountPath")))
        if mount.get("subPath"):
            relative = posixpath.join(str(mount.get("subPath")), relative)
    volume = next((v for v in as_mappings(workload.template.spec.get("volumes")) if v.get("name") == mount.get("name")), None)
    source = _map(_map(volume).get("configMap"))
    if not source:
        return None, f"the guard's config {path} is not from a ConfigMap (the gate cannot read it)"
    key = relative
    for item in as_mappings(source.get("items")):
        if item.get("path") == relative:
            key = str(item.get("key"))
    config_map, problem = _config_map_for(workload, cluster, _known(lambda: source.get("name")), key)
    if config_map is None:
        return None, f"the guard's config ({key}): {problem}"
    text = _known(lambda: _map(config_map.props.get("data")).get(key))
    if not isinstance(text, str):
        return None, f"ConfigMap '{config_map.name}' has no known '{key}'"
    try:
        document = json.loads(text)
    except ValueError:
        return None, f"ConfigMap '{config_map.name}' key '{key}' is not JSON"
    if not isinstance(document, Mapping):
        return None, f"ConfigMap '{config_map.name}' key '{key}' is not a JSON object"
    return document, None


def _loopback_problem(url: Any) -> str | None:
    if not isinstance(url, str):
        return "the guard's upstream.url is missing"
    parts = urlsplit(url)
    try:
        loopback = ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        return f"the guard's upstream {url} is not a loopback address (the server must listen on 127.0.0.1)"
    return None


def guard_view(workload: Workload, cluster: Cluster) -> GuardView:
    guards = [c for c in _pod_containers(workload.template.spec) if is_guard_container(c)]
    view = GuardView(guards)
    if not guards:
        return view
    guard = guards[0]
    declared = {p.get("containerPort"): p.get("name") for p in as_mappings(guard.get("ports"))}
    view.config, view.config_problem = _read_config(workload, cluster, guard)
    listen = _map(_map(view.config).get("listen"))
    port = listen.get("port", 8443) if view.config is not None else None
    health = listen.get("healthPort")
    if view.config is None:
        view.ports = {p for pair in declared.items() for p in pair if p is not None}
    elif port not in declared:
        view.config_problem = f"the guard listens on {port}, which its container does not declare"
    else:
        view.ports = {port, *([declared[port]] if declared[port] else [])}
    view.admitted = set(view.ports) | ({health, declared.get(health)} - {None} if health in declared else set())
    return view


def serving_workloads(cluster: Cluster) -> list[Workload]:
    services = [s for s in cluster.resources if s.resource_type == SERVICE]
    found = []
    for workload in cluster.workloads:
        labels = _labels(workload)
        if MODEL_LABEL in labels or _serving_kind(workload.resource):
            found.append(workload)
        elif _gpus(workload.template) and any(
            _selects(_map(_known(lambda s=s: _map(s.props.get("spec")).get("selector"), {})), labels) for s in services
        ):
            found.append(workload)
    return found


def _server_problems(workload: Workload, guard: Mapping[str, Any]) -> Iterable[str]:
    """Every container but the guard whose config was read is judged as a server (a second "guard" too)."""
    for container in _pod_containers(workload.template.spec):
        if container is guard:
            continue
        name = container.get("name", "?")
        ports = [p.get("containerPort") for p in as_mappings(container.get("ports"))]
        if ports:
            yield (f"container '{name}' declares port(s) {', '.join(map(str, ports))}: only the guard is reached from "
                   "outside the pod; the server listens on 127.0.0.1 and declares none")
        argv = _argv(container)
        env = {str(e.get("name")): e.get("value") for e in as_mappings(container.get("env"))}
        for flag in BIND_FLAGS:
            value = _flag(argv, flag)
            if value is not None and not _is_loopback(value):
                yield f"container '{name}' binds {flag} {value}: the server must listen on 127.0.0.1 behind the guard"
        if "MODELFORT_HOST" in env and not _is_loopback(env["MODELFORT_HOST"]):
            yield f"container '{name}' sets MODELFORT_HOST={env['MODELFORT_HOST']!r}: the server must listen on 127.0.0.1"


def _is_loopback(value: Any) -> bool:
    text = str(value).strip("[]")
    if text == "localhost":
        return True
    try:
        return ipaddress.ip_address(text.rsplit(":", 1)[0] if text.count(":") == 1 else text).is_loopback
    except ValueError:
        return False


def _policy_selects(policy: StackResource, labels: Mapping[str, Any]) -> bool:
    selector = _map(_known(lambda: _map(policy.props.get("spec")).get("podSelector"), {}))
    match = _map(selector.get("matchLabels"))
    # matchExpressions are not evaluated: a policy using them is judged as if it applied (fail closed).
    return all(labels.get(k) == v for k, v in match.items())


def _ingress_problems(policy: StackResource, view: GuardView) -> Iterable[str]:
    spec = _map(_known(lambda: policy.props.get("spec"), {}))
    for index, rule in enumerate(as_mappings(spec.get("ingress"))):
        ports = as_mappings(rule.get("ports"))
        if not ports:
            yield f"ingress rule {index} admits every port of the model pod, the server's included"
            continue
        for entry in ports:
            port, end = entry.get("port"), entry.get("endPort")
            if port is None:
                yield f"ingress rule {index} admits every {entry.get('protocol', 'TCP')} port of the model pod"
            elif end is not None and end != port:
                yield f"ingress rule {index} admits ports {port}-{end}, beyond the guard's"
            elif port not in view.admitted:
                yield f"ingress rule {index} admits port {port}, which is not the guard's ({_describe(view.admitted)})"


def _describe(ports: set[Any]) -> str:
    return ", ".join(sorted(map(str, ports))) or "none known"


UNSEEN = ("is not known until deploy, so the gate cannot show the guard is in front of the server (judge it with "
          "`pulumi preview --policy-pack` once the value is known, or make it a plain value)")


def check_served_through_guard(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    cluster = Cluster(resources)
    for workload in serving_workloads(cluster):
        try:
            view = guard_view(workload, cluster)
            findings = list(_pod_findings(workload, view))
        except UnknownValueError:
            yield Finding(f"{workload.describe()}: part of the pod or of its guard's config {UNSEEN}.", workload.resource.urn)
            continue  # without the guard's ports, its Services and NetworkPolicies cannot be judged either
        yield from findings
        if not view.containers:
            continue  # one finding: the pod has no guard for a Service to target
        namespace = cluster.namespace_of(workload.resource)
        for service in (r for r in resources if r.resource_type == SERVICE and cluster.namespace_of(r) is namespace):
            try:
                yield from _service_findings(service, workload, view)
            except UnknownValueError:
                yield Finding(f"Service '{service.name}' may select {workload.describe()}, and its selector or ports "
                              f"{UNSEEN}.", service.urn)
        for policy in (r for r in resources if r.resource_type == NETWORK_POLICY and cluster.namespace_of(r) is namespace):
            try:
                if _policy_selects(policy, _labels(workload)):
                    for problem in _ingress_problems(policy, view):
                        yield Finding(f"NetworkPolicy '{policy.name}' ({workload.describe()}): {problem}.", policy.urn)
            except UnknownValueError:
                yield Finding(f"NetworkPolicy '{policy.name}' may admit traffic to {workload.describe()}, and its "
                              f"selector or ingress rules {UNSEEN}.", policy.urn)


def _pod_findings(workload: Workload, view: GuardView) -> Iterable[Finding]:
    where = workload.describe()
    if not view.containers:
        yield Finding(f"{where}: model pod has no inference guard container (`modelfort guard`): requests reach the "
                      "server without input or output controls, identity or telemetry.", workload.resource.urn)
        return
    if view.config_problem:
        yield Finding(f"{where}: {view.config_problem}; the gate cannot show the guard is in front of the server.",
                      workload.resource.urn)
    if view.config is not None and (problem := _loopback_problem(_map(view.config.get("upstream")).get("url"))):
        yield Finding(f"{where}: {problem}.", workload.resource.urn)
    for problem in _server_problems(workload, view.containers[0]):
        yield Finding(f"{where}: {problem}.", workload.resource.urn)


def _service_findings(service: StackResource, workload: Workload, view: GuardView) -> Iterable[Finding]:
    spec = _map(service.props.get("spec"))
    if not _selects(_map(spec.get("selector")), _labels(workload)):
        return
    ports = view.ports
    for port in as_mappings(spec.get("ports")):
        target = _port(port.get("targetPort", port.get("port")))
        if target not in ports:
            yield Finding(f"Service '{service.name}' sends port {_port(port.get('port'))} to {target} of "
                          f"{workload.describe()}, not to the guard ({_describe(ports)}): it reaches the server "
                          "around the guard.", service.urn)


def _port(value: Any) -> Any:
    """A port as the program wrote it: the engine hands numbers over as floats (8000.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def check_guard_fails_closed(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
    cluster = Cluster(resources)
    for workload in serving_workloads(cluster):
        try:
            yield from _fails_closed_findings(workload, cluster, ctx)
        except UnknownValueError:
            yield Finding(f"{workload.describe()}: the guard's config {UNSEEN}.", workload.resource.urn)


def _fails_closed_findings(workload: Workload, cluster: Cluster, ctx: Context) -> Iterable[Finding]:
    view = guard_view(workload, cluster)
    if not view.containers or view.config is None:
        return  # k8s-model-served-through-guard reports a missing or unreadable guard
    where = workload.describe()
    guardrail = _map(view.config.get("guardrail"))
    if guardrail.get("failOpen") is True:
        yield Finding(f"{where}: the guard serves requests when its guardrail errors or times out (failOpen).",
                      workload.resource.urn)
    if guardrail.get("provider") in (None, "none"):
        yield Finding(f"{where}: the guard applies no cloud guardrail (provider {guardrail.get('provider')!r}): "
                      "no PII, toxicity or unsafe-domain check on prompts and completions.", workload.resource.urn)
    tier = view.config.get("tier")
    if TIER_RANK.get(tier, 0) < ctx.tier.rank:
        yield Finding(f"{where}: the guard runs at tier {tier!r}, weaker than the zone's {ctx.tier.name!r}: "
                      "controls the zone requires could be off.", workload.resource.urn)


RULES = (
    Rule(
        name="k8s-model-served-through-guard",
        description="Model pods are reached only through the inference guard: a `modelfort guard` container whose "
        "config the gate can read, a server on 127.0.0.1 with no declared port, and Services and NetworkPolicies "
        "that admit the guard's port alone.",
        severity="critical",
        controls=("RC-01", "RC-05", "RC-08", "RC-10", "RC-11", "GR-09", "WP-04", "OB-01"),
        remediation="Use ModelServing, or add the guard container (`modelfort guard --config /etc/modelfort/guard/"
        "guard.json`, config from a ConfigMap in the stack, upstream http://127.0.0.1:PORT), bind the server to "
        "127.0.0.1 without a container port, and point Services and NetworkPolicies at the guard's port only.",
        mandatory_from=STANDARD,
        stack_check=check_served_through_guard,
    ),
    Rule(
        name="k8s-guard-fails-closed",
        description="From the high tier up, the inference guard fails closed: a cloud guardrail on both sides, no "
        "failOpen, and a tier no weaker than the zone's.",
        severity="high",
        controls=("RC-01", "RC-02", "RC-03", "RC-04"),
        remediation="Remove GuardSettings.guardrail_fail_open and allow_no_guardrail; give the guard the zone's "
        "guardrail (BedrockGuardrail or ModelArmorGuardrail) and the zone's tier.",
        mandatory_from=HIGH,
        stack_check=check_guard_fails_closed,
    ),
)
