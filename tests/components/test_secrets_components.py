"""RotatedSecret and CredentialJanitor under mocks (tests/programs/secrets-mutant, unmutated): what is encrypted with
which key, who may read or write the secret, what the functions may do, and what ships in their zips."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from components.aws import credential_janitor as janitor_module
from components.aws.credential_janitor import JANITOR_TAG_KEYS, CredentialJanitorArgs, janitor_role_policy, schedule_interval_hours
from components.aws.lambda_package import LambdaPackageError, check_imports, package_runtime, runtime_package_dir
from components.aws.secrets import BOOTSTRAP_VALUE, RotatedSecretArgs
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import StackFile, read_project
from modelfort.runtime.janitor import AuditTrail, JanitorConfig, run_janitor
from modelfort.runtime.janitor.handler import REQUIRED_IAM_ACTIONS as JANITOR_ACTIONS
from modelfort.runtime.rotation import REQUIRED_IAM_ACTIONS as ROTATION_ACTIONS
from modelfort.runtime.rotation import REQUIRED_KMS_ACTIONS, parse_service_token
from modelfort.runtime.rotation.errors import InvalidServiceToken

REPO = Path(__file__).resolve().parents[2]
PROGRAM = REPO / "tests" / "programs" / "secrets-mutant"
ACCOUNT = "123456789012"
SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003"]
ONCALL = ["arn:aws:sns:us-east-1:123456789012:modelfort-production-oncall"]


def plan(mutation: str = "none") -> dict:
    project = read_project(str(PROGRAM))
    stack = StackFile(stack="test", path=None, config={"aws:region": "us-east-1", "secrets-mutant:mutation": mutation})
    return run_program_under_mocks(project, stack)


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    result = plan()
    assert result["error"] is None, result["error"]
    return result["resources"]


def resource(resources: list[dict], name: str) -> dict:
    (match,) = [r for r in resources if r["name"] == name]
    return match


def props(resources: list[dict], name: str) -> dict:
    return resource(resources, name)["properties"]


def statements(document: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


def actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


# ------------------------------------------------------------------------------------------------ RotatedSecret
@pytest.mark.control("SC-03")
def test_the_secret_is_encrypted_with_its_own_rotated_customer_key_and_tagged_with_its_kind(resources):
    key = props(resources, "prod-agent-token-key")
    assert key["enableKeyRotation"] is True and key["rotationPeriodInDays"] == 365
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/"
    secret = props(resources, "prod-agent-token-secret")
    assert secret["kmsKeyId"].startswith(key_arn)
    assert secret["tags"]["modelfort:token-kind"] == "agent"
    assert secret["recoveryWindowInDays"] == 30
    # The key admits CloudWatch Logs for the rotation function's log group and nothing else.
    logs = statements(key["policy"])["CloudWatchLogsOfThisFunctionOnly"]
    assert logs["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn":
                                               f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/modelfort/production/lambda/prod-agent-token-rotation"}}


@pytest.mark.control("SC-04")
def test_the_bootstrap_value_is_a_placeholder_the_first_rotation_replaces(resources):
    stored = props(resources, "prod-agent-token-bootstrap")["secretString"]
    assert stored["value"] == BOOTSTRAP_VALUE  # the provider marks secret_string secret even for a placeholder
    with pytest.raises(InvalidServiceToken):
        parse_service_token(BOOTSTRAP_VALUE)  # so the rotation function treats it as "no current token yet"
    rotation = props(resources, "prod-agent-token-rotation-schedule")
    assert rotation["rotateImmediately"] is True
    assert rotation["rotationRules"] == {"automaticallyAfterDays": 30, "duration": "4h"}
    assert rotation["rotationLambdaArn"].endswith(":function:" + resource(resources, "prod-agent-token-rotation")["id"])
    deps = resource(resources, "prod-agent-token-rotation-schedule")["dependencies"]
    for needed in ("prod-agent-token-rotation-invoke", "prod-agent-token-bootstrap", "prod-agent-token-rotation-access"):
        assert resource(resources, needed)["urn"] in deps, f"rotation may start before {needed} exists"


@pytest.mark.control("SC-04", "NB-09")
def test_the_rotation_function_ships_alone_and_runs_in_the_zone(resources):
    function = props(resources, "prod-agent-token-rotation")
    assert function["runtime"] == "python3.12" and function["handler"] == "rotation.handler.lambda_handler"
    assert function["vpcConfig"] == {"subnetIds": SUBNETS, "securityGroupIds": ["sg-0a1b2c3d4e5f60001"]}
    assert function["environment"]["variables"] == {"SECRETS_MANAGER_ENDPOINT": "https://secretsmanager.us-east-1.amazonaws.com"}
    assert function["loggingConfig"] == {"logFormat": "JSON", "logGroup": "/modelfort/production/lambda/prod-agent-token-rotation",
                                         "applicationLogLevel": "INFO", "systemLogLevel": "WARN"}
    shipped = sorted(function["code"]["assets"])
    source = runtime_package_dir("rotation")
    assert shipped == sorted(f"rotation/{p.name}" for p in source.glob("*.py"))
    assert all(asset["path"].startswith(str(source)) for asset in function["code"]["assets"].values())
    logs = props(resources, "prod-agent-token-rotation-logs")
    assert logs["retentionInDays"] == 365 and logs["kmsKeyId"] == props(resources, "prod-agent-token-secret")["kmsKeyId"]


@pytest.mark.control("SC-04")
def test_the_rotation_role_may_touch_this_secret_and_its_key_only(resources):
    policy = statements(props(resources, "prod-agent-token-rotation-access")["policy"])
    secret_arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:"
    assert set(actions(policy["RotateThisSecretOnly"])) == set(ROTATION_ACTIONS)
    assert policy["RotateThisSecretOnly"]["Resource"].startswith(secret_arn)
    kms = policy["UseKeyThroughSecretsManagerOnly"]
    assert set(actions(kms)) == set(REQUIRED_KMS_ACTIONS) and kms["Resource"].startswith("arn:aws:kms:")
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}
    assert policy["WriteOwnLogGroupOnly"]["Resource"].endswith(":log-group:/modelfort/production/lambda/prod-agent-token-rotation:*")
    # The only "*" resources are the network-interface calls Lambda needs in a VPC, and none of them is a secret.
    wildcard = [s for s in policy.values() if s["Resource"] == "*"]
    assert [s["Sid"] for s in wildcard] == ["LambdaNetworkInterfacesInTheZone"]
    assert all(a.startswith("ec2:") for a in actions(wildcard[0]))
    trust = json.loads(props(resources, "prod-agent-token-rotation-role")["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]


@pytest.mark.control("SC-04")
def test_only_secrets_manager_rotating_this_secret_may_invoke_the_function(resources):
    permission = props(resources, "prod-agent-token-rotation-invoke")
    assert permission["principal"] == "secretsmanager.amazonaws.com"
    assert permission["sourceArn"] == statements(props(resources, "prod-agent-token-rotation-access")["policy"])["RotateThisSecretOnly"]["Resource"]
    assert permission["sourceArn"].startswith(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod-agent-token-secret")
    assert permission["sourceAccount"] == ACCOUNT


@pytest.mark.control("SC-03")
def test_the_resource_policy_names_who_may_read_and_write(resources):
    secret_policy = props(resources, "prod-agent-token-policy")
    assert secret_policy["blockPublicPolicy"] is True
    policy = statements(secret_policy["policy"])
    rotation_role = props(resources, "prod-agent-token-rotation")["role"]
    serving_role = f"arn:aws:iam::{ACCOUNT}:role/{resource(resources, 'serving-role')['id']}"
    read = policy["DenyReadingExceptNamedReaders"]
    assert read["Effect"] == "Deny" and read["Principal"] == "*" and read["Action"] == "secretsmanager:GetSecretValue"
    assert read["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == sorted([rotation_role, serving_role])
    # Only the bootstrap placeholder stays readable (so Pulumi can refresh its own resource).
    bootstrap_version = read["Condition"]["StringNotEquals"]["secretsmanager:VersionId"]
    assert len(bootstrap_version) == 36
    write = policy["DenyWritingValuesExceptRotation"]
    assert set(actions(write)) == {"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}
    assert write["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": rotation_role}}
    delete = policy["DenyDeletingWithoutRecoveryWindow"]
    assert delete["Condition"] == {"Bool": {"secretsmanager:ForceDeleteWithoutRecovery": "true"}}


@pytest.mark.control("SC-03")
def test_grant_read_allows_get_secret_value_and_decrypt_only_through_secrets_manager(resources):
    policy = statements(props(resources, "prod-agent-token-serving-read")["policy"])
    assert set(actions(policy["ReadThisToken"])) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert policy["ReadThisToken"]["Resource"].startswith(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:")
    assert policy["DecryptThroughSecretsManagerOnly"]["Action"] == "kms:Decrypt"
    assert policy["DecryptThroughSecretsManagerOnly"]["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}


@pytest.mark.control("SC-03")
def test_grant_read_to_a_role_the_secret_does_not_name_fails_the_run():
    result = plan("grant-read-unlisted-role")
    assert result["error"] is not None
    assert "reader_role_arns" in result["error"]["message"] and "grant_read('intruder')" in result["error"]["message"]


@pytest.mark.control("SC-04")
def test_a_failed_rotation_raises_an_alarm_that_reaches_on_call(resources):
    alarm = props(resources, "prod-agent-token-rotation-errors")
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert alarm["threshold"] == 1 and alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["dimensions"] == {"FunctionName": resource(resources, "prod-agent-token-rotation")["id"]}
    assert alarm["alarmActions"] == ONCALL


def test_the_bootstrap_version_ignores_drift_so_a_refresh_cannot_restore_the_placeholder(tmp_path):
    # The recorder does not keep resource options; register the component under a monitor that does.
    script = textwrap.dedent(
        """
        import asyncio, json, sys
        import pulumi
        from pulumi.runtime.mocks import MockMonitor
        from modelfort.gate.child.mocks import RealisticMocks

        class Monitor(MockMonitor):
            ignored = {}
            def RegisterResource(self, request):
                Monitor.ignored[request.name] = list(request.ignoreChanges)
                return super().RegisterResource(request)

        loop = asyncio.new_event_loop(); asyncio.set_event_loop(loop)
        mocks = RealisticMocks()
        pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False, monitor=Monitor(mocks))
        from components.aws.secrets import RotatedSecret, RotatedSecretArgs
        RotatedSecret("t", RotatedSecretArgs(zone="production", region="us-east-1", token_kind="tool", rotation_days=7,
                      subnet_ids=["subnet-1"], security_group_ids=["sg-1"], log_retention_days=365,
                      alarm_actions=["arn:aws:sns:us-east-1:123456789012:oncall"]))
        loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
        print(json.dumps(Monitor.ignored))
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    ignored = json.loads(completed.stdout.strip().splitlines()[-1])
    assert sorted(ignored["t-bootstrap"]) == ["secretString", "versionStages"]
    assert ignored["t-secret"] == [], "only the placeholder may ignore drift"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"token_kind": "admin"}, "token_kind: 'admin' is not one of agent, tool, client"),
        ({"rotation_days": 0}, "rotation_days: 0 must be"),
        ({"rotation_days": 1001}, "rotation_days: 1001 must be"),
        ({"rotation_days": True}, "rotation_days: True must be"),
        ({"log_retention_days": 100}, "log_retention_days: 100 is not a CloudWatch Logs retention"),
        ({"subnet_ids": []}, "subnet_ids: give at least one"),
        ({"security_group_ids": ()}, "security_group_ids: give at least one"),
        ({"secrets_manager_endpoint": "http://vpce-1.secretsmanager.us-east-1.vpce.amazonaws.com"}, "secrets_manager_endpoint: .* must be an https://"),
        ({"alarm_actions": []}, "alarm_actions: give the on-call topic"),
    ],
)
def test_unsafe_rotated_secret_args_fail_at_construction_naming_the_arg(change, message):
    base = dict(zone="production", region="us-east-1", token_kind="agent", rotation_days=30, subnet_ids=SUBNETS,
                security_group_ids=["sg-1"], log_retention_days=365, alarm_actions=ONCALL)
    with pytest.raises(ValueError, match=f"RotatedSecretArgs.{message}"):
        RotatedSecretArgs(**{**base, **change})


