"""Evidence and alerting rules (OB-01..OB-08, WP-02): trails that cannot be silently edited, evidence that cannot be
deleted, and alerts that reach someone.

Which buckets and log groups hold evidence is read from the `modelfort:data-class=evidence` tag, as the storage rules
read weights and signatures; trails, SNS topics and alarms are judged wherever they appear.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.props import as_list, as_mappings, referenced
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.rules.storage import (
    ENCRYPTION,
    MODEL_CLASSES,
    OBJECT_LOCK,
    VERSIONING,
    _buckets,
    _bucket_policy_statements,
    _data_class,
    _for_bucket,
    _has_deny_with,
    _lock_days,
)
from modelfort_policy.tiers import STANDARD

TRAIL = "aws:cloudtrail/trail:Trail"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SNS_TOPIC = "aws:sns/topic:Topic"
ALARMS = frozenset({"aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm"})
EVIDENCE = "evidence"
DATA_CLASS_TAG = "modelfort:data-class"
# SNS's AWS-managed key: CloudWatch cannot use it, so alarms published to such a topic are silently dropped.
AWS_MANAGED_SNS_KEY = "alias/aws/sns"


# ------------------------------------------------------------------------------------------------ CloudTrail
def check_trail_log_file_validation(resource: Resource, _ctx: Context) -> Iterable[str]:
    if resource.props.get("enableLogFileValidation") is not True:
        yield (f"trail '{resource.name}' does not validate its log files: without signed digests, an edited or deleted "
               "log file goes unnoticed (enable_log_file_validation=True).")


def check_trail_encrypted(resource: Resource, _ctx: Context) -> Iterable[str]:
    if not _present(resource.props, "kmsKeyId"):
        yield f"trail '{resource.name}' must encrypt its log files with a customer-managed KMS key (kms_key_id)."


def check_trail_all_regions(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if props.get("isMultiRegionTrail") is not True:
        yield f"trail '{resource.name}' records one region only; activity elsewhere would leave no trace (is_multi_region_trail=True)."
    # AWS's default for a missing includeGlobalServiceEvents is true; only an explicit false drops IAM and STS events.
    if props.get("includeGlobalServiceEvents") is False:
        yield f"trail '{resource.name}' drops global service events (IAM, STS): include_global_service_events must stay True."
    if props.get("enableLogging") is False:
        yield f"trail '{resource.name}' is switched off (enable_logging=False)."


def check_trail_delivers_to_evidence(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    evidence = [b for b in _buckets(resources) if _data_class(b) == EVIDENCE]
    names = {_known(b.props, "bucket") for b in evidence} - {None}
    urns = {b.urn for b in evidence}
    for trail in (r for r in resources if r.resource_type == TRAIL):
        by_dependency = any(dep.urn in urns for dep in referenced(trail, "s3BucketName"))
        if not by_dependency and _known(trail.props, "s3BucketName") not in names:
            yield Finding(
                f"trail '{trail.name}' must deliver to an evidence bucket (tagged {DATA_CLASS_TAG}={EVIDENCE}, under a "
                "COMPLIANCE object lock), or its log files can be deleted.",
                trail.urn,
            )


def check_trail_model_data_events(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    """When a stack records with CloudTrail, its trails must record object-level access to every weights and signature
    bucket: who read which model file is the first question after a suspected leak (WP-02, OB-03)."""
    trails = [r for r in resources if r.resource_type == TRAIL]
    if not trails:
        return
    for bucket in [b for b in _buckets(resources) if _data_class(b) in MODEL_CLASSES]:
        if not any(_trail_watches(trail, bucket) for trail in trails):
            yield Finding(
                f"{_data_class(bucket)} bucket '{bucket.name}' is not covered by any trail's S3 data events: reads of "
                "its objects would leave no record.",
                bucket.urn,
            )


def _trail_watches(trail: StackResource, bucket: StackResource) -> bool:
    object_space = [f"{arn}/" for arn in _bucket_arns(bucket)]

    def covers(values: Any) -> bool:
        # A selector value covers the bucket when every object ARN of the bucket starts with it.
        try:
            return any(isinstance(v, str) and v.startswith("arn:") and space.startswith(v)
                       for v in as_list(values) for space in object_space)
        except UnknownValueError:  # computed at deploy time and not derived from this bucket: no match
            return False

    for selector in as_mappings(trail.props.get("advancedEventSelectors")):
        fields = {f.get("field"): f for f in as_mappings(selector.get("fieldSelectors"))}
        if "Data" not in as_list((fields.get("eventCategory") or {}).get("equals")):
            continue
        if "AWS::S3::Object" not in as_list((fields.get("resources.type") or {}).get("equals")):
            continue
        arn_selector = fields.get("resources.ARN")
        if arn_selector is None:
            return True  # every object of every bucket
        if any(as_list(arn_selector.get(key)) for key in ("notEquals", "notStartsWiths", "notEndsWiths", "endsWiths")):
            continue  # exclusions or suffixes: cannot tell what is left, so it does not count
        # At preview a new bucket's ARN is unknown; a selector computed from the bucket depends on it.
        if any(dep.urn == bucket.urn for dep in referenced(trail, "advancedEventSelectors")):
            return True
        if covers(arn_selector.get("startsWiths")) or covers(arn_selector.get("equals")):
            return True
    for selector in as_mappings(trail.props.get("eventSelectors")):
        for data in as_mappings(selector.get("dataResources")):
            if data.get("type") != "AWS::S3::Object":
                continue
            if any(dep.urn == bucket.urn for dep in referenced(trail, "eventSelectors")) or covers(data.get("values")):
                return True
    return False


def _bucket_arns(bucket: StackResource) -> list[str]:
    arns = []
    arn = _known(bucket.props, "arn")
    name = _known(bucket.props, "bucket")
    if isinstance(arn, str) and arn:
        arns.append(arn)
    if isinstance(name, str) and name:
        arns.append(f"arn:aws:s3:::{name}")
    return arns


def _known(props: Any, key: str) -> Any:
    try:
        return props.get(key)
    except UnknownValueError:  # a value computed at deploy time: nothing to compare
        return None


def _present(props: Any, key: str) -> bool:
    """Set to something: at preview a new key's ARN is unknown, but it will exist, which is all a presence check asks."""
    try:
        return bool(props.get(key))
    except UnknownValueError:
        return True


