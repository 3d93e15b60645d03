"""Kubernetes rules: hardened pods (RI-02..RI-09, ST-05, SC-02, RC-11), isolated namespaces (NB-02, RI-11, RC-11) and
a hardened GPU runtime (RI-06, RI-07), judged on raw objects from any program.

Every object that carries a pod template is judged through one extractor (`pod_specs.pod_templates`), so a privileged
container is caught in a Pod, a Deployment, a CronJob, a DaemonSet, or any custom resource (KServe, Ray, Kubeflow,
Argo, LeaderWorkerSet, Knative, or a CRD the pack has never heard of) alike. Server-side-apply patches (`...Patch` types) are
partial objects: for them only what they set explicitly is judged, never what they leave out.

The one exemption is for privileged node agents (the GPU Operator's operands): a DaemonSet rendered by the agent's own
Helm Chart (its parent is that chart) is exempt from the privilege rules only inside a *verified* system namespace, which is a Namespace this stack creates with the label
`modelfort.io/system-namespace=<agent>`, that holds that agent's Helm release, and that holds no other workload
(Deployments, Pods, Jobs...). A program cannot earn the exemption by labelling its own namespace: the namespace must
also run the agent's chart, and the moment a model workload lands there the namespace stops being verified (and the
`k8s-system-namespace` rule blocks it). An exempt DaemonSet must not request GPUs nor carry a model label.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.credentials import credential_kind
from modelfort_policy.pod_specs import FIXED_PATHS, PATCH_SUFFIX, PodTemplate, pod_templates
from modelfort_policy.props import as_int, as_list, as_mappings, parse_cidr, referenced
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.rules.eks import CLUSTER as EKS_CLUSTER
from modelfort_policy.rules.gcp_common import CLUSTER as GKE_CLUSTER
from modelfort_policy.rules.gcp_common import NODE_POOL as GKE_NODE_POOL
from modelfort_policy.rules.gcp_common import default_pool_node_config
from modelfort_policy.tiers import HIGH, STANDARD

# ---------------------------------------------------------------------------------------------------- kinds
POD = "kubernetes:core/v1:Pod"
POD_TEMPLATE = "kubernetes:core/v1:PodTemplate"
REPLICATION_CONTROLLER = "kubernetes:core/v1:ReplicationController"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
ADMISSION_POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
ADMISSION_BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHARTS = frozenset({"kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart"})
"""Chart components: the objects a chart renders are their children (a Release renders none the pack can see)."""

# Where the pod spec sits in each built-in kind; every other Kubernetes object is searched by shape (pod_specs.py).
POD_SPEC_PATHS = FIXED_PATHS

# ---------------------------------------------------------------------------------------------------- contract
# Label keys shared with the components (which the pack never imports); a test checks both sides agree.
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
SYSTEM_NAMESPACE_LABEL = "modelfort.io/system-namespace"
MODEL_LABEL = "modelfort.io/model"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")
GKE_METADATA_SERVER = {ipaddress.ip_network("169.254.169.254/32"): 80, ipaddress.ip_network("169.254.169.252/32"): 988}
"""The GKE metadata server's addresses and ports (components/k8s/isolation.py has the same table)."""
SYSTEM_CHARTS: dict[str, frozenset[str]] = {"gpu-operator": frozenset({"gpu-operator"})}
"""The system namespaces the pack knows, and the Helm charts that make each one what it claims to be."""

GPU_RESOURCE = "nvidia.com/gpu"
VENDOR_DEVICE_PREFIX = "nvidia.com/"
CDI_ANNOTATION_PREFIX = "cdi.k8s.io/"
NVIDIA_ENV_PREFIX = "NVIDIA_"
DIGEST_PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")
ALLOWED_CAPABILITY_ADDS = frozenset({"NET_BIND_SERVICE"})
"""Pod Security `restricted` allows only this one; it binds ports below 1024 and grants nothing else."""
CONFINED_PROFILES = frozenset({"RuntimeDefault", "Localhost"})
RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
"""Pod Security `restricted`: every other volume type reaches the node or a network filesystem directly."""
INTERACTIVE_SUBRESOURCES = frozenset({"pods/exec", "pods/attach", "pods/portforward"})
MIN_GPU_OPERATOR = (25, 3, 1)
MIN_CONTAINER_TOOLKIT = (1, 17, 8)
VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")
REQUIRED_TOOLKIT_ENV = {
    "ACCEPT_NVIDIA_VISIBLE_DEVICES_ENVVAR_WHEN_UNPRIVILEGED": "false",
    "ACCEPT_NVIDIA_VISIBLE_DEVICES_AS_VOLUME_MOUNTS": "true",
}
COMPAT_HOOK_FEATURE = "disable-cuda-compat-lib-hook"


class Problem(NamedTuple):
    message: str
    missing: bool
    """True when a safe setting is absent (not judged on patches, which leave the rest of the object alone)."""


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _known(read: Callable[[], Any], default: Any = None) -> Any:
    """Read a value that may be unknown during a real preview; unknown is treated as absent by the caller."""
    try:
        return read()
    except UnknownValueError:
        return default


# ---------------------------------------------------------------------------------------------------- pod templates
# Every pod template of every object comes from modelfort_policy.pod_specs.pod_templates (fixed paths for the built-in
# kinds, discovery by shape for everything else): no rule reads a pod spec any other way.


