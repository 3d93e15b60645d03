"""The CredentialJanitor against IAM and Secrets Manager in moto (SC-05).

Dates are set relative to an injected ``now``: key creation and last use directly on moto's IAM backend (one key is
also really used through STS, which moto records), and secret ``LastAccessedDate``/``CreatedDate`` by patching
``FakeSecret.to_dict`` (moto always reports LastAccessedDate as None; see reference/testing-notes.md).

moto's IAM ListUsers/ListAccessKeys ignore MaxItems and never truncate, so ``iam_pagination`` makes them page
like AWS does (Marker/IsTruncated); without it a janitor that forgot to paginate would pass unnoticed.
"""

from __future__ import annotations

import ast
import json
import logging
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.responses import ActionResult
from moto.iam.models import AccessKeyLastUsed, iam_backends
from moto.iam.responses import IamResponse
from moto.secretsmanager.models import FakeSecret

from modelfort.runtime.janitor import (
    EXEMPT_TAG,
    REQUIRED_IAM_ACTIONS,
    AuditTrail,
    ConfigError,
    JanitorConfig,
    JanitorRunFailed,
    lambda_handler,
    load_config,
    run_janitor,
)
from modelfort.runtime.janitor.rules import Activity, is_exempt, is_idle, last_activity

pytestmark = pytest.mark.control("SC-05")

ACCOUNT = "123456789012"
REGION = "us-east-1"
MUTATING_CALLS = {"iam:UpdateAccessKey", "iam:TagUser", "secretsmanager:TagResource", "secretsmanager:DeleteSecret"}


# --------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("MAX_IDLE_DAYS", "RECOVERY_WINDOW_DAYS", "DRY_RUN"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def now() -> datetime:
    """A day after the wall clock: keys created "now" by moto are a day old, real use (STS) a day ago."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


@pytest.fixture
def iam(aws):
    return boto3.client("iam")


@pytest.fixture
def sm(aws):
    return boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def calls(iam, sm) -> list[tuple[str, dict[str, Any]]]:
    """Every API call made through these clients, as (IAM action name, parameters)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    for client in (iam, sm):
        prefix = client.meta.service_model.signing_name

        def record(params: dict[str, Any], model: Any, prefix: str = prefix, **kwargs: Any) -> None:
            seen.append((f"{prefix}:{model.name}", dict(params)))

        client.meta.events.register("provide-client-params", record)
    return seen


