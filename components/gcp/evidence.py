"""EvidenceLog: the zone's audit, flow, firewall, DNS and guardrail logs, kept where nobody can alter them (OB-03).

A Cloud Logging bucket with a retention set by the tier, encrypted with a rotated customer key, and *locked*: once
locked, nobody (not the project owner) can shorten the retention or delete the bucket while it holds logs younger
than that. A project sink routes the evidence there; Data Access audit logs are turned on for the services that
touch weights, signatures, secrets and keys, so reads are evidence too, not only changes.

Locking is irreversible, on purpose. A stack that must be torn down keeps paying for the bucket until its logs age out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp.common import (
    check_rotation_days,
    check_zone_and_project,
    child_options,
    customer_key,
    grant_key_use,
    zone_labels,
)

EVIDENCE_LOGS = (
    'logName:"cloudaudit.googleapis.com"',
    'logName:"compute.googleapis.com%2Fvpc_flows"',
    'logName:"compute.googleapis.com%2Ffirewall"',
    'logName:"dns.googleapis.com%2Fdns_queries"',
    'logName:"modelarmor.googleapis.com"',
)
EVIDENCE_FILTER = " OR ".join(EVIDENCE_LOGS)
"""Audit logs (admin activity, data access, policy denied, system events), VPC flow logs, firewall logs, DNS queries
and Model Armor verdicts."""
DATA_ACCESS_SERVICES = (  # every read of weights, signatures, secrets, keys and images is evidence
    "storage.googleapis.com",
    "secretmanager.googleapis.com",
    "cloudkms.googleapis.com",
    "artifactregistry.googleapis.com",
    "container.googleapis.com",
)
MAX_RETENTION_DAYS = 3650
"""Cloud Logging's longest bucket retention."""


def check_log_retention_days(owner: str, value: int) -> None:
    """A locked log bucket's retention: whole days, 1 to Cloud Logging's longest."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RETENTION_DAYS:
        raise ValueError(f"{owner}.retention_days: {value!r} must be 1 to {MAX_RETENTION_DAYS}")


@dataclass(frozen=True, kw_only=True)
class EvidenceLogArgs:
    zone: str
    project: str
    region: str
    """Where the log bucket (and so its key) lives."""
    key_ring_id: pulumi.Input[str]
    """The zone's key ring (in `region`); the bucket's key is created in it."""
    retention_days: int
    """How long every log is kept, locked (the zone's tier sets it)."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates. Defaults to 365."""
    kms_key_id: pulumi.Input[str] | None = None
    """Bring your own key (in `region`); None (the default) creates a rotated one."""
    extra_data_access_services: Sequence[str] = ()
    """Services whose Data Access audit logs are turned on beyond DATA_ACCESS_SERVICES (storage, Secret Manager, Cloud
    KMS, Artifact Registry, GKE), which are always on. Defaults to none."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("EvidenceLogArgs", self.zone, self.project)
        check_rotation_days("EvidenceLogArgs", "key_rotation_days", self.key_rotation_days)
        check_log_retention_days("EvidenceLogArgs", self.retention_days)


class EvidenceLog(pulumi.ComponentResource):
    CONTROLS = ("OB-03", "OB-01", "OB-02")
    log_bucket_id: pulumi.Output[str]
    """`projects/<p>/locations/<region>/buckets/<id>`."""
    sink_writer_identity: pulumi.Output[str]
    kms_key_id: pulumi.Output[str]

    def __init__(self, name: str, args: EvidenceLogArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:EvidenceLog", name, None, opts)
        child = child_options(self, opts)
        labels = zone_labels(args.zone, args.labels)

        grants: list[pulumi.Resource] = []
        if args.kms_key_id is None:
            key = customer_key(f"{name}-key", key_ring_id=args.key_ring_id, rotation_days=args.key_rotation_days,
                               guards="evidence-logs", labels=labels, opts=child)
            self.kms_key_id = key.id
        else:
            self.kms_key_id = pulumi.Output.from_input(args.kms_key_id)
        # Cloud Logging encrypts with its own per-project service account, which must hold the key before the bucket
        # is created (or creation fails).
        logging_agent = gcp.logging.get_project_cmek_settings_output(project=args.project, opts=pulumi.InvokeOutputOptions(parent=self))
        grants += grant_key_use(
            f"{name}-key-logging", self.kms_key_id,
            [logging_agent.service_account_id.apply(lambda email: f"serviceAccount:{email}")], child,
        )
        bucket = gcp.logging.ProjectBucketConfig(
            f"{name}-bucket",
            project=args.project,
            location=args.region,
            bucket_id=f"modelfort-{args.zone}-evidence",
            description=f"Evidence of ModelFort zone {args.zone}: locked, kept {args.retention_days} days",
            retention_days=args.retention_days,
            # Irreversible: from here on nobody can shorten the retention or delete logs before they age out.
            locked=True,
            cmek_settings={"kms_key_name": self.kms_key_id},
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=grants)),
        )
        sink = gcp.logging.ProjectSink(
            f"{name}-sink",
            project=args.project,
            description=f"Routes the evidence of zone {args.zone} to its locked log bucket",
            destination=pulumi.Output.concat("logging.googleapis.com/", bucket.id),
            filter=EVIDENCE_FILTER,
            unique_writer_identity=True,
            opts=child,
        )
        # A sink writing to a log bucket of its own project needs no extra grant; its identity is exported for audits.
        for service in dict.fromkeys((*DATA_ACCESS_SERVICES, *args.extra_data_access_services)):
            gcp.projects.IAMAuditConfig(
                f"{name}-audit-{service.split('.')[0]}",
                project=args.project,
                service=service,
                audit_log_configs=[{"log_type": t} for t in ("ADMIN_READ", "DATA_READ", "DATA_WRITE")],
                opts=child,
            )
        self.log_bucket_id = bucket.id
        self.sink_writer_identity = sink.writer_identity
        self.register_outputs({"log_bucket_id": self.log_bucket_id, "kms_key_id": self.kms_key_id})
