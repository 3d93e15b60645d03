"""Secrets rules with pass, fail and missing-property fixtures, judged by the pack through the analyzer service."""

from __future__ import annotations

from pathlib import Path

import json

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

from modelfort.gate.analyzer import PackProcess
from modelfort_policy.rules.secrets import config_credential_findings, credential_kind, schedule_interval_days

SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET_MARKER = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
IN_VPC = {"vpcConfig": {"subnetIds": ["subnet-1", "subnet-2"], "securityGroupIds": ["sg-1"]}}

PACK_DIR = Path(__file__).resolve().parents[2] / "policy_packs" / "modelfort"


def secret_with_rotation(name: str = "token", rules: dict | None = None, **rotation_props) -> list[dict]:
    secret = res(SECRET, name, {"kmsKeyId": KEY_ARN})
    rotation = res(ROTATION, f"{name}-rotation", {"secretId": "x", "rotationRules": rules if rules is not None else {"automaticallyAfterDays": 30}, **rotation_props},
                   {"secretId": [secret]})
    return [secret, rotation]


# ------------------------------------------------------------------------------------------------ SC-03
@pytest.mark.control("SC-03")
@pytest.mark.parametrize(
    "props,expected",
    [
        ({"kmsKeyId": KEY_ARN}, set()),
        ({"kmsKeyId": UNKNOWN}, set()),  # the ARN of a key created in the same update: known only at deploy time
        ({}, {"s"}),
        ({"kmsKeyId": ""}, {"s"}),
        ({"kmsKeyId": "alias/aws/secretsmanager"}, {"s"}),
        ({"kmsKeyId": "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager"}, {"s"}),
    ],
)
def test_secrets_need_a_customer_managed_key(packs, props, expected):
    assert flagged(packs.get().analyze(res(SECRET, "s", props)), "secret-customer-key") == expected


@pytest.mark.control("SC-03", "SC-05")
@pytest.mark.parametrize("props,expected", [({}, set()), ({"recoveryWindowInDays": 7}, set()), ({"recoveryWindowInDays": 0}, {"s"})])
def test_deleting_a_secret_keeps_a_recovery_window(packs, props, expected):
    assert flagged(packs.get().analyze(res(SECRET, "s", {"kmsKeyId": KEY_ARN, **props})), "secret-recoverable-deletion") == expected


