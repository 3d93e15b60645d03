"""SecurityAlerts: the zone's on-call topic, and alarms on what the telemetry and the detectors say (OB-05..OB-08).

The topic is encrypted with a customer key whose policy lets CloudWatch alarms publish (an SNS topic encrypted with
the AWS-managed key cannot receive alarms at all), and only CloudWatch alarms of this account may publish to it.

Two sources, each with metric filters written against its published schema:
- inference telemetry (modelfort/runtime/telemetry.py, schema_version 1, docs/telemetry-schema.md): guardrail
  interventions and prompt attacks (`guardrail.action`, `guardrail.categories[]`), denied tool calls and tool-call
  bursts (`tool_calls[]`), long completions (`output.tokens`), counted even when no detector runs;
- detector findings (modelfort/runtime/detectors/findings.py, finding_version 1): jailbreak and prompt-injection
  attempts, attempts that reached the model, anomalous tool use, RAG poisoning, extraction, and anything CRITICAL,
  by `detector` and `severity`.
ModelEndpoint adds its own alarms (authentication failures, throttling, WAF blocks, 4xx/5xx/latency anomalies) on
the same topic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.s3_hardening import account_root_statement, policy_document

CONTROLS = ("OB-05", "OB-06", "OB-07", "OB-08")
TELEMETRY, FINDINGS = "telemetry", "findings"
TOOL_CALL_BURST = 16
"""An inference that asks for this many tool calls or more is anomalous on its own (OB-07)."""
LONG_RESPONSE_TOKENS = 4000
"""Completions longer than this are counted (WP-07); the extraction detector applies each model's own limit."""
ARRAY_POSITIONS = 8
"""Metric filters cannot say "any element of an array", only "element N". The telemetry filters look at the first
eight guardrail categories and tool calls, which covers ordinary events; the detectors read every element, and their
findings have alarms of their own."""


@dataclass(frozen=True)
class AlertSpec:
    name: str
    source: str
    """TELEMETRY or FINDINGS: which log group the metric filter reads."""
    pattern: str
    """CloudWatch Logs JSON filter pattern over that source's schema."""
    metric: str
    threshold: int
    """Matching events in 5 minutes that raise the alarm."""
    controls: tuple[str, ...]
    description: str


def _severe(detector: str) -> str:
    return f'{{ ($.detector = "{detector}") && (($.severity = "HIGH") || ($.severity = "CRITICAL")) }}'


def _any_position(path: str, condition: str) -> str:
    """`path` holds an array: match when one of its first ARRAY_POSITIONS elements meets `condition`."""
    return "{ " + " || ".join(f"({path}[{i}]{condition})" for i in range(ARRAY_POSITIONS)) + " }"


ALERTS: tuple[AlertSpec, ...] = (
    AlertSpec("guardrail-interventions", TELEMETRY, '{ $.guardrail.action = "INTERVENED" }', "GuardrailInterventions", 25,
              ("OB-05", "OB-06", "RC-08"),
              "The guardrail blocked an unusual number of requests or responses: a jailbreak or injection campaign, or a misbehaving model"),
    AlertSpec("guardrail-prompt-attacks", TELEMETRY, _any_position("$.guardrail.categories", ' = "PROMPT_ATTACK"'), "GuardrailPromptAttacks", 5,
              ("OB-05", "OB-06", "RC-08"),
              "The guardrail's prompt-attack filter fired repeatedly; counted from telemetry, so it works even when the detectors are down"),
    AlertSpec("denied-tool-calls", TELEMETRY, _any_position("$.tool_calls", ".allowed IS FALSE"), "DeniedToolCalls", 5,
              ("OB-07",), "The tool policy denied calls the model asked for: a model steered towards tools it may not use"),
    AlertSpec("long-responses", TELEMETRY, f"{{ $.output.tokens > {LONG_RESPONSE_TOKENS} }}", "LongResponses", 5,
              ("WP-07", "RC-09"), f"Completions over {LONG_RESPONSE_TOKENS} tokens: possible extraction by long outputs"),
    AlertSpec("tool-call-bursts", TELEMETRY, f'{{ $.tool_calls[{TOOL_CALL_BURST - 1}].name = "*" }}', "ToolCallBursts", 1,
              ("OB-07",), f"An inference asked for {TOOL_CALL_BURST} or more tool calls"),
    AlertSpec("prompt-attacks", FINDINGS, '{ $.detector = "jailbreak" }', "PromptAttackFindings", 5,
              ("OB-05", "OB-06", "RC-08"),
              "Jailbreak or prompt-injection attempts, by pattern or by the guardrail's PROMPT_ATTACK verdict"),
    AlertSpec("prompt-attacks-reached-model", FINDINGS, _severe("jailbreak"), "PromptAttacksReachedModel", 1,
              ("OB-05", "OB-06", "RC-08"),
              "A jailbreak or injection attempt the guardrail did not block, or a persistent attacker"),
    AlertSpec("anomalous-tool-use", FINDINGS, '{ $.detector = "tool_use" }', "AnomalousToolUseFindings", 1,
              ("OB-07",), "Tool-call bursts, first use of a tool, denied calls or oversized arguments"),
    AlertSpec("rag-poisoning", FINDINGS, '{ $.detector = "rag_poisoning" }', "RagPoisoningFindings", 1,
              ("OB-08",), "Retrieved passages carrying instructions, hidden text, or links and sources outside the allow-list"),
    AlertSpec("model-extraction", FINDINGS, _severe("extraction"), "ModelExtractionFindings", 1,
              ("WP-04", "WP-07"), "Weight-like output, configuration dumps, canary leaks or responses over the limit"),
    AlertSpec("critical-findings", FINDINGS, '{ $.severity = "CRITICAL" }', "CriticalFindings", 1,
              ("OB-05", "OB-06", "OB-07", "OB-08", "WP-07"), "Any CRITICAL finding: a canary leak, concealed RAG instructions, an escalated attack"),
)


