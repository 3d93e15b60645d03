"""Secrets on Google Cloud: Secret Manager with a customer key, rotated on a schedule by our rotation function.

- SecretRotation (one per zone): the key that encrypts the zone's secrets and their rotation topic, the Pub/Sub topic
  Secret Manager announces rotations on, and the Cloud Function that rotates (modelfort.runtime.rotation_gcp). The
  function accepts no outside traffic, sends all of its egress into the zone's VPC (so it reaches nothing but the
  restricted Google APIs), runs as its own service account and is built by another with only what a build needs.
- RotatedSecret (one per credential): the secret, replicated only to the zone's region under the customer key, with a
  rotation period no longer than the tier allows, announcing on the zone's topic. The rotation function may manage
  that secret and no other; readers are granted `secretAccessor` on that secret alone (`grant_access`).

Controls: SC-03 (managed store, customer key), SC-04 (rotation at the tier's pace), SC-05 (superseded versions are
disabled by the function), SC-02 (values are read from Secret Manager, never set in the program or its environment).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp.common import (
    SECONDS_PER_DAY,
    account_id,
    check_rotation_days,
    check_zone_and_project,
    child_options,
    customer_key,
    grant_key_use,
    rotation_period,
    zone_labels,
)
from components.gcp.function_source import ENTRY_POINT, RUNTIME, rotation_function_source
from components.gcp.weights import harden_bucket_args

TOKEN_KINDS = ("agent", "tool", "client")
"""The kinds modelfort.runtime.rotation knows (kept here as data: components do not import runtime code)."""
KIND_LABEL = "modelfort-token-kind"
ACCESSOR_ROLE = "roles/secretmanager.secretAccessor"
ROTATOR_ROLES = ("roles/secretmanager.secretVersionManager", ACCESSOR_ROLE)
MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
DESTROY_DELAY_DAYS = 7
"""A destroyed version stays recoverable this long (a mistaken destroy is not an outage)."""
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


@dataclass(frozen=True, kw_only=True)
class SecretRotationArgs:
    zone: str
    project: str
    region: str
    key_ring_id: pulumi.Input[str]
    network_id: pulumi.Input[str]
    subnetwork_id: pulumi.Input[str]
    """The zone's subnet: the function's egress enters the zone's VPC here."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates. Defaults to 365."""
    kms_key_id: pulumi.Input[str] | None = None
    """Bring your own key (in `region`); None (the default) creates a rotated one."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("SecretRotationArgs", self.zone, self.project)
        check_rotation_days("SecretRotationArgs", "key_rotation_days", self.key_rotation_days)


class SecretRotation(pulumi.ComponentResource):
    CONTROLS = ("SC-03", "SC-04", "SC-05")
    kms_key_id: pulumi.Output[str]
    """Encrypts the zone's secrets and the rotation topic."""
    topic_id: pulumi.Output[str]
    rotator_member: pulumi.Output[str]
    """The rotation function's identity; RotatedSecret grants it on each secret."""
    function_id: pulumi.Output[str]
    source_sha256: str
    region: str

    def __init__(self, name: str, args: SecretRotationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:SecretRotation", name, None, opts)
        child = child_options(self, opts)
        labels = zone_labels(args.zone, args.labels)
        self.region = args.region

        if args.kms_key_id is None:
            self.kms_key_id = customer_key(f"{name}-key", key_ring_id=args.key_ring_id, rotation_days=args.key_rotation_days,
                                           guards="secrets", labels=labels, opts=child).id
        else:
            self.kms_key_id = pulumi.Output.from_input(args.kms_key_id)
        secrets_agent = gcp.projects.ServiceIdentity(f"{name}-secrets-agent", project=args.project,
                                                     service="secretmanager.googleapis.com", opts=child)
        pubsub_agent = gcp.projects.ServiceIdentity(f"{name}-pubsub-agent", project=args.project,
                                                    service="pubsub.googleapis.com", opts=child)
        storage_agent = gcp.storage.get_project_service_account_output(project=args.project, opts=pulumi.InvokeOutputOptions(parent=self))
        key_grants = grant_key_use(f"{name}-key-agents", self.kms_key_id,
                                   [secrets_agent.member, pubsub_agent.member, storage_agent.member], child)
        after_grants = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=key_grants))

        topic = gcp.pubsub.Topic(
            f"{name}-topic",
            kms_key_name=self.kms_key_id,
            # Messages stay in the region, with the secrets they announce.
            message_storage_policy={"allowed_persistence_regions": [args.region]},
            labels=labels,
            opts=after_grants,
        )
        # Secret Manager announces rotations through its agent, which must be able to publish before a secret names
        # the topic (RotatedSecret waits for this).
        self._publisher_grant = gcp.pubsub.TopicIAMMember(f"{name}-topic-secrets-agent", topic=topic.id, role="roles/pubsub.publisher",
                                                          member=secrets_agent.member, opts=child)

        rotator = gcp.serviceaccount.Account(f"{name}-rotator", account_id=account_id(args.zone, "rotator"),
                                             display_name=f"ModelFort {args.zone}: rotates the zone's secrets", opts=child)
        builder = gcp.serviceaccount.Account(f"{name}-builder", account_id=account_id(args.zone, "rot-build"),
                                             display_name=f"ModelFort {args.zone}: builds the rotation function", opts=child)
        trigger = gcp.serviceaccount.Account(f"{name}-trigger", account_id=account_id(args.zone, "rot-trigger"),
                                             display_name=f"ModelFort {args.zone}: delivers rotation messages", opts=child)

        source = rotation_function_source()
        self.source_sha256 = source.sha256
        bucket = gcp.storage.Bucket(
            f"{name}-source",
            location=args.region,
            labels={**labels, "modelfort-data-class": "function-source"},
            versioning={"enabled": True},
            **harden_bucket_args(kms_key_id=self.kms_key_id),
            opts=after_grants,
        )
        source_object = gcp.storage.BucketObject(
            f"{name}-source-archive",
            bucket=bucket.name,
            # Named by content: a code change is a new object, and so a new deployment of the function.
            name=f"rotation-gcp-{source.sha256[:16]}.zip",
            source=source.archive,
            opts=child,
        )
        gcp.storage.BucketIAMMember(f"{name}-builder-reads-source", bucket=bucket.name, role="roles/storage.objectViewer",
                                    member=builder.member, opts=child)
        for role in ("roles/logging.logWriter", "roles/artifactregistry.writer"):
            gcp.projects.IAMMember(f"{name}-builder-{role.split('/')[-1]}", project=args.project, role=role,
                                   member=builder.member, opts=child)

        function = gcp.cloudfunctionsv2.Function(
            f"{name}-function",
            location=args.region,
            description=f"Rotates the service tokens of zone {args.zone} (modelfort.runtime.rotation_gcp)",
            build_config={
                "runtime": RUNTIME,
                "entry_point": ENTRY_POINT,
                "service_account": builder.id,
                "source": {"storage_source": {"bucket": bucket.name, "object": source_object.name}},
            },
            service_config={
                "service_account_email": rotator.email,
                "ingress_settings": "ALLOW_INTERNAL_ONLY",
                # All egress enters the zone's VPC, where only the restricted Google APIs are reachable.
                "direct_vpc_network_interfaces": [{"network": args.network_id, "subnetwork": args.subnetwork_id}],
                "direct_vpc_egress": "VPC_EGRESS_ALL_TRAFFIC",
                # One rotation at a time: two deliveries of one notification never race (see rotation_gcp.rotate).
                "max_instance_count": 1,
                "max_instance_request_concurrency": 1,
                "available_memory": "256M",
                "timeout_seconds": 120,
                "all_traffic_on_latest_revision": True,
            },
            event_trigger={
                "trigger_region": args.region,
                "event_type": MESSAGE_PUBLISHED,
                "pubsub_topic": topic.id,
                # A failed rotation is retried; the current version stays in use until one succeeds.
                "retry_policy": "RETRY_POLICY_RETRY",
                "service_account_email": trigger.email,
            },
            labels=labels,
            opts=child,
        )
        gcp.cloudrunv2.ServiceIamMember(
            f"{name}-trigger-invokes",
            name=function.service_config.apply(lambda config: config.service),
            location=args.region,
            role="roles/run.invoker",
            member=trigger.member,
            opts=child,
        )
        self.topic_id = topic.id
        self.rotator_member = rotator.member
        self.function_id = function.id
        self.register_outputs({"topic_id": self.topic_id, "kms_key_id": self.kms_key_id, "function_id": self.function_id})

    @property
    def publisher_grant(self) -> pulumi.Resource:
        return self._publisher_grant


