"""GpuRuntime: the NVIDIA GPU Operator, hardened, in its own admin-only namespace, and the RuntimeClass models use.

Controls: RI-06 (GPUs only through the device plugin: devices handed over as volume mounts or CDI, never selected by
an environment variable), RI-07 (a container toolkit patched against container escapes, with the CUDA compat-lib
hook disabled and env-var device requests from unprivileged containers refused).

Why a privileged namespace at all: the operator's operands (toolkit installer, device plugin, feature discovery,
DCGM) configure containerd on the node, load kernel modules and read every GPU, so they run privileged with hostPID
(NVIDIA's own security notes say so). They get a namespace of their own that only cluster administrators touch, with
Pod Security `privileged`, and the label `modelfort.io/system-namespace=gpu-operator`, which the policy pack honours
only while that namespace holds the GPU Operator release and no other workload. Model namespaces stay `restricted`.
The namespace still gets default-deny NetworkPolicies (the operator only needs the API server) and, unless turned
off, the admission policy that refuses exec/attach/port-forward: a shell in a privileged operand is root on the node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.isolation import (
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    SYSTEM_NAMESPACE_LABEL,
    allow_https_egress,
    check_dns_label,
    check_egress_cidrs,
    check_labels,
    default_deny,
    deny_interactive_access,
    pod_security_labels,
)

GPU_OPERATOR = "gpu-operator"
CHART_REPOSITORY = "https://helm.ngc.nvidia.com/nvidia"
# CVE-2025-23266 (NVIDIAScape) is fixed in container toolkit 1.17.8 / GPU Operator 25.3.1; earlier releases also
# carry CVE-2024-0132 and CVE-2025-23359. Anything older is refused at construction.
MIN_OPERATOR_VERSION = (25, 3, 1)
MIN_TOOLKIT_VERSION = (1, 17, 8)
OPERATOR_VERSION = "v25.10.1"
TOOLKIT_VERSION = "v1.18.1"
"""The container toolkit image tag (nvcr.io/nvidia/k8s/container-toolkit) that GPU Operator v25.10.1 ships."""
VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]+)?$")

TOOLKIT_ENV = (
    # The runtime ignores NVIDIA_VISIBLE_DEVICES from unprivileged containers: a pod cannot pick GPUs (or "all") by
    # setting an environment variable; it gets the devices the device plugin allocated to it, nothing else.
    ("ACCEPT_NVIDIA_VISIBLE_DEVICES_ENVVAR_WHEN_UNPRIVILEGED", "false"),
    # ...which the device plugin hands over as volume mounts, a channel a pod spec cannot forge.
    ("ACCEPT_NVIDIA_VISIBLE_DEVICES_AS_VOLUME_MOUNTS", "true"),
    # The CUDA forward-compat hook is the NVIDIAScape entry point; models do not need it.
    ("NVIDIA_CONTAINER_TOOLKIT_OPT_IN_FEATURES", "disable-cuda-compat-lib-hook"),
)
DEVICE_PLUGIN_ENV = (
    # Helm replaces lists, so the chart's own defaults are restated beside the hardened strategy.
    ("PASS_DEVICE_SPECS", "true"),
    ("FAIL_ON_INIT_ERROR", "true"),
    # User env is applied after the operator's CDI defaults, so this wins over `cdi-annotations,cdi-cri`.
    ("DEVICE_LIST_STRATEGY", "volume-mounts"),
    ("DEVICE_ID_STRATEGY", "uuid"),
    # The device plugin itself (privileged, in this namespace) must see every GPU to advertise them.
    ("NVIDIA_VISIBLE_DEVICES", "all"),
    ("NVIDIA_DRIVER_CAPABILITIES", "all"),
)


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = VERSION.match(text) if isinstance(text, str) else None
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


@dataclass(frozen=True, kw_only=True)
class GpuRuntimeArgs:
    api_server_cidrs: Sequence[str]
    """Where the operator reaches the Kubernetes API server on 443: on EKS the zone's VPC CIDR (the private endpoint's
    network interfaces live in the cluster subnets). Required: nothing else leaves the namespace."""
    namespace: str = GPU_OPERATOR
    """The operator's admin-only namespace, created here. Defaults to 'gpu-operator'."""
    operator_version: str = OPERATOR_VERSION
    """GPU Operator chart version, pinned. Defaults to v25.10.1; older than 25.3.1 is refused."""
    toolkit_version: str = TOOLKIT_VERSION
    """Container toolkit image tag, pinned. Defaults to v1.18.1; older than 1.17.8 is refused."""
    chart_repository: str = CHART_REPOSITORY
    """Where the chart comes from: NVIDIA's repository, or a private mirror of it. Defaults to NVIDIA's."""
    runtime_class_name: str = "modelfort-nvidia"
    """The RuntimeClass model pods name (handler `nvidia`). Distinct from the operator's own `nvidia` class so the two
    never fight over one object. Defaults to 'modelfort-nvidia'."""
    gpu_node_selector: Mapping[str, str] = field(default_factory=lambda: {"nvidia.com/gpu.present": "true"})
    """Nodes the RuntimeClass schedules onto. Defaults to the label GPU feature discovery sets on GPU nodes."""
    deny_interactive_access: bool = True
    """Escape hatch when False (weakens RI-11): allow exec/attach/port-forward into the privileged operands, which is
    root on the node. Defaults to True; from the high tier up a policy blocks False unless waived."""

    def __post_init__(self) -> None:
        check_dns_label(self.namespace, "GpuRuntimeArgs.namespace")
        check_dns_label(self.runtime_class_name, "GpuRuntimeArgs.runtime_class_name")
        check_labels(self.gpu_node_selector, "GpuRuntimeArgs.gpu_node_selector")
        if not self.api_server_cidrs:
            raise ValueError("GpuRuntimeArgs.api_server_cidrs: give the CIDR(s) of the API server's private endpoint")
        check_egress_cidrs(self.api_server_cidrs, "GpuRuntimeArgs.api_server_cidrs")
        for key, minimum in (("operator_version", MIN_OPERATOR_VERSION), ("toolkit_version", MIN_TOOLKIT_VERSION)):
            value = getattr(self, key)
            parsed = parse_version(value)
            if parsed is None:
                raise ValueError(f"GpuRuntimeArgs.{key}: {value!r} is not a pinned version such as v{'.'.join(map(str, minimum))}")
            if parsed < minimum:
                raise ValueError(
                    f"GpuRuntimeArgs.{key}: {value} is older than {'.'.join(map(str, minimum))}, which fixes "
                    "container-escape CVEs (CVE-2025-23266 and earlier)"
                )
        if not self.chart_repository.startswith(("https://", "oci://")):
            raise ValueError(f"GpuRuntimeArgs.chart_repository: {self.chart_repository!r} must be https:// or oci://")


