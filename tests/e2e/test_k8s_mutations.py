"""Mutation tests for the Kubernetes layer: turn off one hardening default at a time; the gate must block every one.

The mutations are of three sorts (tests/programs/k8s-mutant): the components' own escape hatches; each hardening
setting the components write, turned off in the object they register (through a transformation, as a program
could); and what a program could add beside them, one workload kind at a time. A hardening knob that no policy
catches is a bug, and `test_every_k8s_knob_is_mutated_or_refused` keeps the list honest.
"""

from __future__ import annotations

import dataclasses

import pytest

from components.k8s import GpuRuntimeArgs, HardenedNamespaceArgs, ModelServingArgs
from components.k8s.guard import GuardSettings
from modelfort.gate.engine import GateOptions, run_gate

PRODUCTION = {"modelfort:zone": "production"}

# mutation -> (policy that must block, resource name it must flag)
MUTATIONS = {
    # escape hatches of the components
    "namespace-allows-exec": ("k8s-namespace-denies-interactive", "models-namespace"),
    "gpu-namespace-allows-exec": ("k8s-namespace-denies-interactive", "gpu-namespace"),
    "namespace-allows-gke-metadata": ("k8s-egress-no-link-local", "models-allow-gke-metadata"),
    "no-apparmor": ("k8s-apparmor-profile", "llama-guard"),
    # ModelServing's pod, one setting at a time
    "privileged": ("k8s-no-privileged-containers", "llama-guard"),
    "run-as-root": ("k8s-run-as-non-root", "llama-guard"),
    "writable-root": ("k8s-read-only-root-filesystem", "llama-guard"),
    "keeps-capabilities": ("k8s-drop-all-capabilities", "llama-guard"),
    "adds-sys-admin": ("k8s-drop-all-capabilities", "llama-guard"),
    "privilege-escalation": ("k8s-no-privilege-escalation", "llama-guard"),
    "host-pid": ("k8s-no-host-namespaces", "llama-guard"),
    "host-ipc": ("k8s-no-host-namespaces", "llama-guard"),
    "host-network": ("k8s-no-host-namespaces", "llama-guard"),
    "shared-process-namespace": ("k8s-no-host-namespaces", "llama-guard"),
    "host-path-weights": ("k8s-restricted-volumes", "llama-guard"),
    "host-port": ("k8s-no-host-ports", "llama-guard"),
    "no-guard": ("k8s-model-served-through-guard", "llama-guard"),
    "server-declares-port": ("k8s-model-served-through-guard", "llama-guard"),
    "server-binds-all": ("k8s-model-served-through-guard", "llama-guard"),
    "service-targets-server": ("k8s-model-served-through-guard", "llama-guard-service"),
    "guard-fails-open": ("k8s-guard-fails-closed", "llama-guard"),
    "guard-without-guardrail": ("k8s-guard-fails-closed", "llama-guard"),
    "guard-config-fails-open": ("k8s-guard-fails-closed", "llama-guard"),
    "guard-config-weaker-tier": ("k8s-guard-fails-closed", "llama-guard"),
    "nvidia-visible-devices-env": ("k8s-gpu-device-allowlist", "llama-guard"),
    "cdi-annotation": ("k8s-gpu-device-allowlist", "llama-guard"),
    "image-by-tag": ("k8s-image-pinned-by-digest", "llama-guard"),
    "seccomp-unconfined": ("k8s-seccomp-profile", "llama-guard"),
    "no-seccomp": ("k8s-seccomp-profile", "llama-guard"),
    "apparmor-unconfined": ("k8s-apparmor-profile", "llama-guard"),
    "no-limits": ("k8s-resource-limits", "llama-guard"),
    "gpu-as-request": ("k8s-gpus-through-limits", "llama-guard"),
    "token-automount": ("k8s-no-service-account-token", "llama-guard"),
    "secret-env": ("k8s-no-secrets-in-env", "llama-guard"),
    "literal-credential": ("k8s-no-literal-credentials", "llama-guard"),
    "skip-weight-verification": ("k8s-model-weights-verified", "llama-guard"),
    "server-writes-weights": ("k8s-model-weights-verified", "llama-guard"),
    "no-token-limit": ("k8s-model-server-limits", "llama-guard"),
    "service-load-balancer": ("k8s-service-cluster-ip", "llama-guard-service"),
    # HardenedNamespace's objects
    "namespace-baseline": ("k8s-namespace-pod-security", "models-namespace"),
    "no-default-deny-egress": ("k8s-namespace-default-deny", "models-namespace"),
    "no-default-deny-ingress": ("k8s-namespace-default-deny", "models-namespace"),
    "egress-to-anywhere": ("k8s-network-policy-not-open", "models-allow-https-egress"),
    "ingress-from-every-namespace": ("k8s-network-policy-not-open", "models-allow-ingress-0"),
    "ingress-to-every-port": ("k8s-model-served-through-guard", "models-allow-ingress-0"),
    "no-gpu-quota": ("k8s-namespace-quota", "models-namespace"),
    "no-container-defaults": ("k8s-namespace-quota", "models-namespace"),
    "exec-policy-fails-open": ("k8s-namespace-denies-interactive", "models-namespace"),
    "exec-policy-only-warns": ("k8s-namespace-denies-interactive", "models-namespace"),
    "exec-policy-misses-attach": ("k8s-namespace-denies-interactive", "models-namespace"),
    # GpuRuntime's objects
    "gpu-env-devices-accepted": ("k8s-gpu-operator-hardened", "gpu-operator"),
    "gpu-volume-mounts-refused": ("k8s-gpu-operator-hardened", "gpu-operator"),
    "gpu-compat-hook-enabled": ("k8s-gpu-operator-hardened", "gpu-operator"),
    "gpu-no-cdi": ("k8s-gpu-operator-hardened", "gpu-operator"),
    "gpu-old-toolkit": ("k8s-gpu-operator-hardened", "gpu-operator"),
    "gpu-old-operator": ("k8s-gpu-operator-hardened", "gpu-operator"),
    "gpu-toolkit-disabled": ("k8s-gpu-operator-hardened", "gpu-operator"),
    "gpu-envvar-strategy": ("k8s-gpu-operator-hardened", "gpu-operator"),
    "gpu-namespace-unlabelled": ("k8s-gpu-operator-hardened", "gpu-operator"),
    # what a program could add beside the components
    "statefulset-as-root": ("k8s-run-as-non-root", "cache"),
    "job-privileged": ("k8s-no-privileged-containers", "convert"),
    "cronjob-host-path": ("k8s-restricted-volumes", "sync"),
    "daemonset-host-pid": ("k8s-no-host-namespaces", "probe"),
    "pod-without-seccomp": ("k8s-seccomp-profile", "debug"),
    "replicaset-by-tag": ("k8s-image-pinned-by-digest", "legacy"),
    "deployment-in-default": ("k8s-workload-namespace-managed", "stray"),
    "model-in-system-namespace": ("k8s-system-namespace", "gpu-namespace"),
    "self-labelled-system-namespace": ("k8s-system-namespace", "sneaky"),
    "privileged-patch": ("k8s-no-privileged-containers", "loosen"),
    "bare-namespace": ("k8s-namespace-default-deny", "scratch"),
    "egress-to-instance-metadata": ("k8s-egress-no-link-local", "imds"),
    "egress-to-wide-range": ("k8s-egress-no-link-local", "wide"),
    "unhardened-gpu-operator": ("k8s-gpu-operator-hardened", "operator-copy"),
}

