"""Per-caller detector state in Cloud Storage: one object per caller, written only over the generation read.

Object `callers/<sha256 of the caller>` (caller ids may hold any printable character; a digest is a safe, fixed-length
name that says nothing about the caller to someone listing the bucket), JSON:
`{"format": 1, "caller", "state": <base64 of state_codec>, "ids": [last PROCESSED_IDS event ids, oldest first],
"expires_at", "updated_at"}` (epoch seconds).

Consistency. Cloud Storage is strongly consistent for reads after writes. `load` reads the object's bytes and the
generation they belong to in one request (the `x-goog-generation` response header). `commit` uploads
with `ifGenerationMatch` = the generation read, 0 when there was none ("only if it does not exist"), so of two
writers that read the same generation exactly one wins; the other gets HTTP 412 and raises `StateConflict`.

Expiry. Every write sets the object's `customTime` to the write time; the bucket's lifecycle rule deletes objects
whose `daysSinceCustomTime` passed the idle TTL (the TelemetryWatch component sets it), so idle callers are
forgotten without a sweeper. Lifecycle runs about daily, so `load` also treats an object past its `expires_at` as
gone (as the DynamoDB consumer does with TTL), keeping its generation so the next commit stays conditional.

A stored state that cannot be read (another format, changed detector sizes, damaged bytes) starts over as a new
caller's would, keeping the processed ids when they are readable, so exactly-once still holds.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from modelfort.runtime.detection_stream.consumer import PROCESSED_IDS, StateConflict
from modelfort.runtime.detectors.config import DetectorConfig
from modelfort.runtime.detectors.context import CallerState
from modelfort.runtime.detectors.state_codec import StateCodecError, decode, encode

FORMAT = 1
PREFIX = "callers/"
MAX_OBJECT_BYTES = 1024 * 1024
TIMEOUT_S = (5.0, 20.0)

Loaded = tuple[CallerState, int, list[str], bool]
"""(state, generation read (0: none), processed ids, whether a stored state had to be discarded)."""


def object_name(caller: str) -> str:
    return PREFIX + hashlib.sha256(caller.encode()).hexdigest()


class StateBucket:
    def __init__(self, bucket: Any, config: DetectorConfig, clock: Callable[[], float] = time.time) -> None:
        """`bucket`: a `google.cloud.storage.Bucket` (created with `client.bucket(name)`, no metadata lookup)."""
        self.bucket, self.config, self.clock = bucket, config, clock

    def load(self, caller: str) -> Loaded:
        from google.api_core.exceptions import NotFound

        blob = self.bucket.blob(object_name(caller))
        try:
            # One request: the bytes, and the generation they are (from the response's x-goog-generation header).
            data = blob.download_as_bytes(timeout=TIMEOUT_S)
        except NotFound:
            return CallerState(), 0, [], False
        generation = int(blob.generation)
        if len(data) > MAX_OBJECT_BYTES:
            return CallerState(), generation, [], True
        return self.parse(caller, data, generation)

    def parse(self, caller: str, data: bytes, generation: int) -> Loaded:
        try:
            document = json.loads(data)
            if not isinstance(document, dict):
                raise ValueError("not an object")
            ids = document.get("ids", [])
            ids = [str(value) for value in ids] if isinstance(ids, list) else []
        except (ValueError, UnicodeDecodeError):
            return CallerState(), generation, [], True
        if document.get("format") != FORMAT or document.get("caller") != caller:
            return CallerState(), generation, ids, True
        expires = document.get("expires_at")
        if not isinstance(expires, (int, float)) or expires < self.clock():
            return CallerState(), generation, [], False  # idle past its TTL: as good as gone
        try:
            return decode(base64.b64decode(str(document.get("state", "")), validate=True), self.config), generation, ids, False
        except (StateCodecError, binascii.Error, ValueError):
            return CallerState(), generation, ids, True

    def commit(self, caller: str, state: CallerState, generation: int, ids: list[str], last_event: float) -> int:
        """Write state and ids over `generation` (0: the object must not exist); returns the new generation."""
        from google.api_core.exceptions import PreconditionFailed

        now = self.clock()
        document = {
            "format": FORMAT,
            "caller": caller,
            "state": base64.b64encode(encode(state, self.config)).decode(),
            "ids": ids[-PROCESSED_IDS:],
            "expires_at": int(max(now, last_event) + self.config.state.idle_ttl_s),
            "updated_at": int(now),
        }
        blob = self.bucket.blob(object_name(caller))
        blob.custom_time = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        try:
            blob.upload_from_string(json.dumps(document, separators=(",", ":")).encode(),
                                    content_type="application/json", if_generation_match=generation,
                                    timeout=TIMEOUT_S)
        except PreconditionFailed as error:
            raise StateConflict(caller) from error
        return int(blob.generation)