@dataclass(frozen=True, kw_only=True)
class AlertSubscription:
    protocol: str
    """email, https, sqs or lambda. Plain http is refused: alerts describe attacks in progress."""
    endpoint: pulumi.Input[str]

    def __post_init__(self) -> None:
        if self.protocol not in ("email", "https", "sqs", "lambda"):
            raise ValueError(f"AlertSubscription.protocol: {self.protocol!r} (email, https, sqs or lambda; never plain http)")
        if self.protocol == "https" and isinstance(self.endpoint, str) and not self.endpoint.startswith("https://"):
            raise ValueError(f"AlertSubscription.endpoint: {self.endpoint!r} must be an https:// URL")


@dataclass(frozen=True, kw_only=True)
class SecurityAlertsArgs:
    zone: str
    region: str
    telemetry_log_group_name: pulumi.Input[str]
    """EvidenceStore.telemetry_log_group_name."""
    findings_log_group_name: pulumi.Input[str]
    """EvidenceStore.findings_log_group_name."""
    subscriptions: Sequence[AlertSubscription] = ()
    """Who gets paged. Defaults to none: subscribe on-call out of band (e.g. AWS Chatbot), or alarms reach nobody."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates. Defaults to 365."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Bring your own key; None (the default) creates one. A key you bring must let cloudwatch.amazonaws.com use
    kms:GenerateDataKey* and kms:Decrypt."""
    tags: Mapping[str, str] = field(default_factory=dict)


class SecurityAlerts(pulumi.ComponentResource):
    CONTROLS = CONTROLS
    """The controls this component implements (read by the coverage matrix)."""

    topic_arn: pulumi.Output[str]
    """Every ModelFort alarm of the zone notifies this topic (alarm_actions and ok_actions)."""
    kms_key_arn: pulumi.Output[str]
    alarm_names: list[str]

    def __init__(self, name: str, args: SecurityAlertsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:SecurityAlerts", name, None, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone}
        topic_name = f"modelfort-{args.zone}-security-alerts"

        if args.kms_key_arn is None:
            key = aws.kms.Key(
                f"{name}-key",
                description=f"Encrypts the security alerts of zone {args.zone}",
                enable_key_rotation=True,
                rotation_period_in_days=args.key_rotation_days,
                deletion_window_in_days=30,
                policy=pulumi.Output.all(caller.account_id, partition.partition).apply(
                    lambda v: json.dumps(alert_key_policy(v[0], v[1]))
                ),
                tags=tags,
                opts=child,
            )
            aws.kms.Alias(f"{name}-key-alias", name=f"alias/modelfort/{args.zone}/alerts", target_key_id=key.key_id, opts=child)
            self.kms_key_arn = key.arn
        else:
            self.kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)

        topic = aws.sns.Topic(f"{name}-topic", name=topic_name, kms_master_key_id=self.kms_key_arn, tags=tags, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, caller.account_id, partition.partition).apply(
                lambda v: json.dumps(alert_topic_policy(v[0], v[1], v[2], args.region))
            ),
            opts=child,
        )
        if not args.subscriptions:
            pulumi.log.warn(f"SecurityAlerts {name}: no subscriptions; subscribe on-call to {topic_name} or its alarms page nobody", self)
        for index, subscription in enumerate(args.subscriptions):
            aws.sns.TopicSubscription(
                f"{name}-subscription-{index}", topic=topic.arn, protocol=subscription.protocol, endpoint=subscription.endpoint, opts=child,
            )

        namespace = f"ModelFort/{args.zone}"
        sources = {TELEMETRY: args.telemetry_log_group_name, FINDINGS: args.findings_log_group_name}
        self.alarm_names = []
        for alert in ALERTS:
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{alert.name}-filter",
                log_group_name=sources[alert.source],
                pattern=alert.pattern,
                metric_transformation={"name": alert.metric, "namespace": namespace, "value": "1"},
                opts=child,
            )
            alarm_name = f"modelfort-{args.zone}-{alert.name}"
            aws.cloudwatch.MetricAlarm(
                f"{name}-{alert.name}",
                name=alarm_name,
                alarm_description=f"{alert.description} ({', '.join(alert.controls)})",
                namespace=namespace,
                metric_name=alert.metric,
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=alert.threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                # The filters publish nothing while nothing matches: silence is the normal state, not missing data.
                treat_missing_data="notBreaching",
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                tags=tags,
                opts=child,
            )
            self.alarm_names.append(alarm_name)

        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn, "kms_key_arn": self.kms_key_arn})


def alert_key_policy(account: str, partition: str) -> dict[str, Any]:
    return policy_document([
        account_root_statement(account, partition),
        {
            # CloudWatch encrypts each alarm notification with a data key from this key when it publishes. AWS
            # documents no condition keys for this call, so the topic policy is where the publisher is pinned.
            "Sid": "CloudWatchAlarmsPublishEncrypted",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        },
    ])


def alert_topic_policy(topic_arn: str, account: str, partition: str, region: str) -> dict[str, Any]:
    return policy_document([
        {
            "Sid": "AccountManagesTheTopic",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
            "Action": ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:Publish"],
            "Resource": topic_arn,
        },
        {
            "Sid": "CloudWatchAlarmsOfThisAccountPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"},
            },
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ])
