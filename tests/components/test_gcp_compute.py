"""GCP GpuCluster and GpuNodePool under mocks, as the gcp-production and gcp-high-sensitivity stacks build them."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.gcp.gke_cluster import GpuClusterArgs
from components.gcp.gke_node_pool import GpuNodePoolArgs
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]
NODE_SA = "mf-production-gke-nodes@modelfort-production.iam.gserviceaccount.com"


def stack(name: str) -> dict[str, dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, name))
    assert result["error"] is None, result["error"]
    assert result["unanswered_invokes"] == []
    return {r["name"]: r for r in result["resources"]}


@pytest.fixture(scope="module")
def production() -> dict[str, dict]:
    return stack("gcp-production")


@pytest.fixture(scope="module")
def critical() -> dict[str, dict]:
    return stack("gcp-high-sensitivity")


@pytest.mark.control("NB-01", "NB-05", "RI-11")
def test_the_cluster_is_private_and_reachable_only_from_the_zone(production):
    cluster = production["production-gpu-cluster"]["properties"]
    assert cluster["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": True,
                                               "masterIpv4CidrBlock": "172.16.0.0/28", "masterGlobalAccessConfig": {"enabled": False}}
    assert cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"] == [{"cidrBlock": "10.130.0.0/16", "displayName": "zone production"}]
    assert cluster["masterAuthorizedNetworksConfig"]["gcpPublicCidrsAccessEnabled"] is False
    assert cluster["controlPlaneEndpointsConfig"] == {"dnsEndpointConfig": {"allowExternalTraffic": False}}
    assert cluster["masterAuth"] == {"clientCertificateConfig": {"issueClientCertificate": False}}
    assert cluster["enableLegacyAbac"] is False and cluster["deletionProtection"] is True


@pytest.mark.control("SC-03", "NB-02", "NB-06", "ST-05")
def test_the_control_plane_encrypts_secrets_enforces_policies_and_admits_only_attested_images(production):
    cluster = production["production-gpu-cluster"]["properties"]
    assert cluster["databaseEncryption"]["state"] == "ENCRYPTED"
    assert cluster["databaseEncryption"]["keyName"].startswith("projects/modelfort-production/locations/us-central1/keyRings/")
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "modelfort-production.svc.id.goog"}
    assert cluster["binaryAuthorization"] == {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"}
    assert {"SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER"} <= set(cluster["loggingConfig"]["enableComponents"])
    # GKE's and Compute Engine's agents hold the cluster key, nobody else.
    grants = [r["properties"] for r in production.values()
              if r["type"] == "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember" and r["name"].startswith("production-gpu-key-agents")]
    assert sorted(g["member"].split("@")[1] for g in grants) == ["compute-system.iam.gserviceaccount.com", "container-engine-robot.iam.gserviceaccount.com"]
    assert all(g["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter" for g in grants)


@pytest.mark.control("RI-01", "RI-09", "RI-11", "SC-02", "WP-01")
@pytest.mark.parametrize("pool", ["production-gpu-nodes-pool", "production-gpu-system", "production-gpu-cluster"])
def test_every_pool_is_shielded_minimal_and_keeps_node_metadata_from_pods(production, pool):
    config = production[pool]["properties"]["nodeConfig"]
    assert config["imageType"] == "COS_CONTAINERD"
    assert config["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert config["serviceAccount"] == NODE_SA
    assert config["bootDiskKmsKey"].endswith(production["production-gpu-key"]["id"].rsplit("/", 1)[-1])
    assert config["metadata"] == {"disable-legacy-endpoints": "true", "block-project-ssh-keys": "true"}
    assert "confidentialNodes" not in config


@pytest.mark.control("RI-06", "RI-07")
def test_gpu_nodes_get_managed_drivers_the_taint_and_signed_modules_only(production):
    pool = production["production-gpu-nodes-pool"]["properties"]
    config = pool["nodeConfig"]
    assert config["guestAccelerators"] == [{"type": "nvidia-l4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}]
    assert config["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert config["linuxNodeConfig"] == {"nodeKernelModuleLoading": {"policy": "ENFORCE_SIGNED_MODULES"}}
    assert "sandboxConfig" not in config
    assert pool["management"] == {"autoRepair": True, "autoUpgrade": True}
    assert pool["upgradeSettings"]["maxUnavailable"] == 0


def test_the_node_service_account_writes_logs_and_metrics_and_pulls_from_the_zones_repository_only(production):
    grants = [r["properties"] for r in production.values()
              if r["type"].endswith(("IAMMember", "IamMember")) and r["properties"].get("member") == f"serviceAccount:{NODE_SA}"]
    assert sorted(g["role"] for g in grants) == ["roles/artifactregistry.reader", "roles/logging.logWriter", "roles/monitoring.metricWriter"]
    reader = next(g for g in grants if g["role"] == "roles/artifactregistry.reader")
    assert reader["repository"] == "modelfort-production" and reader["location"] == "us-central1"


@pytest.mark.control("RI-09", "WP-01")
def test_the_critical_tier_runs_confidential_nodes(critical):
    gpu = critical["high-sensitivity-gpu-nodes-pool"]["properties"]["nodeConfig"]
    assert gpu["confidentialNodes"] == {"enabled": True, "confidentialInstanceType": "TDX"}
    assert gpu["machineType"] == "a3-highgpu-1g" and gpu["guestAccelerators"][0]["type"] == "nvidia-h100-80gb"
    system = critical["high-sensitivity-gpu-system"]["properties"]["nodeConfig"]
    assert system["confidentialNodes"] == {"enabled": True, "confidentialInstanceType": "SEV"}
    assert system["machineType"].startswith("n2d-")


def test_a_zone_without_models_has_no_cluster():
    resources = stack("gcp-testing")
    assert not [r for r in resources.values() if r["type"].startswith("gcp:container/")]


CLUSTER = dict(zone="production", project="modelfort-production", region="us-central1", network_id="n", subnetwork_id="s",
               pods_range_name="pods", services_range_name="services", zone_cidr="10.130.0.0/16", node_locations=["us-central1-a"],
               key_ring_id="kr")
POOL = dict(zone="production", project="modelfort-production", cluster_id="c", location="us-central1",
            node_locations=["us-central1-a"], service_account_email="sa@p.iam.gserviceaccount.com", boot_disk_kms_key="k")


@pytest.mark.parametrize(
    "change,message",
    [
        ({"master_cidr": "172.16.0.0/24"}, "master_cidr"),
        ({"master_cidr": "10.130.0.0/28"}, "overlaps"),
        ({"master_cidr": "8.8.8.0/28"}, "master_cidr"),
        ({"master_authorized_cidrs": ["0.0.0.0/0"]}, "master_authorized_cidrs"),
        ({"release_channel": "UNSPECIFIED"}, "release_channel"),
        ({"node_locations": []}, "node_locations"),
        ({"key_rotation_days": 0}, "key_rotation_days"),
    ],
)
def test_unsafe_cluster_args_fail_at_construction_naming_the_arg(change, message):
    with pytest.raises(ValueError, match=message):
        GpuClusterArgs(**{**CLUSTER, **change})


@pytest.mark.parametrize(
    "change,message",
    [
        ({"accelerator_type": "nvidia-tesla-k80"}, "accelerator_type"),
        ({"machine_type": "n2-standard-8"}, "machine_type"),
        ({"gpu_driver_version": "INSTALLATION_DISABLED"}, "gpu_driver_version"),
        ({"accelerator_count": 0}, "accelerator_count"),
        ({"min_nodes": 3, "max_nodes": 2}, "sizes"),
        ({"confidential_nodes": True}, "confidential_nodes"),
        ({"node_locations": []}, "node_locations"),
    ],
)
def test_unsafe_node_pool_args_fail_at_construction_naming_the_arg(change, message):
    with pytest.raises(ValueError, match=message):
        GpuNodePoolArgs(**{**POOL, **change})
