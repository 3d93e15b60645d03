"""The rotation function when things go wrong part-way (SC-04): a step failing and Secrets Manager retrying it, two
invocations racing on the same rotation, a late invocation for a rotation that was superseded, and a disabled KMS key.

The happy paths, retries of successful steps and refusals of bad values are in test_rotation_handler.py; this file
reuses its moto fixtures. moto does not enforce two AWS behaviours these cases depend on, so they are emulated on the
function's own clients (see testing-notes.md): a disabled key (moto keeps using it; AWS answers EncryptionFailure /
DecryptionFailure), and PutSecretValue's idempotency (AWS refuses a second, different value under the same
ClientRequestToken with ResourceExistsException; moto overwrites).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from test_rotation_handler import (  # noqa: F401 - fixtures are used by name
    STEP_ORDER,
    FakeProvider,
    aws,
    clear_moto_pending,
    current,
    function_arn,
    initial_token,
    logs,
    make_secret,
    provider_issuer,
    route,
    sm,
    stages,
    start_rotation,
    step_lines,
)

from modelfort.runtime.rotation import (
    GeneratedTokenIssuer,
    IssuerFailed,
    PendingTokenRejected,
    VersionNotStaged,
    lambda_handler,
    make_lambda_handler,
    parse_service_token,
)
from modelfort.runtime.rotation import handler as handler_module


def events(arn: str, token: str, steps: list[str] = STEP_ORDER) -> list[dict[str, str]]:
    return [{"SecretId": arn, "ClientRequestToken": token, "Step": step} for step in steps]


def pending_value(sm, arn: str, token: str) -> str | None:
    try:
        return sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
    except sm.exceptions.ResourceNotFoundException:
        return None


def hook_function_clients(monkeypatch, operation: str, hook: Callable[..., None]) -> None:
    """Register `hook` on every Secrets Manager client the function builds, for one API operation."""
    real_client = boto3.client

    def client(*args: Any, **kwargs: Any):
        made = real_client(*args, **kwargs)
        made.meta.events.register(f"provide-client-params.secrets-manager.{operation}", hook)
        return made

    monkeypatch.setattr(handler_module.boto3, "client", client)


def client_error(code: str, operation: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


# ------------------------------------------------------------------------------------------------ failure midway
@pytest.mark.control("SC-04")
def test_a_step_that_fails_midway_is_retried_with_the_same_token_and_promotes_the_first_value(sm, function_arn, route, logs):
    """setSecret fails once (the third party is briefly down); Secrets Manager's retry reuses the stored pending
    value instead of minting another key, and only then promotes it."""
    old = initial_token("tool")
    arn = make_secret(sm, name="tools/crm", kind="tool", value=old.to_secret_string())
    provider = FakeProvider(old.token)
    outage = {"left": 1}
    issued: list[str] = []
    base = provider_issuer(provider)

    class FlakyProvider(base):  # type: ignore[misc, valid-type]
        def issue(self, *, secret_arn, kind, now):
            token = super().issue(secret_arn=secret_arn, kind=kind, now=now)
            issued.append(token.token)
            return token

        def activate(self, *, secret_arn, pending, current):
            if outage["left"]:
                outage["left"] -= 1
                raise ConnectionError("provider unavailable")
            super().activate(secret_arn=secret_arn, pending=pending, current=current)

    handler = make_lambda_handler(FlakyProvider)
    route.handler = handler
    with pytest.raises(IssuerFailed):
        start_rotation(sm, arn, function_arn)

    token = route.events[0]["ClientRequestToken"]
    assert [e["Step"] for e in route.events] == ["createSecret", "setSecret"]
    assert current(sm, arn)["SecretString"] == old.to_secret_string(), "a failed rotation must leave AWSCURRENT alone"
    stored = pending_value(sm, arn, token)
    assert stored is not None and parse_service_token(stored).token == issued[0]

    for event in events(arn, token):  # Secrets Manager's retry of the whole rotation
        handler(event, None)

    assert issued == [issued[0]], "the retry must not mint a second key"
    assert current(sm, arn)["VersionId"] == token
    assert parse_service_token(current(sm, arn)["SecretString"]).token == issued[0]
    assert provider.activations == [issued[0]] and provider.authenticate(old.token)
    assert [line["outcome"] for line in step_lines(logs)] == ["succeeded", "failed", "succeeded", "succeeded", "succeeded", "succeeded"]


@pytest.mark.control("SC-04")
def test_a_late_invocation_for_a_superseded_rotation_touches_nothing(sm, function_arn, route):
    """Rotation A fails at testSecret; rotation B later succeeds. A delayed retry of A (any step) must be refused
    before it reads or writes anything, so it can never demote B's token."""
    arn = make_secret(sm)
    route.handler = make_lambda_handler(_RejectingIssuer)
    with pytest.raises(PendingTokenRejected):
        start_rotation(sm, arn, function_arn)
    token_a = route.events[0]["ClientRequestToken"]
    clear_moto_pending(sm, arn)  # what a new RotateSecret does to the previous attempt's label
    route.handler = lambda_handler
    route.events.clear()
    start_rotation(sm, arn, function_arn)
    token_b = route.events[0]["ClientRequestToken"]
    assert token_b != token_a and current(sm, arn)["VersionId"] == token_b
    clear_moto_pending(sm, arn)
    before = (stages(sm, arn), current(sm, arn)["SecretString"])

    for event in events(arn, token_a):
        with pytest.raises(VersionNotStaged):
            lambda_handler(event, None)

    assert (stages(sm, arn), current(sm, arn)["SecretString"]) == before


class _RejectingIssuer(GeneratedTokenIssuer):
    name = "rejecting"

    def test(self, *, secret_arn, pending):
        raise PendingTokenRejected("the verifier refused the pending token")