def containers(spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, container) for every container, init container and ephemeral container."""
    found = []
    for key, what in (("initContainers", "init container"), ("containers", "container"), ("ephemeralContainers", "ephemeral container")):
        for container in as_mappings(spec.get(key)):
            found.append((f"{what} '{container.get('name', '?')}'", container))
    return found


def _effective(spec: Mapping[str, Any], container: Mapping[str, Any], key: str) -> Any:
    """A security setting the container may set and otherwise inherits from the pod."""
    own = _get(container, "securityContext", key)
    return own if own is not None else _get(spec, "securityContext", key)


# ---------------------------------------------------------------------------------------------------- pod checks
PodCheck = Callable[[Mapping[str, Any], Mapping[str, Any]], Iterable[Problem]]


def check_not_privileged(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        if _get(container, "securityContext", "privileged") is True:
            yield Problem(f"{label} is privileged: every device and capability of the node", False)
        if str(_get(container, "securityContext", "procMount")).lower() == "unmasked":
            # Unmasked /proc exposes kernel knobs (sysrq-trigger, core_pattern) that lead straight to the node.
            yield Problem(f"{label} sets procMount: Unmasked (the kernel paths of /proc are no longer masked)", False)


def check_non_root(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        non_root = _effective(spec, container, "runAsNonRoot")
        if non_root is not True:
            yield Problem(f"{label} does not set runAsNonRoot: true", non_root is None)
        if as_int(_effective(spec, container, "runAsUser")) == 0:
            yield Problem(f"{label} runs as user 0 (root)", False)


def check_read_only_root(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        value = _get(container, "securityContext", "readOnlyRootFilesystem")
        if value is not True:
            yield Problem(f"{label} has a writable root filesystem (set readOnlyRootFilesystem: true)", value is None)


def check_capabilities(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        caps = _map(_get(container, "securityContext", "capabilities"))
        drops = {str(c).upper() for c in as_list(caps.get("drop"))}
        if "ALL" not in drops:
            yield Problem(f"{label} does not drop ALL capabilities", caps.get("drop") is None)
        added = sorted({str(c).upper().removeprefix("CAP_") for c in as_list(caps.get("add"))} - ALLOWED_CAPABILITY_ADDS)
        if added:
            yield Problem(f"{label} adds capabilities {', '.join(added)}", False)


def check_no_privilege_escalation(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        value = _get(container, "securityContext", "allowPrivilegeEscalation")
        if value is not False:
            yield Problem(f"{label} does not set allowPrivilegeEscalation: false (setuid binaries could gain root)", value is None)


def check_no_host_namespaces(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    reasons = {
        "hostPID": "sees and can signal every process of the node",
        "hostIPC": "shares the node's shared memory",
        "hostNetwork": "uses the node's network: NetworkPolicies no longer apply",
        "shareProcessNamespace": "lets its containers read each other's memory through /proc",
    }
    for key, why in reasons.items():
        if spec.get(key) is True:
            yield Problem(f"the pod sets {key}: it {why}", False)


def check_restricted_volumes(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for volume in as_mappings(spec.get("volumes")):
        kinds = [k for k in volume if k != "name"]
        for kind in kinds:
            if kind == "hostPath":
                path = _get(volume, "hostPath", "path")
                yield Problem(f"volume '{volume.get('name')}' mounts the node's filesystem (hostPath {path})", False)
            elif kind not in RESTRICTED_VOLUME_TYPES:
                yield Problem(f"volume '{volume.get('name')}' is of type {kind}, which Pod Security 'restricted' forbids", False)


def check_no_host_ports(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        for port in as_mappings(container.get("ports")):
            host_port = as_int(port.get("hostPort"))
            if host_port:
                yield Problem(f"{label} binds host port {host_port}, bypassing NetworkPolicies and the Service", False)


def check_gpu_device_selection(spec: Mapping, meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        for env in as_mappings(container.get("env")):
            name = str(env.get("name", ""))
            if name.upper().startswith(NVIDIA_ENV_PREFIX):
                yield Problem(f"{label} sets {name}: GPUs are allocated by the device plugin, never chosen by env", False)
        for source in as_mappings(container.get("envFrom")):
            prefix = str(source.get("prefix") or "")
            if prefix.upper().startswith(NVIDIA_ENV_PREFIX):
                yield Problem(f"{label} imports environment with prefix {prefix}: GPU selection by env is refused", False)
    for key in _map(meta.get("annotations")):
        if str(key).startswith(CDI_ANNOTATION_PREFIX):
            yield Problem(f"the pod carries the CDI annotation {key}: devices are injected by the device plugin only", False)


def check_image_digest(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        image = container.get("image")
        if not isinstance(image, str) or not image:
            yield Problem(f"{label} names no image", True)
        elif not DIGEST_PINNED.search(image):
            yield Problem(f"{label} image {image} is not pinned by digest (@sha256:...): a tag can be moved", False)


def _profile_findings(spec: Mapping, meta: Mapping, field: str, what: str, annotation: Callable[[str], str | None]) -> Iterable[Problem]:
    for label, container in containers(spec):
        profile = _map(_effective(spec, container, field))
        kind = profile.get("type")
        if kind is None:
            kind = annotation(str(container.get("name", "")))
        if kind == "Unconfined":
            yield Problem(f"{label} runs with {what} Unconfined", False)
        elif kind not in CONFINED_PROFILES:
            yield Problem(f"{label} sets no {what} profile (RuntimeDefault or Localhost)", kind is None)


def check_seccomp(spec: Mapping, meta: Mapping) -> Iterable[Problem]:
    annotations = _map(meta.get("annotations"))

    def legacy(name: str) -> str | None:
        # The pre-1.19 annotations still name a profile on old manifests; "unconfined" must not slip through.
        value = annotations.get(f"container.seccomp.security.alpha.kubernetes.io/{name}") or annotations.get(
            "seccomp.security.alpha.kubernetes.io/pod"
        )
        return {"runtime/default": "RuntimeDefault", "docker/default": "RuntimeDefault", "unconfined": "Unconfined"}.get(
            str(value), "Localhost" if str(value).startswith("localhost/") else None
        )

    yield from _profile_findings(spec, meta, "seccompProfile", "seccomp", legacy)


def check_apparmor(spec: Mapping, meta: Mapping) -> Iterable[Problem]:
    annotations = _map(meta.get("annotations"))

    def legacy(name: str) -> str | None:
        value = annotations.get(f"container.apparmor.security.beta.kubernetes.io/{name}")
        if value is None:
            return None
        return {"runtime/default": "RuntimeDefault", "unconfined": "Unconfined"}.get(
            str(value), "Localhost" if str(value).startswith("localhost/") else "Unconfined"
        )

    yield from _profile_findings(spec, meta, "appArmorProfile", "AppArmor", legacy)


def check_resource_limits(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    # Ephemeral containers cannot declare resources; they are judged by every other rule.
    for label, container in containers(spec):
        if label.startswith("ephemeral"):
            continue
        limits = _map(_get(container, "resources", "limits"))
        missing = [r for r in ("cpu", "memory") if limits.get(r) in (None, "", 0)]
        if missing:
            yield Problem(f"{label} has no {' or '.join(missing)} limit", True)


def check_gpus_through_limits(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        resources = _map(container.get("resources"))
        requests, limits = _map(resources.get("requests")), _map(resources.get("limits"))
        for name, amount in requests.items():
            if str(name).startswith(VENDOR_DEVICE_PREFIX) and not _same_quantity(limits.get(name), amount):
                yield Problem(
                    f"{label} requests {name} without an equal limit: GPUs are granted through limits of the device "
                    "plugin's resource only",
                    False,
                )


def _same_quantity(a: Any, b: Any) -> bool:
    """Quantities cross the wire as strings or doubles: "1" and 1.0 are the same count of devices."""
    try:
        return a is not None and float(str(a)) == float(str(b))
    except ValueError:
        return str(a) == str(b)


def check_no_service_account_token(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    value = spec.get("automountServiceAccountToken")
    if value is not False:
        yield Problem("the pod does not set automountServiceAccountToken: false (an API token in every container)", value is None)


def check_no_secret_env(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        for env in as_mappings(container.get("env")):
            if _get(env, "valueFrom", "secretKeyRef") is not None:
                yield Problem(f"{label} reads Secret {_get(env, 'valueFrom', 'secretKeyRef', 'name')} into env {env.get('name')}", False)
        for source in as_mappings(container.get("envFrom")):
            if source.get("secretRef") is not None:
                yield Problem(f"{label} imports Secret {_get(source, 'secretRef', 'name')} as environment variables", False)


def check_no_literal_credentials(spec: Mapping, _meta: Mapping) -> Iterable[Problem]:
    for label, container in containers(spec):
        for env in as_mappings(container.get("env")):
            value = env.get("value")
            if isinstance(value, str) and value:
                shape = credential_kind(str(env.get("name", "")), value)
                if shape:
                    # Never echo the value: the report would leak the credential it found.
                    yield Problem(f"{label} env {env.get('name')} holds what looks like {shape}", False)


# ---------------------------------------------------------------------------------------------------- model pods
# Pods labelled modelfort.io/model are model servers (ModelServing labels them; so may any program). For them the pack
# also checks the contract the weight verifier relies on, and that the server receives its resource limits.
MAX_TOKENS_ENV, TIMEOUT_ENV = "MODELFORT_MAX_TOKENS", "MODELFORT_REQUEST_TIMEOUT_SECONDS"
MAX_TOKENS_LIMIT, TIMEOUT_LIMIT = 1_000_000, 600
ROOT_DIGEST = re.compile(r"^(sha256:)?[0-9a-f]{64}$")


def _is_model_pod(meta: Mapping) -> bool:
    return MODEL_LABEL in _map(meta.get("labels"))


def _argv(container: Mapping) -> list[str]:
    return [str(a) for a in (*as_list(container.get("command")), *as_list(container.get("args")))]


def is_guard_container(container: Mapping) -> bool:
    """Runs `modelfort guard` (the inference guard) as its program: `modelfort guard ...`, `python -m modelfort[.cli]
    guard ...` or `python -m modelfort.runtime.guard ...`. The words anywhere else in a command line (a banner, a
    flag's value) do not make a container the guard, which would exempt it from the server checks."""
    argv = _argv(container)
    if len(argv) >= 2 and argv[0].rsplit("/", 1)[-1] == "modelfort" and argv[1] == "guard":
        return True
    interpreter = bool(argv) and argv[0].rsplit("/", 1)[-1].startswith("python")
    if interpreter and len(argv) >= 3 and argv[1] == "-m":
        return argv[2] == "modelfort.runtime.guard" or (argv[2] in ("modelfort", "modelfort.cli") and argv[3:4] == ["guard"])
    return False


def _flag(argv: list[str], flag: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg == flag and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def check_model_weights_verified(spec: Mapping, meta: Mapping) -> Iterable[Problem]:
    """A model pod verifies its weights before the server starts (an init container running `modelfort
    verify-weights` against a pinned root digest), and the server mounts the verified files read-only."""
    if not _is_model_pod(meta):
        return
    verifiers = [c for c in as_mappings(spec.get("initContainers")) if "verify-weights" in _argv(c)]
    good = [c for c in verifiers if ROOT_DIGEST.match(_flag(_argv(c), "--root-digest") or "") and _flag(_argv(c), "--download-dir")]
    if not good:
        yield Problem(
            "model pod has no init container running `modelfort verify-weights` with a pinned --root-digest and a "
            "--download-dir: the server would load weights nobody verified",
            True,
        )
        return
    for verifier in good:
        target = str(_flag(_argv(verifier), "--download-dir"))
        mounts = [m for m in as_mappings(verifier.get("volumeMounts")) if target.startswith(str(m.get("mountPath", "")).rstrip("/") + "/") or target == m.get("mountPath")]
        if not mounts:
            yield Problem(f"the verifier's --download-dir {target} is on no volume: the server cannot read what was verified", False)
            continue
        volume = max(mounts, key=lambda m: len(str(m.get("mountPath", "")))).get("name")
        for label, container in containers(spec):
            if label.startswith("init"):
                continue
            for mount in as_mappings(container.get("volumeMounts")):
                if mount.get("name") == volume and mount.get("readOnly") is not True:
                    yield Problem(f"{label} mounts the verified weights volume '{volume}' writable: the files could change after verification", False)


def check_model_server_limits(spec: Mapping, meta: Mapping) -> Iterable[Problem]:
    """A model server is told its largest completion and longest request (RC-09, RC-10). The guard in front of it
    holds the same limits in its own config (k8s-model-served-through-guard reads that)."""
    if not _is_model_pod(meta):
        return
    for label, container in containers(spec):
        if not label.startswith("container") or is_guard_container(container):
            continue
        env = {str(e.get("name")): e.get("value") for e in as_mappings(container.get("env"))}
        for name, limit in ((MAX_TOKENS_ENV, MAX_TOKENS_LIMIT), (TIMEOUT_ENV, TIMEOUT_LIMIT)):
            raw = env.get(name)
            value = int(raw) if isinstance(raw, str) and raw.isdigit() else None
            if value is None or not 1 <= value <= limit:
                yield Problem(f"{label} sets {name} to {raw!r}; give a whole number from 1 to {limit}", raw is None)


# ---------------------------------------------------------------------------------------------------- the cluster
@dataclass
class Workload:
    resource: StackResource
    template: PodTemplate
    namespace: str | None

    @property
    def kind(self) -> str:
        return self.resource.resource_type.rsplit(":", 1)[-1]

    def describe(self) -> str:
        where = f" (pod template at {self.template.where})" if self.template.where else ""
        return f"{self.kind} '{self.resource.name}'{where}"


class Cluster:
    """The stack's Kubernetes objects, with each namespaced object matched to its namespace.

    A namespaced object is matched by property dependency on a Namespace (works while names are still unknown at
    preview) or else by its literal metadata.namespace. An object without metadata.namespace is counted in
    'default' (where the provider would put it unless configured otherwise; say the namespace explicitly).
    """

    def __init__(self, resources: Sequence[StackResource]) -> None:
        self.resources = resources
        self.namespaces = [r for r in resources if r.resource_type == NAMESPACE]
        self._by_urn = {ns.urn: ns for ns in self.namespaces}
        self._by_name = {}
        for ns in self.namespaces:
            name = _known(lambda ns=ns: _get(ns.props, "metadata", "name"))
            if isinstance(name, str):
                self._by_name[name] = ns
        self.workloads = []
        for resource in resources:
            for template in pod_templates(resource.resource_type, resource.props):
                self.workloads.append(Workload(resource, template, self.namespace_name(resource)))
        self.system_namespaces = {
            ns.urn for ns in self.namespaces if self.system_label(ns) is not None and not list(self.system_namespace_problems(ns))
        }
        """Verified system namespaces: they claim to be one, and nothing contradicts the claim."""

    def namespace_of(self, resource: StackResource) -> StackResource | None:
        for dep in referenced(resource, "metadata"):
            if dep.urn in self._by_urn:
                return self._by_urn[dep.urn]
        name = _known(lambda: _get(resource.props, "metadata", "namespace"))
        return self._by_name.get(name if isinstance(name, str) and name else "default")

    def namespace_name(self, resource: StackResource) -> str | None:
        namespace = self.namespace_of(resource)
        if namespace is not None:
            return self.name_of(namespace)
        name = _known(lambda: _get(resource.props, "metadata", "namespace"))
        return name if isinstance(name, str) and name else "default"

    @staticmethod
    def name_of(namespace: StackResource) -> str:
        name = _known(lambda: _get(namespace.props, "metadata", "name"))
        return name if isinstance(name, str) else namespace.name

    def in_namespace(self, namespace: StackResource, resource_type: str) -> list[StackResource]:
        return [r for r in self.resources if r.resource_type == resource_type and self.namespace_of(r) is namespace]

    def helm_releases_in(self, namespace: StackResource) -> list[StackResource]:
        found = []
        for release in self.resources:
            if release.resource_type != HELM_RELEASE:
                continue
            if any(dep.urn == namespace.urn for dep in referenced(release, "namespace")):
                found.append(release)
            elif _known(lambda r=release: r.props.get("namespace")) == self.name_of(namespace):
                found.append(release)
        return found

    def system_label(self, namespace: StackResource) -> str | None:
        value = _get(namespace.props, "metadata", "labels", SYSTEM_NAMESPACE_LABEL)
        return value if isinstance(value, str) else None

    def system_namespace_problems(self, namespace: StackResource) -> Iterable[str]:
        """Why a namespace that claims to be a system namespace is not one (nothing for one that does not claim)."""
        claim = self.system_label(namespace)
        if claim is None:
            return
        name = self.name_of(namespace)
        charts = SYSTEM_CHARTS.get(claim)
        if charts is None:
            yield f"namespace '{name}' claims system namespace '{claim}', which the pack does not know (known: {', '.join(sorted(SYSTEM_CHARTS))})"
            return
        releases = self.helm_releases_in(namespace)
        if not any(chart_name(r.props.get("chart")) in charts for r in releases):
            yield f"namespace '{name}' claims system namespace '{claim}' but runs no {'/'.join(sorted(charts))} Helm release"
        for release in releases:
            if chart_name(release.props.get("chart")) not in charts:
                yield f"Helm release '{release.name}' (chart {release.props.get('chart')}) runs in system namespace '{name}', which is only for {'/'.join(sorted(charts))}"
        for workload in self.workloads:
            if self.namespace_of(workload.resource) is namespace and workload.resource.resource_type.removesuffix(PATCH_SUFFIX) != DAEMON_SET:
                yield f"{workload.describe()} runs in system namespace '{name}', which only node agents (DaemonSets) may use"

    def is_exempt_node_agent(self, workload: Workload) -> bool:
        """Only what the system namespace's own chart deploys is exempt: a DaemonSet the program declares itself (its
        parent is not that chart) is judged like any pod, wherever it runs, so a model server cannot hide there."""
        if workload.resource.resource_type != DAEMON_SET:
            return False
        namespace = self.namespace_of(workload.resource)
        if namespace is None or namespace.urn not in self.system_namespaces:
            return False
        parent = getattr(workload.resource, "parent", None)
        charts = SYSTEM_CHARTS.get(self.system_label(namespace) or "", frozenset())
        if parent is None or parent.resource_type not in HELM_CHARTS or chart_name(_known(lambda: parent.props.get("chart"))) not in charts:
            return False
        labels = {**_map(_get(workload.resource.props, "metadata", "labels")), **_map(workload.template.metadata.get("labels"))}
        if MODEL_LABEL in labels:
            return False
        return not any(
            str(name).startswith(VENDOR_DEVICE_PREFIX)
            for _, container in containers(workload.template.spec)
            for part in ("requests", "limits")
            for name in _map(_get(container, "resources", part))
        )


def chart_name(chart: Any) -> str:
    """'gpu-operator' for 'gpu-operator', 'nvidia/gpu-operator', 'oci://registry/nvidia/gpu-operator', '...-25.3.1.tgz'."""
    text = str(chart or "").rstrip("/").rsplit("/", 1)[-1]
    text = re.sub(r"\.tgz$", "", text)
    return re.sub(r"-v?\d+\.\d+\.\d+.*$", "", text)


def workload_rule(check: PodCheck, *, exempt_node_agents: bool) -> Callable[[Sequence[StackResource], Context], Iterable[Finding]]:
    """A stack check that runs a pod check on every workload, knowing each one's namespace (for the exemption)."""

    def stack_check(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
        cluster = Cluster(resources)
        for workload in cluster.workloads:
            if exempt_node_agents and cluster.is_exempt_node_agent(workload):
                continue
            for problem in check(workload.template.spec, workload.template.metadata):
                if workload.template.partial and problem.missing:
                    continue
                yield Finding(f"{workload.describe()}: {problem.message}.", workload.resource.urn)

    stack_check.__name__ = f"{check.__name__}_in_stack"
    stack_check.__doc__ = check.__doc__
    return stack_check


# ---------------------------------------------------------------------------------------------------- namespaces
def check_workload_namespace_managed(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    """Every workload lands in a namespace this stack creates, so its Pod Security, network and exec isolation can be
    verified here (a pre-existing namespace, 'default' included, cannot be)."""
    cluster = Cluster(resources)
    for workload in cluster.workloads:
        if workload.template.partial:
            continue  # a patch changes an object that exists already, wherever it is
        if cluster.namespace_of(workload.resource) is None:
            yield Finding(
                f"{workload.describe()} runs in namespace '{workload.namespace}', which this stack does not create: "
                "its isolation cannot be verified.",
                workload.resource.urn,
            )


def check_namespace_pod_security(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    cluster = Cluster(resources)
    for namespace in cluster.namespaces:
        if namespace.urn in cluster.system_namespaces:
            continue
        labels = _map(_get(namespace.props, "metadata", "labels"))
        level = labels.get(PSA_ENFORCE)
        if level != "restricted":
            yield Finding(
                f"namespace '{cluster.name_of(namespace)}' enforces Pod Security level {level or 'none'}; "
                "model namespaces enforce 'restricted'.",
                namespace.urn,
            )


def _selects_everything(selector: Any) -> bool:
    selector = _map(selector)
    return not _map(selector.get("matchLabels")) and not as_list(selector.get("matchExpressions"))


def _denies(policy: StackResource, direction: str) -> bool:
    spec = _map(policy.props.get("spec"))
    # podSelector is required by the API; a policy without one is malformed and counts for nothing.
    if spec.get("podSelector") is None or not _selects_everything(spec.get("podSelector")):
        return False
    types = [str(t) for t in as_list(spec.get("policyTypes"))]
    rules = as_list(spec.get(direction.lower()))
    if direction == "Ingress":
        # Without policyTypes, a policy is an ingress policy (and also egress if it has egress rules).
        applies = "Ingress" in types or not types
    else:
        applies = "Egress" in types
    return applies and not rules


def check_namespace_default_deny(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    cluster = Cluster(resources)
    for namespace in cluster.namespaces:
        policies = cluster.in_namespace(namespace, NETWORK_POLICY)
        for direction in ("Ingress", "Egress"):
            if not any(_denies(policy, direction) for policy in policies):
                yield Finding(
                    f"namespace '{cluster.name_of(namespace)}' has no default-deny {direction.lower()} NetworkPolicy "
                    f"(podSelector {{}}, policyTypes [{direction}], no {direction.lower()} rules): without one, every "
                    f"{direction.lower()} connection is allowed.",
                    namespace.urn,
                )


def check_network_policy_not_open(resource: Resource, _ctx: Context) -> Iterable[str]:
    """NetworkPolicies add up: one rule that allows everyone undoes the default-deny of the whole namespace."""
    spec = _map(resource.props.get("spec"))
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for index, rule in enumerate(as_mappings(spec.get(direction))):
            peers = as_mappings(rule.get(peers_key))
            where = f"{direction} rule {index} of '{resource.name}'"
            if not peers:
                yield f"{where} names no {peers_key!r} peers, so it allows every address."
            for peer in peers:
                cidr = parse_cidr(_get(peer, "ipBlock", "cidr"))
                if cidr is not None and cidr.prefixlen == 0:
                    yield f"{where} allows {cidr}: every address."
                selector = peer.get("namespaceSelector")
                if selector is not None and _selects_everything(selector) and peer.get("podSelector") is None:
                    yield f"{where} allows every pod of every namespace (namespaceSelector {{}})."


def _has_quantity(hard: Mapping, *keys: str) -> bool:
    return any(hard.get(key) not in (None, "") for key in keys)


def check_namespace_quota(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    cluster = Cluster(resources)
    for namespace in cluster.namespaces:
        if namespace.urn in cluster.system_namespaces:
            continue  # node agents are sized by their chart; no model ever runs there
        name = cluster.name_of(namespace)
        hard: dict = {}
        for quota in cluster.in_namespace(namespace, RESOURCE_QUOTA):
            if not as_list(_get(quota.props, "spec", "scopes")) and not _get(quota.props, "spec", "scopeSelector"):
                hard.update(_map(_get(quota.props, "spec", "hard")))
        missing = [
            what
            for what, keys in (
                ("cpu", ("limits.cpu", "requests.cpu", "cpu")),
                ("memory", ("limits.memory", "requests.memory", "memory")),
                (GPU_RESOURCE, (f"requests.{GPU_RESOURCE}",)),
            )
            if not _has_quantity(hard, *keys)
        ]
        if missing:
            yield Finding(f"namespace '{name}' has no unscoped ResourceQuota on {', '.join(missing)}.", namespace.urn)
        container_limits = [
            item
            for limit_range in cluster.in_namespace(namespace, LIMIT_RANGE)
            for item in as_mappings(_get(limit_range.props, "spec", "limits"))
            if item.get("type") == "Container"
        ]
        if not any(
            all(_map(item.get(part)).get(r) not in (None, "") for part in ("default", "max") for r in ("cpu", "memory"))
            for item in container_limits
        ):
            yield Finding(
                f"namespace '{name}' has no LimitRange giving containers default and maximum cpu and memory.",
                namespace.urn,
            )


def _policy_denies_interactive(policy: StackResource) -> bool:
    spec = _map(policy.props.get("spec"))
    if spec.get("failurePolicy", "Fail") != "Fail":
        return False
    if as_list(spec.get("matchConditions")):
        return False  # a condition could exempt anyone: the deny must be unconditional
    constraints = _map(spec.get("matchConstraints"))
    if as_list(constraints.get("excludeResourceRules")):
        return False
    # Selectors on the policy itself narrow it further than any binding can widen it: only "everything" counts.
    if any(constraints.get(key) is not None and not _selects_everything(constraints.get(key)) for key in ("namespaceSelector", "objectSelector")):
        return False
    covered: set[str] = set()
    for rule in as_mappings(constraints.get("resourceRules")):
        operations = {str(o) for o in as_list(rule.get("operations"))}
        groups = {str(g) for g in as_list(rule.get("apiGroups"))}
        if not operations & {"CONNECT", "*"} or not groups & {"", "*"}:
            continue
        for name in (str(r) for r in as_list(rule.get("resources"))):
            if name in ("*", "*/*", "pods/*"):
                covered |= INTERACTIVE_SUBRESOURCES
            elif name in INTERACTIVE_SUBRESOURCES:
                covered.add(name)
    always_false = any(str(v.get("expression", "")).strip() == "false" for v in as_mappings(spec.get("validations")))
    return covered >= INTERACTIVE_SUBRESOURCES and always_false


def _binding_covers(binding: StackResource, namespace: StackResource, name: str, labels: Mapping) -> bool:
    spec = _map(binding.props.get("spec"))
    if "Deny" not in [str(a) for a in as_list(spec.get("validationActions"))]:
        return False
    match = _map(spec.get("matchResources"))
    if as_list(match.get("excludeResourceRules")):
        return False
    if match.get("objectSelector") is not None and not _selects_everything(match.get("objectSelector")):
        return False  # a label on the pod could opt it out
    selector = match.get("namespaceSelector")
    if selector is None or _selects_everything(selector):
        return True
    selector = _map(selector)
    # The API server labels every namespace with its own name; count it even when the program did not.
    effective = {**labels, NAMESPACE_NAME_LABEL: name}
    if any(effective.get(k) != v for k, v in _map(selector.get("matchLabels")).items()):
        return False
    for expression in as_mappings(selector.get("matchExpressions")):
        if expression.get("operator") != "In" or effective.get(expression.get("key")) not in as_list(expression.get("values")):
            return False  # only plain `In` is judged; anything else cannot be proven to include this namespace
    return True


def check_namespace_denies_interactive(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
    if ctx.tier.rank < HIGH.rank:
        return  # red-team and testing zones may debug interactively
    cluster = Cluster(resources)
    policies = [p for p in resources if p.resource_type == ADMISSION_POLICY and _policy_denies_interactive(p)]
    bindings = [b for b in resources if b.resource_type == ADMISSION_BINDING]
    for namespace in cluster.namespaces:
        name = cluster.name_of(namespace)
        labels = _map(_get(namespace.props, "metadata", "labels"))
        covered = False
        for policy in policies:
            policy_name = _known(lambda p=policy: _get(p.props, "metadata", "name"))
            for binding in bindings:
                bound = any(dep.urn == policy.urn for dep in referenced(binding, "spec")) or (
                    isinstance(policy_name, str) and _known(lambda b=binding: _get(b.props, "spec", "policyName")) == policy_name
                )
                if bound and _binding_covers(binding, namespace, name, labels):
                    covered = True
        if not covered:
            yield Finding(
                f"namespace '{name}' allows exec, attach and port-forward: no ValidatingAdmissionPolicy (CONNECT on "
                "pods/exec, pods/attach, pods/portforward, failurePolicy Fail, expression false) is bound to it with "
                "validationActions [Deny].",
                namespace.urn,
            )


def check_system_namespace(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    cluster = Cluster(resources)
    for namespace in cluster.namespaces:
        for problem in cluster.system_namespace_problems(namespace):
            yield Finding(problem + ".", namespace.urn)


# ---------------------------------------------------------------------------------------------------- GPU operator
def _version(text: Any) -> tuple[int, int, int] | None:
    match = VERSION.match(str(text)) if text is not None else None
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _env_map(entries: Any) -> dict[str, str]:
    return {str(e.get("name")): str(e.get("value")) for e in as_mappings(entries)}


def gpu_operator_problems(release: StackResource) -> Iterable[str]:
    props = release.props
    values = _map(props.get("values"))
    operator_version = _version(props.get("version"))
    if operator_version is None:
        yield f"chart version {props.get('version')!r} is not pinned (e.g. v25.10.1)"
    elif operator_version < MIN_GPU_OPERATOR:
        yield f"GPU Operator {props.get('version')} is older than 25.3.1 (CVE-2025-23266 and earlier container escapes)"
    if _get(values, "cdi", "enabled") is not True:
        yield "cdi.enabled is not true (devices should be injected by CDI specs, not by the legacy hook)"
    toolkit = _map(values.get("toolkit"))
    if toolkit.get("enabled") is False:
        yield "toolkit.enabled is false: the operator no longer hardens the container runtime on the nodes"
    toolkit_version = _version(toolkit.get("version"))
    if toolkit_version is None:
        yield "toolkit.version is not pinned (e.g. v1.18.1)"
    elif toolkit_version < MIN_CONTAINER_TOOLKIT:
        yield f"container toolkit {toolkit.get('version')} is older than 1.17.8 (CVE-2025-23266)"
    env = _env_map(toolkit.get("env"))
    for name, wanted in REQUIRED_TOOLKIT_ENV.items():
        if env.get(name, "").lower() != wanted:
            yield f"toolkit.env {name} is {env.get(name, 'unset')!r}, not {wanted!r}"
    features = {f.strip() for f in env.get("NVIDIA_CONTAINER_TOOLKIT_OPT_IN_FEATURES", "").split(",")}
    if COMPAT_HOOK_FEATURE not in features:
        yield f"toolkit.env NVIDIA_CONTAINER_TOOLKIT_OPT_IN_FEATURES does not include {COMPAT_HOOK_FEATURE}"
    strategy = _env_map(_get(values, "devicePlugin", "env")).get("DEVICE_LIST_STRATEGY", "")
    if "envvar" in {s.strip() for s in strategy.split(",")} or not strategy:
        state = f"{strategy!r}" if strategy else "unset"
        yield f"devicePlugin.env DEVICE_LIST_STRATEGY is {state}; hand devices over as volume-mounts (or CDI), never envvar"


def check_gpu_operator_hardened(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    cluster = Cluster(resources)
    for release in resources:
        if release.resource_type != HELM_RELEASE or chart_name(release.props.get("chart")) != "gpu-operator":
            continue
        for problem in gpu_operator_problems(release):
            yield Finding(f"GPU Operator release '{release.name}': {problem}.", release.urn)
        homes = [ns for ns in cluster.namespaces if release in cluster.helm_releases_in(ns)]
        if not any(ns.urn in cluster.system_namespaces for ns in homes):
            yield Finding(
                f"GPU Operator release '{release.name}' must run in its own admin-only namespace, created in this "
                f"stack with label {SYSTEM_NAMESPACE_LABEL}=gpu-operator and holding no other workload.",
                release.urn,
            )


# ---------------------------------------------------------------------------------------------------- link-local egress
def _gke_hides_node_metadata(resources: Sequence[StackResource]) -> bool:
    """True when the stack runs GKE only, and every node config it writes serves pods the GKE metadata server (which
    hands out Workload Identity tokens and never the node's own credentials)."""
    types = {r.resource_type for r in resources}
    if GKE_CLUSTER not in types or EKS_CLUSTER in types:
        return False  # the policies could land on a cluster where 169.254.169.254 is the node's instance metadata
    # A pool without node config, or a kept default pool without one ("missing"), runs Google's defaults: not GKE_METADATA.
    configs = [r.props.get("nodeConfig") for r in resources if r.resource_type == GKE_NODE_POOL]
    configs += [default_pool_node_config(r.props) for r in resources
                if r.resource_type == GKE_CLUSTER and r.props.get("removeDefaultNodePool") is not True]
    return all(_get(config, "workloadMetadataConfig", "mode") == "GKE_METADATA" for config in configs)


def _excepts_link_local(peer: Mapping) -> bool:
    return any((net := parse_cidr(text)) is not None and net.version == 4 and LINK_LOCAL.subnet_of(net)
               for text in as_list(_get(peer, "ipBlock", "except")))


def _is_gke_metadata_rule(cidr, rule: Mapping) -> bool:
    """The exact metadata-server address, on its one TCP port and nothing else."""
    port = GKE_METADATA_SERVER.get(cidr)
    ports = as_mappings(rule.get("ports"))
    return port is not None and bool(ports) and all(
        p.get("protocol", "TCP") == "TCP" and p.get("port") == port and p.get("endPort") is None for p in ports
    )


def check_egress_no_link_local(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    """Link-local egress (169.254.0.0/16) reaches the node's instance metadata and its credentials. The one exception
    is the GKE metadata server, on GKE clusters whose nodes all run it."""
    gke_metadata_ok = None  # decided once, and only when a policy needs it
    for policy in resources:
        if policy.resource_type != NETWORK_POLICY:
            continue
        for index, rule in enumerate(as_mappings(_get(policy.props, "spec", "egress"))):
            for peer in as_mappings(rule.get("to")):
                cidr = parse_cidr(_get(peer, "ipBlock", "cidr"))
                if cidr is None or cidr.version != 4 or not cidr.overlaps(LINK_LOCAL) or _excepts_link_local(peer):
                    continue
                if _is_gke_metadata_rule(cidr, rule):
                    if gke_metadata_ok is None:
                        gke_metadata_ok = _gke_hides_node_metadata(resources)
                    if gke_metadata_ok:
                        continue
                    yield Finding(
                        f"egress rule {index} of NetworkPolicy '{policy.name}' allows the metadata address {cidr}, but "
                        "this stack does not run GKE with GKE_METADATA on every node pool: there it is the node's "
                        "instance metadata, with the node's credentials.",
                        policy.urn,
                    )
                else:
                    yield Finding(
                        f"egress rule {index} of NetworkPolicy '{policy.name}' allows {cidr}, which covers link-local "
                        "169.254.0.0/16 (instance metadata and the node's credentials); add it to ipBlock.except.",
                        policy.urn,
                    )


# ---------------------------------------------------------------------------------------------------- services
def check_service_cluster_ip(resource: Resource, _ctx: Context) -> Iterable[str]:
    spec = _map(resource.props.get("spec"))
    kind = spec.get("type", "ClusterIP")
    if kind in ("NodePort", "LoadBalancer"):
        yield f"Service '{resource.name}' is of type {kind}: reachable from outside the cluster, around the gateway."
    if as_list(spec.get("externalIPs")):
        yield f"Service '{resource.name}' claims externalIPs (traffic to those addresses can be intercepted)."


# ---------------------------------------------------------------------------------------------------- whole-stack GPU env
def _config_maps(resources: Sequence[StackResource]) -> dict[str, StackResource]:
    found = {}
    for config_map in resources:
        if config_map.resource_type == CONFIG_MAP:
            name = _known(lambda c=config_map: _get(c.props, "metadata", "name"))
            if isinstance(name, str):
                found[name] = config_map
    return found


def check_gpu_env_from_config_maps(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    """GPU selection smuggled through a ConfigMap: `envFrom: configMapRef` imports every key of a ConfigMap the stack
    declares, so a key NVIDIA_* there (with the import's prefix) selects devices just as a literal env would."""
    cluster = Cluster(resources)
    by_name = _config_maps(resources)
    for workload in cluster.workloads:
        if cluster.is_exempt_node_agent(workload):
            continue
        for label, container in containers(workload.template.spec):
            for source in as_mappings(container.get("envFrom")):
                name = _get(source, "configMapRef", "name")
                config_map = by_name.get(name) if isinstance(name, str) else None
                if config_map is None:
                    continue
                prefix = str(source.get("prefix") or "")
                keys = [*_map(config_map.props.get("data")), *_map(config_map.props.get("binaryData"))]
                for key in sorted(k for k in map(str, keys) if (prefix + k).upper().startswith(NVIDIA_ENV_PREFIX)):
                    yield Finding(f"{workload.describe()}: {label} imports {prefix + key} from ConfigMap '{config_map.name}': "
                                  "GPUs are allocated by the device plugin, never chosen by env.", workload.resource.urn)


def _gpu_selection(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
    yield from workload_rule(check_gpu_device_selection, exempt_node_agents=True)(resources, ctx)
    yield from check_gpu_env_from_config_maps(resources, ctx)


# ---------------------------------------------------------------------------------------------------- Helm values
HOST_NAMESPACE_KEYS = frozenset({"hostNetwork", "hostPID", "hostIPC"})


def helm_values_problems(value: Any, path: str = "values", depth: int = 0) -> Iterable[str]:
    """Pod-security settings anywhere in a chart's values tree: charts pass them through to their pod templates under
    keys of their own choosing, so the whole tree is read, not a known schema."""
    if depth > 24:
        return
    if isinstance(value, Mapping):
        for key, child in value.items():
            where = f"{path}.{key}"
            if key in HOST_NAMESPACE_KEYS and child is True:
                yield f"{where} is true (the pods share the node's {key.removeprefix('host')} namespace)"
            elif key == "privileged" and child is True:
                yield f"{where} is true (privileged containers)"
            elif key == "procMount" and str(child).lower() == "unmasked":
                yield f"{where} is Unmasked"
            elif key == "capabilities" and isinstance(child, Mapping):
                added = sorted({str(c).upper().removeprefix("CAP_") for c in as_list(child.get("add"))} - ALLOWED_CAPABILITY_ADDS)
                if added:
                    yield f"{where}.add grants {', '.join(added)}"
            yield from helm_values_problems(child, where, depth + 1)
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        for index, child in enumerate(value):
            yield from helm_values_problems(child, f"{path}[{index}]", depth + 1)


def check_helm_values_pod_security(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    cluster = Cluster(resources)
    for release in resources:
        if release.resource_type not in (HELM_RELEASE, *HELM_CHARTS):
            continue
        # The node agent's own chart, in its verified system namespace, is judged by k8s-gpu-operator-hardened.
        homes = [ns for ns in cluster.namespaces if release in cluster.helm_releases_in(ns)]
        charts = {chart for ns in homes if ns.urn in cluster.system_namespaces for chart in SYSTEM_CHARTS.get(cluster.system_label(ns) or "", ())}
        if chart_name(release.props.get("chart")) in charts:
            continue
        for problem in helm_values_problems(_known(lambda r=release: r.props.get("values"), {})):
            yield Finding(f"Helm release '{release.name}' (chart {release.props.get('chart')}): {problem}.", release.urn)


# ---------------------------------------------------------------------------------------------------- the rules
def _pod_rule(name: str, description: str, severity: str, controls: tuple[str, ...], remediation: str, check: PodCheck,
              *, exempt_node_agents: bool, mandatory_from=STANDARD) -> Rule:
    return Rule(
        name=name,
        description=description,
        severity=severity,
        controls=controls,
        remediation=remediation,
        mandatory_from=mandatory_from,
        stack_check=workload_rule(check, exempt_node_agents=exempt_node_agents),
    )


RULES = (
    _pod_rule("k8s-no-privileged-containers", "No container runs privileged.", "critical", ("RI-04", "RI-07"),
              "Remove securityContext.privileged; GPUs come through nvidia.com/gpu limits, not privilege.",
              check_not_privileged, exempt_node_agents=True),
    _pod_rule("k8s-run-as-non-root", "Every container runs as a non-root user (runAsNonRoot: true, never runAsUser 0).",
              "high", ("RI-03",), "Set runAsNonRoot: true and a non-zero runAsUser (ModelServing uses 65532).",
              check_non_root, exempt_node_agents=True),
    _pod_rule("k8s-read-only-root-filesystem", "Every container has a read-only root filesystem.", "medium", ("RI-02",),
              "Set readOnlyRootFilesystem: true; give the process an emptyDir for /tmp.",
              check_read_only_root, exempt_node_agents=True),
    _pod_rule("k8s-drop-all-capabilities", "Every container drops ALL capabilities and adds none (NET_BIND_SERVICE aside).",
              "high", ("RI-04", "RI-06"), "Set capabilities: {drop: [ALL]} and remove capabilities.add.",
              check_capabilities, exempt_node_agents=True),
    _pod_rule("k8s-no-privilege-escalation", "Every container sets allowPrivilegeEscalation: false.", "high", ("RI-04",),
              "Set allowPrivilegeEscalation: false on every container, init containers included.",
              check_no_privilege_escalation, exempt_node_agents=True),
    _pod_rule("k8s-no-host-namespaces", "No pod shares the node's PID, IPC or network namespace, or its own process namespace.",
              "critical", ("RI-09", "NB-02"), "Remove hostPID, hostIPC, hostNetwork and shareProcessNamespace.",
              check_no_host_namespaces, exempt_node_agents=True),
    _pod_rule("k8s-restricted-volumes", "Pods use only the volume types of Pod Security 'restricted' (no hostPath).",
              "critical", ("RI-04", "RI-09", "WP-02"), "Replace hostPath and other node or network volumes with emptyDir, "
              "projected, secret, configMap, csi or persistentVolumeClaim.", check_restricted_volumes, exempt_node_agents=True),
    _pod_rule("k8s-no-host-ports", "No container binds a host port.", "high", ("NB-02", "NB-09"),
              "Remove hostPort; reach the pod through its ClusterIP Service.", check_no_host_ports, exempt_node_agents=True),
    Rule(
        name="k8s-gpu-device-allowlist",
        description="No pod selects GPUs by NVIDIA_* environment variables (literal, or imported from a ConfigMap) or "
        "CDI annotations.",
        severity="critical",
        controls=("RI-06", "RI-07"),
        remediation="Request GPUs only as nvidia.com/gpu limits; remove NVIDIA_* env, NVIDIA_* keys of ConfigMaps "
        "imported by envFrom, and cdi.k8s.io/* annotations.",
        mandatory_from=STANDARD,
        stack_check=_gpu_selection,
    ),
    _pod_rule("k8s-image-pinned-by-digest", "Every container image is pinned by digest.", "high", ("ST-05", "DP-09"),
              "Reference images as registry/repository@sha256:<digest>.", check_image_digest, exempt_node_agents=False),
    _pod_rule("k8s-seccomp-profile", "Every container runs under a seccomp profile (RuntimeDefault or Localhost).", "high",
              ("RI-05",), "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
              check_seccomp, exempt_node_agents=True),
    _pod_rule("k8s-apparmor-profile", "Every container runs under an AppArmor profile (RuntimeDefault or Localhost).",
              "medium", ("RI-05",), "Set securityContext.appArmorProfile.type: RuntimeDefault; on SELinux nodes "
              "(Bottlerocket) waive this rule for the workload, stating that SELinux confines it.",
              check_apparmor, exempt_node_agents=True),
    _pod_rule("k8s-resource-limits", "Every container has cpu and memory limits.", "medium", ("RC-11",),
              "Set resources.limits.cpu and resources.limits.memory on every container.",
              check_resource_limits, exempt_node_agents=False),
    _pod_rule("k8s-gpus-through-limits", "GPUs are requested only as limits of the device plugin's resource.", "medium",
              ("RI-06", "RC-11"), "Put nvidia.com/gpu under resources.limits (a request, if any, must equal it).",
              check_gpus_through_limits, exempt_node_agents=False),
    _pod_rule("k8s-no-service-account-token", "Pods do not mount a Kubernetes API token.", "medium", ("RI-04", "NB-06"),
              "Set automountServiceAccountToken: false; mount a projected token with an audience if one is needed.",
              check_no_service_account_token, exempt_node_agents=True),
    _pod_rule("k8s-no-secrets-in-env", "No container reads a Secret into environment variables.", "high", ("SC-02",),
              "Mount the Secret as a file (projected volume or the Secrets Store CSI driver).",
              check_no_secret_env, exempt_node_agents=False),
    _pod_rule("k8s-no-literal-credentials", "No environment variable holds a literal credential.", "critical",
              ("SC-02", "SC-01"), "Remove the value, rotate the credential, and mount it from a secret store as a file.",
              check_no_literal_credentials, exempt_node_agents=False),
    _pod_rule("k8s-model-weights-verified", "Model pods verify their weights before serving and mount them read-only.",
              "critical", ("WP-05", "ST-01", "ST-07", "WP-02"), "Use ModelServing, or run `modelfort verify-weights ... "
              "--root-digest <pin> --download-dir DIR` as an init container and mount DIR's volume readOnly in the server.",
              check_model_weights_verified, exempt_node_agents=False),
    _pod_rule("k8s-model-server-limits", "Model servers receive their token and request-timeout limits.", "medium",
              ("RC-09", "RC-10"), f"Set {MAX_TOKENS_ENV} and {TIMEOUT_ENV} on the server container (ModelServing does, "
              "from the release's maxTokens and requestTimeoutSeconds).", check_model_server_limits, exempt_node_agents=False),
    Rule(
        name="k8s-workload-namespace-managed",
        description="Every workload runs in a namespace this stack creates (so its isolation can be verified).",
        severity="high",
        controls=("NB-02", "RI-11", "RI-03"),
        remediation="Create the namespace with HardenedNamespace and set metadata.namespace to it explicitly.",
        mandatory_from=STANDARD,
        stack_check=check_workload_namespace_managed,
    ),
    Rule(
        name="k8s-namespace-pod-security",
        description="Namespaces enforce Pod Security 'restricted' (verified system namespaces aside).",
        severity="high",
        controls=("RI-02", "RI-03", "RI-04", "RI-05", "RI-09"),
        remediation="Label the namespace pod-security.kubernetes.io/enforce=restricted (HardenedNamespace does).",
        mandatory_from=STANDARD,
        stack_check=check_namespace_pod_security,
    ),
    Rule(
        name="k8s-namespace-default-deny",
        description="Every namespace has default-deny ingress and egress NetworkPolicies.",
        severity="high",
        controls=("NB-02", "NB-04"),
        remediation="Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] and no rules, then narrow allows.",
        mandatory_from=STANDARD,
        stack_check=check_namespace_default_deny,
    ),
    Rule(
        name="k8s-network-policy-not-open",
        description="No NetworkPolicy rule allows every address or every namespace.",
        severity="high",
        controls=("NB-02", "NB-03", "NB-10"),
        remediation="Name the peers: a namespace by kubernetes.io/metadata.name, pods by label, or a private CIDR.",
        mandatory_from=STANDARD,
        resource_types=frozenset({NETWORK_POLICY}),
        resource_check=check_network_policy_not_open,
    ),
    Rule(
        name="k8s-namespace-quota",
        description="Model namespaces cap CPU, memory and GPUs with a ResourceQuota and give containers limits by LimitRange.",
        severity="medium",
        controls=("RC-11",),
        remediation="Add a ResourceQuota (limits.cpu, limits.memory, requests.nvidia.com/gpu) and a Container LimitRange "
        "with default and max cpu/memory (HardenedNamespace does).",
        mandatory_from=STANDARD,
        stack_check=check_namespace_quota,
    ),
    Rule(
        name="k8s-namespace-denies-interactive",
        description="From the high tier up, exec, attach and port-forward are refused in every namespace.",
        severity="high",
        controls=("RI-11",),
        remediation="Keep deny_interactive_access=True, or bind a ValidatingAdmissionPolicy denying CONNECT on pods/exec, "
        "pods/attach and pods/portforward (failurePolicy Fail, validationActions [Deny]) to the namespace.",
        mandatory_from=HIGH,
        stack_check=check_namespace_denies_interactive,
    ),
    Rule(
        name="k8s-system-namespace",
        description="A namespace labelled as a system namespace runs only its node agent's chart and DaemonSets.",
        severity="critical",
        controls=("RI-04", "RI-08", "RI-09"),
        remediation="Move model workloads to a HardenedNamespace; keep the system label only on the node agent's namespace.",
        mandatory_from=STANDARD,
        stack_check=check_system_namespace,
    ),
    Rule(
        name="k8s-gpu-operator-hardened",
        description="The GPU Operator is pinned to a patched release and hardens the container toolkit against escapes.",
        severity="critical",
        controls=("RI-06", "RI-07"),
        remediation="Use GpuRuntime, or set chart version >= 25.3.1, toolkit.version >= 1.17.8, cdi.enabled, the toolkit "
        "env hardening, devicePlugin DEVICE_LIST_STRATEGY=volume-mounts, in an admin-only system namespace.",
        mandatory_from=STANDARD,
        stack_check=check_gpu_operator_hardened,
    ),
    Rule(
        name="k8s-egress-no-link-local",
        description="No NetworkPolicy lets pods reach link-local addresses (instance metadata), except the GKE metadata "
        "server on GKE nodes that all run it.",
        severity="critical",
        controls=("NB-03", "NB-06", "RI-09"),
        remediation="Remove the ipBlock or add 169.254.0.0/16 to its except list; on GKE allow only 169.254.169.254/32 "
        "TCP 80 and 169.254.169.252/32 TCP 988 (HardenedNamespaceArgs.allow_gke_metadata_server) with GKE_METADATA "
        "on every node pool.",
        mandatory_from=STANDARD,
        stack_check=check_egress_no_link_local,
    ),
    Rule(
        name="k8s-helm-values-pod-security",
        description="No Helm chart's values make pods privileged, share host namespaces, unmask /proc or add capabilities.",
        severity="critical",
        controls=("RI-04", "RI-09"),
        remediation="Remove privileged, hostNetwork/hostPID/hostIPC, procMount: Unmasked and capabilities.add from the "
        "chart's values (wherever the chart nests them).",
        mandatory_from=STANDARD,
        stack_check=check_helm_values_pod_security,
    ),
    Rule(
        name="k8s-service-cluster-ip",
        description="Services are ClusterIP only, without externalIPs.",
        severity="high",
        controls=("NB-05", "NB-09"),
        remediation="Use type ClusterIP and reach models through the authenticated gateway.",
        mandatory_from=STANDARD,
        resource_types=frozenset({SERVICE}),
        resource_check=check_service_cluster_ip,
    ),
)
