"""TelemetryWatch: the detectors run on every inference-telemetry batch, findings kept as evidence, on-call alerted.

Controls: WP-04, WP-07 (extraction), OB-05, OB-06 (jailbreak and prompt-injection alerts), OB-07 (tool abuse),
OB-08 (RAG poisoning). The function is modelfort.runtime.telemetry_watch with the detectors bundled; see its handler
for the delivery semantics. What this component adds around it:

- a subscription on the zone's telemetry log group, so every event reaches the detectors;
- a reserved concurrency of one, because the stateful detectors need every event of a caller in one process;
- asynchronous retries and then an encrypted dead-letter queue, so a batch that could not be accounted for is kept,
  and alarms on that queue, on function errors, on high-severity findings and on malformed telemetry;
- a role that can write findings under one evidence prefix, publish to the on-call topic and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.lambda_package import (
    LAMBDA_RUNTIME,
    check_log_retention,
    errors_alarm,
    function_log_group_and_role,
    function_log_group_name,
    logs_key_statement,
    package_runtime_bundle,
    write_logs_statement,
)
from components.aws.s3_hardening import account_root_statement, policy_document

FUNCTION = "telemetry-watch"
EVIDENCE_PREFIX = "findings"
METRIC_NAMESPACE = "ModelFort/Telemetry"
VPC_ACCESS_POLICY = "AWSLambdaVPCAccessExecutionRole"


@dataclass(frozen=True, kw_only=True)
class TelemetryWatchArgs:
    zone: str
    region: str
    telemetry_log_group_name: pulumi.Input[str]
    telemetry_log_group_arn: pulumi.Input[str]
    evidence_bucket_name: pulumi.Input[str]
    evidence_bucket_arn: pulumi.Input[str]
    evidence_kms_key_arn: pulumi.Input[str]
    """The evidence bucket's key (findings are written SSE-KMS)."""
    alert_topic_arn: pulumi.Input[str]
    alert_kms_key_arn: pulumi.Input[str]
    """The on-call topic's key (the function publishes to an encrypted topic)."""
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_ids: pulumi.Input[Sequence[str]]
    log_retention_days: int
    key_rotation_days: int = 365
    detector_config: Mapping[str, Any] = field(default_factory=dict)
    """Detector settings (model limits, domain allow-list, thresholds); see modelfort.runtime.detectors.config.
    Defaults to the detectors' own defaults."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_log_retention(self.log_retention_days, "TelemetryWatchArgs.log_retention_days")
        _check_detector_config(self.detector_config)


def _check_detector_config(config: Mapping[str, Any]) -> None:
    """Refuse a detector config the function would refuse at its first batch (then every batch would dead-letter)."""
    from modelfort.runtime.detectors.config import ConfigError, DetectorConfig

    try:
        DetectorConfig.from_mapping(dict(config))
    except (ConfigError, TypeError, ValueError) as error:
        raise ValueError(f"TelemetryWatchArgs.detector_config: {error}") from error


class TelemetryWatch(pulumi.ComponentResource):
    CONTROLS = ("WP-04", "WP-07", "OB-05", "OB-06", "OB-07", "OB-08")
    function_name: pulumi.Output[str]
    dead_letter_queue_arn: pulumi.Output[str]

    def __init__(self, name: str, args: TelemetryWatchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:TelemetryWatch", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone}
        region = args.region
        log_group_name = function_log_group_name(args.zone, FUNCTION)

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the telemetry watch's logs and dead letters (zone {args.zone})",
            enable_key_rotation=True,
            rotation_period_in_days=args.key_rotation_days,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(caller.account_id, partition.partition).apply(lambda v: json.dumps(policy_document([
                account_root_statement(v[0], v[1]),
                logs_key_statement(v[0], v[1], region, log_group_name),
            ]))),
            tags=tags,
            opts=child,
        )
        log_group, role = function_log_group_and_role(
            f"{name}-logs", f"{name}-role", log_group_name, key.arn, args.log_retention_days,
            f"Telemetry watch of zone {args.zone}: writes findings, alerts on-call", tags, child,
        )
        dead_letters = aws.sqs.Queue(
            f"{name}-dead-letters",
            kms_master_key_id=key.arn,
            message_retention_seconds=14 * 24 * 3600,  # the most SQS keeps: two weeks to replay a lost batch
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-vpc-access", role=role.name,
            policy_arn=partition.partition.apply(lambda p: f"arn:{p}:iam::aws:policy/service-role/{VPC_ACCESS_POLICY}"), opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-access",
            role=role.id,
            policy=pulumi.Output.all(
                log_group.arn, args.evidence_bucket_arn, args.evidence_kms_key_arn, args.alert_topic_arn,
                args.alert_kms_key_arn, dead_letters.arn, key.arn,
            ).apply(lambda v: json.dumps(policy_document([
                write_logs_statement(v[0]),
                {"Sid": "WriteFindingsOnly", "Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{v[1]}/{EVIDENCE_PREFIX}/*"},
                {"Sid": "AlertOnCall", "Effect": "Allow", "Action": "sns:Publish", "Resource": v[3]},
                {"Sid": "EncryptEvidenceThroughS3", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": v[2],
                 "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
                {"Sid": "EncryptAlertsThroughSns", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": v[4],
                 "Condition": {"StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com"}}},
                {"Sid": "DeadLetter", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": v[5]},
                {"Sid": "EncryptDeadLetters", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": v[6],
                 "Condition": {"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}}},
            ]))),
            opts=child,
        )
        package = package_runtime_bundle("telemetry_watch", ("detectors", "telemetry"))
        function = aws.lambda_.Function(
            f"{name}-function",
            description=f"Runs the telemetry detectors (zone {args.zone}; modelfort.runtime.telemetry_watch)",
            runtime=LAMBDA_RUNTIME,
            handler=package.handler,
            code=package.archive,
            role=role.arn,
            timeout=120,
            memory_size=512,
            # One process sees every caller's events: the detectors' per-caller windows and baselines depend on it.
            reserved_concurrent_executions=1,
            vpc_config={"subnet_ids": args.subnet_ids, "security_group_ids": args.security_group_ids},
            environment={"variables": {
                "EVIDENCE_BUCKET": args.evidence_bucket_name,
                "EVIDENCE_PREFIX": EVIDENCE_PREFIX,
                "ALERT_TOPIC_ARN": args.alert_topic_arn,
                "ZONE": args.zone,
                "DETECTOR_CONFIG": json.dumps(dict(args.detector_config)),
            }},
            # Text, not JSON: the embedded-metric lines must reach CloudWatch exactly as printed.
            logging_config={"log_format": "Text", "log_group": log_group.name},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-retries",
            function_name=function.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=6 * 3600,
            destination_config={"on_failure": {"destination": dead_letters.arn}},
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal=f"logs.{region}.amazonaws.com",
            source_arn=pulumi.Output.concat(args.telemetry_log_group_arn, ":*"),
            source_account=caller.account_id,
            opts=child,
        )
        aws.cloudwatch.LogSubscriptionFilter(
            f"{name}-subscription",
            log_group=args.telemetry_log_group_name,
            filter_pattern="",  # every event: the detectors decide what matters
            destination_arn=function.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        actions = [args.alert_topic_arn]
        errors_alarm(f"{name}-errors", function, function.name,
                     f"The telemetry watch of zone {args.zone} failed: batches are being retried or dead-lettered.",
                     actions, tags, child)
        self._alarm(f"{name}-dead-letters-alarm", "A telemetry batch could not be processed and waits in the dead-letter queue.",
                    "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": dead_letters.name}, "Maximum", 1, actions, tags, child)
        self._alarm(f"{name}-high-findings", "High or critical findings in inference telemetry (extraction, jailbreak, tool abuse, RAG poisoning).",
                    METRIC_NAMESPACE, "HighSeverityFindings", {"Zone": args.zone}, "Sum", 1, actions, tags, child)
        self._alarm(f"{name}-malformed", "Inference telemetry that does not follow the schema: detectors are blind to it.",
                    METRIC_NAMESPACE, "MalformedEvents", {"Zone": args.zone}, "Sum", 10, actions, tags, child)
        self.function_name = function.name
        self.dead_letter_queue_arn = dead_letters.arn
        self.register_outputs({"function_name": self.function_name, "dead_letter_queue_arn": self.dead_letter_queue_arn})

    @staticmethod
    def _alarm(name, description, namespace, metric, dimensions, statistic, threshold, actions, tags, opts) -> None:
        aws.cloudwatch.MetricAlarm(
            name,
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=300,
            evaluation_periods=1,
            threshold=threshold,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=list(actions),
            tags=dict(tags),
            opts=opts,
        )