@dataclass(frozen=True, kw_only=True)
class RotatedSecretArgs:
    zone: str
    secret_id: str
    """The secret's id in the project (letters, digits, '-', '_')."""
    kind: str
    """What the token is for: agent, tool or client (the rotation function mints tokens of this kind)."""
    rotation: SecretRotation
    """The zone's SecretRotation: its key, topic and function."""
    rotation_days: int
    """How often the secret rotates (the zone's tier sets it)."""
    first_rotation: dt.datetime | None = None
    """When the first rotation runs (UTC). Defaults to None: one hour after the first deploy. Secret Manager moves the
    time forward after every rotation, so later deploys leave it alone."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        if not _SECRET_ID.match(self.secret_id):
            raise ValueError(f"RotatedSecretArgs.secret_id: {self.secret_id!r} must be 1-255 letters, digits, '-' or '_'")
        if self.kind not in TOKEN_KINDS:
            raise ValueError(f"RotatedSecretArgs.kind: {self.kind!r} is not allowed (one of: {', '.join(TOKEN_KINDS)})")
        check_rotation_days("RotatedSecretArgs", "rotation_days", self.rotation_days)
        if self.first_rotation is not None and self.first_rotation.tzinfo is None:
            raise ValueError("RotatedSecretArgs.first_rotation: give a timezone-aware time")


class RotatedSecret(pulumi.ComponentResource):
    CONTROLS = ("SC-02", "SC-03", "SC-04")
    secret_id: pulumi.Output[str]
    """`projects/<p>/secrets/<id>`; consumers read its `latest` version."""

    def __init__(self, name: str, args: RotatedSecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:RotatedSecret", name, None, opts)
        self._name = name
        self._child = child = child_options(self, opts)
        rotation = args.rotation
        first = args.first_rotation or (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
        secret = gcp.secretmanager.Secret(
            f"{name}-secret",
            secret_id=args.secret_id,
            replication={"user_managed": {"replicas": [{
                "location": rotation.region,
                "customer_managed_encryption": {"kms_key_name": rotation.kms_key_id},
            }]}},
            rotation={
                "rotation_period": rotation_period(args.rotation_days),
                "next_rotation_time": first.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            topics=[{"name": rotation.topic_id}],
            version_destroy_ttl=f"{DESTROY_DELAY_DAYS * SECONDS_PER_DAY}s",
            labels=zone_labels(args.zone, args.labels, **{KIND_LABEL: args.kind}),
            deletion_protection=True,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                depends_on=[rotation.publisher_grant],
                # Secret Manager advances the rotation time itself after every rotation.
                ignore_changes=["rotation.nextRotationTime"],
            )),
        )
        for role in ROTATOR_ROLES:
            gcp.secretmanager.SecretIamMember(f"{name}-rotator-{role.split('.')[-1]}", secret_id=secret.id, role=role,
                                              member=rotation.rotator_member, opts=child)
        self._secret = secret
        self.secret_id = secret.id
        self.register_outputs({"secret_id": self.secret_id})

    def grant_access(self, grant_name: str, member: pulumi.Input[str]) -> gcp.secretmanager.SecretIamMember:
        """Let `member` read this secret's values, and no other secret's."""
        return gcp.secretmanager.SecretIamMember(
            f"{self._name}-{grant_name}-access", secret_id=self._secret.id, role=ACCESSOR_ROLE, member=member,
            opts=self._child,
        )