# Arguments that are not hardening knobs: identity, wiring, sizing, and narrow allow-lists whose openness the pack
# judges on the objects (k8s-network-policy-not-open) and whose unsafe values the component refuses.
NOT_KNOBS = {
    "name", "namespace", "labels", "quota", "release", "verifier_image", "weights_uri", "signature_uri", "public_key_uri",
    "canary_weights_uri", "canary_signature_uri", "platform", "runtime_class_name", "secret_files",
    "secret_provider_class", "server_args", "port", "health_path", "startup_timeout_seconds", "weights_volume_size",
    "verifier_cpu", "verifier_memory", "node_selector", "gpu_node_selector", "chart_repository",
    # Narrow allows: DNS to kube-dns only (its queries still pass the zone's DNS firewall), HTTPS to listed private
    # ranges, ingress from named namespaces. /0, link-local and wildcard values raise at construction.
    "ingress_sources", "https_egress_cidrs", "load_balancer_cidrs", "allow_dns_to_kube_dns", "api_server_cidrs",
    # The guard's wiring and sizing. What it enforces is the config the pack reads (k8s-guard-fails-closed judges
    # its guardrail, failure mode and tier); the inline detectors' lists only add refusals.
    "guard", "tier", "guardrail", "identity", "system_prompt", "disallowed_keywords", "canaries", "max_prompt_tokens",
    "max_request_bytes", "max_concurrent", "queue_size", "cpu", "memory", "extra_paths",
}
# Knobs whose weakening the component refuses outright (tests/components/test_k8s_components.py proves each).
REFUSED = {"operator_version", "toolkit_version"}


