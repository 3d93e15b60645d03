"""Google Cloud Storage as the model store and the reference store: the `gs://` twin of `s3_source`.

The contract is the one S3 has. Everything downloaded is untrusted until `verify` says otherwise, so: never write
outside the download directory whatever the object names say (`object_paths`, shared with S3), never read an
unbounded object (a signature's or key's declared size is checked before its bytes are requested, and the write is
capped as well), and turn every Cloud Storage failure into a precise `gcs_*` reason after the bounded retries of
`gcs_clients`.

Transfers use the library's own integrity checks: every download is validated against the object's CRC32C
(`checksum="crc32c"`; for chunked downloads, the chunks' CRC32Cs combined), every upload sends its CRC32C for the
server to check. Downloads are `raw_download`: the stored bytes, never a server-side gunzip, so what is hashed is
what was stored and a small gzip-encoded object cannot expand past the size that was checked. Each object is read at
the generation that was listed (`if_generation_match`), so a concurrent overwrite fails the download instead of
mixing two versions. Objects of 64 MiB or more are fetched as up to 8 ranges in parallel threads
(`transfer_manager.download_chunks_concurrently`), each streaming into its slice of the file: memory stays bounded.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from modelfort.runtime.weights.gcs_clients import GcsConnection, quiet_google_import
from modelfort.runtime.weights.object_paths import (
    ListedObject,
    as_prefix,
    local_target,
    refuse_file_directory_clashes,
    safe_relative_path,
)
from modelfort.runtime.weights.reasons import Reason, WeightsError

GS_SCHEME = "gs://"
# Cloud Storage bucket names: lower case, digits, '-', '_' and '.', starting and ending with a letter or digit;
# 3-63 characters, or up to 222 when dotted with no dot-separated part over 63.
_BUCKET_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
_MAX_OBJECT_NAME_BYTES = 1024
_NOUN = "object name"

_CHUNKED_THRESHOLD = 64 << 20
_MIN_CHUNK_SIZE = 32 << 20
_MAX_WORKERS = 8


@dataclass(frozen=True)
class GcsLocation:
    """A bucket and an object name (or name prefix)."""

    bucket: str
    name: str

    @property
    def uri(self) -> str:
        return f"{GS_SCHEME}{self.bucket}/{self.name}"


def is_gs_uri(text: str) -> bool:
    return text.startswith(GS_SCHEME)


def parse_gs_uri(text: str, *, allow_empty_name: bool = False) -> GcsLocation:
    """Split `gs://bucket/name`; refuse anything that is not clearly a bucket and an object name."""
    if not is_gs_uri(text):
        raise WeightsError(Reason.GCS_URI_INVALID, f"{text!r} is not a gs:// location")
    bucket, _, name = text[len(GS_SCHEME) :].partition("/")
    if not _valid_bucket_name(bucket):
        raise WeightsError(Reason.GCS_URI_INVALID, f"{text!r} does not name a valid Cloud Storage bucket")
    if not name and not allow_empty_name:
        raise WeightsError(Reason.GCS_URI_INVALID, f"{text!r} names a bucket but no object")
    if "\r" in name or "\n" in name or len(name.encode("utf-8")) > _MAX_OBJECT_NAME_BYTES:
        raise WeightsError(
            Reason.GCS_URI_INVALID,
            f"{text!r} is not a valid object name (CR/LF, or over {_MAX_OBJECT_NAME_BYTES} bytes)",
        )
    return GcsLocation(bucket=bucket, name=name)


def _valid_bucket_name(name: str) -> bool:
    if not _BUCKET_NAME.fullmatch(name) or not 3 <= len(name) <= 222:
        return False
    if "." in name:
        return all(1 <= len(part) <= 63 for part in name.split("."))
    return len(name) <= 63


def classify_gcs_error(error: BaseException) -> Reason:
    """Map a google-cloud-storage / google-auth / transport exception (raised after retries) to a reason."""
    with quiet_google_import():
        from google.api_core import exceptions as api_exceptions
        from google.auth import exceptions as auth_exceptions
        from google.cloud.storage.exceptions import DataCorruption

    if isinstance(error, api_exceptions.RetryError):
        # The deadline ran out while retrying; only retryable failures get here, and the last one says which kind.
        return Reason.GCS_THROTTLED if _http_status(error.cause) == 429 else Reason.GCS_UNAVAILABLE
    if isinstance(error, auth_exceptions.DefaultCredentialsError):
        return Reason.GCS_ACCESS_DENIED  # no credentials found (on GKE: Workload Identity not set up)
    if isinstance(error, auth_exceptions.RefreshError):
        # A token could not be had: a refusal (service account not bound, IAM denied) unless the token service
        # itself was unreachable, which google-auth marks as retryable or reports as a transport error.
        if getattr(error, "retryable", False) or any(
            isinstance(arg, auth_exceptions.TransportError) for arg in error.args
        ):
            return Reason.GCS_UNAVAILABLE
        return Reason.GCS_ACCESS_DENIED
    if isinstance(error, auth_exceptions.TransportError):
        return Reason.GCS_UNAVAILABLE
    if isinstance(error, DataCorruption):
        return Reason.GCS_ERROR  # the bytes received do not match the object's checksum
    status = _http_status(error)
    if status:
        if status == 429:
            return Reason.GCS_THROTTLED
        if status == 404:
            return Reason.GCS_NOT_FOUND
        if status in (401, 403):
            return Reason.GCS_ACCESS_DENIED
        if status == 408 or status >= 500:
            return Reason.GCS_UNAVAILABLE
        return Reason.GCS_ERROR
    if isinstance(error, _network_errors()):
        return Reason.GCS_UNAVAILABLE
    return Reason.GCS_ERROR


def _http_status(error: BaseException | None) -> int:
    """The HTTP status of an api-core error (`code`) or of a raw response error (`response.status_code`), or 0."""
    code = getattr(error, "code", None)
    if isinstance(code, int):
        return code
    status = getattr(getattr(error, "response", None), "status_code", None)
    return status if isinstance(status, int) else 0


def _network_errors() -> tuple[type[BaseException], ...]:
    import requests
    import urllib3

    return (
        ConnectionError,
        TimeoutError,
        http.client.HTTPException,
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.HTTPError,
    )


def _gcs_exception_types() -> tuple[type[BaseException], ...]:
    """Everything a storage call can raise for a remote reason (anything else is a bug, and an internal error)."""
    import requests

    with quiet_google_import():
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError
        from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

    return (
        GoogleAPIError,
        GoogleAuthError,
        InvalidResponse,
        DataCorruption,
        requests.exceptions.RequestException,
        *_network_errors(),
    )


@contextmanager
def gcs_errors(action: str) -> Iterator[None]:
    """Turn any Cloud Storage failure raised inside into a `WeightsError` whose detail says what was being done.

    The evidence names the deciding failure: for a retry deadline that ran out, the last error retried.
    """
    try:
        yield
    except _gcs_exception_types() as error:
        decisive = getattr(error, "cause", None) or error
        evidence: dict[str, Any] = {"gcs_error_code": type(decisive).__name__}
        if status := _http_status(decisive):
            evidence["gcs_http_status"] = status
        raise WeightsError(classify_gcs_error(error), f"{action}: {error}", **evidence) from error


def fetch_object(gcs: GcsConnection, location: GcsLocation, destination: Path, *, max_bytes: int) -> int:
    """Download one small object (a signature or a key) to `destination`, refusing objects over `max_bytes`.

    The object's metadata is read first, so an oversized object is refused before any of its bytes are requested.
    """
    with gcs_errors(f"cannot read {location.uri}"):
        blob = gcs.client.bucket(location.bucket).get_blob(location.name, retry=gcs.retry, timeout=gcs.timeout)
        if blob is None:  # the library answers a 404 (no such object, or no such bucket) with None
            raise WeightsError(
                Reason.GCS_NOT_FOUND,
                f"{location.uri} does not exist (no such object or bucket)",
                gcs_error_code="NotFound",
                gcs_http_status=404,
            )
        declared = int(blob.size or 0)
        if declared > max_bytes:
            raise _too_large(location, declared, max_bytes)
        with open(destination, "xb") as handle:
            writer = _BoundedWriter(handle, max_bytes, location)
            blob.download_to_file(
                writer,
                raw_download=True,
                checksum="crc32c",
                if_generation_match=blob.generation,
                retry=gcs.retry,
                timeout=gcs.timeout,
            )
    return writer.written


class _BoundedWriter:
    """Write-only wrapper refusing more than `limit` bytes, should a server send more than it declared."""

    def __init__(self, handle: BinaryIO, limit: int, location: GcsLocation) -> None:
        self._handle, self._limit, self._location = handle, limit, location
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if self.written > self._limit:
            raise _too_large(self._location, self.written, self._limit)
        return self._handle.write(data)


def list_model_objects(gcs: GcsConnection, location: GcsLocation) -> list[tuple[ListedObject, Any]]:
    """Every object under the model prefix with its listed `Blob` (size, generation, CRC32C); refuse an empty prefix."""
    prefix = as_prefix(location.name)
    listed: list[tuple[ListedObject, Any]] = []
    with gcs_errors(f"cannot list {GS_SCHEME}{location.bucket}/{prefix}"):
        for blob in gcs.client.list_blobs(location.bucket, prefix=prefix, retry=gcs.retry, timeout=gcs.timeout):
            relative = safe_relative_path(blob.name, prefix, unsafe=Reason.GCS_UNSAFE_NAME, noun=_NOUN)
            listed.append((ListedObject(name=blob.name, relative_path=relative, size=int(blob.size or 0)), blob))
    if not listed:
        raise WeightsError(Reason.GCS_NOT_FOUND, f"no objects under {GS_SCHEME}{location.bucket}/{prefix}")
    refuse_file_directory_clashes([item for item, _ in listed], unsafe=Reason.GCS_UNSAFE_NAME, noun=_NOUN)
    return listed


def download_model(gcs: GcsConnection, location: GcsLocation, download_dir: Path) -> list[ListedObject]:
    """Download every object under the model prefix into `download_dir` (which must be empty)."""
    with quiet_google_import():
        from google.cloud.storage import transfer_manager

    listed = list_model_objects(gcs, location)
    for item, blob in listed:
        target = local_target(download_dir, item)
        # The listed generation, stored bytes only: see the module docstring.
        pinned = {
            "raw_download": True,
            "if_generation_match": blob.generation,
            "retry": gcs.retry,
            "timeout": gcs.timeout,
        }
        with gcs_errors(f"cannot download {GS_SCHEME}{location.bucket}/{item.name}"):
            if item.size >= _CHUNKED_THRESHOLD:
                # Threads, not the library's default processes: the client (and the test's injected one) is shared
                # as is, and an init container should not fork a pool of interpreters.
                transfer_manager.download_chunks_concurrently(
                    blob,
                    str(target),
                    chunk_size=_chunk_size(item.size),
                    download_kwargs=pinned,
                    worker_type=transfer_manager.THREAD,
                    max_workers=_MAX_WORKERS,
                    crc32c_checksum=True,
                )
            else:
                with open(target, "xb") as handle:
                    blob.download_to_file(handle, checksum="crc32c", **pinned)
    return [item for item, _ in listed]


def _chunk_size(size: int) -> int:
    """Ranges of at least 32 MiB, and never more ranges than workers.

    transfer_manager reports a failed range only once every range has finished, and each range may retry until the
    retry deadline. With more ranges than workers, an outage would cost one deadline per wave of ranges (a 10 GB
    shard in 32 MiB ranges: 40 waves, 20 minutes); with a single wave it costs one deadline, as any other request.
    """
    return max(_MIN_CHUNK_SIZE, -(-size // _MAX_WORKERS))


def upload_signature(gcs: GcsConnection, location: GcsLocation, body: bytes) -> None:
    """Store a signature in the reference store, never overwriting one (`if_generation_match=0`: create only).

    A release's signature is evidence; replacing it in place would rewrite history even where a retention policy is
    not configured, so an existing object is a failure, not an update. As with S3, a retry after an upload whose
    response was lost reports `signature_exists` for the object this run just wrote: safe, and visible.
    """
    with quiet_google_import():
        from google.api_core.exceptions import PreconditionFailed

    blob = gcs.client.bucket(location.bucket).blob(location.name)
    with gcs_errors(f"cannot upload {location.uri}"):
        try:
            blob.upload_from_string(
                body,
                content_type="application/json",
                if_generation_match=0,
                checksum="crc32c",
                retry=gcs.retry,
                timeout=gcs.timeout,
            )
        except PreconditionFailed as error:
            raise WeightsError(
                Reason.SIGNATURE_EXISTS,
                f"{location.uri} already exists; signatures are immutable, use a new name per release",
            ) from error


def _too_large(location: GcsLocation, size: int, limit: int) -> WeightsError:
    return WeightsError(
        Reason.GCS_OBJECT_TOO_LARGE, f"{location.uri} is {size} bytes or more; no valid one exceeds {limit} bytes"
    )


class GcsStore:
    """Cloud Storage behind the `object_stores.ObjectStore` interface."""

    scheme = GS_SCHEME

    def __init__(self, gcs: GcsConnection) -> None:
        self._gcs = gcs

    def fetch_object(self, uri: str, destination: Path, *, max_bytes: int) -> int:
        return fetch_object(self._gcs, parse_gs_uri(uri), destination, max_bytes=max_bytes)

    def download_prefix(self, uri: str, download_dir: Path) -> list[ListedObject]:
        return download_model(self._gcs, parse_gs_uri(uri, allow_empty_name=True), download_dir)

    def upload_new(self, uri: str, body: bytes) -> None:
        upload_signature(self._gcs, parse_gs_uri(uri), body)
