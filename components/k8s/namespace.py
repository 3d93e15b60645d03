"""HardenedNamespace: a namespace for model workloads where the cluster itself refuses anything weaker.

Controls: RI-02..RI-05, RI-09 (Pod Security Admission `restricted`, enforced by the API server), NB-02 (default-deny
ingress and egress), NB-03/NB-04 (narrow allows: DNS to kube-dns only if asked, HTTPS to listed private ranges),
RC-11 (ResourceQuota and LimitRange for CPU, memory and GPUs), RI-11 (exec, attach and port-forward refused).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.guard import GUARD_PORT
from components.k8s.isolation import (
    COMPONENT_LABEL,
    GKE_METADATA_SERVER,
    GPU_RESOURCE,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    MODEL_SERVER_COMPONENT,
    NAMESPACE_NAME_LABEL,
    PSA_PREFIX,
    SYSTEM_NAMESPACE_LABEL,
    allow_dns,
    allow_https_egress,
    check_dns_label,
    check_egress_cidrs,
    check_labels,
    default_deny,
    deny_interactive_access,
    pod_security_labels,
)

SERVING_PORT = 8000
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$")


@dataclass(frozen=True, kw_only=True)
class IngressSource:
    """Who may call the model servers of the namespace: pods of one named namespace (optionally only those with
    these labels), on one port."""

    namespace: str
    """The calling namespace, by name (matched on the API server's own `kubernetes.io/metadata.name` label)."""
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    """Only pods with these labels in that namespace. Defaults to every pod of the namespace."""
    port: int = GUARD_PORT
    """The port admitted: the inference guard's, the model pods' only exposed port. Defaults to 8443 (ModelServing's
    guard; its model server listens on the pod's loopback and is never admitted)."""

    def __post_init__(self) -> None:
        check_dns_label(self.namespace, "IngressSource.namespace")
        check_labels(self.pod_labels, "IngressSource.pod_labels")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise ValueError(f"IngressSource.port: {self.port!r} is not a port number")


@dataclass(frozen=True, kw_only=True)
class NamespaceQuota:
    """Totals for the whole namespace, and what a container gets when it states no limits of its own (RC-11)."""

    cpu: str = "64"
    """CPU requests and limits, summed over every pod. Defaults to 64 cores."""
    memory: str = "512Gi"
    """Memory requests and limits, summed over every pod. Defaults to 512Gi."""
    gpus: int = 8
    """`nvidia.com/gpu`, summed over every pod (and the most one container may have). Defaults to 8."""
    pods: int = 32
    """Pods in the namespace. Defaults to 32."""
    default_container_cpu: str = "500m"
    """Limit (and request) of a container that sets none. Defaults to 500m."""
    default_container_memory: str = "512Mi"
    """Limit (and request) of a container that sets none. Defaults to 512Mi."""

    def __post_init__(self) -> None:
        for key in ("cpu", "memory", "default_container_cpu", "default_container_memory"):
            value = getattr(self, key)
            if not isinstance(value, str) or not QUANTITY.match(value) or float(re.sub(r"[a-zA-Z]+$", "", value)) <= 0:
                raise ValueError(f"NamespaceQuota.{key}: {value!r} is not a positive Kubernetes quantity (e.g. '4', '500m', '32Gi')")
        for key in ("gpus", "pods"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"NamespaceQuota.{key}: {value!r} must be a whole number, 0 or more")
        if self.pods == 0:
            raise ValueError("NamespaceQuota.pods: must be at least 1")


@dataclass(frozen=True, kw_only=True)
class HardenedNamespaceArgs:
    name: str
    """The namespace's name (a DNS label). Named explicitly, not auto-named, so policies and selectors can refer to it."""
    ingress_sources: Sequence[IngressSource] = ()
    """Who may reach the model servers (pods labelled app.kubernetes.io/component=model-server). Defaults to nobody."""
    load_balancer_cidrs: Sequence[str] = ()
    """Subnets of an internal load balancer that sends traffic straight to model-server pod IPs (the zone's private
    API path), admitted on the guard's port (8443) only. Defaults to none. /0-like and link-local ranges are refused."""
    https_egress_cidrs: Sequence[str] = ()
    """Where pods may open HTTPS connections: the zone's VPC CIDR (interface endpoints, STS, the API server) and the
    S3 gateway prefix-list CIDRs. Defaults to none. /0-like ranges and link-local (instance metadata) are refused."""
    allow_dns_to_kube_dns: bool = False
    """Let pods query the cluster DNS (kube-dns in kube-system, port 53) and nothing else. Defaults to False (NB-04:
    DNS blocked unless required). ModelServing's weight verifier needs it to resolve S3 and STS; the queries still
    pass the zone's DNS firewall."""
    allow_gke_metadata_server: bool = False
    """Let model-server pods reach the GKE metadata server (169.254.169.254:80, 169.254.169.252:988), which is how
    Workload Identity gives the weight verifier its token on GKE. Defaults to False. Only for GKE clusters whose node
    pools all run GKE_METADATA (the server then hides the node's own credentials); anywhere else that address is the
    node's instance metadata, and the policy k8s-egress-no-link-local blocks it unless the stack waives it."""
    quota: NamespaceQuota = field(default_factory=NamespaceQuota)
    """Totals and container defaults for CPU, memory, GPUs and pods. Defaults to NamespaceQuota()."""
    deny_interactive_access: bool = True
    """Escape hatch when False (weakens RI-11): allow exec, attach and port-forward into the namespace's pods.
    Defaults to True; from the high tier up a policy blocks False unless the stack waives it."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels for the namespace. Defaults to none; the Pod Security and system-namespace labels are ours."""

    def __post_init__(self) -> None:
        check_dns_label(self.name, "HardenedNamespaceArgs.name")
        if self.name.startswith("kube-") or self.name == "default":
            raise ValueError(f"HardenedNamespaceArgs.name: {self.name!r} is a system namespace; model workloads get their own")
        check_labels(self.labels, "HardenedNamespaceArgs.labels")
        reserved = [k for k in self.labels if k.startswith(PSA_PREFIX) or k in (SYSTEM_NAMESPACE_LABEL, NAMESPACE_NAME_LABEL)]
        if reserved:
            raise ValueError(
                f"HardenedNamespaceArgs.labels: {', '.join(sorted(reserved))} would override the namespace's Pod "
                "Security or identity labels; the component sets those"
            )
        check_egress_cidrs(self.https_egress_cidrs, "HardenedNamespaceArgs.https_egress_cidrs")
        check_egress_cidrs(self.load_balancer_cidrs, "HardenedNamespaceArgs.load_balancer_cidrs")
        if not isinstance(self.quota, NamespaceQuota):
            raise ValueError("HardenedNamespaceArgs.quota: give a NamespaceQuota")


class HardenedNamespace(pulumi.ComponentResource):
    CONTROLS = ("RI-02", "RI-03", "RI-04", "RI-05", "RI-09", "RI-11", "NB-02", "NB-03", "NB-04", "RC-11")
    name: str
    """The namespace's name (known at once, since it is never auto-named)."""
    namespace_name: pulumi.Output[str]
    """The same name as an output of the Namespace: pass this to ModelServing so it waits for the namespace."""

    def __init__(self, name: str, args: HardenedNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:k8s:HardenedNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {MANAGED_BY_LABEL: MANAGED_BY}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.name, "labels": {**args.labels, **labels, **pod_security_labels("restricted")}},
            opts=child,
        )
        ns = namespace.metadata.name
        # Every other object waits for the namespace (and so for its Pod Security labels) through `ns`.
        default_deny(name, ns, labels, child)
        if args.allow_dns_to_kube_dns:
            allow_dns(name, ns, labels, child)
        if args.https_egress_cidrs:
            allow_https_egress(name, ns, args.https_egress_cidrs, labels, child)
        if args.allow_gke_metadata_server:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-allow-gke-metadata",
                metadata={"name": "allow-egress-to-gke-metadata-server", "namespace": ns, "labels": dict(labels)},
                spec={
                    # Model-server pods only: their verifier reads the release with the pod's Workload Identity.
                    "pod_selector": {"match_labels": {COMPONENT_LABEL: MODEL_SERVER_COMPONENT}},
                    "policy_types": ["Egress"],
                    "egress": [{"to": [{"ip_block": {"cidr": cidr}}], "ports": [{"protocol": "TCP", "port": port}]}
                               for cidr, port in GKE_METADATA_SERVER],
                },
                opts=child,
            )
        for index, source in enumerate(args.ingress_sources):
            self._allow_ingress(name, index, ns, source, labels, child)
        if args.load_balancer_cidrs:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-allow-load-balancer",
                metadata={"name": "allow-ingress-from-load-balancer", "namespace": ns, "labels": dict(labels)},
                spec={
                    "pod_selector": {"match_labels": {COMPONENT_LABEL: MODEL_SERVER_COMPONENT}},
                    "policy_types": ["Ingress"],
                    "ingress": [{"from": [{"ip_block": {"cidr": cidr}} for cidr in args.load_balancer_cidrs],
                                 "ports": [{"protocol": "TCP", "port": GUARD_PORT}]}],
                },
                opts=child,
            )
        self._quota(name, ns, args.quota, labels, child)
        if args.deny_interactive_access:
            deny_interactive_access(name, args.name, labels, pulumi.ResourceOptions(parent=self, depends_on=[namespace]))

        self.name = args.name
        self.namespace_name = ns
        self.register_outputs({"namespace_name": self.namespace_name})

    @staticmethod
    def _allow_ingress(
        name: str, index: int, ns: pulumi.Output[str], source: IngressSource, labels: Mapping[str, str], child: pulumi.ResourceOptions
    ) -> None:
        peer: dict = {"namespace_selector": {"match_labels": {NAMESPACE_NAME_LABEL: source.namespace}}}
        if source.pod_labels:
            # Both selectors in one peer: pods with these labels *in* that namespace (two peers would mean "or").
            peer["pod_selector"] = {"match_labels": dict(source.pod_labels)}
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-ingress-{index}",
            metadata={"name": f"allow-ingress-from-{source.namespace}-{index}", "namespace": ns, "labels": dict(labels)},
            spec={
                "pod_selector": {"match_labels": {COMPONENT_LABEL: MODEL_SERVER_COMPONENT}},
                "policy_types": ["Ingress"],
                "ingress": [{"from": [peer], "ports": [{"protocol": "TCP", "port": source.port}]}],
            },
            opts=child,
        )

    @staticmethod
    def _quota(name: str, ns: pulumi.Output[str], quota: NamespaceQuota, labels: Mapping[str, str], child: pulumi.ResourceOptions) -> None:
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata={"name": "modelfort-quota", "namespace": ns, "labels": dict(labels)},
            spec={
                "hard": {
                    "requests.cpu": quota.cpu,
                    "limits.cpu": quota.cpu,
                    "requests.memory": quota.memory,
                    "limits.memory": quota.memory,
                    # Extended resources are quota'd by request only (they cannot be overcommitted).
                    f"requests.{GPU_RESOURCE}": str(quota.gpus),
                    "pods": str(quota.pods),
                }
            },
            opts=child,
        )
        # With limits.* in the quota, the API server refuses any pod without limits; the LimitRange gives such a
        # container modest defaults instead, and caps what one container may take.
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata={"name": "modelfort-limits", "namespace": ns, "labels": dict(labels)},
            spec={
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": quota.default_container_cpu, "memory": quota.default_container_memory},
                        "default_request": {"cpu": quota.default_container_cpu, "memory": quota.default_container_memory},
                        "max": {"cpu": quota.cpu, "memory": quota.memory, GPU_RESOURCE: str(quota.gpus)},
                    }
                ]
            },
            opts=child,
        )
