"""Google Cloud data rules: buckets, keys, secrets, Pub/Sub topics, evidence and the perimeter (WP-01..03, WP-06,
SC-03, SC-04, OB-01, OB-03, DP-09).

Which buckets hold weights or signatures is read from the `modelfort-data-class` label; every bucket, labelled or not,
must be private and encrypted with a customer key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from modelfort_policy.props import as_int, as_list, as_mappings, is_open_cidr, referenced
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.rules.gcp_common import (
    BUCKET,
    CLUSTER,
    NETWORK,
    SECONDS_PER_DAY,
    SIGNATURES,
    WEIGHTS,
    data_class,
    days_text,
    is_set,
    of_type,
    seconds,
    strings,
)
from modelfort_policy.tiers import CRITICAL, STANDARD

CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
SECRET = "gcp:secretmanager/secret:Secret"
PUBSUB_TOPIC = "gcp:pubsub/topic:Topic"
LOG_BUCKETS = frozenset({
    "gcp:logging/projectBucketConfig:ProjectBucketConfig",
    "gcp:logging/folderBucketConfig:FolderBucketConfig",
    "gcp:logging/organizationBucketConfig:OrganizationBucketConfig",
    "gcp:logging/billingAccountBucketConfig:BillingAccountBucketConfig",
})
PROJECT_SINK = "gcp:logging/projectSink:ProjectSink"
PERIMETER = "gcp:accesscontextmanager/servicePerimeter:ServicePerimeter"
AUDIT_CONFIG = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
SYMMETRIC = "ENCRYPT_DECRYPT"
PERIMETER_SERVICES = ("storage.googleapis.com", "cloudkms.googleapis.com", "secretmanager.googleapis.com", "artifactregistry.googleapis.com")
"""Where a zone keeps weights, signatures, keys, secrets and images: a perimeter must restrict all four."""


# ---------------------------------------------------------------------------------------------------- every bucket
def check_bucket_private(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if props.get("publicAccessPrevention") != "enforced":
        yield f"bucket '{resource.name}' must enforce public access prevention (public_access_prevention='enforced')."
    if props.get("uniformBucketLevelAccess") is not True:
        yield f"bucket '{resource.name}' must use uniform bucket-level access (IAM only, no object ACLs)."
    if props.get("website"):
        yield f"bucket '{resource.name}' is configured as a website: a download path out of the zone."


def check_bucket_cmek(resource: Resource, _ctx: Context) -> Iterable[str]:
    if not is_set(resource.props.get("encryption"), "defaultKmsKeyName"):
        yield f"bucket '{resource.name}' must encrypt with a customer-managed key (encryption.default_kms_key_name)."


def check_topic_cmek(resource: Resource, _ctx: Context) -> Iterable[str]:
    """Telemetry (prompts, responses) crosses Pub/Sub in the detection stages; without `kmsKeyName` its messages rest
    under a Google-managed key. A key unknown at preview is a key (as for buckets)."""
    if not is_set(resource.props, "kmsKeyName"):
        yield f"Pub/Sub topic '{resource.name}' must encrypt its messages with a customer-managed key (kms_key_name)."


# ---------------------------------------------------------------------------------------------------- model buckets
def _model_buckets(resources: Sequence[StackResource], *classes: str) -> list[StackResource]:
    return [b for b in of_type(resources, BUCKET) if data_class(b) in (classes or (WEIGHTS, SIGNATURES))]


def _locked_retention(bucket: StackResource) -> int | None:
    policy = bucket.props.get("retentionPolicy") or {}
    if policy.get("isLocked") is not True:
        return None
    return seconds(policy.get("retentionPeriod")) or 0


def check_model_bucket_immutable(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    # Cloud Storage allows either versioning or a retention policy on a bucket; either keeps a release from being
    # silently replaced, and the locked retention policy is the stronger one.
    for bucket in _model_buckets(resources):
        if (bucket.props.get("versioning") or {}).get("enabled") is not True and _locked_retention(bucket) is None:
            yield Finding(f"{data_class(bucket)} bucket '{bucket.name}' must keep every version (versioning) or lock a retention policy.", bucket.urn)


def check_weights_zone_network_only(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for bucket in _model_buckets(resources, WEIGHTS):
        ip_filter = bucket.props.get("ipFilter") or {}
        if ip_filter.get("mode") != "Enabled" or not as_mappings(ip_filter.get("vpcNetworkSources")):
            yield Finding(f"weights bucket '{bucket.name}' must accept requests only from the zone's network (ip_filter mode "
                          "Enabled with the zone's VPC as a source).", bucket.urn)
            continue
        public = ip_filter.get("publicNetworkSource") or {}
        for cidr in strings(public.get("allowedIpCidrRanges") if hasattr(public, "get") else None):
            if is_open_cidr(cidr):
                yield Finding(f"weights bucket '{bucket.name}' admits requests from {cidr}.", bucket.urn)


def check_signature_retention(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
    minimum = ctx.tier.min_signature_retention_days
    for bucket in _model_buckets(resources, SIGNATURES):
        locked = _locked_retention(bucket)
        if locked is None:
            yield Finding(f"signature bucket '{bucket.name}' must lock its retention policy (retention_policy.is_locked=True); "
                          "an unlocked policy can be removed.", bucket.urn)
        elif locked < minimum * SECONDS_PER_DAY:
            yield Finding(f"signature bucket '{bucket.name}' keeps signatures {days_text(locked)}; the {ctx.tier.name} tier needs {minimum}.",
                          bucket.urn)


# ---------------------------------------------------------------------------------------------------- keys
def check_kms_key_rotation(resource: Resource, ctx: Context) -> Iterable[str]:
    props = resource.props
    if (props.get("purpose") or SYMMETRIC) != SYMMETRIC:
        return  # Cloud KMS rotates only symmetric keys; asymmetric signing keys are pinned trust roots by design
    period = seconds(props.get("rotationPeriod"))
    maximum = ctx.tier.max_key_rotation_days
    if period is None:
        yield f"Cloud KMS key '{resource.name}' never rotates (rotation_period unset); the {ctx.tier.name} tier needs at most {maximum} days."
    elif period > maximum * SECONDS_PER_DAY:
        yield f"Cloud KMS key '{resource.name}' rotates every {days_text(period)}; the {ctx.tier.name} tier allows at most {maximum}."


def check_signing_key_hsm(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if not str(props.get("purpose") or "").startswith("ASYMMETRIC_SIGN"):
        return
    level = (props.get("versionTemplate") or {}).get("protectionLevel") or "SOFTWARE"
    if level not in ("HSM", "EXTERNAL", "EXTERNAL_VPC"):
        yield (f"signing key '{resource.name}' keeps its private key in software ({level}); the critical tier signs "
               "releases and attestations only with keys that never leave an HSM.")


# ---------------------------------------------------------------------------------------------------- secrets
def check_secret_cmek(resource: Resource, _ctx: Context) -> Iterable[str]:
    replication = resource.props.get("replication") or {}
    user_managed = replication.get("userManaged") or {}
    replicas = as_mappings(user_managed.get("replicas") if hasattr(user_managed, "get") else None)
    if replicas:
        unencrypted = [str(r.get("location")) for r in replicas if not is_set(r.get("customerManagedEncryption"), "kmsKeyName")]
        if unencrypted:
            yield f"secret '{resource.name}' keeps replicas in {', '.join(unencrypted)} without a customer-managed key."
        return
    auto = replication.get("auto") if hasattr(replication, "get") else None
    if not (hasattr(auto, "get") and is_set(auto.get("customerManagedEncryption"), "kmsKeyName")):
        yield f"secret '{resource.name}' must be encrypted with a customer-managed key (replication customer_managed_encryption)."


def check_secret_rotation(resource: Resource, ctx: Context) -> Iterable[str]:
    props = resource.props
    rotation = props.get("rotation") or {}
    period = seconds(rotation.get("rotationPeriod")) if hasattr(rotation, "get") else None
    maximum = ctx.tier.max_secret_rotation_days
    if period is None:
        yield f"secret '{resource.name}' never rotates (rotation.rotation_period unset); the {ctx.tier.name} tier needs at most {maximum} days."
    elif period > maximum * SECONDS_PER_DAY:
        yield f"secret '{resource.name}' rotates every {days_text(period)}; the {ctx.tier.name} tier allows at most {maximum}."
    if not as_mappings(props.get("topics")):
        yield f"secret '{resource.name}' names no Pub/Sub topic, so no rotation function ever hears that it is due."


# ---------------------------------------------------------------------------------------------------- evidence
def check_log_bucket_locked(resource: Resource, ctx: Context) -> Iterable[str]:
    props = resource.props
    if props.get("locked") is not True:
        yield f"log bucket '{resource.name}' must be locked: until it is, anyone with logging admin can delete the evidence."
    retention = as_int(props.get("retentionDays"))
    minimum = ctx.tier.min_log_retention_days
    if retention is None or retention < minimum:
        yield f"log bucket '{resource.name}' keeps logs {retention if retention is not None else 'the default 30'} days; the {ctx.tier.name} tier needs {minimum}."
    if not is_set(props.get("cmekSettings"), "kmsKeyName"):
        yield f"log bucket '{resource.name}' must be encrypted with a customer-managed key (cmek_settings)."


def check_evidence_sink(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    anchors = of_type(resources, NETWORK) or of_type(resources, CLUSTER)
    if not anchors:
        return
    locked = {b.urn for b in resources if b.resource_type in LOG_BUCKETS and b.props.get("locked") is True}
    for sink in of_type(resources, PROJECT_SINK):
        if sink.props.get("disabled") is True:
            continue
        audit = "cloudaudit.googleapis.com" in str(sink.props.get("filter") or "cloudaudit.googleapis.com")
        if audit and any(dep.urn in locked for dep in referenced(sink, "destination")):
            return
    yield Finding(
        f"'{anchors[0].name}' is a model zone without evidence storage: route audit logs with a project sink to a locked "
        "log bucket of this stack (EvidenceLog does).",
        anchors[0].urn,
    )


def check_data_access_logged(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    """Reads of weights and signatures are evidence (OB-03), as S3 server access logs are on AWS: Cloud Storage's Data
    Access audit logs must be on, for reads and writes, with nobody exempted."""
    buckets = _model_buckets(resources)
    if not buckets:
        return
    for config in of_type(resources, AUDIT_CONFIG):
        if config.props.get("service") not in ("storage.googleapis.com", "allServices"):
            continue
        logs = {str(c.get("logType")): c for c in as_mappings(config.props.get("auditLogConfigs"))}
        if all(kind in logs and not as_list(logs[kind].get("exemptedMembers")) for kind in ("DATA_READ", "DATA_WRITE")):
            return
    for bucket in buckets:
        yield Finding(f"{data_class(bucket)} bucket '{bucket.name}' is read without a trace: turn on Cloud Storage Data Access "
                      "audit logs (DATA_READ and DATA_WRITE, no exempted members).", bucket.urn)


# ---------------------------------------------------------------------------------------------------- perimeter
def check_perimeter(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    buckets = _model_buckets(resources)
    if not buckets:
        return
    enforced = []
    for perimeter in of_type(resources, PERIMETER):
        status = perimeter.props.get("status") or {}
        services = strings(status.get("restrictedServices")) if hasattr(status, "get") else []
        missing = [s for s in PERIMETER_SERVICES if s not in services]
        if not services or not as_list(status.get("resources")):
            yield Finding(f"service perimeter '{perimeter.name}' enforces nothing (a dry run, or no projects and services).", perimeter.urn)
        elif missing:
            yield Finding(f"service perimeter '{perimeter.name}' leaves {', '.join(missing)} unrestricted.", perimeter.urn)
        else:
            enforced.append(perimeter)
    if not enforced:
        for bucket in buckets:
            yield Finding(f"{data_class(bucket)} bucket '{bucket.name}' sits outside any enforced VPC Service Controls perimeter.", bucket.urn)


RULES = (
    Rule(name="gcs-bucket-private", description="Every Cloud Storage bucket enforces public access prevention, uses uniform access and serves no website.",
         severity="critical", controls=("WP-03", "WP-02"), mandatory_from=STANDARD,
         remediation="Set public_access_prevention='enforced' and uniform_bucket_level_access=True; remove website.",
         resource_types=frozenset({BUCKET}), resource_check=check_bucket_private),
    Rule(name="gcs-bucket-cmek", description="Every Cloud Storage bucket encrypts with a customer-managed key.",
         severity="high", controls=("WP-01",), mandatory_from=STANDARD,
         remediation="Set encryption.default_kms_key_name to a rotated Cloud KMS key the storage agent may use.",
         resource_types=frozenset({BUCKET}), resource_check=check_bucket_cmek),
    Rule(name="gcp-pubsub-topic-cmek", description="Every Pub/Sub topic encrypts its messages with a customer-managed key.",
         severity="high", controls=("OB-03", "OB-01"), mandatory_from=STANDARD,
         remediation="Set kms_key_name to a rotated Cloud KMS key the Pub/Sub agent may use (TelemetryWatch and "
                     "SecretRotation do).",
         resource_types=frozenset({PUBSUB_TOPIC}), resource_check=check_topic_cmek),
    Rule(name="gcs-model-bucket-immutable", description="Buckets holding weights or signatures keep versions or lock a retention policy.",
         severity="high", controls=("DP-09", "WP-06"), mandatory_from=STANDARD,
         remediation="Enable versioning (weights) or a locked retention policy (signatures).", stack_check=check_model_bucket_immutable),
    Rule(name="gcs-weights-zone-network-only", description="Weights buckets accept requests only from the zone's VPC network.",
         severity="high", controls=("WP-02", "NB-03"), mandatory_from=STANDARD,
         remediation="Keep WeightsBucket's IP filter (allow_access_outside_zone_network=False), or waive with a reason.",
         stack_check=check_weights_zone_network_only),
    Rule(name="gcs-signature-retention-locked", description="Signature buckets lock a retention policy at least as long as the tier requires.",
         severity="high", controls=("WP-06", "OB-04"), mandatory_from=STANDARD,
         remediation="Use ModelReferenceStore, or set retention_policy with is_locked=True and enough seconds.",
         stack_check=check_signature_retention),
    Rule(name="gcp-kms-key-rotation", description="Symmetric Cloud KMS keys rotate at least as often as the tier requires.",
         severity="high", controls=("WP-01", "OB-03"), mandatory_from=STANDARD,
         remediation="Set rotation_period (seconds, e.g. '7776000s') within the tier's maximum.",
         resource_types=frozenset({CRYPTO_KEY}), resource_check=check_kms_key_rotation),
    Rule(name="gcp-signing-key-hsm", description="In the critical tier, keys that sign releases and attestations live in an HSM.",
         severity="high", controls=("WP-06", "ST-05"), mandatory_from=CRITICAL,
         remediation="Set version_template.protection_level='HSM' (ModelReferenceStore / ImageTrust hsm=True).",
         resource_types=frozenset({CRYPTO_KEY}), resource_check=check_signing_key_hsm),
    Rule(name="gcp-secret-cmek", description="Secret Manager secrets are encrypted with a customer-managed key in every replica.",
         severity="high", controls=("SC-03",), mandatory_from=STANDARD,
         remediation="Use RotatedSecret, or set replication user_managed replicas with customer_managed_encryption.",
         resource_types=frozenset({SECRET}), resource_check=check_secret_cmek),
    Rule(name="gcp-secret-rotation", description="Secret Manager secrets rotate at least as often as the tier requires, announced on a topic.",
         severity="high", controls=("SC-04", "SC-05"), mandatory_from=STANDARD,
         remediation="Set rotation.rotation_period within the tier's maximum and topics to the zone's rotation topic.",
         resource_types=frozenset({SECRET}), resource_check=check_secret_rotation),
    Rule(name="gcp-log-bucket-locked", description="Log buckets are locked, customer-encrypted and keep logs as long as the tier requires.",
         severity="high", controls=("OB-03",), mandatory_from=STANDARD,
         remediation="Use EvidenceLog, or set locked=True, retention_days and cmek_settings.",
         resource_types=LOG_BUCKETS, resource_check=check_log_bucket_locked),
    Rule(name="gcp-evidence-sink", description="A GCP model zone routes its audit logs to a locked log bucket.",
         severity="high", controls=("OB-03", "OB-01"), mandatory_from=STANDARD,
         remediation="Add EvidenceLog (a project sink with the audit logs to a locked ProjectBucketConfig).",
         stack_check=check_evidence_sink),
    Rule(name="gcs-data-access-logged", description="When a stack holds weights or signatures, Cloud Storage Data Access audit logs are on.",
         severity="medium", controls=("OB-03", "WP-02"), mandatory_from=STANDARD,
         remediation="Use EvidenceLog, or add gcp.projects.IAMAuditConfig for storage.googleapis.com with DATA_READ and DATA_WRITE.",
         stack_check=check_data_access_logged),
    Rule(name="gcp-vpc-sc-perimeter", description="In the critical tier, weights and signatures sit inside an enforced VPC Service Controls perimeter.",
         severity="high", controls=("WP-02", "WP-03", "NB-03"), mandatory_from=CRITICAL,
         remediation="Add ModelPerimeter with the organization's access policy (enforced, not dry run).",
         stack_check=check_perimeter),
)