def _gate(program, mutation: str, config: dict | None = None):
    directory = program("k8s-mutant", config={**(config or PRODUCTION), "k8s-mutant:mutation": mutation})
    return run_gate(GateOptions(program_dir=str(directory), stack="test"))


def test_the_unmutated_kubernetes_layer_passes(program):
    report = _gate(program, "none")
    assert report.error is None, report.error
    assert report.exit_code == 0, [v.message for v in report.verdict.blocking]
    assert report.verdict.violations == []


@pytest.mark.control("RI-02", "RI-03", "RI-04", "RI-05", "RI-06", "RI-07", "RI-08", "RI-09", "RI-11", "NB-02", "SC-02",
                     "ST-05", "WP-05", "RC-09", "RC-10", "RC-11")
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_kubernetes_mutation_is_blocked(program, mutation):
    policy, resource = MUTATIONS[mutation]
    report = _gate(program, mutation)
    assert report.error is None, report.error
    assert report.exit_code == 1
    assert (policy, resource) in {(v.policy, v.resource_name) for v in report.verdict.blocking}, report.verdict.blocking


@pytest.mark.control("RI-04", "RI-09")
def test_a_daemonset_the_program_declares_in_the_gpu_operator_namespace_is_not_exempt(program):
    # Only what the operator's own chart renders is exempt; the program's own DaemonSet there is judged like any pod.
    report = _gate(program, "node-agent-in-system-namespace")
    assert report.exit_code == 1
    blocked = {(v.policy, v.resource_name) for v in report.verdict.blocking}
    assert {("k8s-no-privileged-containers", "dcgm-probe"), ("k8s-no-host-namespaces", "dcgm-probe")} <= blocked, blocked


@pytest.mark.control("NB-03")
def test_a_wide_egress_range_that_excepts_link_local_is_not_judged_as_metadata_access(program):
    report = _gate(program, "egress-to-wide-range-excepting-metadata")
    assert "k8s-egress-no-link-local" not in {v.policy for v in report.verdict.violations}


@pytest.mark.control("RI-11", "DP-08")
def test_interactive_access_is_only_required_from_the_high_tier(program):
    assert _gate(program, "namespace-allows-exec", {"modelfort:zone": "testing"}).exit_code == 0
    assert _gate(program, "namespace-allows-exec", {"modelfort:zone": "high-sensitivity"}).exit_code == 1


@pytest.mark.control("RI-05", "DP-07")
def test_a_waiver_lets_apparmor_off_for_selinux_nodes_and_nothing_else(program):
    waiver = {
        "policy": "k8s-apparmor-profile",
        # Both tracks: the stable Deployment and its canary.
        "resource": "urn:pulumi:test::k8s-mutant::*apps/v1:Deployment::llama-guard*",
        "reason": "Bottlerocket GPU nodes: SELinux confines containers, AppArmor is absent (PLAT-311).",
        "owner": "platform-security@example.com",
        "expires": "2027-06-30",
    }
    waived = _gate(program, "no-apparmor", {**PRODUCTION, "modelfort:waivers": [waiver]})
    assert waived.exit_code == 0, [v.message for v in waived.verdict.blocking]
    assert any("WAIVED" in record.message for record in waived.verdict.waiver_records)
    # The same waiver does not let seccomp off.
    assert _gate(program, "no-seccomp", {**PRODUCTION, "modelfort:waivers": [waiver]}).exit_code == 1


@pytest.mark.parametrize(
    "args_class,mutated",
    [
        (HardenedNamespaceArgs, {"deny_interactive_access": "namespace-allows-exec",
                                 "allow_gke_metadata_server": "namespace-allows-gke-metadata"}),
        (GpuRuntimeArgs, {"deny_interactive_access": "gpu-namespace-allows-exec"}),
        (ModelServingArgs, {"disable_apparmor": "no-apparmor"}),
        (GuardSettings, {"guardrail_fail_open": "guard-fails-open", "allow_no_guardrail": "guard-without-guardrail"}),
    ],
)
def test_every_k8s_knob_is_mutated_or_refused(args_class, mutated):
    knobs = {f.name for f in dataclasses.fields(args_class)} - NOT_KNOBS - REFUSED
    assert knobs == set(mutated), f"add a mutation for: {sorted(knobs - set(mutated))}"
    assert set(mutated.values()) <= set(MUTATIONS)
