"""TelemetryWatch: the detectors run on every inference-telemetry event, at any traffic, with state that outlives
any one process; findings kept as evidence, on-call alerted.

Controls: WP-04, WP-07 (extraction), OB-05, OB-06 (jailbreak and prompt-injection alerts), OB-07 (tool abuse),
OB-08 (RAG poisoning), OB-03 (no event silently lost). The code is modelfort.runtime.detection_stream; its package
docstring explains the two stages and the exactly-once argument. What this component provisions around it:

    telemetry log group ──subscription──> fan-out function (any concurrency: stateless detectors)
                                              │ PutRecords, partition key = caller
                                              v
                                          Kinesis stream (KMS, zone key; on demand or N shards; 7 days kept)
                                              │ event source mapping: parallelization factor, batch item
                                              │ failures, bisect on error, on-failure destination
                                              v
                                          consumer function (stateful detectors) <──> DynamoDB state table
                                                                                      (KMS, TTL, PITR)

- Throughput grows with shards × parallelization factor; a caller's events stay in order on one slot.
- Per-caller state lives in the table (conditional writes on a version, TTL on idle callers), so a cold start, a
  recycled environment or a re-shard loses nothing.
- Every queue, stream and table is encrypted with this watch's zone key; alarms cover function errors, dead
  letters, the consumer's iterator age (it is falling behind), high-severity findings and malformed telemetry.
- Each function's role can do its stage's work and nothing else.
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
from modelfort.runtime.detection_stream import PROCESSED_IDS

FANOUT_FUNCTION = "telemetry-fanout"
CONSUMER_FUNCTION = "telemetry-consumer"
EVIDENCE_PREFIX = "findings"
METRIC_NAMESPACE = "ModelFort/Telemetry"
VPC_ACCESS_POLICY = "AWSLambdaVPCAccessExecutionRole"
STATE_TTL_ATTRIBUTE = "expires_at"
MAX_PARALLELIZATION_FACTOR = 10  # Lambda's limit for Kinesis event source mappings
STREAM_READ_ACTIONS = ("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream",
                       "kinesis:DescribeStreamSummary", "kinesis:ListShards")
STATE_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem")


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
    """The on-call topic's key (the functions publish to an encrypted topic)."""
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_ids: pulumi.Input[Sequence[str]]
    log_retention_days: int
    key_rotation_days: int = 365
    detector_config: Mapping[str, Any] = field(default_factory=dict)
    """Detector settings (model limits, domain allow-list, thresholds); see modelfort.runtime.detectors.config.
    Defaults to the detectors' own defaults."""
    shard_count: int | None = None
    """None: an on-demand stream (Kinesis re-shards with the traffic). A number: that many provisioned shards."""
    parallelization_factor: int = MAX_PARALLELIZATION_FACTOR
    """Consumer batches in flight per shard (1-10); Lambda keeps each caller on one of them, in order."""
    batch_size: int = 100
    """Records per consumer batch, at most the ids each caller's state remembers (a retry replays one batch)."""
    stream_retention_hours: int = 168
    """How long a record stays replayable (24-8760): a dead-lettered batch is replayed from the stream."""
    iterator_age_alarm_ms: int = 300_000
    """The consumer is this far behind the stream's head: on-call is told before records age out."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_log_retention(self.log_retention_days, "TelemetryWatchArgs.log_retention_days")
        _check_detector_config(self.detector_config)
        _check_range("shard_count", self.shard_count, 1, 10_000, allow_none=True)
        _check_range("parallelization_factor", self.parallelization_factor, 1, MAX_PARALLELIZATION_FACTOR)
        _check_range("batch_size", self.batch_size, 1, PROCESSED_IDS)
        _check_range("stream_retention_hours", self.stream_retention_hours, 24, 8760)
        _check_range("iterator_age_alarm_ms", self.iterator_age_alarm_ms, 1_000, self.stream_retention_hours * 3_600_000 // 2)


def _check_range(key: str, value: Any, low: int, high: int, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        allowed = f"an integer from {low} to {high}" + (" or None" if allow_none else "")
        raise ValueError(f"TelemetryWatchArgs.{key}: {value!r} is not allowed; use {allowed}")


def _check_detector_config(config: Mapping[str, Any]) -> None:
    """Refuse a detector config the functions would refuse at their first batch (then every batch would dead-letter)."""
    from modelfort.runtime.detectors.config import ConfigError, DetectorConfig

    try:
        DetectorConfig.from_mapping(dict(config))
    except (ConfigError, TypeError, ValueError) as error:
        raise ValueError(f"TelemetryWatchArgs.detector_config: {error}") from error


def _via(service: str, region: str, key_arn: str, actions: Sequence[str], sid: str) -> dict[str, Any]:
    """Use of a key only through one AWS service in this region (never a direct decrypt of arbitrary data)."""
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}}}


class TelemetryWatch(pulumi.ComponentResource):
    CONTROLS = ("WP-04", "WP-07", "OB-03", "OB-05", "OB-06", "OB-07", "OB-08")
    fanout_function_name: pulumi.Output[str]
    consumer_function_name: pulumi.Output[str]
    stream_arn: pulumi.Output[str]
    state_table_name: pulumi.Output[str]
    dead_letter_queue_arn: pulumi.Output[str]

    def __init__(self, name: str, args: TelemetryWatchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:TelemetryWatch", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone}
        region = args.region
        fanout_logs_name = function_log_group_name(args.zone, FANOUT_FUNCTION)
        consumer_logs_name = function_log_group_name(args.zone, CONSUMER_FUNCTION)

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the telemetry watch's stream, state, logs and dead letters (zone {args.zone})",
            enable_key_rotation=True,
            rotation_period_in_days=args.key_rotation_days,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(caller.account_id, partition.partition).apply(lambda v: json.dumps(policy_document([
                account_root_statement(v[0], v[1]),
                {**logs_key_statement(v[0], v[1], region, fanout_logs_name), "Sid": "CloudWatchLogsOfTheFanOut"},
                {**logs_key_statement(v[0], v[1], region, consumer_logs_name), "Sid": "CloudWatchLogsOfTheConsumer"},
            ]))),
            tags=tags,
            opts=child,
        )
        dead_letters = aws.sqs.Queue(
            f"{name}-dead-letters",
            kms_master_key_id=key.arn,
            message_retention_seconds=14 * 24 * 3600,  # the most SQS keeps: two weeks to replay a lost batch
            tags=tags,
            opts=child,
        )
        stream = aws.kinesis.Stream(
            f"{name}-stream",
            encryption_type="KMS",
            kms_key_id=key.arn,
            retention_period=args.stream_retention_hours,
            shard_count=args.shard_count,
            stream_mode_details={"stream_mode": "ON_DEMAND" if args.shard_count is None else "PROVISIONED"},
            tags=tags,
            opts=child,
        )
        state = aws.dynamodb.Table(
            f"{name}-state",
            billing_mode="PAY_PER_REQUEST",
            hash_key="caller",
            attributes=[{"name": "caller", "type": "S"}],
            # Forgotten callers expire (the consumer sets each item's idle expiry), so the table stays bounded.
            ttl={"attribute_name": STATE_TTL_ATTRIBUTE, "enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
            point_in_time_recovery={"enabled": True},
            deletion_protection_enabled=True,
            tags=tags,
            opts=child,
        )
        package = package_runtime_bundle("detection_stream", ("detectors", "telemetry", "telemetry_watch"), handler="fanout")
        shared_env = {
            "EVIDENCE_BUCKET": args.evidence_bucket_name,
            "EVIDENCE_PREFIX": EVIDENCE_PREFIX,
            "ALERT_TOPIC_ARN": args.alert_topic_arn,
            "ZONE": args.zone,
            "DETECTOR_CONFIG": json.dumps(dict(args.detector_config)),
        }
        common = dict(args=args, name=name, key=key, partition=partition, tags=tags, child=child)

        # Stage one: stateless, so no reserved concurrency of one: it scales with the subscription's batches.
        fanout_logs, fanout_role = function_log_group_and_role(
            f"{name}-fanout-logs", f"{name}-fanout-role", fanout_logs_name, key.arn, args.log_retention_days,
            f"Telemetry fan-out of zone {args.zone}: judges events, re-keys them by caller", tags, child,
        )
        fanout_policy = aws.iam.RolePolicy(
            f"{name}-fanout-access",
            role=fanout_role.id,
            policy=pulumi.Output.all(
                fanout_logs.arn, args.evidence_bucket_arn, args.evidence_kms_key_arn, args.alert_topic_arn,
                args.alert_kms_key_arn, dead_letters.arn, key.arn, stream.arn,
            ).apply(lambda v: json.dumps(policy_document([
                write_logs_statement(v[0]),
                *self._evidence_and_alert_statements(v[1], v[2], v[3], v[4], region, "fanout"),
                {"Sid": "DeadLetter", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": v[5]},
                {"Sid": "ForwardToTheStream", "Effect": "Allow", "Action": ["kinesis:PutRecords", "kinesis:PutRecord"], "Resource": v[7]},
                _via("kinesis", region, v[6], ["kms:GenerateDataKey"], "EncryptStreamRecords"),
                _via("sqs", region, v[6], ["kms:GenerateDataKey", "kms:Decrypt"], "EncryptDeadLetters"),
            ]))),
            opts=child,
        )
        fanout = self._function(
            "fanout", package.handler, package, fanout_role, fanout_logs, fanout_policy,
            {**shared_env, "DETECTION_STREAM": stream.name}, f"Stateless telemetry detectors, re-keys by caller (zone {args.zone})",
            **common)
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-fanout-retries",
            function_name=fanout.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=6 * 3600,
            destination_config={"on_failure": {"destination": dead_letters.arn}},
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=fanout.name,
            principal=f"logs.{region}.amazonaws.com",
            source_arn=pulumi.Output.concat(args.telemetry_log_group_arn, ":*"),
            source_account=caller.account_id,
            opts=child,
        )
        aws.cloudwatch.LogSubscriptionFilter(
            f"{name}-subscription",
            log_group=args.telemetry_log_group_name,
            filter_pattern="",  # every event: the detectors decide what matters
            destination_arn=fanout.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )

        # Stage two: the per-caller detectors, one batch per shard slot at a time, state in the table.
        consumer_logs, consumer_role = function_log_group_and_role(
            f"{name}-consumer-logs", f"{name}-consumer-role", consumer_logs_name, key.arn, args.log_retention_days,
            f"Telemetry consumer of zone {args.zone}: per-caller detectors with durable state", tags, child,
        )
        consumer_policy = aws.iam.RolePolicy(
            f"{name}-consumer-access",
            role=consumer_role.id,
            policy=pulumi.Output.all(
                consumer_logs.arn, args.evidence_bucket_arn, args.evidence_kms_key_arn, args.alert_topic_arn,
                args.alert_kms_key_arn, dead_letters.arn, key.arn, stream.arn, state.arn,
            ).apply(lambda v: json.dumps(policy_document([
                write_logs_statement(v[0]),
                *self._evidence_and_alert_statements(v[1], v[2], v[3], v[4], region, "stream"),
                {"Sid": "DeadLetter", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": v[5]},
                {"Sid": "ReadTheStream", "Effect": "Allow", "Action": list(STREAM_READ_ACTIONS), "Resource": v[7]},
                {"Sid": "CallerState", "Effect": "Allow", "Action": list(STATE_ACTIONS), "Resource": v[8]},
                _via("kinesis", region, v[6], ["kms:Decrypt"], "DecryptStreamRecords"),
                _via("dynamodb", region, v[6], ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                     "EncryptCallerState"),
                _via("sqs", region, v[6], ["kms:GenerateDataKey", "kms:Decrypt"], "EncryptDeadLetters"),
            ]))),
            opts=child,
        )
        consumer = self._function(
            "consumer", package.handler.replace(".fanout.lambda_handler", ".consumer.lambda_handler"), package, consumer_role, consumer_logs,
            consumer_policy, {**shared_env, "STATE_TABLE": state.name},
            f"Per-caller telemetry detectors with durable state (zone {args.zone})", **common)
        aws.lambda_.EventSourceMapping(
            f"{name}-consumer-source",
            event_source_arn=stream.arn,
            function_name=consumer.arn,
            starting_position="TRIM_HORIZON",  # a new consumer starts from what the stream still holds
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=1,
            parallelization_factor=args.parallelization_factor,
            # Per caller: a failed caller is retried from its first record, the others' work stands.
            function_response_types=["ReportBatchItemFailures"],
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=10,
            maximum_record_age_in_seconds=-1,  # never skip a record for its age; the iterator-age alarm watches
            destination_config={"on_failure": {"destination_arn": dead_letters.arn}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[consumer_policy]),
        )

        actions = [args.alert_topic_arn]
        for stage, function in (("fanout", fanout), ("consumer", consumer)):
            errors_alarm(f"{name}-{stage}-errors", function, function.name,
                         f"The telemetry {stage} of zone {args.zone} failed: batches are being retried or dead-lettered.",
                         actions, tags, child)
        self._alarm(f"{name}-dead-letters-alarm", "A telemetry batch could not be processed and waits in the dead-letter queue.",
                    "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": dead_letters.name}, "Maximum", 1, actions, tags, child)
        self._alarm(f"{name}-iterator-age", "The telemetry consumer is falling behind the stream: per-caller detection is late, "
                    "and records age out of the stream if it does not catch up.",
                    "AWS/Lambda", "IteratorAge", {"FunctionName": consumer.name}, "Maximum", args.iterator_age_alarm_ms,
                    actions, tags, child)
        self._alarm(f"{name}-high-findings", "High or critical findings in inference telemetry (extraction, jailbreak, tool abuse, RAG poisoning).",
                    METRIC_NAMESPACE, "HighSeverityFindings", {"Zone": args.zone}, "Sum", 1, actions, tags, child)
        self._alarm(f"{name}-malformed", "Inference telemetry that does not follow the schema: detectors are blind to it.",
                    METRIC_NAMESPACE, "MalformedEvents", {"Zone": args.zone}, "Sum", 10, actions, tags, child)
        self.fanout_function_name = fanout.name
        self.consumer_function_name = consumer.name
        self.stream_arn = stream.arn
        self.state_table_name = state.name
        self.dead_letter_queue_arn = dead_letters.arn
        self.register_outputs({
            "fanout_function_name": self.fanout_function_name, "consumer_function_name": self.consumer_function_name,
            "stream_arn": self.stream_arn, "state_table_name": self.state_table_name,
            "dead_letter_queue_arn": self.dead_letter_queue_arn,
        })

    @staticmethod
    def _evidence_and_alert_statements(bucket_arn: str, evidence_key: str, topic_arn: str, topic_key: str, region: str,
                                       stage: str) -> list[dict[str, Any]]:
        return [
            # Each stage writes under its own prefix only (the handlers' EVIDENCE_STAGE).
            {"Sid": "WriteFindingsOnly", "Effect": "Allow", "Action": "s3:PutObject",
             "Resource": f"{bucket_arn}/{EVIDENCE_PREFIX}/{stage}/*"},
            {"Sid": "AlertOnCall", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
            _via("s3", region, evidence_key, ["kms:GenerateDataKey", "kms:Decrypt"], "EncryptEvidenceThroughS3"),
            _via("sns", region, topic_key, ["kms:GenerateDataKey", "kms:Decrypt"], "EncryptAlertsThroughSns"),
        ]

    def _function(self, stage, handler, package, role, log_group, role_policy, variables, description, *, args, name, key,
                  partition, tags, child) -> aws.lambda_.Function:
        aws.iam.RolePolicyAttachment(
            f"{name}-{stage}-vpc-access", role=role.name,
            policy_arn=partition.partition.apply(lambda p: f"arn:{p}:iam::aws:policy/service-role/{VPC_ACCESS_POLICY}"),
            opts=child,
        )
        return aws.lambda_.Function(
            f"{name}-{stage}",
            description=description,
            runtime=LAMBDA_RUNTIME,
            handler=handler,
            code=package.archive,
            role=role.arn,
            timeout=120,
            memory_size=512,
            vpc_config={"subnet_ids": args.subnet_ids, "security_group_ids": args.security_group_ids},
            environment={"variables": variables},
            # Text, not JSON: the embedded-metric lines must reach CloudWatch exactly as printed.
            logging_config={"log_format": "Text", "log_group": log_group.name},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )

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