# ------------------------------------------------------------------------------------------------ concurrency
@pytest.mark.control("SC-04")
def test_two_invocations_racing_on_create_secret_end_with_one_token(sm, function_arn, route, monkeypatch, logs):
    """Lambda may run a retried createSecret while the first is still running. Both find no pending value and
    mint a token; AWS keeps the first PutSecretValue under the version id and refuses the second. The loser fails,
    and the rest of the rotation promotes exactly the value that was stored."""
    arn = make_secret(sm)
    raw = boto3.client("secretsmanager")

    def aws_idempotency(params: dict[str, Any], **_: Any) -> None:
        stored = pending_value(raw, params["SecretId"], params["ClientRequestToken"])
        if stored is not None and stored != params["SecretString"]:
            raise client_error("ResourceExistsException", "PutSecretValue",
                               "You can't modify an existing version, you can only create a new version.")

    hook_function_clients(monkeypatch, "PutSecretValue", aws_idempotency)
    minted: list[str] = []
    race = {"pending": True}

    class RacingIssuer(GeneratedTokenIssuer):
        name = "racing"

        def issue(self, *, secret_arn, kind, now):
            token = super().issue(secret_arn=secret_arn, kind=kind, now=now)
            minted.append(token.token)
            if race["pending"]:  # the second invocation runs to completion inside the first one
                race["pending"] = False
                racer(race["event"], None)
            return token

    racer = make_lambda_handler(RacingIssuer)
    route.handler = lambda event, context: race.update(event=event) or racer(event, context)
    with pytest.raises(ClientError, match="ResourceExistsException"):
        start_rotation(sm, arn, function_arn)

    token = route.events[0]["ClientRequestToken"]
    first, second = minted
    assert parse_service_token(pending_value(sm, arn, token)).token == second, "the value stored first is kept"
    for event in events(arn, token, STEP_ORDER[1:]):
        racer(event, None)
    assert parse_service_token(current(sm, arn)["SecretString"]).token == second
    every_value = [raw.get_secret_value(SecretId=arn, VersionId=v["VersionId"]).get("SecretString", "")
                   for v in raw.list_secret_version_ids(SecretId=arn)["Versions"]]
    assert not any(first in value for value in every_value), "the losing token must never be stored"
    failed = [line for line in step_lines(logs) if line["outcome"] == "failed"]
    assert [(line["step"], line["error_type"]) for line in failed] == [("createSecret", "ClientError")]


# ------------------------------------------------------------------------------------------------ disabled keys
@pytest.mark.control("SC-04", "SC-03")
def test_a_disabled_key_stops_rotation_before_anything_is_stored_and_rotation_resumes_once_enabled(sm, function_arn, route, monkeypatch, logs):
    arn = make_secret(sm)
    before = current(sm, arn)
    key = {"disabled": True}

    def kms_state(params: dict[str, Any], **_: Any) -> None:
        if key["disabled"]:
            raise client_error("EncryptionFailure", "PutSecretValue",
                               "Secrets Manager can't encrypt the protected secret text using the provided KMS key. "
                               "Check that the KMS key is available, enabled, and not in an invalid state.")

    hook_function_clients(monkeypatch, "PutSecretValue", kms_state)
    with pytest.raises(ClientError, match="EncryptionFailure"):
        start_rotation(sm, arn, function_arn)

    token = route.events[0]["ClientRequestToken"]
    assert [e["Step"] for e in route.events] == ["createSecret"]
    assert pending_value(sm, arn, token) is None, "nothing may be stored under a key that cannot encrypt"
    assert (current(sm, arn)["VersionId"], current(sm, arn)["SecretString"]) == (before["VersionId"], before["SecretString"])
    (line,) = step_lines(logs)
    assert (line["step"], line["outcome"], line["error_type"]) == ("createSecret", "failed", "ClientError")
    assert "EncryptionFailure" in line["error"]

    key["disabled"] = False  # the key is enabled again; Secrets Manager retries the same rotation
    for event in events(arn, token):
        lambda_handler(event, None)
    assert current(sm, arn)["VersionId"] == token
    assert parse_service_token(current(sm, arn)["SecretString"]).kind == "agent"


@pytest.mark.control("SC-04", "SC-03")
def test_a_key_that_cannot_decrypt_fails_rotation_without_touching_the_secret(sm, function_arn, route, monkeypatch, logs):
    arn = make_secret(sm)
    before = stages(sm, arn)

    def cannot_decrypt(params: dict[str, Any], **_: Any) -> None:
        raise client_error("DecryptionFailure", "GetSecretValue",
                           "Secrets Manager can't decrypt the protected secret text using the provided KMS key.")

    hook_function_clients(monkeypatch, "GetSecretValue", cannot_decrypt)
    put_calls: list[str] = []
    hook_put = lambda params, **_: put_calls.append(params["ClientRequestToken"])  # noqa: E731
    real_client = handler_module.boto3.client
    monkeypatch.setattr(handler_module.boto3, "client", lambda *a, **k: _with(real_client(*a, **k), "PutSecretValue", hook_put))

    with pytest.raises(ClientError, match="DecryptionFailure"):
        start_rotation(sm, arn, function_arn)

    assert put_calls == [], "createSecret must read AWSCURRENT before it writes anything"
    token = route.events[0]["ClientRequestToken"]
    assert {version: labels for version, labels in stages(sm, arn).items() if version != token} == before
    assert step_lines(logs)[-1]["error_type"] == "ClientError"


def _with(client, operation: str, hook: Callable[..., None]):
    client.meta.events.register(f"provide-client-params.secrets-manager.{operation}", hook)
    return client