def hardened_values(args: GpuRuntimeArgs) -> dict:
    """The chart values, in the chart's own (camelCase) terms: they are passed to Helm verbatim."""
    return {
        "cdi": {"enabled": True},
        # EKS and Bottlerocket GPU images ship the driver; the operator would otherwise compile one on the node and
        # download packages from the internet, which model zones cannot reach.
        "driver": {"enabled": False},
        "toolkit": {
            "enabled": True,
            "version": args.toolkit_version,
            "env": [{"name": name, "value": value} for name, value in TOOLKIT_ENV],
        },
        "devicePlugin": {"env": [{"name": name, "value": value} for name, value in DEVICE_PLUGIN_ENV]},
        "operator": {"defaultRuntime": "containerd"},
        # We label the namespace ourselves (privileged, plus the system-namespace marker).
        "psa": {"enabled": False},
    }


class GpuRuntime(pulumi.ComponentResource):
    CONTROLS = ("RI-06", "RI-07", "RI-11", "NB-02")
    namespace_name: pulumi.Output[str]
    """The operator's admin-only namespace."""
    runtime_class_name: pulumi.Output[str]
    """The RuntimeClass model pods use (ModelServingArgs.runtime_class_name)."""
    release_name: pulumi.Output[str]

    def __init__(self, name: str, args: GpuRuntimeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:k8s:GpuRuntime", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {MANAGED_BY_LABEL: MANAGED_BY}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": args.namespace,
                "labels": {**labels, **pod_security_labels("privileged"), SYSTEM_NAMESPACE_LABEL: GPU_OPERATOR},
            },
            opts=child,
        )
        ns = namespace.metadata.name
        default_deny(name, ns, labels, child)
        allow_https_egress(name, ns, args.api_server_cidrs, labels, child)
        if args.deny_interactive_access:
            deny_interactive_access(name, args.namespace, labels, pulumi.ResourceOptions(parent=self, depends_on=[namespace]))

        release = k8s.helm.v3.Release(
            f"{name}-operator",
            name=GPU_OPERATOR,
            chart=GPU_OPERATOR,
            version=args.operator_version,
            repository_opts={"repo": args.chart_repository},
            namespace=ns,
            create_namespace=False,
            values=hardened_values(args),
            # A failed install or upgrade rolls back by itself, and leaves no half-configured runtime on the nodes.
            atomic=True,
            cleanup_on_fail=True,
            timeout=900,
            opts=child,
        )
        runtime_class = k8s.node.v1.RuntimeClass(
            f"{name}-runtime-class",
            metadata={"name": args.runtime_class_name, "labels": labels},
            handler="nvidia",
            # Pods naming this class land only on GPU nodes, and tolerate their taint (merged by the API server).
            scheduling={
                "node_selector": dict(args.gpu_node_selector),
                "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Equal", "value": GPU_TAINT_VALUE, "effect": "NoSchedule"}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release]),
        )
        self.namespace_name = ns
        self.runtime_class_name = runtime_class.metadata.name
        self.release_name = release.name
        self.register_outputs({"namespace_name": ns, "runtime_class_name": self.runtime_class_name})
