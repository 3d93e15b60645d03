"""GKE rules (NB-01, NB-02, NB-05, NB-06, RI-01, RI-06, RI-07, RI-09, RI-11, SC-03, ST-05): a private, encrypted
control plane that admits only attested images, and nodes that are shielded, minimal, least-privileged and keep
their metadata from pods.

Node settings are judged wherever they are written: a cluster's `node_config` (its default pool) and every node pool.
A cluster that keeps its default pool and states no node config gets Google's defaults (the Compute Engine default
service account, no secure boot), and is flagged for it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from modelfort_policy.props import as_mappings, is_open_cidr, parse_cidr
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.rules.gcp_common import (
    CLUSTER,
    NODE_POOL,
    accelerators,
    default_pool_node_config,
    is_set,
    node_config_problems,
    of_type,
    points_to,
)
from modelfort_policy.tiers import CRITICAL, STANDARD

ENFORCING_BINAUTHZ = frozenset({"PROJECT_SINGLETON_POLICY_ENFORCE", "POLICY_BINDINGS_AND_PROJECT_SINGLETON_POLICY_ENFORCE"})
GPU_DRIVERS = frozenset({"DEFAULT", "LATEST"})
PRIVATE = tuple(ipaddress.ip_network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))


# ---------------------------------------------------------------------------------------------------- control plane
def check_private_cluster(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    private = props.get("privateClusterConfig") or {}
    if private.get("enablePrivateNodes") is not True:
        yield f"GKE cluster '{resource.name}' gives its nodes external IPs (private_cluster_config.enable_private_nodes must be True)."
    if private.get("enablePrivateEndpoint") is not True:
        yield f"GKE cluster '{resource.name}' exposes its API on a public endpoint (enable_private_endpoint must be True)."
    authorized = props.get("masterAuthorizedNetworksConfig")
    if not authorized:
        yield f"GKE cluster '{resource.name}' must limit who reaches its API (master_authorized_networks_config with the zone's CIDR)."
    else:
        if authorized.get("gcpPublicCidrsAccessEnabled") is True:
            yield f"GKE cluster '{resource.name}' admits every Google Cloud public IP to its API (gcp_public_cidrs_access_enabled)."
        for block in as_mappings(authorized.get("cidrBlocks")):
            text = block.get("cidrBlock")
            cidr = parse_cidr(text)
            if cidr is None or is_open_cidr(text) or not any(cidr.version == 4 and cidr.subnet_of(r) for r in PRIVATE):
                yield f"GKE cluster '{resource.name}' admits {text} to its API; only the zone's private ranges may reach it."
    dns = (props.get("controlPlaneEndpointsConfig") or {}).get("dnsEndpointConfig") or {}
    if dns.get("allowExternalTraffic") is True:
        yield f"GKE cluster '{resource.name}' accepts API traffic from the internet on its DNS endpoint (allow_external_traffic)."


def check_legacy_auth(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if props.get("enableLegacyAbac") is True:
        yield f"GKE cluster '{resource.name}' enables legacy ABAC, which bypasses RBAC."
    client_certificate = ((props.get("masterAuth") or {}).get("clientCertificateConfig") or {})
    if client_certificate.get("issueClientCertificate") is True:
        yield f"GKE cluster '{resource.name}' issues a client certificate: a long-lived credential outside IAM."


def check_workload_identity(resource: Resource, _ctx: Context) -> Iterable[str]:
    if not is_set(resource.props.get("workloadIdentityConfig"), "workloadPool"):
        yield f"GKE cluster '{resource.name}' must enable Workload Identity (workload_identity_config.workload_pool)."


def check_secrets_encrypted(resource: Resource, _ctx: Context) -> Iterable[str]:
    encryption = resource.props.get("databaseEncryption") or {}
    if encryption.get("state") != "ENCRYPTED" or not is_set(encryption, "keyName"):
        yield f"GKE cluster '{resource.name}' must encrypt Kubernetes secrets in etcd with a customer key (database_encryption)."


def check_binary_authorization(resource: Resource, _ctx: Context) -> Iterable[str]:
    binauthz = resource.props.get("binaryAuthorization") or {}
    mode = binauthz.get("evaluationMode")
    if mode in ENFORCING_BINAUTHZ or (mode is None and binauthz.get("enabled") is True):
        return
    yield (f"GKE cluster '{resource.name}' admits images without checking the project's Binary Authorization policy "
           f"(binary_authorization.evaluation_mode is {mode or 'unset'}).")


def check_network_policy(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if props.get("datapathProvider") == "ADVANCED_DATAPATH" or (props.get("networkPolicy") or {}).get("enabled") is True:
        return
    yield f"GKE cluster '{resource.name}' does not enforce NetworkPolicy (use Dataplane V2: datapath_provider ADVANCED_DATAPATH)."


# ---------------------------------------------------------------------------------------------------- nodes
def check_nodes_hardened(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if resource.resource_type == CLUSTER:
        if props.get("enableShieldedNodes") is False:
            yield f"GKE cluster '{resource.name}' turns Shielded GKE Nodes off."
        config = default_pool_node_config(props)
        if config is None:
            return
        yield from node_config_problems(None if config == "missing" else config, f"default pool of GKE cluster '{resource.name}'")
        return
    if (props.get("networkConfig") or {}).get("enablePrivateNodes") is False:
        yield f"node pool '{resource.name}' gives its nodes external IPs (network_config.enable_private_nodes=False)."
    yield from node_config_problems(props.get("nodeConfig"), f"node pool '{resource.name}'")


def check_gpu_nodes(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    config = props.get("nodeConfig")
    where = f"node pool '{resource.name}'" if resource.resource_type == NODE_POOL else f"default pool of GKE cluster '{resource.name}'"
    gpus = accelerators(config)
    if not gpus:
        return
    for gpu in gpus:
        driver = (gpu.get("gpuDriverInstallationConfig") or {}).get("gpuDriverVersion")
        if driver not in GPU_DRIVERS:
            yield f"{where} must let GKE install and patch the NVIDIA driver (gpu_driver_version DEFAULT or LATEST, not {driver or 'unset'})."
    if not any(t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NO_SCHEDULE" for t in as_mappings(config.get("taints"))):
        yield f"{where} must carry the taint nvidia.com/gpu:NoSchedule so only GPU workloads land on it."
    loading = ((config.get("linuxNodeConfig") or {}).get("nodeKernelModuleLoading") or {}).get("policy")
    if loading != "ENFORCE_SIGNED_MODULES":
        yield f"{where} lets nodes load unsigned kernel modules (node_kernel_module_loading.policy must be ENFORCE_SIGNED_MODULES)."


def _confidential(config: Any) -> bool:
    return hasattr(config, "get") and (config.get("confidentialNodes") or {}).get("enabled") is True


def check_confidential_nodes(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    clusters = of_type(resources, CLUSTER)
    covered = {c.urn for c in clusters if (c.props.get("confidentialNodes") or {}).get("enabled") is True}
    for cluster in clusters:
        if cluster.urn in covered:
            continue
        config = default_pool_node_config(cluster.props)
        if config is not None and not _confidential(config):
            yield Finding(f"default pool of GKE cluster '{cluster.name}' is not confidential (memory unencrypted in use).", cluster.urn)
    for pool in of_type(resources, NODE_POOL):
        if any(points_to(pool, "cluster", c) for c in clusters if c.urn in covered):
            continue
        if not _confidential(pool.props.get("nodeConfig")):
            yield Finding(f"node pool '{pool.name}' is not confidential (node_config.confidential_nodes); the "
                          "critical tier keeps model memory encrypted in use.", pool.urn)


def _cluster_rule(name: str, description: str, controls: tuple[str, ...], remediation: str, check, severity: str = "high") -> Rule:
    return Rule(name=name, description=description, severity=severity, controls=controls, remediation=remediation,
                mandatory_from=STANDARD, resource_types=frozenset({CLUSTER}), resource_check=check)


RULES = (
    _cluster_rule("gke-private-cluster", "GKE clusters have private nodes, a private endpoint and an API reachable only from the zone.",
                  ("NB-01", "NB-05", "RI-11"), "Set private_cluster_config (private nodes and endpoint) and master authorized networks "
                  "to the zone's CIDR; keep the DNS endpoint internal.", check_private_cluster, "critical"),
    _cluster_rule("gke-no-legacy-auth", "GKE clusters use neither legacy ABAC nor client certificates.", ("NB-05", "NB-06", "RI-11"),
                  "Set enable_legacy_abac=False and master_auth.client_certificate_config.issue_client_certificate=False.", check_legacy_auth),
    _cluster_rule("gke-workload-identity", "GKE clusters give pods their own identities (Workload Identity).", ("NB-06", "SC-02"),
                  "Set workload_identity_config.workload_pool to '<project>.svc.id.goog'.", check_workload_identity),
    _cluster_rule("gke-secrets-encrypted", "GKE clusters encrypt Kubernetes secrets in etcd with a customer key.", ("SC-03", "WP-01"),
                  "Set database_encryption state ENCRYPTED with a Cloud KMS key.", check_secrets_encrypted),
    _cluster_rule("gke-binary-authorization", "GKE clusters enforce the project's Binary Authorization policy.", ("ST-05", "ST-07"),
                  "Set binary_authorization.evaluation_mode = PROJECT_SINGLETON_POLICY_ENFORCE.", check_binary_authorization, "critical"),
    _cluster_rule("gke-network-policy", "GKE clusters enforce Kubernetes NetworkPolicy.", ("NB-02",),
                  "Use Dataplane V2 (datapath_provider ADVANCED_DATAPATH).", check_network_policy, "medium"),
    Rule(name="gke-nodes-hardened", description="GKE nodes run COS with secure boot, hide node metadata from pods, use a least-privilege "
         "service account and customer-encrypted boot disks.", severity="high", controls=("RI-01", "RI-09", "SC-02", "WP-01"),
         remediation="Use GpuNodePool / GpuCluster, or set shielded_instance_config, workload_metadata_config GKE_METADATA, "
         "a dedicated service_account and boot_disk_kms_key.", mandatory_from=STANDARD,
         resource_types=frozenset({CLUSTER, NODE_POOL}), resource_check=check_nodes_hardened),
    Rule(name="gke-gpu-nodes", description="GPU nodes get GKE-managed drivers, the GPU taint and Google-signed kernel modules only.",
         severity="high", controls=("RI-06", "RI-07"), mandatory_from=STANDARD,
         remediation="Set gpu_driver_installation_config (DEFAULT or LATEST), the taint nvidia.com/gpu:NoSchedule and "
         "linux_node_config.node_kernel_module_loading.policy ENFORCE_SIGNED_MODULES.",
         resource_types=frozenset({CLUSTER, NODE_POOL}), resource_check=check_gpu_nodes),
    Rule(name="gke-confidential-nodes", description="In the critical tier, every GKE node is a Confidential VM (memory encrypted in use).",
         severity="high", controls=("RI-09", "WP-01"), mandatory_from=CRITICAL,
         remediation="Set confidential_nodes on the cluster or on every node pool (a3-highgpu-1g with TDX for GPUs).",
         stack_check=check_confidential_nodes),
)
