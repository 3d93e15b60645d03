"""The GCP service-token rotation (modelfort.runtime.rotation_gcp) against a fake Secret Manager (SC-04, SC-05).

There is no Secret Manager emulator, so `FakeSecretManager` plays the part with the real client's surface: request
dicts in, objects with the client's attribute names out (`payload.data`, `payload.data_crc32c`, `create_time`,
`state.name`), versions listed with the `state:ENABLED` filter, and the service's own check that an added payload
matches its CRC32C. The issuers and the value format are the AWS package's, reused unchanged.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from modelfort.runtime.rotation import (
    GeneratedTokenIssuer,
    InvalidRotationEvent,
    IssuerFailed,
    PendingTokenRejected,
    RotationError,
    RotationNotEnabled,
    ServiceToken,
    ThirdPartyIssuer,
    parse_service_token,
)
from modelfort.runtime.rotation_gcp import KEEP_ENABLED_VERSIONS, crc32c, parse_message, rotate
from modelfort.runtime.rotation_gcp import entry

pytestmark = pytest.mark.control("SC-04")

SECRET = "projects/modelfort-production/secrets/agent-key"
START = datetime(2030, 1, 2, 3, 0, 0, tzinfo=UTC)


class State(enum.IntEnum):
    """As google.cloud.secretmanager_v1.SecretVersion.State."""

    STATE_UNSPECIFIED = 0
    ENABLED = 1
    DISABLED = 2
    DESTROYED = 3


@dataclass
class Version:
    name: str
    create_time: datetime
    data: bytes = field(repr=False)
    state: State = State.ENABLED


class GoogleApiError(Exception):
    """Stands in for google.api_core.exceptions.*: same module, so the handler treats it as a service error."""


GoogleApiError.__module__ = "google.api_core.exceptions"


class FakeSecretManager:
    def __init__(self, clock: list[datetime]) -> None:
        self.clock = clock
        self.secrets: dict[str, SimpleNamespace] = {}
        self.versions: dict[str, list[Version]] = {}
        self.calls: list[str] = []
        self.corrupt_reads = False

    def create(self, name: str, *, kind: str | None = "agent", rotation_period: timedelta | None = timedelta(days=30),
               initial: bytes | None = b"bootstrap placeholder") -> None:
        labels = {"modelfort-zone": "production", **({"modelfort-token-kind": kind} if kind else {})}
        self.secrets[name] = SimpleNamespace(name=name, labels=labels, rotation=SimpleNamespace(rotation_period=rotation_period))
        self.versions[name] = []
        if initial is not None:
            self._add(name, initial)

    def _add(self, secret: str, data: bytes) -> Version:
        self.clock[0] += timedelta(seconds=1)
        version = Version(f"{secret}/versions/{len(self.versions[secret]) + 1}", self.clock[0], data)
        self.versions[secret].append(version)
        return version

    # The client's methods, as the handler calls them.
    def get_secret(self, request: dict) -> SimpleNamespace:
        self.calls.append("get_secret")
        return self.secrets[request["name"]]

    def list_secret_versions(self, request: dict) -> list[Version]:
        self.calls.append("list_secret_versions")
        assert request["filter"] == "state:ENABLED"
        # Newest first, as the service lists them: the handler must not rely on the order.
        return [v for v in reversed(self.versions[request["parent"]]) if v.state == State.ENABLED]

    def access_secret_version(self, request: dict) -> SimpleNamespace:
        self.calls.append("access_secret_version")
        secret, _, number = request["name"].rpartition("/versions/")
        version = self.versions[secret][int(number) - 1]
        checksum = crc32c(version.data) ^ (1 if self.corrupt_reads else 0)
        return SimpleNamespace(name=version.name, payload=SimpleNamespace(data=version.data, data_crc32c=checksum))

    def add_secret_version(self, request: dict) -> Version:
        self.calls.append("add_secret_version")
        payload = request["payload"]
        if crc32c(payload["data"]) != payload["data_crc32c"]:
            raise GoogleApiError("400 Checksum mismatch for the payload of secret version")
        return self._add(request["parent"], payload["data"])

    def disable_secret_version(self, request: dict) -> None:
        self.calls.append("disable_secret_version")
        secret, _, number = request["name"].rpartition("/versions/")
        self.versions[secret][int(number) - 1].state = State.DISABLED

    # Helpers for the tests.
    def enabled(self, secret: str = SECRET) -> list[Version]:
        return [v for v in self.versions[secret] if v.state == State.ENABLED]

    def latest_token(self, secret: str = SECRET) -> ServiceToken:
        return parse_service_token(self.versions[secret][-1].data.decode())


@pytest.fixture
def clock() -> list[datetime]:
    return [START]


@pytest.fixture
def sm(clock) -> FakeSecretManager:
    fake = FakeSecretManager(clock)
    fake.create(SECRET)
    return fake


def notification(event_type: str = "SECRET_ROTATE", *, secret: str = SECRET, published: str = "2030-01-02T04:00:00.123456789Z",
                 message_id: str = "1001") -> dict:
    """The data of the CloudEvent Eventarc delivers for a Pub/Sub message from Secret Manager."""
    return {
        "message": {
            "attributes": {"eventType": event_type, "secretId": secret, "dataFormat": "JSON_API_V1"},
            "data": "eyJuYW1lIjogInByb2plY3RzLzEvc2VjcmV0cy9hZ2VudC1rZXkifQ==",
            "messageId": message_id,
            "publishTime": published,
        },
        "subscription": "projects/modelfort-production/subscriptions/eventarc-us-central1-rotation-sub-001",
    }


def run(sm, event, *, issuer=None) -> str:
    """Deliver `event`: the function runs a moment after the message was published, and the fake service's clock
    (which stamps new versions) moves with it."""
    try:
        published = parse_message(event).published_at
    except InvalidRotationEvent:
        published = sm.clock[0]
    sm.clock[0] = max(sm.clock[0], published + timedelta(seconds=1))
    return rotate(event, client=sm, issuer=issuer or GeneratedTokenIssuer(), now=lambda: sm.clock[0])


def log_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "modelfort.rotation.gcp"]


def test_a_rotation_adds_a_fresh_token_of_the_secrets_kind(sm, caplog):
    caplog.set_level(logging.INFO, logger="modelfort.rotation.gcp")
    assert run(sm, notification()) == "rotated"
    token = sm.latest_token()
    assert token.kind == "agent" and token.token.startswith("mf_agent_") and token.issuer == "generated"
    assert len(sm.enabled()) == 2  # the new version and the bootstrap value, for one more period
    (line,) = log_lines(caplog)
    assert line["outcome"] == "rotated" and line["secret"] == SECRET and line["detail"] == "added version 2"
    assert token.token not in caplog.text


@pytest.mark.control("SC-05")
def test_superseded_versions_are_disabled_keeping_the_previous_one(sm):
    tokens = []
    for hour in range(4):
        published = (START + timedelta(hours=hour + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert run(sm, notification(published=published, message_id=str(hour))) == "rotated"
        tokens.append(sm.latest_token().token)
    assert len(set(tokens)) == 4
    enabled = sm.enabled()
    assert len(enabled) == KEEP_ENABLED_VERSIONS
    assert [parse_service_token(v.data.decode()).token for v in enabled] == tokens[-2:]
    assert [v.state for v in sm.versions[SECRET]] == [State.DISABLED] * 3 + [State.ENABLED] * 2


def test_a_redelivered_notification_does_not_rotate_again(sm, caplog):
    caplog.set_level(logging.INFO, logger="modelfort.rotation.gcp")
    event = notification()
    assert run(sm, event) == "rotated"
    first = sm.latest_token().token
    assert run(sm, event) == "skipped"
    assert sm.latest_token().token == first and len(sm.versions[SECRET]) == 2
    assert "newer than the notification" in log_lines(caplog)[-1]["detail"]


def test_other_secret_events_on_the_topic_are_ignored(sm, caplog):
    caplog.set_level(logging.INFO, logger="modelfort.rotation.gcp")
    # Adding the version makes Secret Manager announce SECRET_VERSION_ADD on the same topic.
    assert run(sm, notification("SECRET_VERSION_ADD")) == "ignored"
    assert sm.calls == [] and log_lines(caplog)[0]["outcome"] == "ignored"


def test_a_cloud_event_object_is_read_like_its_data(sm):
    assert run(sm, SimpleNamespace(data=notification())) == "rotated"


@pytest.mark.parametrize(
    "event,message",
    [
        ({}, "no Pub/Sub message"),
        ({"message": {"messageId": "1", "publishTime": "2030-01-01T00:00:00Z"}}, "no attributes"),
        (notification(secret="projects/p/secrets/a/versions/1"), "secretId"),
        (notification(secret="agent-key"), "secretId"),
        ({"message": {**notification()["message"], "publishTime": None}}, "publishTime"),
        ({"message": {**notification()["message"], "publishTime": "yesterday"}}, "RFC 3339"),
        ({"message": {**notification()["message"], "publishTime": "2030-01-01T00:00:00"}}, "time zone"),
        ({"message": {**notification()["message"], "messageId": ""}}, "messageId"),
        ("not an event", "no Pub/Sub message"),
    ],
)
def test_malformed_events_are_refused_before_any_secret_is_touched(sm, event, message):
    with pytest.raises(InvalidRotationEvent, match=message):
        run(sm, event)
    assert sm.calls == []


def test_publish_times_with_nanoseconds_parse():
    assert parse_message(notification(published="2030-01-02T04:00:00.123456789Z")).published_at == datetime(2030, 1, 2, 4, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "setup,error",
    [
        (dict(kind=None), "must be labelled modelfort-token-kind"),
        (dict(kind="human"), "must be labelled modelfort-token-kind"),
        (dict(rotation_period=None), "no rotation period"),
        (dict(rotation_period=timedelta(0)), "no rotation period"),
    ],
)
def test_secrets_that_are_not_set_up_for_rotation_are_left_alone(clock, setup, error):
    sm = FakeSecretManager(clock)
    sm.create(SECRET, **setup)
    with pytest.raises(RotationError, match=error):
        run(sm, notification())
    assert "add_secret_version" not in sm.calls
    if "rotation_period" in setup:
        with pytest.raises(RotationNotEnabled):
            run(sm, notification())


def test_a_secret_with_no_version_yet_gets_its_first(clock):
    sm = FakeSecretManager(clock)
    sm.create(SECRET, initial=None)
    assert run(sm, notification()) == "rotated"
    assert len(sm.enabled()) == 1 and sm.latest_token().kind == "agent"


def test_a_corrupted_read_stops_the_rotation(sm):
    sm.corrupt_reads = True
    with pytest.raises(RotationError, match="CRC32C mismatch"):
        run(sm, notification())
    assert "add_secret_version" not in sm.calls


class RecordingIssuer(ThirdPartyIssuer):
    name = "acme"

    def __init__(self, *, fail_activate: bool = False, fail_test: bool = False, reuse: ServiceToken | None = None) -> None:
        self.fail_activate, self.fail_test, self.reuse = fail_activate, fail_test, reuse
        self.events: list[tuple[str, Any]] = []

    def issue(self, *, secret_arn, kind, now):
        return self.reuse or super().issue(secret_arn=secret_arn, kind=kind, now=now)

    def activate(self, *, secret_arn, pending, current):
        self.events.append(("activate", (secret_arn, pending.kind, current.token if current else None)))
        if self.fail_activate:
            raise ConnectionError(f"provider refused key {pending.token}")

    def test(self, *, secret_arn, pending):
        self.events.append(("test", secret_arn))
        if self.fail_test:
            raise PendingTokenRejected("provider answered 401 for the pending key")


def test_a_third_party_issuer_activates_and_tests_before_the_version_is_added(sm):
    run(sm, notification(message_id="1"))
    current = sm.latest_token()
    issuer = RecordingIssuer()
    run(sm, notification(published="2030-01-02T05:00:00Z", message_id="2"), issuer=issuer)
    assert issuer.events == [("activate", (SECRET, "agent", current.token)), ("test", SECRET)]
    assert sm.latest_token().issuer == "acme"


def test_an_issuer_failure_keeps_the_current_version_and_its_message_out_of_the_logs(sm, caplog):
    caplog.set_level(logging.INFO, logger="modelfort.rotation.gcp")
    with pytest.raises(IssuerFailed, match="message withheld") as raised:
        run(sm, notification(), issuer=RecordingIssuer(fail_activate=True))
    assert "provider refused key" not in str(raised.value) and "provider refused key" not in caplog.text
    assert len(sm.versions[SECRET]) == 1
    with pytest.raises(PendingTokenRejected, match="401"):
        run(sm, notification(), issuer=RecordingIssuer(fail_test=True))
    assert len(sm.versions[SECRET]) == 1


def test_the_current_token_is_never_added_again(sm):
    run(sm, notification(message_id="1"))
    current = sm.latest_token()
    with pytest.raises(PendingTokenRejected, match="current token"):
        run(sm, notification(published="2030-01-02T05:00:00Z", message_id="2"), issuer=RecordingIssuer(reuse=current))
    assert sm.latest_token() == current


def test_service_errors_are_logged_verbatim_and_other_errors_withheld(sm, caplog):
    caplog.set_level(logging.INFO, logger="modelfort.rotation.gcp")

    def denied(request):
        raise GoogleApiError("403 Permission 'secretmanager.versions.add' denied on resource " + request["parent"])

    sm.add_secret_version = denied
    with pytest.raises(GoogleApiError):
        run(sm, notification())
    assert "secretmanager.versions.add" in log_lines(caplog)[-1]["error"]

    def leaky(request):
        raise KeyError(request["payload"]["data"].decode())

    sm.add_secret_version = leaky
    with pytest.raises(RotationError, match="message withheld"):
        run(sm, notification())
    assert "mf_agent_" not in caplog.text
    assert log_lines(caplog)[-1]["error_location"].startswith("test_gcp_rotation.py:")


def test_the_entry_point_wires_the_client_issuer_and_clock(sm, monkeypatch):
    monkeypatch.setattr(entry, "secret_manager_client", lambda: sm)
    entry._run(SimpleNamespace(data=notification()), GeneratedTokenIssuer, client_factory=entry.secret_manager_client)
    assert sm.latest_token().kind == "agent"
    handler = entry.make_handler(RecordingIssuer)
    assert "RecordingIssuer" in handler.__doc__
    with pytest.raises(TypeError):
        entry.make_handler(dict)


def test_crc32c_matches_the_castagnoli_check_value():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
