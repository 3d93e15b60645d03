"""Storage rules: no download or export path from a model zone (WP-03), and weights and signatures encrypted,
immutable, reachable only through the zone, with signatures under a compliance lock (WP-01, WP-02, WP-06, DP-09).

Which buckets hold weights or signatures is read from the `modelfort:data-class` tag; every bucket, tagged or not,
must be private and serve no website.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from modelfort_policy.conditions import policy_statements, public_allows
from modelfort_policy.props import as_int, as_list, as_mappings, referenced
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.tiers import STANDARD

# pulumi-aws 7 keeps the former V2 names as aliases; judge both.
BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
PUBLIC_ACCESS_BLOCK = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
ENCRYPTION = frozenset({
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
})
VERSIONING = frozenset({"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"})
OBJECT_LOCK = frozenset({
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
})
LOGGING = frozenset({"aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2"})
OWNERSHIP = frozenset({"aws:s3/bucketOwnershipControls:BucketOwnershipControls"})
BUCKET_POLICY = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})
WEBSITE = frozenset({
    "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration",
    "aws:s3/bucketWebsiteConfigurationV2:BucketWebsiteConfigurationV2",
})
ACLS = frozenset({"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"})

DATA_CLASS_TAG = "modelfort:data-class"
WEIGHTS, SIGNATURES, ACCESS_LOGS = "model-weights", "model-signatures", "access-logs"
MODEL_CLASSES = frozenset({WEIGHTS, SIGNATURES})
PUBLIC_CANNED_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


# ------------------------------------------------------------------------------------------------ helpers
def _buckets(resources: Sequence[StackResource]) -> list[StackResource]:
    return [r for r in resources if r.resource_type in BUCKETS]


def _data_class(bucket: StackResource) -> str | None:
    tags = bucket.props.get("tags") or {}
    value = tags.get(DATA_CLASS_TAG) if hasattr(tags, "get") else None
    return value if isinstance(value, str) else None


def _model_buckets(resources: Sequence[StackResource], classes: frozenset[str] = MODEL_CLASSES) -> list[StackResource]:
    return [b for b in _buckets(resources) if _data_class(b) in classes]


def _for_bucket(resources: Sequence[StackResource], types: frozenset[str], bucket: StackResource) -> list[StackResource]:
    """Configuration resources of `types` that point at `bucket`: by property dependency, or by a literal name."""
    name = bucket.props.get("bucket")
    found = []
    for resource in resources:
        if resource.resource_type not in types:
            continue
        if any(dep.urn == bucket.urn for dep in referenced(resource, "bucket")):
            found.append(resource)
        elif isinstance(name, str) and resource.props.get("bucket") == name:
            found.append(resource)
    return found


def _bucket_policy_statements(resources: Sequence[StackResource], bucket: StackResource) -> list[dict]:
    statements: list[dict] = []
    for policy in _for_bucket(resources, BUCKET_POLICY, bucket):
        statements.extend(policy_statements(policy.props.get("policy")) or [])
    return statements


def _has_deny_with(statements: list[dict], operator: str, key: str, value: str | None = None) -> bool:
    for statement in statements:
        if statement.get("Effect") != "Deny":
            continue
        condition = (statement.get("Condition") or {}).get(operator) or {}
        if key in condition and (value is None or str(condition[key]).lower() == value):
            return True
    return False


# ------------------------------------------------------------------------------------------------ WP-03: every bucket
def check_public_access_blocked(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for bucket in _buckets(resources):
        blocks = _for_bucket(resources, PUBLIC_ACCESS_BLOCK, bucket)
        if not any(all(block.props.get(flag) is True for flag in PUBLIC_ACCESS_FLAGS) for block in blocks):
            yield Finding(f"bucket '{bucket.name}' needs a public access block with all four settings on.", bucket.urn)


def check_no_website(resource: Resource, _ctx: Context) -> Iterable[str]:
    if resource.resource_type in WEBSITE:
        yield f"'{resource.name}' serves a bucket as a website: a download path out of the zone."
    elif resource.props.get("website") or resource.props.get("websiteEndpoint"):
        yield f"bucket '{resource.name}' is configured as a website: a download path out of the zone."


def check_no_public_grants(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if resource.resource_type in BUCKET_POLICY:
        statements = policy_statements(props.get("policy"))
        if statements is None:
            yield f"bucket policy '{resource.name}' cannot be read as a policy document."
            return
        # Any condition used to count as narrowing; only one that limits who the caller is does (conditions.py).
        for statement in public_allows(statements):
            yield (f"bucket policy '{resource.name}' allows anyone ({statement.get('Action')}): no condition narrows "
                   "the principal (aws:SourceVpce, aws:PrincipalOrgID, aws:PrincipalAccount ... with a positive match).")
        return
    if props.get("acl") in PUBLIC_CANNED_ACLS:
        yield f"'{resource.name}' grants the canned ACL '{props.get('acl')}'."
    policy = props.get("accessControlPolicy") or {}
    grants = as_mappings(policy.get("grants") if hasattr(policy, "get") else None) + as_mappings(props.get("grants"))
    for grant in grants:
        grantee = grant.get("grantee") or {}
        uri = grantee.get("uri") if hasattr(grantee, "get") else None
        uris = [uri] if uri else as_list(grant.get("uri"))
        if any(u in PUBLIC_GRANTEES for u in uris):
            yield f"'{resource.name}' grants access to {uris[0].rsplit('/', 1)[-1]}."


# ------------------------------------------------------------------------------------------------ model buckets
def check_model_bucket_encrypted(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for bucket in _model_buckets(resources):
        rules = [rule for config in _for_bucket(resources, ENCRYPTION, bucket) for rule in as_mappings(config.props.get("rules"))]
        defaults = [rule.get("applyServerSideEncryptionByDefault") or {} for rule in rules]
        customer_key = [d for d in defaults if str(d.get("sseAlgorithm", "")).startswith("aws:kms") and d.get("kmsMasterKeyId")]
        if not customer_key:
            yield Finding(f"{_data_class(bucket)} bucket '{bucket.name}' must default to SSE-KMS with a customer-managed key.", bucket.urn)


def check_model_bucket_immutable(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for bucket in _model_buckets(resources):
        versioning = _for_bucket(resources, VERSIONING, bucket)
        if not any((v.props.get("versioningConfiguration") or {}).get("status") == "Enabled" for v in versioning):
            yield Finding(f"model bucket '{bucket.name}' must keep every version (versioning Enabled).", bucket.urn)
        if bucket.props.get("objectLockEnabled") is not True or not _for_bucket(resources, OBJECT_LOCK, bucket):
            yield Finding(f"model bucket '{bucket.name}' must enable object lock with a default retention.", bucket.urn)


def check_model_bucket_tls_only(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for bucket in _model_buckets(resources):
        if not _has_deny_with(_bucket_policy_statements(resources, bucket), "Bool", "aws:SecureTransport", "false"):
            yield Finding(f"model bucket '{bucket.name}' needs a policy that denies requests without TLS.", bucket.urn)


def check_weights_bucket_endpoint_only(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for bucket in _model_buckets(resources, frozenset({WEIGHTS})):
        if not _has_deny_with(_bucket_policy_statements(resources, bucket), "StringNotEquals", "aws:SourceVpce"):
            yield Finding(f"weights bucket '{bucket.name}' must deny requests that do not come through the zone's VPC endpoint.", bucket.urn)


def check_model_bucket_owner_enforced(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for bucket in _model_buckets(resources):
        controls = _for_bucket(resources, OWNERSHIP, bucket)
        if not any((c.props.get("rule") or {}).get("objectOwnership") == "BucketOwnerEnforced" for c in controls):
            yield Finding(f"model bucket '{bucket.name}' must disable ACLs (object ownership BucketOwnerEnforced).", bucket.urn)


def check_model_bucket_access_logged(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for bucket in _model_buckets(resources):
        if not _for_bucket(resources, LOGGING, bucket):
            yield Finding(f"model bucket '{bucket.name}' must send S3 server access logs to the zone's log bucket.", bucket.urn)


def check_reference_store_compliance_lock(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
    minimum = ctx.tier.min_signature_retention_days
    for bucket in _model_buckets(resources, frozenset({SIGNATURES})):
        retentions = [
            (lock.props.get("rule") or {}).get("defaultRetention") or {} for lock in _for_bucket(resources, OBJECT_LOCK, bucket)
        ]
        compliant = [r for r in retentions if r.get("mode") == "COMPLIANCE"]
        if not compliant:
            yield Finding(f"signature bucket '{bucket.name}' must lock objects in COMPLIANCE mode (GOVERNANCE can be bypassed).", bucket.urn)
            continue
        days = max(_lock_days(r) for r in compliant)
        if days < minimum:
            yield Finding(f"signature bucket '{bucket.name}' keeps signatures {days} days; the {ctx.tier.name} tier needs {minimum}.", bucket.urn)


def _lock_days(retention: Any) -> int:
    return (as_int(retention.get("days")) or 0) + 365 * (as_int(retention.get("years")) or 0)


def check_access_log_retention(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
    minimum = ctx.tier.min_log_retention_days
    for bucket in [b for b in _buckets(resources) if _data_class(b) == ACCESS_LOGS]:
        retentions = [(lock.props.get("rule") or {}).get("defaultRetention") or {} for lock in _for_bucket(resources, OBJECT_LOCK, bucket)]
        days = max((_lock_days(r) for r in retentions), default=0)
        if bucket.props.get("objectLockEnabled") is not True or days < minimum:
            yield Finding(
                f"access-log bucket '{bucket.name}' must lock logs for at least {minimum} days (the {ctx.tier.name} tier); it locks {days}.",
                bucket.urn,
            )


def _model_rule(name: str, description: str, controls: tuple[str, ...], remediation: str, check, severity: str = "high") -> Rule:
    return Rule(name=name, description=description, severity=severity, controls=controls, remediation=remediation,
                mandatory_from=STANDARD, stack_check=check)


RULES = (
    Rule(
        name="s3-public-access-blocked",
        description="Every bucket has a public access block with all four settings on.",
        severity="critical",
        controls=("WP-03",),
        remediation="Add aws.s3.BucketPublicAccessBlock with block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets all True.",
        mandatory_from=STANDARD,
        stack_check=check_public_access_blocked,
    ),
    Rule(
        name="s3-no-website",
        description="No bucket in a model zone serves a website.",
        severity="critical",
        controls=("WP-03",),
        remediation="Remove the website configuration; models are served only through a ModelEndpoint.",
        mandatory_from=STANDARD,
        resource_types=WEBSITE | BUCKETS,
        resource_check=check_no_website,
    ),
    Rule(
        name="s3-no-public-grants",
        description="No bucket ACL or bucket policy grants access to everyone.",
        severity="critical",
        controls=("WP-03", "WP-02"),
        remediation="Grant access to named roles only (WeightsBucket.grant_read), and keep ACLs disabled.",
        mandatory_from=STANDARD,
        resource_types=ACLS | BUCKETS | BUCKET_POLICY,
        resource_check=check_no_public_grants,
    ),
    _model_rule("model-bucket-encrypted", "Buckets holding weights or signatures default to SSE-KMS with a customer-managed key.",
                ("WP-01",), "Use WeightsBucket / ModelReferenceStore, or set kms_master_key_id on the bucket's encryption rule.",
                check_model_bucket_encrypted, "critical"),
    _model_rule("model-bucket-immutable", "Buckets holding weights or signatures are versioned and under object lock.",
                ("DP-09", "WP-06"), "Enable versioning, object_lock_enabled=True and a BucketObjectLockConfiguration.",
                check_model_bucket_immutable),
    _model_rule("model-bucket-tls-only", "Buckets holding weights or signatures deny requests without TLS.",
                ("WP-02",), "Add a Deny statement on aws:SecureTransport = false to the bucket policy.", check_model_bucket_tls_only),
    _model_rule("weights-bucket-endpoint-only", "Weights buckets deny requests that bypass the zone's VPC endpoint.",
                ("WP-02", "NB-03"), "Keep WeightsBucket's endpoint deny (allow_access_outside_vpc_endpoint=False), or waive with a reason.",
                check_weights_bucket_endpoint_only),
    _model_rule("model-bucket-owner-enforced", "Buckets holding weights or signatures disable ACLs.",
                ("WP-02", "WP-03"), "Add aws.s3.BucketOwnershipControls with object_ownership BucketOwnerEnforced.",
                check_model_bucket_owner_enforced, "medium"),
    _model_rule("model-bucket-access-logged", "Buckets holding weights or signatures log every request.",
                ("OB-03", "WP-02"), "Add aws.s3.BucketLogging to the zone's access-log bucket.", check_model_bucket_access_logged, "medium"),
    _model_rule("reference-store-compliance-lock", "Signature buckets lock objects in COMPLIANCE mode for at least the tier's retention.",
                ("WP-06", "OB-04"), "Use ModelReferenceStore, or set the object lock default retention to COMPLIANCE with enough days.",
                check_reference_store_compliance_lock),
    Rule(
        name="access-log-retention",
        description="Access-log buckets keep logs under object lock for at least the tier's log retention.",
        severity="medium",
        controls=("OB-03",),
        remediation="Use AccessLogBucket with the zone's retention, or set object lock default retention days.",
        mandatory_from=STANDARD,
        stack_check=check_access_log_retention,
    ),
)
