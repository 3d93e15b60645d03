"""TelemetryShipping: the inference guard's telemetry lines leave the node for the zone's telemetry log group, and
nothing else does; an operator is told when lines are missing (OB-01 full telemetry, OB-04 model version and hash
in every event).

The guard (modelfort/runtime/guard/telemetry_out.py) prints one JSON line per request on stdout, and a failed write
on stderr. Kubernetes keeps both in /var/log/containers/<pod>_<namespace>_<container>-<id>.log on the node. What
this component provisions:

    guard container logs on each node ──Fluent Bit (EKS add-on amazon-cloudwatch-observability)──┐
        stdout lines that open with the schema marker  ──────────>  zone telemetry log group (evidence)
        stderr lines                                   ──────────>  guard diagnostics log group (KMS, retained)
                                                                       └─ metric filter: write failures ─> alarm

- The agent is the EKS managed add-on, installed and patched by EKS: the pack's Kubernetes rules (no hostPath, no
  root) would rightly refuse a log agent DaemonSet written in the program.
- Its Fluent Bit config is built here and replaces every file of the chart's default config (see CHART_DEFAULT_FILES):
  the chart's default application input tails every container and would copy the guard's stdout, which carries
  prompts and completions, into `/aws/containerinsights/<cluster>/application`, outside the zone's evidence key.
- Its role (IRSA, the add-on's service account only) can append to the two log groups and nothing else: no
  CloudWatchAgentServerPolicy, no log group creation, no metrics.
- Alarms on the on-call topic: the guard could not write lines (its stderr marker), and, when the zone's API is
  given, the API had traffic while the telemetry group received nothing (the agent stopped delivering).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.gpu_cluster import irsa_trust_policy
from components.aws.lambda_package import check_log_retention
from components.aws.s3_hardening import policy_document
from components.k8s.guard import GUARD_CONTAINER

CONTROLS = ("OB-01", "OB-04")
ADDON_NAME = "amazon-cloudwatch-observability"
ADDON_VERSION = "v6.4.0-eksbuild.1"
"""Pinned: a new add-on version can change the chart's default config this component overrides. Chart 6.4.0 is the
one whose values and templates were read (aws-observability/helm-charts, charts/amazon-cloudwatch-observability);
EKS names its add-on builds after the chart release. Check `aws eks describe-addon-versions --addon-name
amazon-cloudwatch-observability` before moving it."""
ADDON_NAMESPACE = "amazon-cloudwatch"
ADDON_SERVICE_ACCOUNT = "cloudwatch-agent"
"""The chart's Fluent Bit DaemonSet runs as `cloudwatch-agent.serviceAccountName`, which is `cloudwatch-agent` while
`agent.enabled` is true (templates/_helpers.tpl); with the agent disabled it falls back to `default`, which the
add-on does not annotate with this role. So the agent stays enabled and is given nothing to collect."""
CHART_DEFAULT_FILES = ("application-log.conf", "dataplane-log.conf", "host-log.conf")
"""The chart's default `containerLogs.fluentBit.config.extraFiles` (values.yaml). Helm merges maps, so a key left
out keeps the chart's file: each is replaced by a file that defines nothing."""
TELEMETRY_FILE = "modelfort-guard-telemetry.conf"
DIAGNOSTICS_FILE = "modelfort-guard-diagnostics.conf"
CONTAINER_LOG_DIR = "/var/log/containers"
TELEMETRY_MARKER = r'^\{"schema_version":[0-9]+,'
"""Every event the guard writes is compact JSON whose first key is schema_version (telemetry_out.build_event):
nothing else the guard prints on stdout opens this way."""
WRITE_FAILURE_MARKER = "modelfort-guard: telemetry write failed"
"""The stderr line telemetry_out.TelemetryWriter prints for every failed write (with the running total)."""
SHIPPING_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
METRIC_NAMESPACE_PREFIX = "ModelFort/"
WRITE_FAILURES_METRIC = "TelemetryWriteFailures"
STATE_DIR = "/var/fluent-bit/state"
"""The chart mounts this host directory into Fluent Bit for its offset databases and buffers."""
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _resources(depends_on: Any) -> list[pulumi.Resource]:
    if isinstance(depends_on, pulumi.Resource):
        return [depends_on]
    return [r for r in depends_on if isinstance(r, pulumi.Resource)] if isinstance(depends_on, (list, tuple)) else []


def diagnostics_log_group_name(zone: str) -> str:
    """Under the zone's `/modelfort/<zone>/` prefix, which the zone's evidence key lets CloudWatch Logs use."""
    return f"/modelfort/{zone}/guard-diagnostics"


