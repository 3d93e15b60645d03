"""GcpZone as the composer builds it for the GCP stacks, and the gate's GCP mock answers it relies on."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from components.config import parse_stack_config
from components.gcp.zone import REQUIRED_APIS, SERVING_APIS, GcpZone
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.child.mocks import GcpAnswers, RealisticMocks, gcp_project_number
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]


def stack(name: str) -> dict:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, name))
    assert result["error"] is None, result["error"]
    return result


@pytest.fixture(scope="module")
def production() -> dict:
    return stack("gcp-production")


def test_one_provider_puts_everything_in_the_zones_project_region_and_labels(production):
    (provider,) = [r for r in production["resources"] if r["type"] == "pulumi:providers:gcp"]
    assert provider["properties"]["project"] == "modelfort-production" and provider["properties"]["region"] == "us-central1"
    assert json.loads(provider["properties"]["defaultLabels"]) == {
        "modelfort-zone": "production", "modelfort-tier": "high", "cost-center": "ml-platform", "data-classification": "confidential"}
    gcp_resources = [r for r in production["resources"] if r["type"].startswith("gcp:")]
    assert gcp_resources and all(r["provider"].startswith(provider["urn"]) for r in gcp_resources)
    pathed = [r for r in gcp_resources if r["type"].startswith(("gcp:compute/", "gcp:kms/", "gcp:secretmanager/secret:", "gcp:container/",
                                                                "gcp:pubsub/topic:", "gcp:logging/", "gcp:modelarmor/"))]
    assert pathed and [r["id"] for r in pathed if not r["id"].startswith("projects/modelfort-production/")] == []


def test_every_resource_waits_for_the_apis_it_needs(production):
    apis = {r["urn"] for r in production["resources"] if r["type"] == "gcp:projects/service:Service"}
    services = {r["properties"]["service"] for r in production["resources"] if r["type"] == "gcp:projects/service:Service"}
    assert services == set(REQUIRED_APIS) | set(SERVING_APIS)
    assert all(r["properties"]["disableOnDestroy"] is False for r in production["resources"] if r["type"] == "gcp:projects/service:Service")
    others = [r for r in production["resources"]
              if r["type"].startswith("gcp:") and r["type"] != "gcp:projects/service:Service" and r["custom"]]
    assert [r["name"] for r in others if not apis <= set(r["dependencies"])] == []


def test_zones_without_models_turn_on_only_what_they_use():
    resources = stack("gcp-testing")["resources"]
    services = {r["properties"]["service"] for r in resources if r["type"] == "gcp:projects/service:Service"}
    assert services == set(REQUIRED_APIS)
    assert not [r for r in resources if r["type"].startswith(("gcp:secretmanager/", "gcp:cloudfunctionsv2/", "gcp:container/"))]


def test_the_zone_exports_what_operators_need(production):
    (stack_resource,) = [r for r in production["resources"] if r["type"] == "pulumi:pulumi:Stack"]
    zone = next(r for r in production["resources"] if r["type"] == "modelfort:gcp:Zone")
    assert zone["parent"] == stack_resource["urn"]
    assert production["unanswered_invokes"] == []


def test_a_gcp_zone_needs_a_gcp_config():
    aws = parse_stack_config({"aws:region": "us-east-1", "modelfort:cloud": "aws", "modelfort:zone": "testing",
                              "modelfort:network": '{"cidr": "10.20.0.0/16"}'}, "testing")
    with pytest.raises(ValueError, match="gcp:project"):
        GcpZone(aws)


def test_an_availability_zone_count_the_region_cannot_meet_fails_naming_the_key(tmp_path):
    import shutil

    import yaml

    project = tmp_path / "project"
    shutil.copytree(REPO, project, ignore=shutil.ignore_patterns(".venv", ".git", "tests", "__pycache__", "*.egg-info", "examples"))
    path = project / "stacks" / "Pulumi.gcp-testing.yaml"
    settings = yaml.safe_load(path.read_text())
    settings["config"]["modelfort:network"]["availabilityZoneCount"] = 6
    path.write_text(yaml.safe_dump(settings))
    parsed = read_project(str(project))
    result = run_program_under_mocks(parsed, read_stack(parsed, "gcp-testing"))
    assert "availabilityZoneCount: 6 requested, but region us-central1 offers 4" in result["error"]["message"]


# ------------------------------------------------------------------------------------------------ the mocks
def test_gcp_ids_take_the_project_from_the_explicit_provider():
    answers = GcpAnswers()
    provider_id = answers.register_provider("zone-gcp", {"project": "acme-ml", "region": "europe-west4"})
    ref = f"urn:pulumi:s::p::pulumi:providers:gcp::zone-gcp::{provider_id}"
    resource_id, out = answers.new_resource("gcp:compute/network:Network", "vpc", {}, ref)
    assert resource_id.startswith("projects/acme-ml/global/networks/vpc-") and out["selfLink"].endswith(resource_id)
    subnet_id, _ = answers.new_resource("gcp:compute/subnetwork:Subnetwork", "nodes", {"ipCidrRange": "10.0.0.0/20"}, ref)
    assert subnet_id.startswith("projects/acme-ml/regions/europe-west4/subnetworks/nodes-")
    key_id, out = answers.new_resource("gcp:kms/cryptoKey:CryptoKey", "k", {"keyRing": "projects/acme-ml/locations/europe-west4/keyRings/r"}, ref)
    assert key_id.startswith("projects/acme-ml/locations/europe-west4/keyRings/r/cryptoKeys/k-")
    _, account = answers.new_resource("gcp:serviceaccount/account:Account", "sa", {"accountId": "mf-reader"}, ref)
    assert account["email"] == "mf-reader@acme-ml.iam.gserviceaccount.com" and account["member"] == "serviceAccount:mf-reader@acme-ml.iam.gserviceaccount.com"
    # A resource's own project wins over its provider's.
    other, _ = answers.new_resource("gcp:pubsub/topic:Topic", "t", {"project": "other-proj", "name": "t"}, ref)
    assert other == "projects/other-proj/topics/t"


def test_gcp_invokes_answer_in_the_real_shapes():
    mocks = RealisticMocks()
    project = mocks.call(_Call("gcp:organizations/getProject:getProject", {"projectId": "acme-ml"}))
    assert project["number"] == gcp_project_number("acme-ml") and len(project["number"]) == 12 and project["number"].isdigit()
    zones = mocks.call(_Call("gcp:compute/getZones:getZones", {"region": "europe-west4"}))
    assert zones["names"] == ["europe-west4-a", "europe-west4-b", "europe-west4-c", "europe-west4-f"]
    agent = mocks.call(_Call("gcp:storage/getProjectServiceAccount:getProjectServiceAccount", {"project": "acme-ml"}))
    assert agent["emailAddress"] == f"service-{project['number']}@gs-project-accounts.iam.gserviceaccount.com"
    version = mocks.call(_Call("gcp:kms/getKMSCryptoKeyVersion:getKMSCryptoKeyVersion", {"cryptoKey": "projects/a/locations/l/keyRings/r/cryptoKeys/k"}))
    assert version["name"].endswith("/cryptoKeys/k/cryptoKeyVersions/1") and version["publicKeys"][0]["pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert mocks.unanswered_invokes == []


class _Call:
    def __init__(self, token: str, args: dict) -> None:
        self.token, self.args, self.provider = token, args, ""


# ------------------------------------------------------------------------------------------------ the Kubernetes layer
def _of(result: dict, typ: str) -> list[dict]:
    return [r for r in result["resources"] if r["type"] == typ]


def _pod(deployment: dict) -> dict:
    return deployment["properties"]["spec"]["template"]["spec"]


PRINCIPAL = ("principal://iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/"
             "modelfort-production.svc.id.goog/subject/ns/models/sa/llama-guard")


@pytest.mark.control("WP-05", "ST-01", "RI-08")
def test_gke_serves_each_pinned_release_verified_from_cloud_storage(production):
    (deployment,) = _of(production, "kubernetes:apps/v1:Deployment")
    assert deployment["properties"]["metadata"]["namespace"] == "models"
    pod = _pod(deployment)
    (verifier,) = pod["initContainers"]
    command = verifier["command"]
    assert command[:3] == ["modelfort", "verify-weights", f"gs://{_bucket(production, 'weights')}/models/llama-guard/3.1.0"]
    reference = _bucket(production, "reference-store")
    assert command[command.index("--signature") + 1] == f"gs://{reference}/signatures/llama-guard/3.1.0.sig"
    assert command[command.index("--public-key") + 1] == f"gs://{reference}/keys/release.pub.pem"
    assert command[command.index("--root-digest") + 1] == "c8ac51bb0ea05fbc62287e60b3c7311353f25735e7702a95b6f08fd40784f882"
    assert verifier["image"].startswith("us-central1-docker.pkg.dev/modelfort-production/")
    # Credentials come from Workload Identity: no AWS variables, no IRSA token, no key file anywhere.
    assert verifier["env"] == [{"name": "GOOGLE_CLOUD_PROJECT", "value": "modelfort-production"}]
    assert {v["name"] for v in pod["volumes"]} == {"models", "verifier-tmp", "server-tmp", "guard-tmp", "guard-config"}
    assert "annotations" not in deployment["properties"]["spec"]["template"]["metadata"]
    (account,) = _of(production, "kubernetes:core/v1:ServiceAccount")
    assert not account["properties"]["metadata"].get("annotations") and account["properties"]["automountServiceAccountToken"] is False


@pytest.mark.control("RI-06", "RI-07")
def test_gke_gpus_come_from_gkes_own_driver_not_a_gpu_operator(production):
    pod = _pod(_of(production, "kubernetes:apps/v1:Deployment")[0])
    assert "runtimeClassName" not in pod
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    # GKE installs and patches the driver and device plugin; Binary Authorization (not Kyverno) admits images.
    assert _of(production, "kubernetes:helm.sh/v3:Release") == []
    assert [r for r in production["resources"] if r["type"].startswith("kubernetes:kyverno.io/")] == []


@pytest.mark.control("NB-06", "WP-03")
def test_each_verifier_principal_reads_only_its_own_release(production):
    number = gcp_project_number("modelfort-production")
    principal = PRINCIPAL.format(number=number)
    grants = [r for r in _of(production, "gcp:storage/bucketIAMMember:BucketIAMMember") if r["properties"]["member"] == principal]
    by_bucket = {r["properties"]["bucket"]: r["properties"] for r in grants}
    weights, reference = _bucket(production, "weights"), _bucket(production, "reference-store")
    assert set(by_bucket) == {weights, reference}
    assert all(g["role"] == "roles/storage.objectViewer" for g in by_bucket.values())
    assert by_bucket[weights]["condition"]["expression"] == (
        f'resource.name.startsWith("projects/_/buckets/{weights}/objects/models/llama-guard/3.1.0/") || '
        'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("models/llama-guard/3.1.0/")'
    )
    assert by_bucket[reference]["condition"]["expression"] == (
        f'resource.name.startsWith("projects/_/buckets/{reference}/objects/signatures/llama-guard/") || '
        f'resource.name.startsWith("projects/_/buckets/{reference}/objects/keys/")'
    )


@pytest.mark.control("NB-02", "NB-03", "NB-04")
def test_model_pods_reach_only_google_apis_dns_and_the_metadata_server(production):
    policies = {r["properties"]["metadata"]["name"]: r["properties"]["spec"]
                for r in _of(production, "kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert set(policies) == {"default-deny", "allow-dns-to-kube-dns", "allow-https-egress", "allow-egress-to-gke-metadata-server"}
    assert [peer["ipBlock"]["cidr"] for peer in policies["allow-https-egress"]["egress"][0]["to"]] == ["199.36.153.4/30"]
    metadata = policies["allow-egress-to-gke-metadata-server"]
    assert metadata["podSelector"] == {"matchLabels": {"app.kubernetes.io/component": "model-server"}}
    assert [(rule["to"][0]["ipBlock"]["cidr"], rule["ports"][0]["port"]) for rule in metadata["egress"]] == [
        ("169.254.169.254/32", 80), ("169.254.169.252/32", 988)]


def test_the_kubernetes_provider_reaches_the_private_endpoint_with_short_lived_tokens(production):
    (provider,) = _of(production, "pulumi:providers:kubernetes")
    kubeconfig = json.loads(provider["properties"]["kubeconfig"])
    (cluster,) = _of(production, "gcp:container/cluster:Cluster")
    master = ipaddress.ip_network(cluster["properties"]["privateClusterConfig"]["masterIpv4CidrBlock"])
    # The mocks answer the private endpoint GKE gives: an address of the control plane's private /28.
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    assert server.startswith("https://") and ipaddress.ip_address(server.removeprefix("https://")) in master
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert "token" not in kubeconfig["users"][0]["user"] and "client-key-data" not in kubeconfig["users"][0]["user"]


def _bucket(result: dict, role: str) -> str:
    (bucket,) = [r for r in _of(result, "gcp:storage/bucket:Bucket") if r["name"] == f"production-{role}-bucket"]
    return bucket["id"]  # a bucket's ID is its (auto-generated) name


@pytest.mark.control("RC-01", "RC-02", "GR-01", "NB-05")
def test_gke_model_pods_are_served_through_a_guard_with_model_armor_and_google_id_tokens(production):
    pod = _pod(_of(production, "kubernetes:apps/v1:Deployment")[0])
    server, guard = pod["containers"]
    assert guard["name"] == "guard" and "ports" not in server
    (config_map,) = [r for r in _of(production, "kubernetes:core/v1:ConfigMap")
                     if r["properties"]["metadata"]["name"].startswith("llama-guard-guard-")]
    config = json.loads(config_map["properties"]["data"]["guard.json"])
    assert config["guardrail"] == {"provider": "model-armor", "failOpen": False, "modelArmor": {
        "project": "modelfort-production", "location": "us-central1", "template": "modelfort-production"}}
    assert config["identity"]["mode"] == "jwt"
    assert config["identity"]["jwt"]["issuer"] == "https://accounts.google.com"
    assert config["identity"]["jwt"]["audience"] == "modelfort-production"
    # The guard's principal may call Model Armor, and nothing broader.
    principal = PRINCIPAL.format(number=gcp_project_number("modelfort-production"))
    roles = {r["properties"]["role"] for r in _of(production, "gcp:projects/iAMMember:IAMMember")
             if r["properties"]["member"] == principal}
    assert roles == {"roles/modelarmor.user"}