def _present_list(props: Any, key: str) -> bool:
    try:
        return any(as_list(props.get(key)))
    except UnknownValueError:  # e.g. the ARN of a topic created in the same update
        return True


# ------------------------------------------------------------------------------------------------ evidence storage
def _evidence_buckets(resources: Sequence[StackResource]) -> list[StackResource]:
    return [b for b in _buckets(resources) if _data_class(b) == EVIDENCE]


def check_evidence_bucket_locked(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
    minimum = ctx.tier.min_log_retention_days
    for bucket in _evidence_buckets(resources):
        locks = _for_bucket(resources, OBJECT_LOCK, bucket)
        retentions = [(lock.props.get("rule") or {}).get("defaultRetention") or {} for lock in locks]
        compliant = [r for r in retentions if r.get("mode") == "COMPLIANCE"]
        if bucket.props.get("objectLockEnabled") is not True or not compliant:
            yield Finding(
                f"evidence bucket '{bucket.name}' must enable object lock with a COMPLIANCE default retention "
                "(GOVERNANCE can be bypassed, and without a lock evidence can be deleted).",
                bucket.urn,
            )
            continue
        days = max(_lock_days(r) for r in compliant)
        if days < minimum:
            yield Finding(f"evidence bucket '{bucket.name}' locks evidence {days} days; the {ctx.tier.name} tier needs {minimum}.", bucket.urn)
        versioning = _for_bucket(resources, VERSIONING, bucket)
        if not any((v.props.get("versioningConfiguration") or {}).get("status") == "Enabled" for v in versioning):
            yield Finding(f"evidence bucket '{bucket.name}' must keep every version (versioning Enabled).", bucket.urn)


def check_evidence_bucket_encrypted(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for bucket in _evidence_buckets(resources):
        rules = [rule for config in _for_bucket(resources, ENCRYPTION, bucket) for rule in as_mappings(config.props.get("rules"))]
        defaults = [rule.get("applyServerSideEncryptionByDefault") or {} for rule in rules]
        if not any(str(d.get("sseAlgorithm", "")).startswith("aws:kms") and _present(d, "kmsMasterKeyId") for d in defaults):
            yield Finding(f"evidence bucket '{bucket.name}' must default to SSE-KMS with a customer-managed key.", bucket.urn)
        if not _has_deny_with(_bucket_policy_statements(resources, bucket), "Bool", "aws:SecureTransport", "false"):
            yield Finding(f"evidence bucket '{bucket.name}' needs a policy that denies requests without TLS.", bucket.urn)


def check_evidence_log_group_protected(resource: Resource, _ctx: Context) -> Iterable[str]:
    tags = resource.props.get("tags") or {}
    if not hasattr(tags, "get") or tags.get(DATA_CLASS_TAG) != EVIDENCE:
        return
    if resource.props.get("deletionProtectionEnabled") is not True:
        yield (f"evidence log group '{resource.name}' can be deleted before its retention ends: set "
               "deletion_protection_enabled=True.")


# ------------------------------------------------------------------------------------------------ alerting
def check_topic_encrypted(resource: Resource, _ctx: Context) -> Iterable[str]:
    key = _known(resource.props, "kmsMasterKeyId")
    if not _present(resource.props, "kmsMasterKeyId"):
        yield f"SNS topic '{resource.name}' must be encrypted with a customer-managed KMS key (kms_master_key_id)."
    elif isinstance(key, str) and (key == AWS_MANAGED_SNS_KEY or key.endswith(":" + AWS_MANAGED_SNS_KEY)):
        yield (f"SNS topic '{resource.name}' uses the AWS-managed key {AWS_MANAGED_SNS_KEY}, which CloudWatch cannot use: "
               "alarms published to it are dropped. Use a customer-managed key that allows cloudwatch.amazonaws.com.")


def check_alarm_has_actions(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if not _present_list(props, "alarmActions"):
        yield f"alarm '{resource.name}' notifies nobody: give it alarm_actions (the zone's on-call topic)."
    elif props.get("actionsEnabled") is False:
        yield f"alarm '{resource.name}' has its actions disabled (actions_enabled=False)."


def _rule(name: str, description: str, controls: tuple[str, ...], remediation: str, severity: str = "high", *,
          types: frozenset[str] | None = None, check: Any = None, stack_check: Any = None) -> Rule:
    return Rule(name=name, description=description, severity=severity, controls=controls, remediation=remediation,
                mandatory_from=STANDARD, resource_types=types or frozenset(), resource_check=check, stack_check=stack_check)


_TRAIL = frozenset({TRAIL})

RULES = (
    _rule("cloudtrail-log-file-validation", "Trails validate their log files with signed digests.", ("OB-03",),
          "Set enable_log_file_validation=True (EvidenceStore does).", types=_TRAIL, check=check_trail_log_file_validation),
    _rule("cloudtrail-kms-encrypted", "Trails encrypt log files with a customer-managed key.", ("OB-03",),
          "Set kms_key_id to a rotated customer key whose policy admits this trail (EvidenceStore does).",
          types=_TRAIL, check=check_trail_encrypted),
    _rule("cloudtrail-all-regions", "Trails record every region, global service events, and are switched on.", ("OB-01", "OB-03"),
          "Set is_multi_region_trail=True, keep include_global_service_events and enable_logging True.",
          types=_TRAIL, check=check_trail_all_regions),
    _rule("cloudtrail-evidence-bucket", "Trails deliver into a COMPLIANCE-locked evidence bucket.", ("OB-03",),
          "Deliver to EvidenceStore's bucket, or tag your bucket modelfort:data-class=evidence and lock it in COMPLIANCE mode.",
          stack_check=check_trail_delivers_to_evidence),
    _rule("cloudtrail-model-data-events", "Trails record object-level access to every weights and signature bucket.",
          ("OB-03", "WP-02"), "Pass the bucket names to EvidenceStoreArgs.watched_bucket_names (S3 data events).",
          "medium", stack_check=check_trail_model_data_events),
    _rule("evidence-bucket-compliance-lock", "Evidence buckets are versioned and locked in COMPLIANCE mode for at least the tier's log retention.",
          ("OB-03",), "Use EvidenceStore, or enable object lock with a COMPLIANCE default retention of enough days.",
          "critical", stack_check=check_evidence_bucket_locked),
    _rule("evidence-bucket-encrypted", "Evidence buckets default to SSE-KMS with a customer key and refuse plain HTTP.",
          ("OB-03",), "Use EvidenceStore, or set kms_master_key_id and deny aws:SecureTransport=false.",
          stack_check=check_evidence_bucket_encrypted),
    _rule("evidence-log-group-protected", "Log groups tagged as evidence have deletion protection.", ("OB-03",),
          "Set deletion_protection_enabled=True on the log group.", "medium",
          types=frozenset({LOG_GROUP}), check=check_evidence_log_group_protected),
    _rule("sns-topic-encrypted", "SNS topics are encrypted with a customer-managed key CloudWatch can use.",
          ("OB-05", "OB-06", "OB-07", "OB-08"), "Set kms_master_key_id to a customer key that allows cloudwatch.amazonaws.com (SecurityAlerts does).",
          "medium", types=frozenset({SNS_TOPIC}), check=check_topic_encrypted),
    _rule("alarm-has-actions", "Every alarm notifies someone.", ("OB-05", "OB-06", "OB-07", "OB-08"),
          "Set alarm_actions to the zone's on-call topic (SecurityAlerts.topic_arn), and leave actions enabled.",
          "medium", types=ALARMS, check=check_alarm_has_actions),
)