def policy_of(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ANYONE_READS = {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}


@pytest.mark.control("SC-03")
@pytest.mark.parametrize(
    "resource,expected",
    [
        (res(SECRET_POLICY, "open", {"policy": policy_of(ANYONE_READS)}), {"open"}),
        (res(SECRET_POLICY, "aws-star", {"policy": policy_of({**ANYONE_READS, "Principal": {"AWS": ["*"]}})}), {"aws-star"}),
        (res(SECRET_POLICY, "all-actions", {"policy": policy_of({**ANYONE_READS, "Action": ["secretsmanager:*"]})}), {"all-actions"}),
        # TLS is a transport condition: "anyone" is still anyone.
        (res(SECRET_POLICY, "tls-only", {"policy": policy_of({**ANYONE_READS, "Condition": {"Bool": {"aws:SecureTransport": "true"}}})}), {"tls-only"}),
        (res(SECRET_POLICY, "org-only", {"policy": policy_of({**ANYONE_READS, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})}), set()),
        (res(SECRET_POLICY, "negated-org", {"policy": policy_of({**ANYONE_READS, "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}}})}), {"negated-org"}),
        (res(SECRET_POLICY, "null-check", {"policy": policy_of({**ANYONE_READS, "Condition": {"Null": {"aws:SourceVpce": "false"}}})}), {"null-check"}),
        (res(SECRET_POLICY, "vpce-only", {"policy": policy_of({**ANYONE_READS, "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0abc"}}})}), set()),
        (res(SECRET_POLICY, "describe-only", {"policy": policy_of({**ANYONE_READS, "Action": "secretsmanager:DescribeSecret"})}), set()),
        (res(SECRET_POLICY, "deny", {"policy": policy_of({**ANYONE_READS, "Effect": "Deny"})}), set()),
        (res(SECRET_POLICY, "named", {"policy": policy_of({**ANYONE_READS, "Principal": {"AWS": "arn:aws:iam::123456789012:role/reader"}})}), set()),
        (res(SECRET_POLICY, "garbled", {"policy": "{not json"}), {"garbled"}),
        (res(SECRET_POLICY, "unknown", {"policy": UNKNOWN}), set()),
        (res(SECRET, "inline", {"kmsKeyId": KEY_ARN, "policy": policy_of(ANYONE_READS)}), {"inline"}),
        (res(SECRET, "no-policy", {"kmsKeyId": KEY_ARN}), set()),
    ],
)
def test_no_secret_policy_lets_anyone_read(packs, resource, expected):
    assert flagged(packs.get().analyze(resource), "secret-policy-not-public") == expected


# ------------------------------------------------------------------------------------------------ SC-04
@pytest.mark.control("SC-04")
@pytest.mark.parametrize(
    "zone,resources,expected",
    [
        ("production", secret_with_rotation(), set()),
        ("production", secret_with_rotation(rules={"automaticallyAfterDays": 31}), {"token-rotation"}),
        ("testing", secret_with_rotation(rules={"automaticallyAfterDays": 90}), set()),
        ("high-sensitivity", secret_with_rotation(rules={"automaticallyAfterDays": 30}), {"token-rotation"}),
        ("production", secret_with_rotation(rules={"scheduleExpression": "rate(7 days)"}), set()),
        ("production", secret_with_rotation(rules={"scheduleExpression": "cron(0 3 ? * MON *)"}), set()),
        # The 1st of each month: up to 31 days apart.
        ("production", secret_with_rotation(rules={"scheduleExpression": "cron(0 3 1 * ? *)"}), {"token-rotation"}),
        ("testing", secret_with_rotation(rules={"scheduleExpression": "cron(0 3 1 * ? *)"}), set()),
        ("production", secret_with_rotation(rules={"scheduleExpression": "cron(0 3 L * ? *)"}), {"token-rotation"}),
        ("production", secret_with_rotation(rules={}), {"token-rotation"}),
        ("production", secret_with_rotation(rotationEnabled=False), {"token-rotation"}),
        ("production", [res(SECRET, "never", {"kmsKeyId": KEY_ARN})], {"never"}),
        # An unknown zone is judged at the strictest tier (7 days).
        ("elsewhere", secret_with_rotation(rules={"automaticallyAfterDays": 8}), {"token-rotation"}),
    ],
)
def test_every_secret_rotates_within_the_tier(packs, zone, resources, expected):
    assert flagged(judge_all(packs.get({"modelfort:zone": zone}), resources), "secret-rotation-within-tier") == expected


@pytest.mark.control("SC-04")
def test_a_rotation_is_matched_to_its_secret_by_literal_id_too(packs):
    secret = res(SECRET, "existing", {"kmsKeyId": KEY_ARN, "id": "arn:aws:secretsmanager:us-east-1:1:secret:existing-AbCdEf"})
    rotation = res(ROTATION, "existing-rotation", {"secretId": "arn:aws:secretsmanager:us-east-1:1:secret:existing-AbCdEf",
                                                    "rotationRules": {"automaticallyAfterDays": 7}})
    assert flagged(judge_all(packs.get(), [secret, rotation]), "secret-rotation-within-tier") == set()


@pytest.mark.parametrize(
    "expression,days",
    [
        ("rate(7 days)", 7.0), ("rate(1 day)", 1.0), ("rate(12 hours)", 0.5), ("cron(0 3 * * ? *)", 1.0),
        ("cron(0 3 ? * MON,THU *)", 4.0), ("cron(0 3 ? * MON-FRI *)", 3.0), ("cron(0 3 1,15 * ? *)", 17.0),
        ("cron(0 3 29 * ? *)", None), ("cron(0 3 1 1 ? *)", None), ("cron(0/5 3 ? * 2#1 *)", None), ("weekly", None),
    ],
)
def test_schedule_intervals(expression, days):
    assert schedule_interval_days(expression) == days


@pytest.mark.control("SC-04", "NB-09")
def test_rotation_functions_must_run_in_the_zone(packs):
    inside = res(FUNCTION, "rotates-inside", {"handler": "rotation.handler.lambda_handler", **IN_VPC})
    outside = res(FUNCTION, "rotates-outside", {"handler": "rotation.handler.lambda_handler"})
    no_subnets = res(FUNCTION, "no-subnets", {"vpcConfig": {"subnetIds": [], "securityGroupIds": ["sg-1"]}})
    invoked = res(FUNCTION, "invoked-by-secrets-manager", {})
    tagged = res(FUNCTION, "tagged", {"tags": {"modelfort:function": "secret-rotation"}})
    unknown_vpc = res(FUNCTION, "vpc-known-later", {"vpcConfig": {"subnetIds": UNKNOWN, "securityGroupIds": UNKNOWN}})
    bystander = res(FUNCTION, "not-a-rotation-function", {})
    secret = res(SECRET, "s", {"kmsKeyId": KEY_ARN})
    rotations = [
        res(ROTATION, f"r-{f['name']}", {"secretId": "s", "rotationLambdaArn": "arn", "rotationRules": {"automaticallyAfterDays": 7}},
            {"secretId": [secret], "rotationLambdaArn": [f]})
        for f in (inside, outside, no_subnets, unknown_vpc)
    ]
    permission = res(PERMISSION, "p", {"principal": "secretsmanager.amazonaws.com", "function": "x"}, {"function": [invoked]})
    resources = [secret, inside, outside, no_subnets, invoked, tagged, unknown_vpc, bystander, permission, *rotations]
    assert flagged(judge_all(packs.get(), resources), "rotation-function-in-vpc") == {"rotates-outside", "no-subnets", "invoked-by-secrets-manager", "tagged"}


# ------------------------------------------------------------------------------------------------ SC-05
JANITOR = {"handler": "janitor.handler.lambda_handler"}


@pytest.mark.control("SC-05")
@pytest.mark.parametrize(
    "props,expected",
    [
        ({**JANITOR, "environment": {"variables": {"DRY_RUN": "false", "MAX_IDLE_DAYS": "45"}}}, False),
        ({**JANITOR}, False),  # the runtime's defaults: not a dry run, 45 days
        ({**JANITOR, "environment": {"variables": {"DRY_RUN": "true"}}}, True),
        ({**JANITOR, "environment": {"variables": {"DRY_RUN": "TRUE"}}}, True),
        ({**JANITOR, "environment": {"variables": {"DRY_RUN": "yes"}}}, True),
        ({**JANITOR, "environment": {"variables": {"DRY_RUN": UNKNOWN}}}, True),
        ({**JANITOR, "environment": {"variables": {"MAX_IDLE_DAYS": "46"}}}, True),
        ({**JANITOR, "environment": {"variables": {"MAX_IDLE_DAYS": "forty"}}}, True),
        ({"tags": {"modelfort:function": "credential-janitor"}, "environment": {"variables": {"DRY_RUN": "true"}}}, True),
        ({"handler": "app.handler", "environment": {"variables": {"DRY_RUN": "true"}}}, False),  # not a janitor
    ],
)
def test_the_janitor_revokes_for_real(packs, props, expected):
    assert flagged(packs.get().analyze(res(FUNCTION, "j", props)), "credential-janitor-enforcing") == ({"j"} if expected else set())


def scheduled_janitor(expression: str | None, state: str = "ENABLED", wired: bool = True) -> list[dict]:
    janitor = res(FUNCTION, "janitor", JANITOR)
    resources = [janitor]
    if expression is not None:
        rule = res(RULE, "schedule", {"scheduleExpression": expression, "state": state})
        resources.append(rule)
        if wired:
            resources.append(res(TARGET, "target", {"rule": "schedule", "arn": "arn"}, {"rule": [rule], "arn": [janitor]}))
    return resources


@pytest.mark.control("SC-05")
@pytest.mark.parametrize(
    "resources,expected",
    [
        (scheduled_janitor("rate(1 day)"), False),
        (scheduled_janitor("rate(6 hours)"), False),
        (scheduled_janitor("cron(0 3 * * ? *)"), False),
        (scheduled_janitor("rate(2 days)"), True),
        (scheduled_janitor("cron(0 3 ? * MON *)"), True),
        (scheduled_janitor("rate(1 day)", state="DISABLED"), True),
        (scheduled_janitor("rate(1 day)", wired=False), True),
        (scheduled_janitor(None), True),
    ],
)
def test_the_janitor_runs_at_least_daily(packs, resources, expected):
    assert flagged(judge_all(packs.get(), resources), "credential-janitor-scheduled") == ({"janitor"} if expected else set())


# ------------------------------------------------------------------------------------------------ SC-01, SC-02
AWS_KEY_ID = "AKIA" + "EXAMPLEONLYNOTREAL"[:16]
FAKE = {
    "an AWS access key id": AWS_KEY_ID,
    "a private key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
    "a GitHub token": "ghp_" + "EXAMPLEonlyNOTaREALtoken0123456789abcd",
    "a Slack token": "xoxb-" + "000000000000-EXAMPLEonly",
    "an OpenAI API key": "sk-proj-" + "EXAMPLEonlyNOTaREALkey0123456789",
    "an Anthropic API key": "sk-ant-" + "api03-EXAMPLEonlyNOTaREALkey0123",
    "a Hugging Face token": "hf_" + "EXAMPLEonlyNOTaREALtokenABCDEFGHIJ",
    "a ModelFort service token": "mf_agent_" + "EXAMPLEonlyNOTaREALtoken0123456789abcdefghi",
    "a URL with an embedded password": "postgres://app:EXAMPLEpw0rd@db.internal:5432/app",
    "a high-entropy value under a secret-like name": "9fK2xQ7pLm4Vt8Rz1Wb6Yc3Nd5Hg0Js",
}


@pytest.mark.control("SC-01", "SC-02")
@pytest.mark.parametrize("name", ["apiKey", "AWS_SECRET_ACCESS_KEY", "hfToken", "db.password", "clientSecret", "SLACK_WEBHOOK", "search[0].api_key"])
def test_secret_like_names(name):
    assert credential_kind(name, FAKE["a high-entropy value under a secret-like name"]) == "a high-entropy value under a secret-like name"


@pytest.mark.control("SC-01", "SC-02")
@pytest.mark.parametrize("kind", sorted(FAKE))
def test_credential_kinds_are_recognised(kind):
    name = "apiKey" if kind.startswith("a high-entropy") else "value"
    assert credential_kind(name, FAKE[kind]) == kind


@pytest.mark.control("SC-01", "SC-02")
@pytest.mark.parametrize(
    "name,value",
    [
        ("apiKeySecretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/search-AbCdEf"),
        ("SECRETS_MANAGER_ENDPOINT", "https://secretsmanager.us-east-1.amazonaws.com"),
        ("tokenizer", "meta-llama/Llama-Guard-3-8B"),
        ("author", "Xk9pQ2mV7tR4wZ8bN3cJ6hL1"),  # 'auth' only as a whole word
        ("maxTokens", "4096"),
        ("password", "changeme"),  # too short to tell from a placeholder; the reviewer's job, not a pattern's
        ("rootDigest", "c8ac51bb0ea05fbc62287e60b3c7311353f25735e7702a95b6f08fd40784f882"),  # not a secret-like name
        ("reason", "Red-team lab range reached over HTTPS (SEC-1042)."),
        ("authKeyPath", "/etc/modelfort/keys/release.pub.pem"),
    ],
)
def test_ordinary_values_are_not_credentials(name, value):
    assert credential_kind(name, value) is None


@pytest.mark.control("SC-01")
def test_config_findings_walk_objects_and_skip_encrypted_secrets():
    config = {
        "aws:region": "us-east-1",
        "aws:secretKey": FAKE["a high-entropy value under a secret-like name"],
        "app:search": json.dumps({"endpoint": "https://search.example.com", "keys": [{"apiKey": FAKE["an OpenAI API key"]}]}),
        "app:encrypted": FAKE["a GitHub token"],
    }
    findings = config_credential_findings(config, secret_keys=["app:encrypted"])
    assert len(findings) == 2
    assert findings[0].startswith("stack config 'app:search.keys[0].apiKey' holds an OpenAI API key")
    assert findings[1].startswith("stack config 'aws:secretKey' holds a high-entropy value")
    assert not any(value in " ".join(findings) for value in FAKE.values())


@pytest.mark.control("SC-01")
def test_plaintext_credentials_in_stack_config_block_the_stack(packs):
    stack = res("pulumi:pulumi:Stack", "fixture-test")
    leaky = {"modelfort:zone": "production", "app:hfToken": FAKE["a Hugging Face token"], "app:region": "us-east-1"}
    diagnostics = judge_all(packs.get(leaky), [stack])
    # A stack policy's diagnostic starts with the policy's description; the finding is the last line.
    messages = [d.message.splitlines()[-1] for d in diagnostics if d.policy == "no-credentials-in-stack-config"]
    assert messages == ["stack config 'app:hfToken' holds a Hugging Face token in plain text; keep it in a RotatedSecret "
                        "(or at least `pulumi config set --secret`) and rotate it, since it is now in the repository's history."]
    assert {d.enforcement for d in diagnostics if d.policy == "no-credentials-in-stack-config"} == {"mandatory"}
    assert flagged(diagnostics, "no-credentials-in-stack-config") == {"fixture-test"}
    assert flagged(judge_all(packs.get(), [stack]), "no-credentials-in-stack-config") == set()


@pytest.mark.control("SC-01")
def test_config_marked_secret_is_not_reported_as_plaintext():
    config = {"modelfort:zone": "production", "app:hfToken": FAKE["a Hugging Face token"]}
    pack = PackProcess(pack_dir=str(PACK_DIR), project="fixture", stack="test", config=config, secret_keys=["app:hfToken"])
    pack.start()
    try:
        pack.connect()
        pack.configure(pack.analyzer_info())
        pack.configure_stack()
        assert flagged(judge_all(pack, [res("pulumi:pulumi:Stack", "fixture-test")]), "no-credentials-in-stack-config") == set()
    finally:
        pack.close()


@pytest.mark.control("SC-02")
@pytest.mark.parametrize(
    "variables,expected",
    [
        ({"LOG_LEVEL": "INFO", "SECRETS_MANAGER_ENDPOINT": "https://secretsmanager.us-east-1.amazonaws.com",
          "TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:t-AbCdEf"}, False),
        ({"AWS_ACCESS_KEY_ID": AWS_KEY_ID}, True),
        ({"GITHUB_TOKEN": FAKE["a GitHub token"]}, True),
        ({"DB_PASSWORD": FAKE["a high-entropy value under a secret-like name"]}, True),
        ({"DATABASE_URL": FAKE["a URL with an embedded password"]}, True),
        # Marked secret in Pulumi, still a secret in the environment: anyone who can read the function sees it.
        ({"OPENAI_API_KEY": {**SECRET_MARKER, "value": FAKE["an OpenAI API key"]}}, True),
        ({"API_KEY": UNKNOWN}, False),
    ],
)
def test_no_credentials_in_function_environments(packs, variables, expected):
    function = res(FUNCTION, "f", {"environment": {"variables": variables}})
    assert flagged(packs.get().analyze(function), "no-credentials-in-function-env") == ({"f"} if expected else set())


def test_function_without_environment_passes(packs):
    assert flagged(packs.get().analyze(res(FUNCTION, "bare", {})), "no-credentials-in-function-env") == set()
