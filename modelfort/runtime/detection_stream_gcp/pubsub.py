"""Pub/Sub push envelopes in, Pub/Sub REST publishes out.

A push request's body is `{"message": {"data": <base64>, "messageId", "publishTime", "orderingKey"?,
"attributes"?}, "subscription": ...}`, one message per request. `PushError` means the body is not such an envelope:
the function answers 400, Pub/Sub retries with backoff and then moves the message to the dead-letter topic, where it
stays for inspection (retrying cannot make it readable, but dropping it would lose evidence).

Publishing uses the REST API (`POST {endpoint}/v1/{topic}:publish`) through an authorised `requests` session, so the
endpoint can be a local stub in tests (PUBSUB_ENDPOINT). Each request carries at most `MAX_MESSAGES_PER_PUBLISH`
messages and `MAX_BYTES_PER_PUBLISH` bytes of data. Pub/Sub keeps messages of one ordering key in the order the
publishes were accepted, so messages of one caller are published in order, one request after another; a refused
publish raises `PublishError` and the caller fails the push request, so Pub/Sub redelivers the whole log entry and
stage two drops what it already committed by event id.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_ENDPOINT = "https://pubsub.googleapis.com"
MAX_MESSAGES_PER_PUBLISH = 1000  # Pub/Sub publish limits
MAX_BYTES_PER_PUBLISH = 9 * 1024 * 1024  # below the 10 MB request limit, leaving room for the JSON and base64
MAX_PUSH_BYTES = 10 * 1024 * 1024
PUBLISH_TIMEOUT_S = (5.0, 20.0)


class PushError(ValueError):
    """The request is not a readable Pub/Sub push envelope."""


class PublishError(RuntimeError):
    """Pub/Sub did not accept a publish."""


@dataclass(frozen=True)
class PushMessage:
    data: bytes
    message_id: str
    ordering_key: str
    attributes: Mapping[str, str]


def decode_push(body: bytes | str | Mapping[str, Any]) -> PushMessage:
    if isinstance(body, (bytes, str)):
        if len(body) > MAX_PUSH_BYTES * 2:
            raise PushError("the push body is larger than any Pub/Sub message")
        try:
            body = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise PushError(f"the push body is not JSON ({type(error).__name__})") from error
    message = body.get("message") if isinstance(body, Mapping) else None
    if not isinstance(message, Mapping) or not isinstance(message.get("data", ""), str):
        raise PushError("not a Pub/Sub push envelope (no message.data)")
    try:
        data = base64.b64decode(message.get("data", ""), validate=True)
    except (binascii.Error, ValueError) as error:
        raise PushError("message.data is not base64") from error
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise PushError("message.attributes is not an object")
    return PushMessage(data, str(message.get("messageId", "")), str(message.get("orderingKey", "")),
                       {str(k): str(v) for k, v in attributes.items()})


@dataclass(frozen=True)
class OutgoingMessage:
    data: bytes
    ordering_key: str
    attributes: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"data": base64.b64encode(self.data).decode(), "orderingKey": self.ordering_key,
                "attributes": dict(self.attributes)}


def publish_requests(messages: Sequence[OutgoingMessage]) -> list[list[OutgoingMessage]]:
    """Publish requests within Pub/Sub's count and size limits, in the given order."""
    out: list[list[OutgoingMessage]] = []
    current: list[OutgoingMessage] = []
    size = 0
    for message in messages:
        message_size = len(message.data) * 4 // 3 + len(message.ordering_key) + 64
        if current and (len(current) >= MAX_MESSAGES_PER_PUBLISH or size + message_size > MAX_BYTES_PER_PUBLISH):
            out.append(current)
            current, size = [], 0
        current.append(message)
        size += message_size
    if current:
        out.append(current)
    return out


class Publisher:
    """Publishes to one topic (`projects/<p>/topics/<t>`) with a `requests`-compatible session: google-auth's
    `AuthorizedSession` in production (it adds the service account's token), any session in tests."""

    def __init__(self, session: Any, topic: str, endpoint: str = DEFAULT_ENDPOINT) -> None:
        if not topic.startswith("projects/") or "/topics/" not in topic:
            raise ValueError(f"topic {topic!r} must be a full name, projects/<project>/topics/<topic>")
        self.session, self.topic, self.endpoint = session, topic, endpoint.rstrip("/")

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[str]:
        ids: list[str] = []
        for batch in publish_requests(messages):
            response = self.session.post(f"{self.endpoint}/v1/{self.topic}:publish",
                                         json={"messages": [m.to_json() for m in batch]}, timeout=PUBLISH_TIMEOUT_S)
            if response.status_code != 200:
                raise PublishError(f"publish to {self.topic} answered {response.status_code}: {response.text[:300]}")
            try:
                accepted = list(response.json()["messageIds"])
            except (ValueError, KeyError, TypeError) as error:
                raise PublishError(f"publish to {self.topic} answered without messageIds") from error
            if len(accepted) != len(batch):
                raise PublishError(f"publish to {self.topic} accepted {len(accepted)} of {len(batch)} messages")
            ids.extend(accepted)
        return ids