@pytest.fixture
def secret_overrides(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Secret name -> fields to report (LastAccessedDate, CreatedDate, OwningService), as AWS would."""
    overrides: dict[str, dict[str, Any]] = {}
    original = FakeSecret.to_dict

    def to_dict(self: FakeSecret) -> dict[str, Any]:
        return {**original(self), **overrides.get(self.name, {})}

    monkeypatch.setattr(FakeSecret, "to_dict", to_dict)
    return overrides


@pytest.fixture
def iam_pagination(monkeypatch: pytest.MonkeyPatch) -> None:
    def page(self: IamResponse, key: str, items: list[Any], **extra: Any) -> ActionResult:
        start = int(self._get_param("Marker") or 0)
        size = int(self._get_param("MaxItems") or 100)
        result = {key: items[start : start + size], "IsTruncated": start + size < len(items), **extra}
        if result["IsTruncated"]:
            result["Marker"] = str(start + size)
        return ActionResult(result)

    def list_users(self: IamResponse) -> ActionResult:
        return page(self, "Users", list(self.backend.list_users(None, None, None)))

    def list_access_keys(self: IamResponse) -> ActionResult:
        user = self._get_param("UserName")
        return page(self, "AccessKeyMetadata", self.backend.list_access_keys(user), UserName=user)

    monkeypatch.setattr(IamResponse, "list_users", list_users)
    monkeypatch.setattr(IamResponse, "list_access_keys", list_access_keys)


# ---------------------------------------------------------------------------------------------------- helpers


def add_key(iam, user: str, *, now: datetime, created_days_ago: float, used_days_ago: float | None = None) -> str:
    """Create a user (if needed) and an access key with backdated creation and last use."""
    return new_key(iam, user, now=now, created_days_ago=created_days_ago, used_days_ago=used_days_ago)["AccessKeyId"]


def new_key(iam, user: str, *, now: datetime, created_days_ago: float, used_days_ago: float | None = None) -> dict:
    try:
        iam.create_user(UserName=user)
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    access_key = iam.create_access_key(UserName=user)["AccessKey"]
    key = iam_backends[ACCOUNT]["aws"].access_keys[access_key["AccessKeyId"]]
    key.create_date = now - timedelta(days=created_days_ago)
    if used_days_ago is not None:
        key.last_used = AccessKeyLastUsed(timestamp=now - timedelta(days=used_days_ago), service="s3", region=REGION)
    return access_key


def add_secret(
    sm,
    overrides: dict[str, dict[str, Any]],
    name: str,
    *,
    now: datetime,
    created_days_ago: float,
    accessed_days_ago: float | None = None,
    tags: list[dict[str, str]] | None = None,
) -> str:
    arn = sm.create_secret(Name=name, SecretString="not read by the janitor", Tags=tags or [])["ARN"]
    overrides[name] = {"CreatedDate": (now - timedelta(days=created_days_ago)).timestamp()}
    if accessed_days_ago is not None:
        overrides[name]["LastAccessedDate"] = (now - timedelta(days=accessed_days_ago)).timestamp()
    return arn


def key_status(iam, user: str, key_id: str) -> str:
    return next(
        k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"] if k["AccessKeyId"] == key_id
    )


def is_scheduled_for_deletion(sm, arn: str) -> bool:
    return sm.describe_secret(SecretId=arn).get("DeletedDate") is not None


def run(iam, sm, now: datetime, **config: Any) -> tuple[dict[str, Any], AuditTrail]:
    page_size = config.pop("page_size", None)
    audit = AuditTrail(run_id="test-run", dry_run=config.get("dry_run", False), emit=lambda record: None)
    summary = run_janitor(
        iam=iam, secretsmanager=sm, config=JanitorConfig(**config), now=now, audit=audit, page_size=page_size
    )
    return summary, audit


def by_resource(audit: AuditTrail) -> dict[str, dict[str, Any]]:
    return {record["resource_id"]: record for record in audit.records}


def fail_when(
    client, operation: str, field: str | None = None, value: str | None = None, code: str = "AccessDenied"
) -> None:
    """Make a call fail, for one item only when ``field``/``value`` are given, the way AWS refuses one resource."""

    def refuse(params: dict[str, Any], **kwargs: Any) -> None:
        if field is None or params.get(field) == value:
            raise ClientError({"Error": {"Code": code, "Message": f"injected for {value}"}}, operation)

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"provide-client-params.{service}.{operation}", refuse)


# ------------------------------------------------------------------------------------------------ access keys


def test_idle_and_never_used_keys_are_disabled_and_recent_ones_kept(iam, sm, now):
    recent = add_key(iam, "alice", now=now, created_days_ago=400, used_days_ago=2)
    idle = add_key(iam, "bob", now=now, created_days_ago=400, used_days_ago=100)
    never_used_old = add_key(iam, "carol", now=now, created_days_ago=100)
    never_used_new = add_key(iam, "dave", now=now, created_days_ago=10)
    # erin's key is old but really used (moto records the STS call, a day before `now`).
    erin = new_key(iam, "erin", now=now, created_days_ago=400)
    boto3.client(
        "sts", aws_access_key_id=erin["AccessKeyId"], aws_secret_access_key=erin["SecretAccessKey"]
    ).get_caller_identity()
    already_off = add_key(iam, "frank", now=now, created_days_ago=400)
    iam.update_access_key(UserName="frank", AccessKeyId=already_off, Status="Inactive")

    summary, audit = run(iam, sm, now, max_idle_days=45)

    assert key_status(iam, "alice", recent) == "Active"
    assert key_status(iam, "dave", never_used_new) == "Active"
    assert key_status(iam, "erin", erin["AccessKeyId"]) == "Active"
    assert key_status(iam, "bob", idle) == "Inactive"
    assert key_status(iam, "carol", never_used_old) == "Inactive"
    records = by_resource(audit)
    assert set(records) == {idle, never_used_old}
    expected = {
        "resource_type": "iam-access-key",
        "action": "disable-access-key",
        "user": "bob",
        "outcome": "applied",
        "changed": True,
        "last_activity_source": "last-used",
        "idle_days": 100,
        "max_idle_days": 45,
    }
    assert {field: records[idle][field] for field in expected} == expected
    assert (records[never_used_old]["last_activity_source"], records[never_used_old]["idle_days"]) == ("created", 100)
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="carol")["Tags"]}
    assert tags == {
        f"modelfort:janitor-disabled:{never_used_old}": f"{now:%Y-%m-%d} unused 100 days limit 45 days since created"
    }
    assert summary["access_keys_examined"] == 5, "the already inactive key is not examined"
    assert (summary["applied"], summary["failed"]) == (2, 0)


def test_keys_are_disabled_never_deleted(iam, sm, now, calls):
    key = add_key(iam, "bob", now=now, created_days_ago=400)
    calls.clear()
    run(iam, sm, now)
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]] == [key]
    assert ("iam:UpdateAccessKey", {"UserName": "bob", "AccessKeyId": key, "Status": "Inactive"}) in calls
    assert not {name for name, _ in calls} & {"iam:DeleteAccessKey", "iam:DeleteUser"}


def test_idle_means_strictly_more_than_the_limit():
    now = datetime(2030, 6, 1, tzinfo=UTC)
    assert not is_idle(Activity(now - timedelta(days=45), "created"), now, 45)
    assert is_idle(Activity(now - timedelta(days=45, seconds=1), "created"), now, 45)
    assert not is_idle(Activity(now + timedelta(days=1), "last-used"), now, 1)
    assert last_activity(None, now) == Activity(now, "created")
    assert last_activity(now, now - timedelta(days=9)) == Activity(now, "last-used")
    with pytest.raises(ValueError):
        is_idle(Activity(datetime(2030, 1, 1), "created"), now, 45)


# ---------------------------------------------------------------------------------------------------- secrets


def test_idle_secrets_are_scheduled_for_deletion_within_the_recovery_window(iam, sm, now, secret_overrides, calls):
    recent = add_secret(sm, secret_overrides, "recent", now=now, created_days_ago=400, accessed_days_ago=3)
    idle = add_secret(sm, secret_overrides, "idle", now=now, created_days_ago=400, accessed_days_ago=60)
    never_read_old = add_secret(sm, secret_overrides, "never-read-old", now=now, created_days_ago=100)
    never_read_new = add_secret(sm, secret_overrides, "never-read-new", now=now, created_days_ago=5)
    calls.clear()

    summary, audit = run(iam, sm, now, max_idle_days=45, recovery_window_days=7)

    assert not is_scheduled_for_deletion(sm, recent)
    assert not is_scheduled_for_deletion(sm, never_read_new)
    assert is_scheduled_for_deletion(sm, idle) and is_scheduled_for_deletion(sm, never_read_old)
    records = by_resource(audit)
    assert set(records) == {idle, never_read_old}
    assert records[idle]["last_activity_source"] == "last-used" and records[idle]["idle_days"] == 60
    assert records[never_read_old]["last_activity_source"] == "created"
    for arn in (idle, never_read_old):
        assert records[arn]["outcome"] == "applied" and records[arn]["recovery_window_days"] == 7
        window = datetime.fromisoformat(records[arn]["deletion_date"]) - datetime.now(UTC)
        assert timedelta(days=6, hours=23) < window <= timedelta(days=7)
    deletes = [params for name, params in calls if name == "secretsmanager:DeleteSecret"]
    assert deletes == [
        {"SecretId": idle, "RecoveryWindowInDays": 7},
        {"SecretId": never_read_old, "RecoveryWindowInDays": 7},
    ]
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=idle)["Tags"]}
    assert tags == {
        "modelfort:janitor-action": "schedule-secret-deletion",
        "modelfort:janitor-date": f"{now:%Y-%m-%d}",
        "modelfort:janitor-reason": "unused 60 days limit 45 days since last-used",
    }
    assert summary["secrets_examined"] == 4


def test_a_scheduled_secret_can_be_restored_unchanged(iam, sm, now, secret_overrides):
    arn = add_secret(sm, secret_overrides, "idle", now=now, created_days_ago=400)
    run(iam, sm, now)
    assert is_scheduled_for_deletion(sm, arn)
    sm.restore_secret(SecretId=arn)
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "not read by the janitor"


def test_secrets_owned_by_another_service_are_left_to_it(iam, sm, now, secret_overrides):
    arn = add_secret(sm, secret_overrides, "rds!db-1", now=now, created_days_ago=400)
    secret_overrides["rds!db-1"]["OwningService"] = "rds"
    _, audit = run(iam, sm, now)
    assert not is_scheduled_for_deletion(sm, arn)
    assert by_resource(audit)[arn]["outcome"] == "exempt" and by_resource(audit)[arn]["exemption"] == "managed by rds"


# --------------------------------------------------------------------------------------- dry run, exemptions


def test_dry_run_reports_the_same_actions_and_changes_nothing(iam, sm, now, secret_overrides, calls):
    idle_key = add_key(iam, "bob", now=now, created_days_ago=400)
    kept_key = add_key(iam, "alice", now=now, created_days_ago=400, used_days_ago=1)
    idle_secret = add_secret(sm, secret_overrides, "idle", now=now, created_days_ago=400)
    calls.clear()

    _, dry = run(iam, sm, now, dry_run=True)

    assert not {name for name, _ in calls} & MUTATING_CALLS
    assert key_status(iam, "bob", idle_key) == "Active" and key_status(iam, "alice", kept_key) == "Active"
    assert iam.list_user_tags(UserName="bob")["Tags"] == []
    assert not is_scheduled_for_deletion(sm, idle_secret)
    assert sm.describe_secret(SecretId=idle_secret).get("Tags", []) == []
    assert {r["outcome"] for r in dry.records} == {"planned"} and all(r["dry_run"] for r in dry.records)

    _, real = run(iam, sm, now)

    def decisions(audit: AuditTrail) -> set[tuple[str, str, str, str]]:
        return {(r["resource_type"], r["resource_id"], r["action"], r["reason"]) for r in audit.records}

    assert decisions(dry) == decisions(real) and len(decisions(dry)) == 2
    assert {r["outcome"] for r in real.records} == {"applied"}
    assert key_status(iam, "bob", idle_key) == "Inactive"


def test_exempt_tag_is_respected_and_must_say_true(iam, sm, now, secret_overrides):
    exempt_key = add_key(iam, "break-glass", now=now, created_days_ago=400)
    iam.tag_user(UserName="break-glass", Tags=[{"Key": EXEMPT_TAG, "Value": "True"}])
    not_really_exempt = add_key(iam, "sloppy", now=now, created_days_ago=400)
    iam.tag_user(UserName="sloppy", Tags=[{"Key": EXEMPT_TAG, "Value": "yes"}])
    exempt_secret = add_secret(
        sm, secret_overrides, "dr-key", now=now, created_days_ago=400, tags=[{"Key": EXEMPT_TAG, "Value": "true"}]
    )

    _, audit = run(iam, sm, now)

    assert key_status(iam, "break-glass", exempt_key) == "Active"
    assert key_status(iam, "sloppy", not_really_exempt) == "Inactive"
    assert not is_scheduled_for_deletion(sm, exempt_secret)
    records = by_resource(audit)
    assert records[exempt_key]["outcome"] == "exempt" and records[exempt_key]["changed"] is False
    assert records[exempt_secret]["outcome"] == "exempt"
    assert records[not_really_exempt]["outcome"] == "applied"
    assert not is_exempt([{"Key": EXEMPT_TAG, "Value": ""}]) and not is_exempt([{"Key": "exempt", "Value": "true"}])


# ------------------------------------------------------------------------------------------------ failures


def test_one_failure_does_not_stop_the_others_and_fails_the_run(iam, sm, now, secret_overrides):
    refused_key = add_key(iam, "a-refused", now=now, created_days_ago=400)
    untaggable_key = add_key(iam, "b-untaggable", now=now, created_days_ago=400)
    unreadable_key = add_key(iam, "c-unreadable", now=now, created_days_ago=400)
    fine_key = add_key(iam, "d-fine", now=now, created_days_ago=400)
    refused_secret = add_secret(sm, secret_overrides, "a-refused", now=now, created_days_ago=400)
    fine_secret = add_secret(sm, secret_overrides, "b-fine", now=now, created_days_ago=400)
    fail_when(iam, "UpdateAccessKey", "AccessKeyId", refused_key)
    fail_when(iam, "TagUser", "UserName", "b-untaggable")
    fail_when(iam, "GetAccessKeyLastUsed", "AccessKeyId", unreadable_key, code="Throttling")
    fail_when(sm, "DeleteSecret", "SecretId", refused_secret)
    emitted: list[dict[str, Any]] = []
    audit = AuditTrail(run_id="r", dry_run=False, emit=emitted.append)

    with pytest.raises(JanitorRunFailed, match="4 janitor action"):
        run_janitor(iam=iam, secretsmanager=sm, config=JanitorConfig(), now=now, audit=audit)

    assert key_status(iam, "d-fine", fine_key) == "Inactive"
    assert key_status(iam, "b-untaggable", untaggable_key) == "Inactive"
    assert key_status(iam, "a-refused", refused_key) == "Active"
    assert is_scheduled_for_deletion(sm, fine_secret) and not is_scheduled_for_deletion(sm, refused_secret)
    records = by_resource(audit)
    assert (records[refused_key]["failed_step"], records[refused_key]["changed"]) == ("disable", False)
    assert (records[untaggable_key]["failed_step"], records[untaggable_key]["changed"]) == ("tag", True)
    assert (records[unreadable_key]["failed_step"], records[unreadable_key]["error_code"]) == ("inspect", "Throttling")
    assert (records[refused_secret]["failed_step"], records[refused_secret]["error_code"]) == ("delete", "AccessDenied")
    assert emitted[-1]["record"] == "modelfort.janitor.summary", "the summary is written before the run fails"
    assert (emitted[-1]["failed"], emitted[-1]["applied"]) == (4, 2)


def test_an_unreadable_exemption_is_a_failure_not_a_decision(iam, sm, now):
    key = add_key(iam, "maybe-break-glass", now=now, created_days_ago=400)
    fail_when(iam, "ListUserTags", "UserName", "maybe-break-glass")
    audit = AuditTrail(run_id="r", dry_run=False, emit=lambda record: None)

    with pytest.raises(JanitorRunFailed):
        run_janitor(iam=iam, secretsmanager=sm, config=JanitorConfig(), now=now, audit=audit)

    assert key_status(iam, "maybe-break-glass", key) == "Active"
    assert [(r["resource_id"], r["failed_step"]) for r in audit.records] == [(key, "inspect")]


def test_a_failing_iam_listing_does_not_spare_idle_secrets(iam, sm, now, secret_overrides):
    arn = add_secret(sm, secret_overrides, "idle", now=now, created_days_ago=400)
    fail_when(iam, "ListUsers")
    audit = AuditTrail(run_id="r", dry_run=False, emit=lambda record: None)
    with pytest.raises(JanitorRunFailed):
        run_janitor(iam=iam, secretsmanager=sm, config=JanitorConfig(), now=now, audit=audit)
    assert is_scheduled_for_deletion(sm, arn)
    assert [r["action"] for r in audit.records if r["outcome"] == "failed"] == ["list-users"]


# --------------------------------------------------------------------------------------------- pagination


def test_every_page_of_users_keys_and_secrets_is_swept(iam, sm, now, secret_overrides, calls, iam_pagination):
    keys = {}
    for index in range(5):
        user = f"user-{index}"
        keys[user] = [add_key(iam, user, now=now, created_days_ago=400) for _ in range(2)]
    arns = [add_secret(sm, secret_overrides, f"s-{i}", now=now, created_days_ago=400) for i in range(5)]
    calls.clear()

    summary, audit = run(iam, sm, now, page_size=1)
    names = [name for name, _ in calls]

    for user, user_keys in keys.items():
        assert [key_status(iam, user, key) for key in user_keys] == ["Inactive", "Inactive"]
    assert all(is_scheduled_for_deletion(sm, arn) for arn in arns)
    assert (summary["access_keys_examined"], summary["secrets_examined"], summary["applied"]) == (10, 5, 15)
    assert names.count("iam:ListUsers") == 5 and names.count("iam:ListAccessKeys") == 10
    assert names.count("secretsmanager:ListSecrets") >= 5


# ---------------------------------------------------------------------------------------- config and wiring


def test_defaults_and_valid_settings():
    assert load_config({}) == JanitorConfig(max_idle_days=45, recovery_window_days=30, dry_run=False)
    assert load_config({"MAX_IDLE_DAYS": "90", "RECOVERY_WINDOW_DAYS": "7", "DRY_RUN": "TRUE"}) == JanitorConfig(
        max_idle_days=90, recovery_window_days=7, dry_run=True
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MAX_IDLE_DAYS": "0"}, "MAX_IDLE_DAYS must be a whole number of days from 1 to 365; got 0"),
        ({"MAX_IDLE_DAYS": "366"}, "MAX_IDLE_DAYS must be a whole number of days from 1 to 365"),
        ({"MAX_IDLE_DAYS": "ninety"}, "MAX_IDLE_DAYS must be a whole number of days from 1 to 365; got 'ninety'"),
        ({"MAX_IDLE_DAYS": "-5"}, "MAX_IDLE_DAYS must be a whole number"),
        ({"MAX_IDLE_DAYS": " 45"}, "MAX_IDLE_DAYS must be a whole number"),
        ({"MAX_IDLE_DAYS": "45.0"}, "MAX_IDLE_DAYS must be a whole number"),
        ({"MAX_IDLE_DAYS": ""}, "MAX_IDLE_DAYS must be a whole number"),
        ({"RECOVERY_WINDOW_DAYS": "6"}, "RECOVERY_WINDOW_DAYS must be a whole number of days from 7 to 30; got 6"),
        ({"RECOVERY_WINDOW_DAYS": "31"}, "RECOVERY_WINDOW_DAYS must be a whole number of days from 7 to 30"),
        ({"RECOVERY_WINDOW_DAYS": "0"}, "RECOVERY_WINDOW_DAYS must be a whole number of days from 7 to 30"),
        ({"DRY_RUN": "yes"}, "DRY_RUN must be true or false; got 'yes'"),
        ({"DRY_RUN": ""}, "DRY_RUN must be true or false; got ''"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(environ, message):
    with pytest.raises(ConfigError) as raised:
        load_config(environ)
    assert message in str(raised.value)


def test_bad_settings_stop_the_lambda_before_any_aws_call(aws, monkeypatch, calls):
    monkeypatch.setenv("RECOVERY_WINDOW_DAYS", "0")
    with pytest.raises(ConfigError, match="RECOVERY_WINDOW_DAYS"):
        lambda_handler({}, SimpleNamespace(aws_request_id="req-1"))
    with pytest.raises(ConfigError, match="RECOVERY_WINDOW_DAYS"):
        JanitorConfig(recovery_window_days=0)
    assert calls == []


def test_lambda_handler_logs_json_records_and_returns_the_summary(aws, monkeypatch, caplog, iam):
    caplog.set_level(logging.INFO, logger="modelfort.janitor.audit")
    key = add_key(iam, "bob", now=datetime.now(UTC), created_days_ago=40)
    monkeypatch.setenv("MAX_IDLE_DAYS", "30")
    monkeypatch.setenv("DRY_RUN", "true")

    summary = lambda_handler({"DRY_RUN": "false", "MAX_IDLE_DAYS": "1"}, SimpleNamespace(aws_request_id="req-1"))

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "modelfort.janitor.audit"]
    assert [line["record"] for line in lines] == ["modelfort.janitor.action", "modelfort.janitor.summary"]
    assert lines[0]["resource_id"] == key and lines[0]["outcome"] == "planned" and lines[0]["run_id"] == "req-1"
    assert lines[1] == summary and summary["dry_run"] is True and summary["max_idle_days"] == 30
    assert key_status(iam, "bob", key) == "Active", "the event cannot turn dry run off"


def test_required_iam_actions_are_exactly_the_calls_a_run_makes(iam, sm, now, secret_overrides, calls):
    add_key(iam, "bob", now=now, created_days_ago=400)
    add_secret(sm, secret_overrides, "idle", now=now, created_days_ago=400)
    calls.clear()
    run(iam, sm, now)
    assert {name for name, _ in calls} == set(REQUIRED_IAM_ACTIONS)


def test_the_package_ships_alone_with_only_boto3_and_the_standard_library(tmp_path):
    """Imported the way Lambda will (its directory at the root of the zip, nothing else from the repo), after
    boto3, the package must add no top-level module but itself."""
    source = Path(__file__).resolve().parents[3] / "modelfort" / "runtime" / "janitor"
    shutil.copytree(source, tmp_path / "janitor", ignore=shutil.ignore_patterns("__pycache__"))
    probe = (
        "import sys; sys.path.insert(0, '.'); import boto3, botocore.exceptions; before = set(sys.modules); "
        "import janitor.handler; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert set(ast.literal_eval(result.stdout.strip())) == {"janitor"}
