"""GCP storage, evidence, supply chain, guardrails and the perimeter under mocks, as the GCP stacks build them."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.gcp.evidence import DATA_ACCESS_SERVICES, EVIDENCE_FILTER, EvidenceLogArgs
from components.gcp.model_armor import RAI_FILTERS, ModelGuardrailsArgs
from components.gcp.perimeter import ACCESS_POLICY_PLACEHOLDER, RESTRICTED_SERVICES, ModelPerimeterArgs
from components.gcp.reference_store import ModelReferenceStoreArgs
from components.gcp.supply_chain import ImageTrustArgs
from components.gcp.weights import WeightsBucketArgs, read_condition
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]
DAY = 86_400


def stack(name: str) -> dict[str, dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, name))
    assert result["error"] is None, result["error"]
    return {r["name"]: r for r in result["resources"]}


@pytest.fixture(scope="module")
def production() -> dict[str, dict]:
    return stack("gcp-production")


@pytest.fixture(scope="module")
def critical() -> dict[str, dict]:
    return stack("gcp-high-sensitivity")


def props(resources: dict[str, dict], name: str) -> dict:
    return resources[name]["properties"]


@pytest.mark.control("WP-01", "WP-02", "WP-03", "DP-09")
def test_the_weights_bucket_is_private_encrypted_versioned_and_reachable_only_from_the_zone(production):
    bucket = props(production, "production-weights-bucket")
    assert bucket["publicAccessPrevention"] == "enforced" and bucket["uniformBucketLevelAccess"] is True
    assert bucket["encryption"]["defaultKmsKeyName"] == production["production-weights-key"]["id"]
    assert bucket["encryption"]["googleManagedEncryptionEnforcementConfig"] == {"restrictionMode": "FullyRestricted"}
    assert bucket["encryption"]["customerSuppliedEncryptionEnforcementConfig"] == {"restrictionMode": "FullyRestricted"}
    assert bucket["versioning"] == {"enabled": True} and bucket["softDeletePolicy"]["retentionDurationSeconds"] == 30 * DAY
    assert bucket["forceDestroy"] is False and "website" not in bucket
    assert bucket["labels"]["modelfort-data-class"] == "model-weights"
    source = bucket["ipFilter"]["vpcNetworkSources"][0]
    assert bucket["ipFilter"]["mode"] == "Enabled" and source["allowedIpCidrRanges"] == ["10.130.0.0/16"]
    assert source["network"] == production["production-network-vpc"]["id"]
    assert "publicNetworkSource" not in bucket["ipFilter"]
    # The storage agent may use the key before the bucket exists.
    grant = props(production, "production-weights-key-storage-0")
    assert grant["member"].endswith("@gs-project-accounts.iam.gserviceaccount.com")
    assert "production-weights-key-storage-0" in {u.rsplit("::", 1)[-1] for u in production["production-weights-bucket"]["dependencies"]}


def test_keys_rotate_at_the_tiers_pace(production, critical):
    for resources, seconds in ((production, 365 * DAY), (critical, 180 * DAY)):
        symmetric = [r["properties"] for r in resources.values()
                     if r["type"] == "gcp:kms/cryptoKey:CryptoKey" and r["properties"]["purpose"] == "ENCRYPT_DECRYPT"]
        assert symmetric and {k["rotationPeriod"] for k in symmetric} == {f"{seconds}s"}


def test_grant_read_limits_a_reader_to_one_release():
    condition = read_condition("weights-bucket", "models/llama-guard/3.1.0/")
    assert 'resource.name.startsWith("projects/_/buckets/weights-bucket/objects/models/llama-guard/3.1.0/")' in condition
    assert 'objectListPrefix", "").startsWith("models/llama-guard/3.1.0/")' in condition


@pytest.mark.control("WP-06", "OB-04")
def test_signatures_sit_under_a_locked_retention_and_signing_is_separated_from_reading(production, critical):
    bucket = props(production, "production-reference-store-bucket")
    assert bucket["retentionPolicy"] == {"retentionPeriod": str(365 * DAY), "isLocked": True}
    assert "versioning" not in bucket  # Cloud Storage refuses versioning beside a retention policy; the lock is stronger
    assert bucket["labels"]["modelfort-data-class"] == "model-signatures"
    key = props(production, "production-reference-store-signing-key")
    assert key["purpose"] == "ASYMMETRIC_SIGN" and key["versionTemplate"] == {"algorithm": "EC_SIGN_P256_SHA256", "protectionLevel": "SOFTWARE"}
    assert "rotationPeriod" not in key
    assert props(critical, "high-sensitivity-reference-store-signing-key")["versionTemplate"]["protectionLevel"] == "HSM"
    assert props(critical, "high-sensitivity-reference-store-bucket")["retentionPolicy"]["retentionPeriod"] == str(1096 * DAY)
    roles = {(r["properties"]["member"].split(":")[1].split("@")[0], r["properties"]["role"]) for r in production.values()
             if r["type"] in ("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
             and r["name"].startswith("production-reference-store-") and "storage" not in r["name"]
             # Each model verifier's own conditional read (tests/components/test_gcp_zone.py).
             and not r["name"].endswith("-verify")}
    assert roles == {
        ("mf-production-publisher", "roles/storage.objectCreator"), ("mf-production-publisher", "roles/cloudkms.signer"),
        ("mf-production-publisher", "roles/cloudkms.publicKeyViewer"), ("mf-production-sig-reader", "roles/storage.objectViewer"),
        ("mf-production-sig-reader", "roles/cloudkms.publicKeyViewer"),
    }


@pytest.mark.control("OB-03")
def test_evidence_lands_in_a_locked_customer_encrypted_log_bucket(production, critical):
    bucket = props(production, "production-evidence-bucket")
    assert bucket["locked"] is True and bucket["retentionDays"] == 365 and bucket["location"] == "us-central1"
    assert bucket["cmekSettings"] == {"kmsKeyName": production["production-evidence-key"]["id"]}
    assert props(critical, "high-sensitivity-evidence-bucket")["retentionDays"] == 1096
    sink = props(production, "production-evidence-sink")
    assert sink["destination"] == f"logging.googleapis.com/{production['production-evidence-bucket']['id']}"
    assert sink["filter"] == EVIDENCE_FILTER and sink["uniqueWriterIdentity"] is True
    audits = {r["properties"]["service"]: r["properties"] for r in production.values() if r["type"] == "gcp:projects/iAMAuditConfig:IAMAuditConfig"}
    assert set(audits) == set(DATA_ACCESS_SERVICES)
    assert all({c["logType"] for c in a["auditLogConfigs"]} == {"ADMIN_READ", "DATA_READ", "DATA_WRITE"} for a in audits.values())
    # The logging service account holds the key first.
    assert "production-evidence-key-logging-0" in {u.rsplit("::", 1)[-1] for u in production["production-evidence-bucket"]["dependencies"]}


@pytest.mark.control("ST-05", "ST-07")
def test_only_attested_images_run_and_tags_never_move(production, critical):
    repository = props(production, "production-images-repository")
    assert repository["format"] == "DOCKER" and repository["dockerConfig"] == {"immutableTags": True}
    assert repository["kmsKeyName"] == production["production-images-repository-key"]["id"]
    policy = props(production, "production-images-policy")
    assert policy["defaultAdmissionRule"] == {
        "evaluationMode": "REQUIRE_ATTESTATION", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
        "requireAttestationsBies": [production["production-images-attestor"]["id"]],
    }
    assert policy["globalPolicyEvaluationMode"] == "ENABLE" and "admissionWhitelistPatterns" not in policy
    attestor = props(production, "production-images-attestor")["attestationAuthorityNote"]
    (key,) = attestor["publicKeys"]
    assert key["id"].startswith("//cloudkms.googleapis.com/v1/projects/modelfort-production/") and key["id"].endswith("/cryptoKeyVersions/1")
    assert key["pkixPublicKey"]["signatureAlgorithm"] == "ECDSA_P256_SHA256"
    assert key["pkixPublicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert props(critical, "high-sensitivity-images-attestor-key")["versionTemplate"]["protectionLevel"] == "HSM"


@pytest.mark.control("GR-01", "GR-02", "GR-03", "GR-04", "GR-05", "GR-07", "GR-08", "RC-08")
def test_model_armor_screens_every_domain_and_blocks(production):
    template = props(production, "production-guardrails-template")
    filters = template["filterConfig"]
    assert [f["filterType"] for f in filters["raiSettings"]["raiFilters"]] == list(RAI_FILTERS)
    assert {f["confidenceLevel"] for f in filters["raiSettings"]["raiFilters"]} == {"MEDIUM_AND_ABOVE"}
    assert filters["piAndJailbreakFilterSettings"] == {"filterEnforcement": "ENABLED", "confidenceLevel": "MEDIUM_AND_ABOVE"}
    assert filters["maliciousUriFilterSettings"] == {"filterEnforcement": "ENABLED"}
    assert filters["sdpSettings"] == {"basicConfig": {"filterEnforcement": "ENABLED"}}
    assert template["templateMetadata"]["enforcementType"] == "INSPECT_AND_BLOCK"
    floor = props(production, "production-guardrails-floor")
    assert floor["filterConfig"] == filters and floor["enableFloorSettingEnforcement"] is True
    assert floor["parent"] == "projects/modelfort-production"
    assert floor["aiPlatformFloorSetting"] == {"inspectAndBlock": True, "inspectOnly": False, "enableCloudLogging": True}


@pytest.mark.control("WP-02", "WP-03")
def test_only_the_critical_tier_gets_a_perimeter_and_it_is_enforced(production, critical):
    assert not [r for r in production.values() if r["type"].startswith("gcp:accesscontextmanager/")]
    perimeter = props(critical, "high-sensitivity-perimeter-perimeter")
    assert perimeter["parent"] == ACCESS_POLICY_PLACEHOLDER
    assert perimeter["status"]["restrictedServices"] == list(RESTRICTED_SERVICES)
    assert perimeter["status"]["resources"][0].startswith("projects/") and perimeter["status"]["resources"][0][9:].isdigit()
    assert perimeter["status"]["vpcAccessibleServices"] == {"enableRestriction": True, "allowedServices": ["RESTRICTED-SERVICES"]}
    assert perimeter["useExplicitDryRunSpec"] is False and "spec" not in perimeter


COMMON = dict(zone="production", project="modelfort-production", region="us-central1", key_ring_id="kr")


@pytest.mark.parametrize(
    "args_class,change,message",
    [
        (WeightsBucketArgs, {"publisher_ip_ranges": ["0.0.0.0/0"]}, "publisher_ip_ranges"),
        (WeightsBucketArgs, {"key_rotation_days": 0}, "key_rotation_days"),
        (ModelReferenceStoreArgs, {"retention_days": 0}, "retention_days"),
        (ModelReferenceStoreArgs, {"retention_days": 40_000}, "retention_days"),
        (EvidenceLogArgs, {"retention_days": 4000}, "retention_days"),
        (ImageTrustArgs, {"unattested_image_patterns": ["**"]}, "unattested_image_patterns"),
        (ImageTrustArgs, {"zone": "Prod_1"}, "zone"),
    ],
)
def test_unsafe_storage_and_supply_chain_args_fail_naming_the_arg(args_class, change, message):
    defaults = {
        WeightsBucketArgs: dict(network_id="n", zone_cidr="10.130.0.0/16"),
        ModelReferenceStoreArgs: dict(retention_days=365),
        EvidenceLogArgs: dict(retention_days=365),
        ImageTrustArgs: {},
    }[args_class]
    with pytest.raises(ValueError, match=message):
        args_class(**{**COMMON, **defaults, **change})


def test_guardrail_and_perimeter_args_fail_naming_the_arg():
    with pytest.raises(ValueError, match="confidence_level"):
        ModelGuardrailsArgs(zone="production", project="modelfort-production", region="us-central1", confidence_level="SOMETIMES")
    with pytest.raises(ValueError, match="access_policy"):
        ModelPerimeterArgs(zone="production", project_number="1", access_policy="organizations/1")
    with pytest.raises(ValueError, match="extra_restricted_services"):
        ModelPerimeterArgs(zone="production", project_number="1", extra_restricted_services=["bigquery"])
