"""The service-token rotation Lambda against Secrets Manager in moto (SC-04).

Full rotations go through ``rotate_secret``: moto calls its Lambda backend once per step, and we route that call
to our handler (moto cannot run Lambda code without Docker). Other tests call the handler directly with a
moto-backed client to reach states a normal rotation does not produce (retries, corrupted values, replays).

moto quirks worked around here (see reference/testing-notes.md):
- after finishSecret moto leaves AWSPENDING on the new AWSCURRENT version and then refuses the next rotation;
  AWS documents that state as a successful rotation. ``clear_moto_pending`` removes the label between rotations.
- moto promotes the pending version itself after the last step (``set_default_version_id``), so tests always
  read with ``VersionStage="AWSCURRENT"``.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from modelfort.runtime.rotation import (
    FORMAT,
    KIND_TAG,
    REQUIRED_IAM_ACTIONS,
    REQUIRED_KMS_ACTIONS,
    GeneratedTokenIssuer,
    InvalidRotationEvent,
    InvalidServiceToken,
    IssuerFailed,
    PendingTokenRejected,
    RotationError,
    RotationNotEnabled,
    ServiceToken,
    ThirdPartyIssuer,
    VersionNotStaged,
    lambda_handler,
    make_lambda_handler,
    parse_service_token,
)
from modelfort.runtime.rotation import handler as handler_module
from modelfort.runtime.rotation.steps import rotate

pytestmark = pytest.mark.control("SC-04")

REGION = "us-east-1"
STEP_ORDER = ["createSecret", "setSecret", "testSecret", "finishSecret"]
FIXED_NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


# --------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT", raising=False)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


@pytest.fixture
def sm(aws):
    return boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def function_arn(aws) -> str:
    """A rotation function moto knows about; its code never runs, invocations are routed (see ``route``)."""
    role = boto3.client("iam").create_role(RoleName="rotation", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return boto3.client("lambda").create_function(
        FunctionName="modelfort-rotation",
        Runtime="python3.12",
        Role=role,
        Handler="rotation.handler.lambda_handler",
        Code={"ZipFile": b"not run"},
    )["FunctionArn"]


class Router:
    """Routes moto's Lambda invocations to a handler; records each event, and can replay each step to act like
    Secrets Manager retrying after a timeout."""

    def __init__(self) -> None:
        self.handler: Callable[[dict, Any], None] = lambda_handler
        self.events: list[dict[str, str]] = []
        self.invocations_per_step = 1
        self.after_invocation: Callable[[dict[str, str]], None] = lambda event: None

    def invoke(self, backend, function_name, qualifier, body, headers, response_headers):
        event = json.loads(body)
        for _ in range(self.invocations_per_step):
            self.events.append(event)
            self.handler(event, None)
            self.after_invocation(event)
        return b""


@pytest.fixture
def route(monkeypatch: pytest.MonkeyPatch) -> Router:
    router = Router()
    monkeypatch.setattr(
        LambdaSimpleBackend,
        "invoke",
        lambda backend, *args, **kwargs: router.invoke(backend, *args, **kwargs),
    )
    return router


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


# ---------------------------------------------------------------------------------------------------- helpers


def initial_token(kind: str = "agent") -> ServiceToken:
    return GeneratedTokenIssuer().issue(secret_arn="bootstrap", kind=kind, now=FIXED_NOW - timedelta(days=30))


def make_secret(sm, name: str = "agents/search", kind: str = "agent", value: str | None = None) -> str:
    return sm.create_secret(
        Name=name,
        SecretString=value if value is not None else initial_token(kind).to_secret_string(),
        Tags=[{"Key": KIND_TAG, "Value": kind}],
    )["ARN"]


def start_rotation(sm, arn: str, function_arn: str, **kwargs: Any) -> None:
    sm.rotate_secret(
        SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 7}, **kwargs
    )


def current(sm, arn: str) -> dict[str, Any]:
    return sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")


def stages(sm, arn: str) -> dict[str, list[str]]:
    return sm.describe_secret(SecretId=arn)["VersionIdsToStages"]


def clear_moto_pending(sm, arn: str) -> None:
    """moto leaves AWSPENDING on the promoted version and then refuses the next rotation (see module docstring)."""
    for version_id, labels in stages(sm, arn).items():
        if "AWSPENDING" in labels:
            sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=version_id)


def step_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "modelfort.rotation"]


def all_secret_strings(sm, arn: str) -> list[str]:
    """Every stored value of the secret, and the bare tokens inside those that parse."""
    found = []
    for version in sm.list_secret_version_ids(SecretId=arn)["Versions"]:
        try:
            value = sm.get_secret_value(SecretId=arn, VersionId=version["VersionId"]).get("SecretString")
        except sm.exceptions.ResourceNotFoundException:
            continue
        found.append(value)
        try:
            found.append(parse_service_token(value).token)
        except InvalidServiceToken:
            pass
    return found


def enable_rotation_without_running(sm, arn: str, function_arn: str, route: Router) -> None:
    """Give a secret RotationEnabled=true through one real rotation, then leave it with no pending version, so a
    test can stage its own AWSPENDING version and call the handler directly."""
    start_rotation(sm, arn, function_arn)
    clear_moto_pending(sm, arn)
    route.events.clear()


class FakeProvider:
    """A third-party API that keeps the keys it accepts."""

    def __init__(self, *keys: str) -> None:
        self.active: set[str] = set(keys)
        self.activations: list[str] = []
        self.reject_new_keys = False

    def register(self, key: str) -> None:
        self.activations.append(key)
        if not self.reject_new_keys:
            self.active.add(key)

    def authenticate(self, key: str) -> bool:
        return key in self.active


def provider_issuer(provider: FakeProvider) -> type[ThirdPartyIssuer]:
    class ProviderIssuer(ThirdPartyIssuer):
        name = "fake-provider"

        def activate(self, *, secret_arn, pending, current):
            provider.register(pending.token)

        def test(self, *, secret_arn, pending):
            self.check_format(pending)
            if not provider.authenticate(pending.token):
                # The message quotes the key on purpose: the handler must not let it reach the logs.
                raise PermissionError(f"provider refused key {pending.token}")

    return ProviderIssuer


# ------------------------------------------------------------------------------------------------ full rotation


def test_rotation_promotes_a_fresh_well_formed_token_and_keeps_the_old_one_as_previous(sm, function_arn, route):
    arn = make_secret(sm, kind="client")
    old = current(sm, arn)

    start_rotation(sm, arn, function_arn)

    assert [e["Step"] for e in route.events] == STEP_ORDER
    token = route.events[0]["ClientRequestToken"]
    assert {e["ClientRequestToken"] for e in route.events} == {token}
    new = current(sm, arn)
    assert new["VersionId"] == token
    parsed = parse_service_token(new["SecretString"])
    assert parsed.kind == "client" and parsed.issuer == "generated" and parsed.attributes == {}
    assert re.fullmatch(r"mf_client_[A-Za-z0-9_-]{43}", parsed.token)
    assert parsed.token != parse_service_token(old["SecretString"]).token
    assert abs(parsed.created_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert json.loads(new["SecretString"])["format"] == FORMAT
    previous = sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")
    assert previous["VersionId"] == old["VersionId"] and previous["SecretString"] == old["SecretString"]


def test_two_rotations_in_a_row_each_issue_a_new_token(sm, function_arn, route):
    arn = make_secret(sm)
    seen = [parse_service_token(current(sm, arn)["SecretString"]).token]

    for _ in range(2):
        start_rotation(sm, arn, function_arn)
        seen.append(parse_service_token(current(sm, arn)["SecretString"]).token)
        clear_moto_pending(sm, arn)

    assert len(set(seen)) == 3
    assert [e["Step"] for e in route.events] == STEP_ORDER * 2
    assert (
        parse_service_token(sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"]).token
        == seen[1]
    )


def test_every_step_retried_by_secrets_manager_is_idempotent(sm, function_arn, route, logs):
    arn = make_secret(sm)
    snapshots: list[tuple[str, dict, str | None]] = []

    def snapshot(event: dict[str, str]) -> None:
        try:
            pending = sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING").get("SecretString")
        except sm.exceptions.ResourceNotFoundException:
            pending = None
        snapshots.append((event["Step"], stages(sm, arn), pending))

    route.invocations_per_step = 2
    route.after_invocation = snapshot
    start_rotation(sm, arn, function_arn)

    assert [step for step, _, _ in snapshots] == [s for s in STEP_ORDER for _ in range(2)]
    for first, retry in zip(snapshots[::2], snapshots[1::2], strict=True):
        assert first == retry, f"retrying {first[0]} changed the secret"
    assert len(sm.list_secret_version_ids(SecretId=arn)["Versions"]) == 2, "a retry created a second version"
    outcomes = [(line["step"], line["outcome"]) for line in step_lines(logs)]
    assert outcomes == [
        ("createSecret", "succeeded"),
        ("createSecret", "succeeded"),
        ("setSecret", "succeeded"),
        ("setSecret", "succeeded"),
        ("testSecret", "succeeded"),
        ("testSecret", "succeeded"),
        ("finishSecret", "succeeded"),
        ("finishSecret", "skipped"),
    ]
    assert "already stored" in step_lines(logs)[1]["detail"]


def test_rotate_immediately_false_runs_only_test_secret_and_leaves_current_alone(sm, function_arn, route):
    # Secrets Manager checks the configuration by running testSecret on a pending copy of the current value.
    arn = make_secret(sm)
    before = current(sm, arn)

    start_rotation(sm, arn, function_arn, RotateImmediately=False)

    assert [e["Step"] for e in route.events] == ["testSecret"]
    assert current(sm, arn)["VersionId"] == before["VersionId"]
    assert current(sm, arn)["SecretString"] == before["SecretString"]


# ------------------------------------------------------------------------------------------- failure handling


def test_failing_test_secret_leaves_awscurrent_intact_readable_and_still_accepted(sm, function_arn, route, logs):
    old_token = initial_token()
    arn = make_secret(sm, value=old_token.to_secret_string())
    provider = FakeProvider(old_token.token)
    provider.reject_new_keys = True
    route.handler = make_lambda_handler(provider_issuer(provider))
    before = current(sm, arn)

    with pytest.raises(IssuerFailed):
        start_rotation(sm, arn, function_arn)

    assert [e["Step"] for e in route.events] == STEP_ORDER[:3], "finishSecret must not run after a failed test"
    after = current(sm, arn)
    assert (after["VersionId"], after["SecretString"]) == (before["VersionId"], before["SecretString"])
    assert provider.authenticate(parse_service_token(after["SecretString"]).token)
    pending_version = route.events[0]["ClientRequestToken"]
    assert stages(sm, arn)[pending_version] == ["AWSPENDING"]
    assert step_lines(logs)[-1]["outcome"] == "failed" and step_lines(logs)[-1]["step"] == "testSecret"


def test_a_corrupted_pending_value_is_neither_accepted_nor_promoted(sm, function_arn, route):
    arn = make_secret(sm)
    enable_rotation_without_running(sm, arn, function_arn, route)
    before = current(sm, arn)
    token = "c0ffee00-0000-4000-8000-000000000001"
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString="hunter2", VersionStages=["AWSPENDING"])
    client = boto3.client("secretsmanager")

    for step in ("testSecret", "finishSecret"):
        with pytest.raises(InvalidServiceToken):
            rotate(
                {"SecretId": arn, "ClientRequestToken": token, "Step": step},
                client=client,
                issuer=GeneratedTokenIssuer(),
                now=lambda: FIXED_NOW,
            )

    assert current(sm, arn)["VersionId"] == before["VersionId"]


def test_finish_secret_refuses_to_promote_the_current_token_again(sm, function_arn, route):
    arn = make_secret(sm)
    enable_rotation_without_running(sm, arn, function_arn, route)
    before = current(sm, arn)
    token = "c0ffee00-0000-4000-8000-000000000002"
    sm.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=before["SecretString"], VersionStages=["AWSPENDING"]
    )
    client = boto3.client("secretsmanager")

    with pytest.raises(PendingTokenRejected, match="same token as AWSCURRENT"):
        rotate(
            {"SecretId": arn, "ClientRequestToken": token, "Step": "finishSecret"},
            client=client,
            issuer=GeneratedTokenIssuer(),
            now=lambda: FIXED_NOW,
        )

    assert current(sm, arn)["VersionId"] == before["VersionId"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            json.dumps(
                {
                    "format": FORMAT,
                    "kind": "tool",
                    "token": "mf_tool_" + "a" * 43,
                    "created_at": "2030-01-01T00:00:00Z",
                    "issuer": "generated",
                    "attributes": {},
                }
            ),
            "'tool' token, secret is 'agent'",
        ),
        (
            json.dumps(
                {
                    "format": FORMAT,
                    "kind": "agent",
                    "token": "mf_agent_short",
                    "created_at": "2030-01-01T00:00:00Z",
                    "issuer": "generated",
                    "attributes": {},
                }
            ),
            "at least 43",
        ),
        (
            json.dumps(
                {
                    "format": FORMAT,
                    "kind": "agent",
                    "token": "sk_live_" + "a" * 43,
                    "created_at": "2030-01-01T00:00:00Z",
                    "issuer": "generated",
                    "attributes": {},
                }
            ),
            "prefix",
        ),
    ],
    ids=["wrong-kind", "low-entropy", "foreign-prefix"],
)
def test_test_secret_rejects_pending_tokens_that_are_not_fit_for_the_secret(sm, function_arn, route, value, message):
    arn = make_secret(sm, kind="agent")
    enable_rotation_without_running(sm, arn, function_arn, route)
    token = "c0ffee00-0000-4000-8000-000000000003"
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=value, VersionStages=["AWSPENDING"])

    with pytest.raises(PendingTokenRejected, match=message):
        rotate(
            {"SecretId": arn, "ClientRequestToken": token, "Step": "testSecret"},
            client=boto3.client("secretsmanager"),
            issuer=GeneratedTokenIssuer(),
            now=lambda: FIXED_NOW,
        )


# ----------------------------------------------------------------------------------------- event and staging


def test_invalid_events_are_refused_before_the_secret_is_touched(sm):
    calls: list[str] = []
    sm.meta.events.register("before-call", lambda model, **kw: calls.append(model.name))
    bad_events = [
        None,
        {"ClientRequestToken": "t", "Step": "createSecret"},
        {"SecretId": "s", "Step": "createSecret"},
        {"SecretId": "s", "ClientRequestToken": "t"},
        {"SecretId": "s", "ClientRequestToken": "t", "Step": "dropSecret"},
        {"SecretId": "", "ClientRequestToken": "t", "Step": "createSecret"},
    ]
    for event in bad_events:
        with pytest.raises(InvalidRotationEvent):
            rotate(event, client=sm, issuer=GeneratedTokenIssuer(), now=lambda: FIXED_NOW)
    assert calls == []
    sm.list_secrets()
    assert calls == ["ListSecrets"], "the spy must see calls, or the assertion above proves nothing"


def test_a_secret_without_rotation_enabled_is_not_rotated(sm):
    arn = make_secret(sm)
    version = current(sm, arn)["VersionId"]
    with pytest.raises(RotationNotEnabled):
        rotate(
            {"SecretId": arn, "ClientRequestToken": version, "Step": "createSecret"},
            client=sm,
            issuer=GeneratedTokenIssuer(),
            now=lambda: FIXED_NOW,
        )


def test_versions_that_are_not_pending_are_refused_and_current_is_a_no_op(sm, function_arn, route, logs):
    arn = make_secret(sm)
    start_rotation(sm, arn, function_arn)
    clear_moto_pending(sm, arn)
    previous = sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["VersionId"]
    now_current = current(sm, arn)["VersionId"]
    state = stages(sm, arn)

    with pytest.raises(VersionNotStaged, match="not set as AWSPENDING"):
        rotate(
            {"SecretId": arn, "ClientRequestToken": previous, "Step": "finishSecret"},
            client=sm,
            issuer=GeneratedTokenIssuer(),
            now=lambda: FIXED_NOW,
        )
    with pytest.raises(VersionNotStaged, match="has no stage"):
        rotate(
            {"SecretId": arn, "ClientRequestToken": "c0ffee00-0000-4000-8000-00000000dead", "Step": "createSecret"},
            client=sm,
            issuer=GeneratedTokenIssuer(),
            now=lambda: FIXED_NOW,
        )
    rotate(
        {"SecretId": arn, "ClientRequestToken": now_current, "Step": "finishSecret"},
        client=sm,
        issuer=GeneratedTokenIssuer(),
        now=lambda: FIXED_NOW,
    )

    assert stages(sm, arn) == state
    assert step_lines(logs)[-1]["outcome"] == "skipped"


def test_a_secret_without_a_known_kind_tag_is_not_rotated(sm, function_arn, route):
    arn = sm.create_secret(Name="untagged", SecretString=initial_token().to_secret_string())["ARN"]
    before = current(sm, arn)

    with pytest.raises(RotationError, match="must be tagged modelfort:token-kind"):
        start_rotation(sm, arn, function_arn)

    assert current(sm, arn)["SecretString"] == before["SecretString"]
    assert [e["Step"] for e in route.events] == ["createSecret"]


# ------------------------------------------------------------------------------------- issuers and plug-ins


def test_third_party_issuer_is_activated_and_tested_before_promotion(sm, function_arn, route):
    old = initial_token("tool")
    arn = make_secret(sm, name="tools/crm", kind="tool", value=old.to_secret_string())
    provider = FakeProvider(old.token)
    route.handler = make_lambda_handler(provider_issuer(provider))

    start_rotation(sm, arn, function_arn)

    new = parse_service_token(current(sm, arn)["SecretString"])
    assert new.kind == "tool" and new.issuer == "fake-provider"
    assert provider.activations == [new.token]
    assert provider.authenticate(new.token) and provider.authenticate(old.token), "old key must stay valid"


def test_a_bootstrap_placeholder_is_replaced_by_the_first_rotation(sm, function_arn, route):
    arn = make_secret(sm, value='{"bootstrap": true}')
    start_rotation(sm, arn, function_arn)
    assert parse_service_token(current(sm, arn)["SecretString"]).kind == "agent"


def test_third_party_issuer_must_implement_activate_and_test():
    class Incomplete(ThirdPartyIssuer):
        name = "incomplete"

        def activate(self, *, secret_arn, pending, current):
            pass

    with pytest.raises(TypeError, match="test"):
        Incomplete()
    with pytest.raises(TypeError):
        make_lambda_handler(object)  # type: ignore[arg-type]


def test_an_issuer_returning_the_wrong_kind_is_refused(sm, function_arn, route):
    class WrongKind(GeneratedTokenIssuer):
        name = "wrong-kind"

        def issue(self, *, secret_arn, kind, now):
            return super().issue(secret_arn=secret_arn, kind="client", now=now)

    arn = make_secret(sm, kind="agent")
    route.handler = make_lambda_handler(WrongKind)
    with pytest.raises(IssuerFailed, match="did not return a 'agent' ServiceToken"):
        start_rotation(sm, arn, function_arn)
    assert len(sm.list_secret_version_ids(SecretId=arn)["Versions"]) == 2
    assert sm.describe_secret(SecretId=arn)["VersionIdsToStages"][route.events[0]["ClientRequestToken"]] == [
        "AWSPENDING"
    ]
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")


def test_generated_tokens_are_distinct_prefixed_and_round_trip():
    issuer = GeneratedTokenIssuer()
    tokens = [issuer.issue(secret_arn="a", kind=kind, now=FIXED_NOW) for kind in ("agent", "tool", "client") * 50]
    assert len({t.token for t in tokens}) == len(tokens)
    for t in tokens:
        issuer.test(secret_arn="a", pending=t)
        assert parse_service_token(t.to_secret_string()) == t
        assert t.token not in repr(t)


@pytest.mark.parametrize(
    "value",
    [
        "[]",
        "{",
        json.dumps(
            {"format": "other/v9", "kind": "agent", "token": "x", "created_at": "2030-01-01T00:00:00Z", "issuer": "g"}
        ),
        json.dumps(
            {"format": FORMAT, "kind": "root", "token": "x", "created_at": "2030-01-01T00:00:00Z", "issuer": "g"}
        ),
        json.dumps(
            {"format": FORMAT, "kind": "agent", "token": "", "created_at": "2030-01-01T00:00:00Z", "issuer": "g"}
        ),
        json.dumps({"format": FORMAT, "kind": "agent", "token": "x", "created_at": "yesterday", "issuer": "g"}),
        json.dumps(
            {
                "format": FORMAT,
                "kind": "agent",
                "token": "x",
                "created_at": "2030-01-01T00:00:00Z",
                "issuer": "g",
                "extra": 1,
            }
        ),
        json.dumps(
            {
                "format": FORMAT,
                "kind": "agent",
                "token": "x",
                "created_at": "2030-01-01T00:00:00Z",
                "issuer": "g",
                "attributes": {"id": 1},
            }
        ),
    ],
)
def test_parse_service_token_is_strict_and_never_echoes_the_value(value):
    with pytest.raises(InvalidServiceToken) as raised:
        parse_service_token(value)
    assert '"token"' not in str(raised.value) and raised.value.__cause__ is None


# ------------------------------------------------------------------------------------------ logs and wiring


def test_one_json_line_per_step_and_no_secret_value_in_any_log(sm, function_arn, route, logs, capsys):
    arn = make_secret(sm)

    def two_rotations() -> None:
        start_rotation(sm, arn, function_arn)
        clear_moto_pending(sm, arn)
        start_rotation(sm, arn, function_arn)

    output = output_of(two_rotations, logs, capsys)

    lines = step_lines(logs)
    assert [line["step"] for line in lines] == STEP_ORDER * 2
    for line, event in zip(lines, route.events, strict=True):
        assert line["event"] == "modelfort.rotation.step"
        assert line["secret_arn"] == arn
        assert line["version_id"] == event["ClientRequestToken"]
        assert line["outcome"] == "succeeded"
    assert_no_secret_in(output, all_secret_strings(sm, arn))


def test_issuer_errors_quoting_a_key_do_not_reach_logs_or_the_raised_error(sm, function_arn, route, logs, capsys):
    old = initial_token()
    arn = make_secret(sm, value=old.to_secret_string())
    provider = FakeProvider(old.token)
    provider.reject_new_keys = True
    route.handler = make_lambda_handler(provider_issuer(provider))

    def failing_rotation() -> None:
        with pytest.raises(IssuerFailed) as raised:
            start_rotation(sm, arn, function_arn)
        failures.append(raised.value)

    failures: list[BaseException] = []
    output = output_of(failing_rotation, logs, capsys)

    secrets_seen = all_secret_strings(sm, arn)
    assert provider.activations[0] in secrets_seen
    assert_no_secret_in(output + [str(failures[0])], secrets_seen)
    assert failures[0].__cause__ is None and failures[0].__suppress_context__
    failed = step_lines(logs)[-1]
    assert failed["outcome"] == "failed" and failed["step"] == "testSecret"
    assert failed["error_type"] == "IssuerFailed" and "PermissionError" in failed["error"]
    assert "test_rotation_handler.py" in failed["error"], "the failure must still say where it happened"


def test_sdk_debug_logging_cannot_copy_tokens_into_the_logs(sm, function_arn, route, logs, capsys):
    # caplog set the root logger to DEBUG, as an operator chasing a problem would; botocore logs request
    # parameters (SecretString included) at DEBUG, so the handler must hold the SDK loggers at WARNING.
    arn = make_secret(sm)
    logging.getLogger("botocore").setLevel(logging.NOTSET)

    output = output_of(lambda: start_rotation(sm, arn, function_arn), logs, capsys)

    assert logging.getLogger("botocore").getEffectiveLevel() >= logging.WARNING
    assert_no_secret_in(output, all_secret_strings(sm, arn))


def output_of(action: Callable[[], None], caplog: pytest.LogCaptureFixture, capsys) -> list[str]:
    """Everything logged or printed while ``action`` ran (the test's own setup calls are left out)."""
    caplog.clear()
    capsys.readouterr()
    action()
    captured = capsys.readouterr()
    texts = [captured.out, captured.err, caplog.text]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args)]
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    return texts


