"""WeightsBucket (GCP): model weights in Cloud Storage, encrypted with a rotated customer key, reachable only from the
zone's network, versioned, and never public.

Controls: WP-01 (CMEK, rotated), WP-02 (least-privilege reads of one model's prefix; requests only from the zone's
VPC through the bucket's IP filter), WP-03 (public access prevention enforced, uniform access: no ACLs, no website),
DP-09 (versions kept; deleted objects recoverable for a month).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp.common import (
    DATA_CLASS_LABEL,
    SECONDS_PER_DAY,
    check_rotation_days,
    check_zone_and_project,
    child_options,
    customer_key,
    grant_key_use,
    zone_labels,
)

WEIGHTS_CLASS = "model-weights"
SOFT_DELETE_DAYS = 30
"""Deleted or overwritten weights stay recoverable for a month, which keeps the previous release for rollback (DP-12)."""
READ_ROLE = "roles/storage.objectViewer"


def harden_bucket_args(*, kms_key_id: pulumi.Input[str]) -> dict:
    """What every ModelFort bucket gets: CMEK by default and no other encryption accepted, IAM only (no ACLs), never
    public. Uploads naming a Google-managed or customer-supplied key are refused, so nothing lands outside the CMEK."""
    return {
        "uniform_bucket_level_access": True,
        "public_access_prevention": "enforced",
        "encryption": {
            "default_kms_key_name": kms_key_id,
            "google_managed_encryption_enforcement_config": {"restriction_mode": "FullyRestricted"},
            "customer_supplied_encryption_enforcement_config": {"restriction_mode": "FullyRestricted"},
        },
        "force_destroy": False,
    }


@dataclass(frozen=True, kw_only=True)
class WeightsBucketArgs:
    zone: str
    project: str
    region: str
    """The bucket's location (and its key's)."""
    key_ring_id: pulumi.Input[str]
    network_id: pulumi.Input[str]
    """The zone's VPC (`projects/<p>/global/networks/<n>`): the only network whose requests the bucket accepts."""
    zone_cidr: str
    """The zone's CIDR: the addresses of that network the bucket accepts."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates. Defaults to 365."""
    kms_key_id: pulumi.Input[str] | None = None
    """Bring your own key (in `region`); None (the default) creates a rotated one."""
    publisher_ip_ranges: Sequence[str] = ()
    """Public egress ranges of the release pipeline that uploads weights from outside the zone. Defaults to none
    (publish from inside the zone's network)."""
    allow_access_outside_zone_network: bool = False
    """Escape hatch (weakens WP-02): turn the bucket's IP filter off, so any network may reach it with credentials.
    Defaults to False; a policy blocks it unless waived."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("WeightsBucketArgs", self.zone, self.project)
        check_rotation_days("WeightsBucketArgs", "key_rotation_days", self.key_rotation_days)
        for cidr in self.publisher_ip_ranges:
            if cidr.endswith("/0"):
                raise ValueError(f"WeightsBucketArgs.publisher_ip_ranges: {cidr} would admit every address")


class WeightsBucket(pulumi.ComponentResource):
    CONTROLS = ("WP-01", "WP-02", "WP-03", "DP-09")
    bucket_name: pulumi.Output[str]
    kms_key_id: pulumi.Output[str]

    def __init__(self, name: str, args: WeightsBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:WeightsBucket", name, None, opts)
        self._name = name
        self._child = child = child_options(self, opts)
        labels = zone_labels(args.zone, args.labels, **{DATA_CLASS_LABEL: WEIGHTS_CLASS})
        if args.kms_key_id is None:
            self.kms_key_id = customer_key(f"{name}-key", key_ring_id=args.key_ring_id, rotation_days=args.key_rotation_days,
                                           guards="model-weights", labels=labels, opts=child).id
        else:
            self.kms_key_id = pulumi.Output.from_input(args.kms_key_id)
        # Cloud Storage encrypts and decrypts with its service agent: readers need no key permission at all.
        agent = gcp.storage.get_project_service_account_output(project=args.project, opts=pulumi.InvokeOutputOptions(parent=self))
        grants = grant_key_use(f"{name}-key-storage", self.kms_key_id, [agent.member], child)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            location=args.region,
            labels=labels,
            versioning={"enabled": True},
            soft_delete_policy={"retention_duration_seconds": SOFT_DELETE_DAYS * SECONDS_PER_DAY},
            ip_filter=_ip_filter(args),
            **harden_bucket_args(kms_key_id=self.kms_key_id),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=grants)),
        )
        self._bucket = bucket
        self.bucket_name = bucket.name
        self.register_outputs({"bucket_name": self.bucket_name, "kms_key_id": self.kms_key_id})

    def grant_read(self, grant_name: str, member: pulumi.Input[str], prefix: str) -> gcp.storage.BucketIAMMember:
        """Let `member` read and list objects under `prefix` and nothing else (an IAM condition on the object name and
        on the listing prefix)."""
        if not prefix or "*" in prefix or "\"" in prefix:
            raise ValueError("WeightsBucket.grant_read: prefix must name a model path, without wildcards or quotes")
        path = prefix.strip("/") + "/"
        return conditional_read(f"{self._name}-{grant_name}-read", self._bucket, member, title=f"read {path}",
                                description="Objects of one model release only",
                                expression=lambda bucket: read_condition(bucket, path), opts=self._child)


def conditional_read(
    resource_name: str,
    bucket: gcp.storage.Bucket,
    member: pulumi.Input[str],
    *,
    title: str,
    description: str,
    expression: Callable[[str], str],
    opts: pulumi.ResourceOptions,
) -> gcp.storage.BucketIAMMember:
    """Object read on `bucket` for `member`, narrowed by an IAM condition built from the bucket's name (conditions
    name objects as projects/_/buckets/<bucket>/objects/<name>)."""
    return gcp.storage.BucketIAMMember(
        resource_name,
        bucket=bucket.name,
        role=READ_ROLE,
        member=member,
        condition={"title": title, "description": description, "expression": bucket.name.apply(expression)},
        opts=opts,
    )


def read_condition(bucket: str, path: str) -> str:
    """Gets are judged on the object's full name; lists on the prefix the caller asks for."""
    return (
        f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{path}") || '
        f'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("{path}")'
    )


def _ip_filter(args: WeightsBucketArgs) -> dict:
    if args.allow_access_outside_zone_network:
        return {"mode": "Disabled"}
    ip_filter: dict = {
        "mode": "Enabled",
        "vpc_network_sources": [{"network": args.network_id, "allowed_ip_cidr_ranges": [args.zone_cidr]}],
        # Google's own agents (encryption, replication, logging) are not requests from a network.
        "allow_all_service_agent_access": True,
    }
    if args.publisher_ip_ranges:
        ip_filter["public_network_source"] = {"allowed_ip_cidr_ranges": list(args.publisher_ip_ranges)}
    return ip_filter
