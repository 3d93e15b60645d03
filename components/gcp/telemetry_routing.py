"""GuardTelemetryLog: the inference guard's telemetry on GKE, kept locked and out of the project's unlocked bucket, with
an alert when the guard could not write a line (OB-01, OB-02, OB-03).

The guard (modelfort/runtime/guard/telemetry_out.py) writes one JSON line per inference request to stdout and its
diagnostics to stderr. GKE's logging agent (the WORKLOADS logging component GpuCluster turns on) ships both to Cloud
Logging, where every project's `_Default` sink would keep them in the `_Default` bucket: unlocked, under Google's key,
30 days. Telemetry carries prompts and responses, so this component

- keeps them in a log bucket of their own, locked and encrypted with a rotated customer key, for the tier's log
  retention, as the AWS zone keeps telemetry in a log group of its own;
- routes exactly the guard's stdout there with a project sink, and excludes the same lines from the `_Default` sink
  (a project exclusion is an exclusion on `_Default`), so the only copy is the locked one;
- routes the guard's stderr (diagnostics, no request content) to the zone's evidence bucket too;
- counts the guard's "telemetry write failed" lines with a log-based metric and opens an incident on the first one,
  notifying the zone's on-call.

Why a bucket of its own rather than the evidence bucket: the retention is the same (the tier's), but readers are not.
Auditors read the evidence (who changed what, who read which weights); the telemetry holds what callers asked and
what the models answered, so access to it is granted separately, per bucket.

What this relies on, checked against Google's documentation:
- GKE's per-node agent ships the standard output and standard error of containerized processes, and a JSON line
  becomes a `jsonPayload` entry (an oversized one is dropped, which is why the guard caps every text it writes)
  (https://cloud.google.com/kubernetes-engine/docs/concepts/about-logs);
- container entries are of the monitored resource `k8s_container`, labelled `cluster_name`, `namespace_name` (Cloud
  Monitoring's GkeNamespace: "the field names correspond to the resource metadata labels on monitored resources that
  fall under a namespace (for example, k8s_container)",
  https://cloud.google.com/python/docs/reference/monitoring/latest/google.cloud.monitoring_v3.types.Service.GkeNamespace)
  and `container_name`, `pod_name`;
- an exclusion filters entries out of a sink, and none can touch `_Required`
  (https://docs.cloud.google.com/logging/docs/reference/v2/rest/v2/projects.exclusions); the API reference of
  `projects.exclusions.create` says it creates the exclusion "in the _Default sink";
- the projects' predefined sinks `_Required` and `_Default` store into the buckets of the same names, and every sink
  judges every entry independently (https://cloud.google.com/logging/docs/export);
- a log-based metric's value is the number of entries that match its filter in an interval
  (https://docs.cloud.google.com/ruby/docs/reference/google-cloud-logging-v2/latest/Google-Cloud-Logging-V2-LogMetric).
The log names `stdout` and `stderr` (`projects/<project>/logs/stdout`) are what GKE gives container streams; the pages
reachable when this was written do not state them, so `test_telemetry_routing.py` pins the exact filters and the
first deploy must confirm them (`gcloud logging read 'resource.labels.container_name="guard"' --limit=1`).

The sink and the exclusion select every stdout line of the guard, not only those with a `jsonPayload.schema_version`:
the guard writes nothing but telemetry to stdout, and a line Cloud Logging could not parse as JSON (it would arrive as
`textPayload`) still carries a prompt, so it must land in the locked bucket and not in `_Default`.
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
from components.gcp.evidence import check_log_retention_days
from components.k8s.guard import GUARD_CONTAINER

CONTAINER_RESOURCE = 'resource.type="k8s_container"'
STDOUT_LOG, STDERR_LOG = "stdout", "stderr"
WRITE_FAILED_MARKER = "modelfort-guard: telemetry write failed"
"""The start of the line TelemetryWriter prints on stderr for each line it could not write (telemetry_out.py)."""
FAILURE_WINDOW_SECONDS = 300
ON_CALL_CHANNELS = {"email": ("email", "email_address"), "https": ("webhook_tokenauth", "url")}
"""How an on-call endpoint of the stack config (modelfort:onCall) becomes a Cloud Monitoring notification channel."""


def guard_logs_filter(project: str, cluster_name: str, namespace: str, container: str, log: str) -> str:
    """The Logging query that selects one stream (`stdout` or `stderr`) of the guard container of one cluster."""
    return " AND ".join((
        CONTAINER_RESOURCE,
        f'resource.labels.cluster_name="{cluster_name}"',
        f'resource.labels.namespace_name="{namespace}"',
        f'resource.labels.container_name="{container}"',
        f'logName="projects/{project}/logs/{log}"',
    ))


def write_failures_filter(project: str, cluster_name: str, namespace: str, container: str) -> str:
    return f'{guard_logs_filter(project, cluster_name, namespace, container, STDERR_LOG)} AND textPayload:"{WRITE_FAILED_MARKER}"'


@dataclass(frozen=True, kw_only=True)
class GuardTelemetryLogArgs:
    zone: str
    project: str
    region: str
    """Where the telemetry bucket (and so its key) lives."""
    key_ring_id: pulumi.Input[str]
    """The zone's key ring (in `region`); the bucket's key is created in it."""
    cluster_name: pulumi.Input[str]
    """The GKE cluster whose guard containers are routed (GpuCluster.cluster_name)."""
    evidence_log_bucket_id: pulumi.Input[str]
    """EvidenceLog.log_bucket_id: where the guard's stderr (diagnostics) is kept."""
    retention_days: int
    """How long telemetry is kept, locked (the zone's tier sets it, as for the evidence)."""
    namespace: str = "models"
    """The namespace the guarded model pods run in. Defaults to "models"."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates. Defaults to 365."""
    kms_key_id: pulumi.Input[str] | None = None
    """Bring your own key (in `region`); None (the default) creates a rotated one."""
    on_call: Sequence[tuple[str, str]] = ()
    """Who the write-failure alert notifies: (protocol, endpoint) pairs, protocol "email" or "https" (the stack's
    modelfort:onCall). Defaults to none: the incident opens in Cloud Monitoring and notifies nobody."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("GuardTelemetryLogArgs", self.zone, self.project)
        check_rotation_days("GuardTelemetryLogArgs", "key_rotation_days", self.key_rotation_days)
        check_log_retention_days("GuardTelemetryLogArgs", self.retention_days)
        for protocol, endpoint in self.on_call:
            if protocol not in ON_CALL_CHANNELS:
                raise ValueError(f"GuardTelemetryLogArgs.on_call: {protocol!r} (email or https; never plain http)")
            if protocol == "https" and not endpoint.startswith("https://"):
                raise ValueError(f"GuardTelemetryLogArgs.on_call: {endpoint!r} must be an https:// URL")


class GuardTelemetryLog(pulumi.ComponentResource):
    CONTROLS = ("OB-01", "OB-02", "OB-03")
    log_bucket_id: pulumi.Output[str]
    """`projects/<p>/locations/<region>/buckets/<id>`: where the guard's telemetry is kept."""
    kms_key_id: pulumi.Output[str]
    telemetry_filter: pulumi.Output[str]
    """The query of the sink and of the `_Default` exclusion (the same lines)."""
    failure_metric_type: pulumi.Output[str]
    """`logging.googleapis.com/user/<name>`: the count of lines the guard could not write."""
    alert_policy_name: pulumi.Output[str]
    notification_channel_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: GuardTelemetryLogArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:GuardTelemetryLog", name, None, opts)
        child = child_options(self, opts)
        labels = zone_labels(args.zone, args.labels)
        project, namespace, container = args.project, args.namespace, GUARD_CONTAINER

        def query(build):  # the cluster's name is an output of GpuCluster
            return pulumi.Output.from_input(args.cluster_name).apply(lambda cluster: build(project, cluster, namespace, container))

        self.telemetry_filter = query(lambda *a: guard_logs_filter(*a, STDOUT_LOG))
        diagnostics_filter = query(lambda *a: guard_logs_filter(*a, STDERR_LOG))
        failures_filter = query(write_failures_filter)

        grants: list[pulumi.Resource] = []
        if args.kms_key_id is None:
            key = customer_key(f"{name}-key", key_ring_id=args.key_ring_id, rotation_days=args.key_rotation_days,
                               guards="guard-telemetry", labels=labels, opts=child)
            self.kms_key_id = key.id
        else:
            self.kms_key_id = pulumi.Output.from_input(args.kms_key_id)
        # As for the evidence: Cloud Logging's service account must hold the key before the bucket is created.
        logging_agent = gcp.logging.get_project_cmek_settings_output(project=project, opts=pulumi.InvokeOutputOptions(parent=self))
        grants += grant_key_use(
            f"{name}-key-logging", self.kms_key_id,
            [logging_agent.service_account_id.apply(lambda email: f"serviceAccount:{email}")], child,
        )
        bucket = gcp.logging.ProjectBucketConfig(
            f"{name}-bucket",
            project=project,
            location=args.region,
            bucket_id=f"modelfort-{args.zone}-guard-telemetry",
            description=f"Inference telemetry of ModelFort zone {args.zone} (prompts and responses): locked, kept {args.retention_days} days",
            retention_days=args.retention_days,
            locked=True,  # irreversible, as for the evidence
            cmek_settings={"kms_key_name": self.kms_key_id},
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=grants)),
        )
        sink = gcp.logging.ProjectSink(
            f"{name}-sink",
            project=project,
            description=f"Routes the inference guard's telemetry (stdout) of zone {args.zone} to its locked log bucket",
            destination=pulumi.Output.concat("logging.googleapis.com/", bucket.id),
            filter=self.telemetry_filter,
            unique_writer_identity=True,
            opts=child,
        )
        gcp.logging.ProjectSink(
            f"{name}-diagnostics-sink",
            project=project,
            description=f"Routes the inference guard's diagnostics (stderr) of zone {args.zone} to the evidence bucket",
            destination=pulumi.Output.concat("logging.googleapis.com/", args.evidence_log_bucket_id),
            filter=diagnostics_filter,
            unique_writer_identity=True,
            opts=child,
        )
        # The sink has its copy; the exclusion keeps the _Default sink from storing a second, unlocked one. It waits for
        # the sink, so that no line is dropped from both in between.
        gcp.logging.ProjectExclusion(
            f"{name}-not-in-default",
            project=project,
            name=f"modelfort-{args.zone}-guard-telemetry",
            description="Inference telemetry carries prompts and responses: kept only in the zone's locked bucket",
            filter=self.telemetry_filter,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[sink])),
        )

        # Stderr is not excluded from _Default, and a project's log-based metric counts what the project receives
        # either way.
        metric = gcp.logging.Metric(
            f"{name}-write-failures",
            project=project,
            name=f"modelfort-{args.zone}-guard-telemetry-write-failures",
            description="Telemetry lines the inference guard could not write (each is evidence that is missing)",
            filter=failures_filter,
            metric_descriptor={"metric_kind": "DELTA", "value_type": "INT64", "unit": "1",
                               "display_name": f"ModelFort {args.zone}: guard telemetry write failures"},
            opts=child,
        )
        self.failure_metric_type = pulumi.Output.concat("logging.googleapis.com/user/", metric.name)

        if not args.on_call:
            pulumi.log.warn(f"GuardTelemetryLog {name}: no on-call endpoints (modelfort:onCall); the telemetry write-failure "
                            "alert opens incidents that notify nobody", self)
        channels = []
        for index, (protocol, endpoint) in enumerate(args.on_call):
            channel_type, label_key = ON_CALL_CHANNELS[protocol]
            channels.append(gcp.monitoring.NotificationChannel(
                f"{name}-on-call-{index}",
                project=project,
                type=channel_type,
                display_name=f"ModelFort {args.zone} on-call ({protocol})",
                labels={label_key: endpoint},
                user_labels=labels,
                opts=child,
            ))
        self.notification_channel_ids = [c.id for c in channels]
        policy = gcp.monitoring.AlertPolicy(
            f"{name}-write-failures-alert",
            project=project,
            display_name=f"ModelFort {args.zone}: inference telemetry not written",
            combiner="OR",
            conditions=[{
                "display_name": "The guard could not write a telemetry line",
                "condition_threshold": {
                    "filter": pulumi.Output.concat('metric.type="', self.failure_metric_type, '" AND ', CONTAINER_RESOURCE),
                    "comparison": "COMPARISON_GT",
                    "threshold_value": 0,
                    "duration": "0s",
                    "aggregations": [{"alignment_period": f"{FAILURE_WINDOW_SECONDS}s", "per_series_aligner": "ALIGN_SUM",
                                      "cross_series_reducer": "REDUCE_SUM"}],
                    "trigger": {"count": 1},
                },
            }],
            documentation={
                "mime_type": "text/markdown",
                "content": (f"An inference guard of zone {args.zone} failed to write telemetry (OB-01): requests were served "
                            "without their evidence. The guard's stderr in the evidence bucket says why (closed pipe, full "
                            "disk, encoding error); `modelfort_guard_telemetry_write_failures_total` on its /metrics counts them."),
            },
            severity="CRITICAL",
            notification_channels=self.notification_channel_ids,
            user_labels=labels,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[metric])),
        )

        self.log_bucket_id = bucket.id
        self.alert_policy_name = policy.name
        self.register_outputs({"log_bucket_id": self.log_bucket_id, "kms_key_id": self.kms_key_id,
                               "failure_metric_type": self.failure_metric_type})