def assert_no_secret_in(texts: list[str], secret_values: list[str]) -> None:
    assert len(secret_values) >= 2
    for secret in secret_values:
        assert not any(secret in text for text in texts), "a secret value reached the logs"


def test_endpoint_must_be_https(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", "http://vpce-123.secretsmanager.us-east-1.vpce.amazonaws.com")
    with pytest.raises(ValueError, match="SECRETS_MANAGER_ENDPOINT must be an https://"):
        lambda_handler({"SecretId": "s", "ClientRequestToken": "t", "Step": "createSecret"}, None)
    client = handler_module.secretsmanager_client({"SECRETS_MANAGER_ENDPOINT": "https://vpce-123.example"})
    assert client.meta.endpoint_url == "https://vpce-123.example"


def test_required_iam_actions_are_exactly_the_calls_the_function_makes(sm, function_arn, route, monkeypatch):
    calls: set[str] = set()

    def record(model, **kwargs):
        calls.add(f"secretsmanager:{model.name}")

    arn = make_secret(sm)
    real_client = boto3.client

    def spying_client(*args, **kwargs):
        client = real_client(*args, **kwargs)
        client.meta.events.register("before-call", record)
        return client

    monkeypatch.setattr(handler_module.boto3, "client", spying_client)
    start_rotation(sm, arn, function_arn)

    assert calls == set(REQUIRED_IAM_ACTIONS)
    assert set(REQUIRED_KMS_ACTIONS) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_the_package_ships_alone_with_only_boto3_and_the_standard_library(tmp_path):
    assert new_modules_on_import(
        tmp_path, "rotation", "from rotation import ThirdPartyIssuer, make_lambda_handler"
    ) == {"rotation"}


def new_modules_on_import(tmp_path, package: str, extra_import: str = "") -> set[str]:
    """Import the package the way Lambda will (its directory at the root of the zip, nothing else from the repo)
    after boto3, and return the top-level non-standard-library modules that import added."""
    source = Path(__file__).resolve().parents[3] / "modelfort" / "runtime" / package
    shutil.copytree(source, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    probe = (
        "import sys; sys.path.insert(0, '.'); import boto3, botocore.exceptions; before = set(sys.modules); "
        f"import {package}.handler; {extra_import}; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return set(ast.literal_eval(result.stdout.strip()))