# ------------------------------------------------------------------------------------------------ CredentialJanitor
@pytest.mark.control("SC-05")
def test_the_janitor_ships_alone_enforces_and_runs_daily(resources):
    function = props(resources, "prod-janitor-function")
    assert function["handler"] == "janitor.handler.lambda_handler" and function["runtime"] == "python3.12"
    assert function["environment"]["variables"] == {"MAX_IDLE_DAYS": "45", "RECOVERY_WINDOW_DAYS": "30", "DRY_RUN": "false"}
    assert function["tags"]["modelfort:function"] == "credential-janitor"
    assert sorted(function["code"]["assets"]) == sorted(f"janitor/{p.name}" for p in runtime_package_dir("janitor").glob("*.py"))
    assert "vpcConfig" not in function, "IAM has no interface endpoint outside us-east-1: the janitor runs outside the VPC"
    schedule = props(resources, "prod-janitor-schedule")
    assert schedule["scheduleExpression"] == "rate(1 day)" and schedule["state"] == "ENABLED"
    target = props(resources, "prod-janitor-target")
    assert target["arn"].endswith(":function:" + resource(resources, "prod-janitor-function")["id"])
    assert target["rule"] == resource(resources, "prod-janitor-schedule")["id"] and target["input"] == "{}"
    permission = props(resources, "prod-janitor-invoke")
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["sourceArn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{resource(resources, 'prod-janitor-schedule')['id']}"
    logs = props(resources, "prod-janitor-logs")
    assert logs["retentionInDays"] == 365 and logs["kmsKeyId"].startswith("arn:aws:kms:")
    assert props(resources, "prod-janitor-errors")["alarmActions"] == ONCALL


@pytest.mark.control("SC-05")
def test_the_janitor_role_grants_each_runtime_action_narrowly_and_never_a_forced_delete(resources):
    policy = statements(props(resources, "prod-janitor-access")["policy"])
    allowed = [a for s in policy.values() if s["Effect"] == "Allow" and s["Sid"] != "WriteOwnLogGroupOnly" for a in actions(s)]
    assert sorted(allowed) == sorted(JANITOR_ACTIONS), "exactly what the runtime declares, each once"
    for statement in policy.values():
        if statement["Effect"] != "Allow" or statement["Sid"] == "WriteOwnLogGroupOnly":
            continue
        if statement["Resource"] == "*":
            assert actions(statement) == ["secretsmanager:ListSecrets"]
        elif any(a.startswith("iam:") for a in actions(statement)):
            assert statement["Resource"] == f"arn:aws:iam::{ACCOUNT}:user/*"
        else:
            assert statement["Resource"] == f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:*"
    for sid in ("RecordOnUsersWithJanitorTagsOnly", "RecordOnSecretsWithJanitorTagsOnly"):
        keys = policy[sid]["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"]
        assert not any(fnmatch.fnmatchcase("modelfort:janitor-exempt", k) for k in keys), "the janitor must not exempt anything"
        assert not any(fnmatch.fnmatchcase("modelfort:release-publisher", k) for k in keys)
    deny = policy["NeverDeleteWithoutRecoveryWindow"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "secretsmanager:DeleteSecret"
    assert deny["Condition"] == {"Bool": {"secretsmanager:ForceDeleteWithoutRecovery": "true"}}


@pytest.mark.control("SC-05")
def test_every_tag_the_janitor_writes_is_allowed_by_its_tag_key_condition(monkeypatch):
    """Run the real sweeps against moto and check each tag key against the role's condition, so the condition can
    neither fall behind the runtime (revocations failing to record) nor be wider than it needs."""
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    written: list[str] = []
    with mock_aws():
        iam, secretsmanager = boto3.client("iam"), boto3.client("secretsmanager")
        iam.create_user(UserName="idle-bot")
        iam.create_access_key(UserName="idle-bot")
        secretsmanager.create_secret(Name="idle-secret", SecretString="x")
        for client, operation in ((iam, "TagUser"), (secretsmanager, "TagResource")):
            client.meta.events.register(
                f"provide-client-params.*.{operation}", lambda params, **_: written.extend(t["Key"] for t in params["Tags"])
            )
        summary = run_janitor(iam=iam, secretsmanager=secretsmanager, config=JanitorConfig(),
                              now=datetime.now(UTC) + timedelta(days=100), audit=AuditTrail(run_id="t", dry_run=False))
    assert summary["access_keys_examined"] == 1 and summary["secrets_examined"] == 1
    assert len(written) == 4, written
    for key in written:
        assert any(fnmatch.fnmatchcase(key, pattern) for pattern in JANITOR_TAG_KEYS), key


def test_an_action_the_component_cannot_scope_stops_the_deployment(monkeypatch):
    monkeypatch.setattr(janitor_module, "REQUIRED_IAM_ACTIONS", (*JANITOR_ACTIONS, "iam:DeleteUser"))
    with pytest.raises(ValueError, match="needs iam:DeleteUser, which CredentialJanitor does not know how to scope"):
        janitor_role_policy(ACCOUNT, "aws", "us-east-1", "arn:aws:logs:us-east-1:123456789012:log-group:x")


@pytest.mark.parametrize(
    "expression,hours",
    [("rate(1 day)", 24), ("rate(6 hours)", 6), ("rate(1 hour)", 1), ("cron(0 3 * * ? *)", 24), ("cron(15 2 ? * * *)", 24),
     ("rate(2 days)", 48), ("rate(1 days)", None), ("rate(2 day)", None), ("rate(30 minutes)", None),
     ("cron(0 3 ? * MON *)", None), ("cron(0 3 1 * ? *)", None), ("daily", None)],
)
def test_schedule_interval_hours(expression, hours):
    assert schedule_interval_hours(expression) == hours


@pytest.mark.parametrize(
    "change,message",
    [
        ({"schedule_expression": "rate(7 days)"}, r"schedule_expression: 'rate\(7 days\)' must run at least daily"),
        ({"schedule_expression": "cron(0 3 ? * MON *)"}, "schedule_expression: .* must run at least daily"),
        ({"max_idle_days": 0}, "max_idle_days: 0 must be a whole number of days from 1 to 365"),
        ({"max_idle_days": 400}, "max_idle_days: 400 must be"),
        ({"recovery_window_days": 3}, "recovery_window_days: 3 must be a whole number of days from 7 to 30"),
        ({"dry_run": "false"}, "dry_run: must be True or False"),
        ({"log_retention_days": 0}, "log_retention_days: 0 is not a CloudWatch Logs retention"),
        ({"alarm_actions": ()}, "alarm_actions: give the on-call topic"),
    ],
)
def test_unsafe_janitor_args_fail_at_construction_naming_the_arg(change, message):
    base = dict(zone="production", region="us-east-1", log_retention_days=365, alarm_actions=ONCALL)
    with pytest.raises(ValueError, match=f"CredentialJanitorArgs.{message}"):
        CredentialJanitorArgs(**{**base, **change})


# ------------------------------------------------------------------------------------------------ packaging
def test_both_runtime_packages_ship_only_their_own_sources():
    for name in ("rotation", "janitor"):
        package = package_runtime(name)
        assert package.handler == f"{name}.handler.lambda_handler"
        assert all(path.startswith(f"{name}/") and path.endswith(".py") for path in package.files)
        assert not any("__pycache__" in path for path in package.files)
        assert package.sha256 == package_runtime(name).sha256, "the same sources must give the same digest"


@pytest.mark.parametrize(
    "source,refused",
    [
        ("import json\nimport boto3\nfrom botocore.exceptions import ClientError\n", None),
        ("from . import sibling\nfrom .sibling import x\nimport pkg.sibling\n", None),
        ("from modelfort.gate import engine\n", "imports 'modelfort.gate'"),
        ("import requests\n", "imports 'requests'"),
        ("def f():\n    import yaml\n", "imports 'yaml'"),
        ("from .. import runtime\n", "relative import of level 2 leaves the pkg package"),
    ],
)
def test_imports_the_lambda_runtime_could_not_satisfy_are_refused(tmp_path, source, refused):
    package = tmp_path / "pkg"
    package.mkdir()
    module = package / "mod.py"
    module.write_text(source)
    if refused is None:
        check_imports(module, package, "pkg")
    else:
        with pytest.raises(LambdaPackageError, match=refused):
            check_imports(module, package, "pkg")


def test_a_package_with_a_link_is_refused(tmp_path, monkeypatch):
    from components.aws import lambda_package

    package = tmp_path / "linked"
    package.mkdir()
    (package / "handler.py").write_text("def lambda_handler(event, context):\n    return None\n")
    (package / "stolen.py").symlink_to(REPO / "pyproject.toml")
    monkeypatch.setattr(lambda_package, "runtime_package_dir", lambda name: package)
    with pytest.raises(LambdaPackageError, match="only regular files"):
        lambda_package.package_runtime("linked")


def test_args_dataclasses_are_frozen():
    args = CredentialJanitorArgs(zone="production", region="us-east-1", log_retention_days=365, alarm_actions=ONCALL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.dry_run = True  # type: ignore[misc]
