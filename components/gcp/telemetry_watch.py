"""TelemetryWatch on Google Cloud: the guard's telemetry judged in two stages (issue 17), the GCP twin of
components/aws/telemetry_watch.py's partitioned detection. Runtime: modelfort.runtime.detection_stream_gcp.

    log sink (guard stdout) ──> topic `telemetry` ──push, OIDC──> stage-one function (stateless detectors)
                                                                   │ publishes one message per caller, orderingKey = caller
                                                                   v
                                  topic `caller-events` ──ordered push, OIDC──> stage-two function (stateful
                                                                   detectors, per-caller state in the state bucket)

What it provisions, and why each piece is shaped so:
- one customer key (rotated; or bring your own) for every topic and the state bucket: telemetry carries prompts and
  responses, so no copy of it rests under a Google-managed key; the Pub/Sub and Cloud Storage agents may use that
  key and no other;
- the topics `telemetry` and `caller-events` and a dead-letter topic for each (with a pull subscription, so dead
  letters are kept `message_retention_days` for inspection: a topic without a subscription drops what it gets);
  messages stay in the zone's region;
- a project sink routing the guard's stdout (`telemetry_filter`, the same query as the locked bucket's) to `telemetry`; its writer identity may publish
  there and nowhere else;
- push subscriptions with an OIDC token of a dedicated invoker service account (the only identity that may invoke
  the functions), exponential retry, a dead-letter policy; `caller-events` with message ordering, so one caller's
  messages are delivered one at a time, in order;
- the state bucket: CMEK only, uniform access, public access prevention, no versioning (a superseded state is
  worthless and would only keep telemetry-derived data longer), and a lifecycle rule that deletes a caller's object
  `state_ttl_days` after its last write (`customTime`, set on every write);
- the two functions, each with its own service account: stage one may publish to `caller-events` only; stage two
  may use objects of the state bucket only (a bucket IAM member). Both accept internal traffic only (Pub/Sub push
  is internal) and send all egress into the zone's VPC;
- alerting: the age of the oldest unacknowledged message of each subscription (a stuck or failing stage), any
  publish to a dead-letter topic (a message given up on), and the `alert` log lines of both stages (findings at or
  above `alert_min_severity`), through a log-based metric; all to `notification_channels`;
- evidence: a sink routes the stages' `finding` and `malformed_event` lines to the zone's locked evidence log
  bucket (`evidence_log_bucket_id`, required).

Controls: OB-01 and OB-03 (telemetry kept under CMEK, evidence in the locked bucket), OB-05..OB-08 (alerts on the
detectors' findings), WP-04 and WP-07 (extraction monitoring, stage two).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    zone_labels,
)
from components.gcp.function_source import DETECTION_ENTRY_POINTS, RUNTIME, detection_function_source
from components.gcp.weights import harden_bucket_args

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
FINDING_RECORDS = ("finding", "malformed_event")
PUBLISHER_ROLE = "roles/pubsub.publisher"
SUBSCRIBER_ROLE = "roles/pubsub.subscriber"
STATE_ROLE = "roles/storage.objectAdmin"
"""Read, create and overwrite objects (conditional writes need `storage.objects.delete` to replace a generation)."""
INVOKER_ROLE = "roles/run.invoker"
TOKEN_CREATOR_ROLE = "roles/iam.serviceAccountTokenCreator"
FUNCTION_TIMEOUT_S = 60
MIN_BACKOFF, MAX_BACKOFF = "10s", "600s"
OLDEST_UNACKED = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"
DEAD_LETTER_SENDS = "pubsub.googleapis.com/topic/send_message_operation_count"


@dataclass(frozen=True, kw_only=True)
class TelemetryWatchArgs:
    zone: str
    project: str
    region: str
    """Where the topics' messages, the state bucket and the functions live."""
    key_ring_id: pulumi.Input[str]
    network_id: pulumi.Input[str]
    subnetwork_id: pulumi.Input[str]
    """The zone's subnet: the functions' egress enters the zone's VPC here."""
    telemetry_filter: pulumi.Input[str]
    """The Logging query that selects the guards' telemetry lines (GuardTelemetryLog.telemetry_filter: the guard
    container's stdout on the zone's cluster), so detection reads exactly what the locked bucket keeps."""
    notification_channels: Sequence[pulumi.Input[str]] = ()
    """Cloud Monitoring notification channel ids the alert policies notify. Defaults to none (the incidents are still
    opened and shown in the console)."""
    evidence_log_bucket_id: pulumi.Input[str]
    """The zone's locked evidence log bucket (EvidenceLog.log_bucket_id), where the finding lines are kept. Required:
    without it findings would sit only in the project's `_Default` bucket (30 days, unlocked)."""
    kms_key_id: pulumi.Input[str] | None = None
    """Bring your own key (in `region`); None (the default) creates a rotated one."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates. Defaults to 365."""
    alert_min_severity: str = "HIGH"
    """Findings at or above this severity page on-call. Defaults to HIGH."""
    state_ttl_days: int = 1
    """Days after its last write a caller's state object is deleted; keep it at least the detectors' idle TTL
    (`state.idle_ttl_s`, one day by default). Defaults to 1."""
    detector_config: Mapping[str, Any] | None = None
    """Detector settings (DetectorConfig.from_mapping); checked by the functions at start. Defaults to None: defaults."""
    message_retention_days: int = 7
    """How long unacknowledged (and dead-lettered) messages are kept, 1-31. Defaults to 7."""
    max_delivery_attempts: int = 10
    """Deliveries of one message before it is dead-lettered, 5-100. Defaults to 10."""
    backlog_alert_seconds: int = 600
    """Age of the oldest unacknowledged message that opens an incident, at least 60. Defaults to 600."""
    max_instances: int = 20
    """Upper bound of instances of each function. Defaults to 20."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("TelemetryWatchArgs", self.zone, self.project)
        check_rotation_days("TelemetryWatchArgs", "key_rotation_days", self.key_rotation_days)
        check_rotation_days("TelemetryWatchArgs", "state_ttl_days", self.state_ttl_days)
        if self.alert_min_severity not in SEVERITIES:
            raise ValueError(f"TelemetryWatchArgs.alert_min_severity: {self.alert_min_severity!r} is not allowed "
                             f"(one of: {', '.join(SEVERITIES)})")
        for name, low, high in (("message_retention_days", 1, 31), ("max_delivery_attempts", 5, 100),
                                ("backlog_alert_seconds", 60, 7 * SECONDS_PER_DAY), ("max_instances", 1, 1000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"TelemetryWatchArgs.{name}: {value!r} must be a whole number from {low} to {high}")
        if isinstance(self.notification_channels, str):
            raise ValueError("TelemetryWatchArgs.notification_channels: give a list of channel ids, not one string")
        if self.detector_config is not None and not isinstance(self.detector_config, Mapping):
            raise ValueError("TelemetryWatchArgs.detector_config: give a mapping (DetectorConfig.from_mapping's input)")


class TelemetryWatch(pulumi.ComponentResource):
    CONTROLS = ("OB-01", "OB-03", "OB-05", "OB-06", "OB-07", "OB-08", "WP-04", "WP-07")
    kms_key_id: pulumi.Output[str]
    """Encrypts the topics and the state bucket."""
    telemetry_topic_id: pulumi.Output[str]
    caller_events_topic_id: pulumi.Output[str]
    state_bucket_name: pulumi.Output[str]
    stage_one_function_id: pulumi.Output[str]
    stage_two_function_id: pulumi.Output[str]
    sink_writer_identity: pulumi.Output[str]
    """The telemetry sink's identity (publisher on the telemetry topic only)."""
    source_sha256: str

    def __init__(self, name: str, args: TelemetryWatchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:TelemetryWatch", name, None, opts)
        child = child_options(self, opts)
        labels = zone_labels(args.zone, args.labels)
        channels = list(args.notification_channels)

        if args.kms_key_id is None:
            self.kms_key_id = customer_key(f"{name}-key", key_ring_id=args.key_ring_id, rotation_days=args.key_rotation_days,
                                           guards="telemetry-detection", labels=labels, opts=child).id
        else:
            self.kms_key_id = pulumi.Output.from_input(args.kms_key_id)
        pubsub_agent = gcp.projects.ServiceIdentity(f"{name}-pubsub-agent", project=args.project,
                                                    service="pubsub.googleapis.com", opts=child)
        storage_agent = gcp.storage.get_project_service_account_output(project=args.project,
                                                                       opts=pulumi.InvokeOutputOptions(parent=self))
        key_grants = grant_key_use(f"{name}-key-agents", self.kms_key_id, [pubsub_agent.member, storage_agent.member], child)
        after_grants = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=key_grants))
        retention = f"{args.message_retention_days * SECONDS_PER_DAY}s"

        prefix = f"modelfort-{args.zone}"  # names fixed in advance, so the alert filters below are plain text

        def topic(role: str) -> gcp.pubsub.Topic:
            return gcp.pubsub.Topic(f"{name}-{role}", project=args.project, name=f"{prefix}-{role}",
                                    kms_key_name=self.kms_key_id,
                                    message_storage_policy={"allowed_persistence_regions": [args.region]},
                                    message_retention_duration=retention, labels=labels, opts=after_grants)

        telemetry, caller_events = topic("telemetry"), topic("caller-events")
        dead_letters = {role: topic(f"{role}-dead-letter") for role in ("telemetry", "caller-events")}
        for role, dead in dead_letters.items():
            # Dead letters are kept for inspection (a topic without a subscription keeps nothing).
            gcp.pubsub.Subscription(f"{name}-{role}-dead-letter-kept", project=args.project, topic=dead.id,
                                    name=f"{prefix}-{role}-dead-letter-kept",
                                    message_retention_duration=retention, retain_acked_messages=False,
                                    expiration_policy={"ttl": ""}, labels=labels, opts=child)
            gcp.pubsub.TopicIAMMember(f"{name}-{role}-dead-letter-agent", project=args.project, topic=dead.id,
                                      role=PUBLISHER_ROLE, member=pubsub_agent.member, opts=child)

        sink = gcp.logging.ProjectSink(
            f"{name}-telemetry-sink", project=args.project,
            description=f"Routes the guard telemetry of zone {args.zone} to its detection topic",
            destination=pulumi.Output.concat("pubsub.googleapis.com/", telemetry.id),
            filter=args.telemetry_filter, unique_writer_identity=True, opts=child)
        gcp.pubsub.TopicIAMMember(f"{name}-telemetry-sink-publishes", project=args.project, topic=telemetry.id,
                                  role=PUBLISHER_ROLE, member=sink.writer_identity, opts=child)
        self.sink_writer_identity = sink.writer_identity

        state = gcp.storage.Bucket(
            f"{name}-state", project=args.project, location=args.region,
            labels={**labels, "modelfort-data-class": "detection-state"},
            versioning={"enabled": False},
            lifecycle_rules=[{"action": {"type": "Delete"},
                              "condition": {"days_since_custom_time": args.state_ttl_days}}],
            **harden_bucket_args(kms_key_id=self.kms_key_id), opts=after_grants)

        fanout = gcp.serviceaccount.Account(f"{name}-fanout", project=args.project, account_id=account_id(args.zone, "det-fanout"),
                                            display_name=f"ModelFort {args.zone}: detection stage one", opts=child)
        stream = gcp.serviceaccount.Account(f"{name}-stream", project=args.project, account_id=account_id(args.zone, "det-stream"),
                                            display_name=f"ModelFort {args.zone}: detection stage two", opts=child)
        builder = gcp.serviceaccount.Account(f"{name}-builder", project=args.project, account_id=account_id(args.zone, "det-build"),
                                             display_name=f"ModelFort {args.zone}: builds the detection functions", opts=child)
        invoker = gcp.serviceaccount.Account(f"{name}-invoker", project=args.project, account_id=account_id(args.zone, "det-push"),
                                             display_name=f"ModelFort {args.zone}: delivers telemetry to detection", opts=child)
        gcp.pubsub.TopicIAMMember(f"{name}-fanout-publishes", project=args.project, topic=caller_events.id,
                                  role=PUBLISHER_ROLE, member=fanout.member, opts=child)
        gcp.storage.BucketIAMMember(f"{name}-stream-state", bucket=state.name, role=STATE_ROLE, member=stream.member,
                                    opts=child)
        # Pub/Sub mints the push tokens as the invoker.
        gcp.serviceaccount.IAMMember(f"{name}-invoker-tokens", service_account_id=invoker.name, role=TOKEN_CREATOR_ROLE,
                                     member=pubsub_agent.member, opts=child)

        source = detection_function_source()
        self.source_sha256 = source.sha256
        source_bucket = gcp.storage.Bucket(
            f"{name}-source", project=args.project, location=args.region,
            labels={**labels, "modelfort-data-class": "function-source"}, versioning={"enabled": True},
            **harden_bucket_args(kms_key_id=self.kms_key_id), opts=after_grants)
        source_object = gcp.storage.BucketObject(f"{name}-source-archive", bucket=source_bucket.name,
                                                 name=f"detection-gcp-{source.sha256[:16]}.zip", source=source.archive,
                                                 opts=child)
        gcp.storage.BucketIAMMember(f"{name}-builder-reads-source", bucket=source_bucket.name,
                                    role="roles/storage.objectViewer", member=builder.member, opts=child)
        for role in ("roles/logging.logWriter", "roles/artifactregistry.writer"):
            gcp.projects.IAMMember(f"{name}-builder-{role.split('/')[-1]}", project=args.project, role=role,
                                   member=builder.member, opts=child)

        common_env = {"ZONE": args.zone, "ALERT_MIN_SEVERITY": args.alert_min_severity}
        if args.detector_config is not None:
            common_env["DETECTOR_CONFIG"] = json.dumps(dict(args.detector_config), sort_keys=True)

        def function(role: str, entry_point: str, account: gcp.serviceaccount.Account,
                     env: Mapping[str, pulumi.Input[str]], what: str) -> gcp.cloudfunctionsv2.Function:
            return gcp.cloudfunctionsv2.Function(
                f"{name}-{role}-function", project=args.project, location=args.region,
                description=f"{what} of zone {args.zone} (modelfort.runtime.detection_stream_gcp)",
                build_config={"runtime": RUNTIME, "entry_point": entry_point, "service_account": builder.id,
                              "source": {"storage_source": {"bucket": source_bucket.name, "object": source_object.name}}},
                service_config={
                    "service_account_email": account.email,
                    "ingress_settings": "ALLOW_INTERNAL_ONLY",
                    "direct_vpc_network_interfaces": [{"network": args.network_id, "subnetwork": args.subnetwork_id}],
                    "direct_vpc_egress": "VPC_EGRESS_ALL_TRAFFIC",
                    "max_instance_count": args.max_instances,
                    "max_instance_request_concurrency": 1,
                    "available_memory": "512M",
                    "timeout_seconds": FUNCTION_TIMEOUT_S,
                    "environment_variables": {**common_env, **env},
                    "all_traffic_on_latest_revision": True,
                },
                labels=labels, opts=child)

        stage_one_entry, stage_two_entry = DETECTION_ENTRY_POINTS
        stage_one = function("fanout", stage_one_entry, fanout, {"CALLER_EVENTS_TOPIC": caller_events.id},
                             "Stateless telemetry detection, re-keyed by caller")
        stage_two = function("stream", stage_two_entry, stream, {"STATE_BUCKET": state.name},
                             "Per-caller telemetry detection")

        subscriptions: dict[str, gcp.pubsub.Subscription] = {}
        for role, source_topic, target, ordered in (("telemetry", telemetry, stage_one, False),
                                                    ("caller-events", caller_events, stage_two, True)):
            invoke = gcp.cloudrunv2.ServiceIamMember(f"{name}-{role}-invoker", project=args.project, location=args.region,
                                                     name=target.name, role=INVOKER_ROLE, member=invoker.member,
                                                     opts=child)
            subscription = gcp.pubsub.Subscription(
                f"{name}-{role}-push", project=args.project, topic=source_topic.id, name=f"{prefix}-{role}-push",
                ack_deadline_seconds=FUNCTION_TIMEOUT_S,
                enable_message_ordering=ordered,
                message_retention_duration=retention,
                expiration_policy={"ttl": ""},
                retry_policy={"minimum_backoff": MIN_BACKOFF, "maximum_backoff": MAX_BACKOFF},
                dead_letter_policy={"dead_letter_topic": dead_letters[role].id,
                                    "max_delivery_attempts": args.max_delivery_attempts},
                push_config={"push_endpoint": target.url,
                             "oidc_token": {"service_account_email": invoker.email, "audience": target.url}},
                labels=labels,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[invoke])))
            # Forwarding to the dead-letter topic acknowledges on the source subscription: the agent needs both.
            gcp.pubsub.SubscriptionIAMMember(f"{name}-{role}-push-agent", project=args.project,
                                             subscription=subscription.name, role=SUBSCRIBER_ROLE,
                                             member=pubsub_agent.member, opts=child)
            subscriptions[role] = subscription

        services = pulumi.Output.all(stage_one.name, stage_two.name).apply(
            lambda names: 'resource.type="cloud_run_revision" AND resource.labels.service_name=('
            + " OR ".join(f'"{n}"' for n in names) + ")")
        gcp.logging.ProjectSink(
            f"{name}-evidence-sink", project=args.project,
            description=f"Keeps the detection findings of zone {args.zone} in its locked evidence bucket",
            destination=pulumi.Output.concat("logging.googleapis.com/", args.evidence_log_bucket_id),
            filter=services.apply(lambda f: f + " AND jsonPayload.record=("
                                  + " OR ".join(f'"{r}"' for r in FINDING_RECORDS) + ")"),
            unique_writer_identity=True, opts=child)
        alerts_metric = gcp.logging.Metric(
            f"{name}-alerts", project=args.project, name=f"{prefix}-detection-alerts",
            description=f"Alert lines of the telemetry detection of zone {args.zone}",
            filter=services.apply(lambda f: f + ' AND jsonPayload.record="alert"'),
            metric_descriptor={"metric_kind": "DELTA", "value_type": "INT64", "unit": "1"}, opts=child)

        def alert(role: str, display: str, severity: str, condition_filter: pulumi.Input[str], threshold: float,
                  duration: str, aligner: str, depends: list[pulumi.Resource], documentation: str) -> None:
            gcp.monitoring.AlertPolicy(
                f"{name}-{role}-alert", project=args.project, display_name=f"ModelFort {args.zone}: {display}",
                combiner="OR", severity=severity,
                conditions=[{"display_name": display, "condition_threshold": {
                    "filter": condition_filter, "comparison": "COMPARISON_GT", "threshold_value": threshold,
                    "duration": duration,
                    "aggregations": [{"alignment_period": "60s", "per_series_aligner": aligner}]}}],
                documentation={"content": documentation, "mime_type": "text/markdown"},
                notification_channels=channels, user_labels=labels,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends)))

        alert("findings", "telemetry findings to look at", "CRITICAL",
              f'resource.type="cloud_run_revision" AND metric.type="logging.googleapis.com/user/{prefix}-detection-alerts"',
              0, "0s", "ALIGN_SUM", [alerts_metric],
              "The detection stages logged findings at or above the alert severity. Read the `alert` and `finding` "
              "lines (jsonPayload.record) of the detection functions; findings are kept in the evidence log bucket.")
        for role, subscription in subscriptions.items():
            alert(f"{role}-backlog", f"{role} detection is falling behind", "ERROR",
                  'resource.type="pubsub_subscription" AND '
                  f'resource.labels.subscription_id="{prefix}-{role}-push" AND metric.type="{OLDEST_UNACKED}"',
                  args.backlog_alert_seconds, "300s", "ALIGN_MAX", [subscription],
                  f"Messages of `{role}` wait longer than {args.backlog_alert_seconds} s: the stage fails or cannot "
                  "keep up, and telemetry is not being judged.")
            alert(f"{role}-dead-letters", f"{role} messages dead-lettered", "ERROR",
                  'resource.type="pubsub_topic" AND '
                  f'resource.labels.topic_id="{prefix}-{role}-dead-letter" AND metric.type="{DEAD_LETTER_SENDS}"',
                  0, "0s", "ALIGN_SUM", [dead_letters[role]],
                  f"Pub/Sub gave up on `{role}` messages after {args.max_delivery_attempts} deliveries; they are kept "
                  "on the dead-letter subscription. Their telemetry has not been judged.")

        self.telemetry_topic_id = telemetry.id
        self.caller_events_topic_id = caller_events.id
        self.state_bucket_name = state.name
        self.stage_one_function_id = stage_one.id
        self.stage_two_function_id = stage_two.id
        self.register_outputs({
            "kms_key_id": self.kms_key_id, "telemetry_topic_id": self.telemetry_topic_id,
            "caller_events_topic_id": self.caller_events_topic_id, "state_bucket_name": self.state_bucket_name,
            "stage_one_function_id": self.stage_one_function_id, "stage_two_function_id": self.stage_two_function_id,
            "sink_writer_identity": self.sink_writer_identity,
        })
