"""What every ModelFort namespace gets, in one place: Pod Security Admission labels, default-deny NetworkPolicies and
the admission policy that refuses exec/attach/port-forward. Model namespaces (HardenedNamespace) and the GPU
operator's admin-only namespace (GpuRuntime) differ only in the Pod Security level and what they allow through.

The label keys below are a contract with the policy pack, which keeps its own copy (it never imports components);
tests/components/test_k8s_namespace.py checks that both sides agree.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

PSA_PREFIX = "pod-security.kubernetes.io/"
PSA_MODES = ("enforce", "audit", "warn")
PSA_VERSION = "latest"
"""Judge pods by the newest profile the cluster knows: an upgrade that tightens `restricted` applies at once (and a
pod that no longer passes fails to start rather than running on a weaker standard)."""

SYSTEM_NAMESPACE_LABEL = "modelfort.io/system-namespace"
"""Set only on the admin-only namespace of a privileged node agent (value: which one, e.g. 'gpu-operator'). The policy
pack exempts DaemonSets and the named Helm chart there, and only while the namespace holds no other workload."""
MODEL_LABEL = "modelfort.io/model"
TRACK_LABEL = "modelfort.io/track"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "modelfort"
MODEL_SERVER_COMPONENT = "model-server"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace and immutable: selecting by it cannot be spoofed by relabelling."""

GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "true"
INTERACTIVE_SUBRESOURCES = ("pods/exec", "pods/attach", "pods/portforward")
HTTPS = 443
DNS_PORT = 53

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
# Instance metadata (node credentials) and link-local services must stay out of reach of every pod.
LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")
GKE_METADATA_SERVER = (("169.254.169.254/32", 80), ("169.254.169.252/32", 988))
"""Where pods reach the GKE metadata server, which hands out Workload Identity tokens: the metadata address (Dataplane
V2 redirects it to the server) and the server's own port. With GKE_METADATA on every node pool it never serves the
node's credentials. The policy pack keeps its own copy (k8s-egress-no-link-local)."""


def pod_security_labels(level: str) -> dict[str, str]:
    """enforce, audit and warn at the same level and version: audit and warn make a violation visible in the audit
    log and to kubectl even where enforce would already refuse it (e.g. a Deployment whose pods would be refused)."""
    labels: dict[str, str] = {}
    for mode in PSA_MODES:
        labels[f"{PSA_PREFIX}{mode}"] = level
        labels[f"{PSA_PREFIX}{mode}-version"] = PSA_VERSION
    return labels


def check_dns_label(value: str, where: str) -> None:
    if not isinstance(value, str) or not DNS_LABEL.match(value):
        raise ValueError(f"{where}: {value!r} is not a Kubernetes name (lowercase letters, digits and '-', at most 63)")


def check_labels(labels: Mapping[str, str], where: str) -> None:
    for key, value in labels.items():
        if not LABEL_KEY.match(key) or not isinstance(value, str) or not LABEL_VALUE.match(value):
            raise ValueError(f"{where}: {key!r}={value!r} is not a valid Kubernetes label")


def check_egress_cidrs(cidrs: Sequence[str], where: str) -> None:
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as error:
            raise ValueError(f"{where}: {cidr!r} is not a valid CIDR ({error})") from None
        if network.prefixlen < 8:
            raise ValueError(f"{where}: {cidr} is too wide (a prefix of /8 or longer; the internet is never allowed)")
        if network.version == 4 and network.overlaps(LINK_LOCAL):
            raise ValueError(f"{where}: {cidr} overlaps 169.254.0.0/16 (instance metadata holds the node's credentials)")


def default_deny(name: str, namespace: pulumi.Input[str], labels: Mapping[str, str], opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    """Selects every pod and allows nothing: NetworkPolicies are additive, so every other policy in the namespace is
    a narrow exception to this one (NB-02)."""
    return k8s.networking.v1.NetworkPolicy(
        f"{name}-default-deny",
        metadata={"name": "default-deny", "namespace": namespace, "labels": dict(labels)},
        spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
        opts=opts,
    )


def allow_dns(name: str, namespace: pulumi.Input[str], labels: Mapping[str, str], opts: pulumi.ResourceOptions) -> k8s.networking.v1.NetworkPolicy:
    """DNS to the cluster's resolver only (NB-04): queries then pass the VPC resolver and its DNS firewall."""
    return k8s.networking.v1.NetworkPolicy(
        f"{name}-allow-dns",
        metadata={"name": "allow-dns-to-kube-dns", "namespace": namespace, "labels": dict(labels)},
        spec={
            "pod_selector": {},
            "policy_types": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespace_selector": {"match_labels": {NAMESPACE_NAME_LABEL: "kube-system"}},
                            "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}],
                }
            ],
        },
        opts=opts,
    )


def allow_https_egress(
    name: str, namespace: pulumi.Input[str], cidrs: Sequence[str], labels: Mapping[str, str], opts: pulumi.ResourceOptions
) -> k8s.networking.v1.NetworkPolicy:
    """HTTPS to the listed private ranges only (NB-03): the zone's VPC endpoints, the API server, S3's gateway."""
    return k8s.networking.v1.NetworkPolicy(
        f"{name}-allow-https-egress",
        metadata={"name": "allow-https-egress", "namespace": namespace, "labels": dict(labels)},
        spec={
            "pod_selector": {},
            "policy_types": ["Egress"],
            "egress": [{"to": [{"ip_block": {"cidr": cidr}} for cidr in cidrs], "ports": [{"protocol": "TCP", "port": HTTPS}]}],
        },
        opts=opts,
    )


def deny_interactive_access(
    name: str, namespace: str, labels: Mapping[str, str], opts: pulumi.ResourceOptions
) -> tuple[k8s.admissionregistration.v1.ValidatingAdmissionPolicy, k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding]:
    """Refuse `kubectl exec`, `attach` and `port-forward` into the namespace's pods, for everyone (RI-11).

    A ValidatingAdmissionPolicy runs in the API server itself: no webhook to take down, and `failurePolicy: Fail`
    refuses the request should the expression ever fail to evaluate. The expression is the constant `false` on
    purpose: there is no user, group or condition that gets a shell, so a break-glass session is a reviewed change
    to the stack (turning `deny_interactive_access` off, which the policy pack flags unless waived).
    """
    policy_name = f"modelfort-deny-interactive-{namespace}"
    policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
        f"{name}-deny-interactive",
        metadata={"name": policy_name, "labels": dict(labels)},
        spec={
            "failure_policy": "Fail",
            "match_constraints": {
                "resource_rules": [
                    {
                        "api_groups": [""],
                        "api_versions": ["v1"],
                        "operations": ["CONNECT"],
                        "resources": list(INTERACTIVE_SUBRESOURCES),
                    }
                ]
            },
            "validations": [
                {
                    "expression": "false",
                    "reason": "Forbidden",
                    "message": f"interactive access (exec, attach, port-forward) to pods in namespace {namespace} is "
                    "disabled by ModelFort (RI-11)",
                }
            ],
        },
        opts=opts,
    )
    binding = k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
        f"{name}-deny-interactive-binding",
        metadata={"name": policy_name, "labels": dict(labels)},
        spec={
            "policy_name": policy.metadata.name,
            "validation_actions": ["Deny"],
            "match_resources": {"namespace_selector": {"match_labels": {NAMESPACE_NAME_LABEL: namespace}}},
        },
        opts=opts,
    )
    return policy, binding
