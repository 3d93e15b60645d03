"""Cloud Run functions (gen2) entry points: `stage_one` for the `telemetry` push subscription, `stage_two` for the
ordered `caller-events` one. Only wiring: clients and settings from the environment, logic in `stages`.

Both are HTTP functions behind push subscriptions that authenticate with an OIDC token of the invoker service
account; the function accepts internal traffic only and checks the token through Cloud Run's invoker IAM, so nothing
here parses tokens. Clients and detectors live across requests of a warm instance (stage two keeps no caller state
in memory: its detector is only the rules; each caller's state is read from the bucket on every message).

Environment: ZONE, ALERT_MIN_SEVERITY (default HIGH), DETECTOR_CONFIG (JSON, optional); stage one:
CALLER_EVENTS_TOPIC (`projects/<p>/topics/<t>`), PUBSUB_ENDPOINT (default https://pubsub.googleapis.com); stage
two: STATE_BUCKET.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from modelfort.runtime.detection_stream_gcp import stages
from modelfort.runtime.detection_stream_gcp.pubsub import DEFAULT_ENDPOINT, Publisher
from modelfort.runtime.detection_stream_gcp.state_store import StateBucket
from modelfort.runtime.detectors.config import DetectorConfig

PUBSUB_SCOPE = "https://www.googleapis.com/auth/pubsub"
_CACHE: dict[str, Any] = {}


def _config() -> DetectorConfig:
    raw = os.environ.get("DETECTOR_CONFIG")
    return DetectorConfig.from_mapping(json.loads(raw)) if raw else DetectorConfig()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ValueError(f"environment variable {name} must be set")
    return value


def stage_one(request: Any) -> tuple[str, int]:
    if "stage_one" not in _CACHE:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(scopes=[PUBSUB_SCOPE])
        publisher = Publisher(AuthorizedSession(credentials), _required("CALLER_EVENTS_TOPIC"),
                              os.environ.get("PUBSUB_ENDPOINT", DEFAULT_ENDPOINT))
        _CACHE["stage_one"] = (stages.stateless_detector(_config()), stages.GcpSettings.from_environment(os.environ),
                               publisher)
    detector, settings, publisher = _CACHE["stage_one"]
    report = stages.handle_telemetry(request.get_data(), detector, settings, publisher, _now)
    return "", report.status


def stage_two(request: Any) -> tuple[str, int]:
    if "stage_two" not in _CACHE:
        from google.cloud import storage

        detector = stages.stateful_detector(_config())
        bucket = storage.Client().bucket(_required("STATE_BUCKET"))
        _CACHE["stage_two"] = (detector, stages.GcpSettings.from_environment(os.environ),
                               StateBucket(bucket, detector.config))
    detector, settings, store = _CACHE["stage_two"]
    report = stages.handle_caller_events(request.get_data(), detector, store, settings, _now)
    return "", report.status