def guard_log_path(namespace: str, container: str) -> str:
    """The guard's container log files on a node. Pod, namespace and container names cannot hold '_', so the two
    underscores fix the namespace and the container."""
    return f"{CONTAINER_LOG_DIR}/*_{namespace}_{container}-*.log"


def guard_log_exclude(namespace: str, container: str) -> str:
    """Containers whose name only starts with the guard's (`guard-proxy`): the container id after the name has no '-'."""
    return f"{CONTAINER_LOG_DIR}/*_{namespace}_{container}-*-*.log"


def fluent_bit_section(kind: str, entries: Sequence[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in entries) + 1
    return "\n".join([f"[{kind}]", *(f"    {key.ljust(width)}{value}" for key, value in entries)])


def _tail(tag: str, namespace: str, container: str, db: str) -> str:
    return fluent_bit_section("INPUT", [
        ("Name", "tail"),
        ("Tag", tag),
        ("Path", guard_log_path(namespace, container)),
        ("Exclude_Path", guard_log_exclude(namespace, container)),
        # containerd writes CRI lines (`<time> <stream> <F|P> <text>`) and splits long lines into P parts: the
        # built-in cri parser sets `stream` and `log` and joins the parts back into one record.
        ("multiline.parser", "cri"),
        ("DB", f"{STATE_DIR}/{db}"),
        # A physical CRI line is at most 16 KiB plus its prefix; a longer one is skipped (and logged) instead of
        # stopping the file, which is what tail does with Skip_Long_Lines off.
        ("Buffer_Chunk_Size", "64k"),
        ("Buffer_Max_Size", "64k"),
        ("Skip_Long_Lines", "On"),
        ("Mem_Buf_Limit", "50MB"),
        ("storage.type", "filesystem"),
        ("Refresh_Interval", "5"),
        ("Rotate_Wait", "30"),
        # Lines written before the agent first started are evidence too; the DB keeps offsets across restarts.
        ("Read_from_Head", "On"),
    ])


def _grep(match: str, rules: Sequence[tuple[str, str]]) -> str:
    # Several Regex rules in one grep filter must all match.
    return fluent_bit_section("FILTER", [("Name", "grep"), ("Match", match), *(("Regex", f"{key} {regex}") for key, regex in rules)])


def _cloudwatch(match: str, region: str, group: str) -> str:
    return fluent_bit_section("OUTPUT", [
        ("Name", "cloudwatch_logs"),
        ("Match", match),
        ("region", region),
        ("log_group_name", group),
        ("log_stream_prefix", "${HOST_NAME}."),
        # Only the line itself: the telemetry group's events are the guard's JSON, as its metric filters expect.
        ("log_key", "log"),
        ("auto_create_group", "false"),
        ("Retry_Limit", "no_limits"),
    ])


def fluent_bit_files(*, region: str, namespace: str, container: str, telemetry_group: str,
                     diagnostics_group: str) -> dict[str, str]:
    """Every file of the agent's Fluent Bit config (`containerLogs.fluentBit.config.extraFiles`), by name."""
    telemetry_tag = f"modelfort.guard.telemetry.{namespace}.*"
    diagnostics_tag = f"modelfort.guard.diagnostics.{namespace}.*"
    files = {
        name: f"# Replaced by ModelFort: the chart's {name} would ship other containers' and the node's logs.\n"
              f"@SET MODELFORT_REPLACED_{name.split('-')[0].upper()}=none\n"
        for name in CHART_DEFAULT_FILES
    }
    files[TELEMETRY_FILE] = "\n\n".join([
        _tail(telemetry_tag, namespace, container, "modelfort_guard_telemetry.db"),
        _grep(telemetry_tag, [("stream", "^stdout$"), ("log", TELEMETRY_MARKER)]),
        _cloudwatch(telemetry_tag, region, telemetry_group),
    ]) + "\n"
    files[DIAGNOSTICS_FILE] = "\n\n".join([
        _tail(diagnostics_tag, namespace, container, "modelfort_guard_diagnostics.db"),
        _grep(diagnostics_tag, [("stream", "^stderr$")]),
        _cloudwatch(diagnostics_tag, region, diagnostics_group),
    ]) + "\n"
    return files


def addon_configuration(*, region: str, namespace: str, container: str, telemetry_group: str,
                        diagnostics_group: str) -> dict[str, Any]:
    """The add-on's `configurationValues` (the chart's values, checked against chart 6.4.0's values.yaml)."""
    return {
        "containerLogs": {
            "enabled": True,
            "fluentBit": {"config": {"extraFiles": fluent_bit_files(
                region=region, namespace=namespace, container=container, telemetry_group=telemetry_group,
                diagnostics_group=diagnostics_group)}},
        },
        # The agent itself stays (its service account is Fluent Bit's, see ADDON_SERVICE_ACCOUNT) with nothing to do:
        # no Container Insights or Application Signals pipelines, so no auto-instrumentation injected into pods.
        "containerInsights": {"enabled": False},
        "applicationSignals": {"enabled": False},
        "otelContainerInsights": {"enabled": False},
        "manager": {"applicationSignals": {"autoMonitor": {"monitorAllServices": False}}},
        "dcgmExporter": {"enabled": False},
        "neuronMonitor": {"enabled": False},
    }


@dataclass(frozen=True, kw_only=True)
class TelemetryShippingArgs:
    zone: str
    region: str
    cluster_name: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider (GpuCluster.oidc_provider_arn): the add-on's service account assumes the role."""
    oidc_issuer: pulumi.Input[str]
    """The issuer without `https://` (GpuCluster.oidc_issuer)."""
    telemetry_log_group_name: str
    """The zone's telemetry group (evidence_store.telemetry_log_group_name(zone)). A plain string, so the agent's
    config is known at preview and the gate can judge it."""
    telemetry_log_group_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    """Encrypts the diagnostics group: the zone's evidence key (EvidenceStore.kms_key_arn), whose policy admits the
    zone's `/modelfort/<zone>/` log groups."""
    alarm_topic_arn: pulumi.Input[str]
    log_retention_days: int
    """How long guard diagnostics are kept (the zone's tier sets it)."""
    namespace: str = "models"
    """The namespace of the model pods. Defaults to "models"."""
    api_name: str | None = None
    """The zone's REST API (ModelEndpoint.api_name). With it, an alarm fires when the API served requests and the
    telemetry group received nothing. Defaults to None: no such alarm."""
    api_stage: str = "v1"
    """The API's stage (ModelEndpoint.stage_name). Defaults to "v1"."""
    silent_delivery_periods: int = 3
    """Five-minute periods of traffic without telemetry before the delivery alarm fires (1-12). Defaults to 3."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_log_retention(self.log_retention_days, "TelemetryShippingArgs.log_retention_days")
        value = self.namespace
        if not isinstance(value, str) or not value or not set(value) <= _NAME_OK or value[0] == "-" or value[-1] == "-":
            raise ValueError(f"TelemetryShippingArgs.namespace: {value!r} is not allowed; use a Kubernetes name "
                             "(lower-case letters, digits and '-', not at either end)")
        expected = f"/modelfort/{self.zone}/"
        if not isinstance(self.telemetry_log_group_name, str) or not self.telemetry_log_group_name.startswith(expected):
            raise ValueError(f"TelemetryShippingArgs.telemetry_log_group_name: {self.telemetry_log_group_name!r} is not "
                             f"allowed; use the zone's telemetry group, a plain string under {expected}")
        if self.api_name is not None and (not isinstance(self.api_name, str) or not self.api_name):
            raise ValueError(f"TelemetryShippingArgs.api_name: {self.api_name!r} is not allowed; use the API's name or None")
        periods = self.silent_delivery_periods
        if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= 12:
            raise ValueError(f"TelemetryShippingArgs.silent_delivery_periods: {periods!r} is not allowed; use an integer from 1 to 12")


class TelemetryShipping(pulumi.ComponentResource):
    CONTROLS = CONTROLS
    """The controls this component implements (read by the coverage matrix)."""

    role_arn: pulumi.Output[str]
    """The add-on's role: appends to the telemetry and diagnostics groups, nothing else."""
    diagnostics_log_group_name: pulumi.Output[str]
    configuration: dict[str, Any]
    """The add-on's configurationValues, as a dict (the add-on receives its JSON)."""

    def __init__(self, name: str, args: TelemetryShippingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:TelemetryShipping", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "modelfort:zone": args.zone}
        diagnostics_name = diagnostics_log_group_name(args.zone)

        diagnostics = aws.cloudwatch.LogGroup(
            f"{name}-diagnostics",
            name=diagnostics_name,
            kms_key_id=args.kms_key_arn,
            retention_in_days=args.log_retention_days,
            deletion_protection_enabled=True,
            tags=tags,
            opts=child,
        )
        trust = irsa_trust_policy(args.oidc_provider_arn, args.oidc_issuer, ADDON_NAMESPACE, ADDON_SERVICE_ACCOUNT)
        role = aws.iam.Role(f"{name}-role", assume_role_policy=trust, max_session_duration=3600,
                            description=f"Ships the inference guard's telemetry of zone {args.zone} (EKS add-on {ADDON_NAME})",
                            tags=tags, opts=child)
        access = aws.iam.RolePolicy(
            f"{name}-access",
            role=role.id,
            # CloudWatch Logs encrypts on the writer's behalf: no KMS permission. No CreateLogGroup: the groups exist.
            policy=pulumi.Output.all(args.telemetry_log_group_arn, diagnostics.arn).apply(lambda v: json.dumps(policy_document([{
                "Sid": "AppendGuardLinesOnly",
                "Effect": "Allow",
                "Action": list(SHIPPING_ACTIONS),
                "Resource": [v[0], f"{v[0]}:*", v[1], f"{v[1]}:*"],
            }]))),
            opts=child,
        )
        self.configuration = addon_configuration(
            region=args.region, namespace=args.namespace, container=GUARD_CONTAINER,
            telemetry_group=args.telemetry_log_group_name, diagnostics_group=diagnostics_name)
        aws.eks.Addon(
            f"{name}-addon",
            cluster_name=args.cluster_name,
            addon_name=ADDON_NAME,
            addon_version=ADDON_VERSION,
            service_account_role_arn=role.arn,
            # Our config is the source of truth: an edit made in the cluster is overwritten on the next update.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            configuration_values=json.dumps(self.configuration, sort_keys=True),
            tags=tags,
            # The agent starts with its permissions in place, so no line is refused on its first flush; and after what
            # the component was told to wait for (the nodes its DaemonSets need to become active).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access, *_resources(opts.depends_on if opts else None)]),
        )

        actions = [args.alarm_topic_arn]
        namespace = f"{METRIC_NAMESPACE_PREFIX}{args.zone}"
        aws.cloudwatch.LogMetricFilter(
            f"{name}-write-failures",
            log_group_name=diagnostics.name,
            pattern=f'"{WRITE_FAILURE_MARKER}"',
            metric_transformation={"name": WRITE_FAILURES_METRIC, "namespace": namespace, "value": "1"},
            opts=child,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-write-failures-alarm",
            alarm_description=(f"The inference guard of zone {args.zone} could not write telemetry lines: requests were "
                               "served without evidence (OB-01). See the guard diagnostics log group and the guard's "
                               "modelfort_guard_telemetry_write_failures_total."),
            namespace=namespace,
            metric_name=WRITE_FAILURES_METRIC,
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            tags=tags,
            opts=child,
        )
        if args.api_name is not None:
            self._delivery_alarm(name, args, actions, tags, child)

        self.role_arn = role.arn
        self.diagnostics_log_group_name = diagnostics.name
        self.register_outputs({"role_arn": self.role_arn, "diagnostics_log_group_name": self.diagnostics_log_group_name})

    @staticmethod
    def _delivery_alarm(name: str, args: TelemetryShippingArgs, actions, tags, opts) -> None:
        api = {"ApiName": args.api_name, "Stage": args.api_stage}

        def metric(id_: str, namespace: str, metric_name: str, dimensions: Mapping[str, str]) -> dict[str, Any]:
            return {"id": id_, "return_data": False, "metric": {
                "namespace": namespace, "metric_name": metric_name, "dimensions": dict(dimensions), "stat": "Sum",
                "period": 300}}

        aws.cloudwatch.MetricAlarm(
            f"{name}-delivery-alarm",
            alarm_description=(f"The API of zone {args.zone} served requests that API Gateway did not refuse, and the "
                               "telemetry log group received no event: the shipping agent stopped delivering, or the "
                               "guard stopped writing (OB-01). A gateway 5xx storm with no guard reached also fires it."),
            metric_queries=[
                metric("requests", "AWS/ApiGateway", "Count", api),
                metric("refused", "AWS/ApiGateway", "4XXError", api),
                metric("delivered", "AWS/Logs", "IncomingLogEvents", {"LogGroupName": args.telemetry_log_group_name}),
                # No datapoint is zero here: CloudWatch publishes nothing for a period without events.
                {"id": "silent", "return_data": True, "label": "Requests without telemetry",
                 "expression": "IF((FILL(requests, 0) - FILL(refused, 0)) > 0 AND FILL(delivered, 0) == 0, 1, 0)"},
            ],
            evaluation_periods=args.silent_delivery_periods,
            datapoints_to_alarm=args.silent_delivery_periods,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=list(actions),
            tags=dict(tags),
            opts=opts,
        )
