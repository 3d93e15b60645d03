"""S3 as the model store and the reference store: download a model prefix, fetch a signature or key, upload one.

Everything downloaded here is untrusted until `verify` says otherwise, so this module's job is narrower than it
looks: never write outside the download directory whatever the object keys say (the rules live in `object_paths`,
shared with Cloud Storage), never read an unbounded object into memory, and turn every S3 failure into a precise
reason after botocore's bounded retries. `S3Store` is this module seen through the `object_stores.ObjectStore`
interface the verifier and `sign --upload` use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelfort.runtime.weights.aws_clients import THROTTLING_CODES, error_code, http_status
from modelfort.runtime.weights.object_paths import (
    ListedObject,
    as_prefix,
    local_target,
    refuse_file_directory_clashes,
    safe_relative_path,
)
from modelfort.runtime.weights.reasons import Reason, WeightsError

S3_SCHEME = "s3://"
# S3 bucket naming rules (lower case, digits, dots, hyphens; 3-63 characters).
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_NOUN = "object key"

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "NotFound", "404"})
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "403",
        "Forbidden",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AccountProblem",
    }
)
_UNAVAILABLE_CODES = frozenset({"InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException"})
_EXISTS_CODES = frozenset({"PreconditionFailed", "412"})

# Multipart, parallel downloads for multi-gigabyte shards; memory stays bounded by s3transfer's IO queue.
_MULTIPART_THRESHOLD = 64 << 20
_MULTIPART_CHUNK = 16 << 20
_MAX_CONCURRENCY = 8


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key (or key prefix)."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"


def is_s3_uri(text: str) -> bool:
    return text.startswith(S3_SCHEME)


def parse_s3_uri(text: str, *, allow_empty_key: bool = False) -> S3Location:
    """Split `s3://bucket/key`; refuse anything that is not clearly a bucket and a key."""
    if not is_s3_uri(text):
        raise WeightsError(Reason.S3_URI_INVALID, f"{text!r} is not an s3:// location")
    bucket, _, key = text[len(S3_SCHEME) :].partition("/")
    if not _BUCKET_NAME.fullmatch(bucket):
        raise WeightsError(Reason.S3_URI_INVALID, f"{text!r} does not name a valid S3 bucket")
    if not key and not allow_empty_key:
        raise WeightsError(Reason.S3_URI_INVALID, f"{text!r} names a bucket but no object key")
    return S3Location(bucket=bucket, key=key)


def classify_s3_error(error: BaseException) -> Reason:
    """Map a botocore/s3transfer exception (raised after retries) to a reason."""
    from botocore import exceptions as botocore_exceptions

    if isinstance(error, botocore_exceptions.ClientError):
        code = error_code(error)
        if code in THROTTLING_CODES:
            return Reason.S3_THROTTLED
        if code in _NOT_FOUND_CODES:
            return Reason.S3_NOT_FOUND
        if code in _DENIED_CODES:
            return Reason.S3_ACCESS_DENIED
        if code in _UNAVAILABLE_CODES or http_status(error) >= 500:
            return Reason.S3_UNAVAILABLE
        return Reason.S3_ERROR
    if isinstance(error, botocore_exceptions.NoCredentialsError | botocore_exceptions.PartialCredentialsError):
        return Reason.S3_ACCESS_DENIED
    if isinstance(
        error,
        botocore_exceptions.ConnectionError
        | botocore_exceptions.HTTPClientError
        | botocore_exceptions.IncompleteReadError,
    ):
        return Reason.S3_UNAVAILABLE
    if type(error).__name__ == "RetriesExceededError":  # boto3/s3transfer: a download stream kept breaking
        return Reason.S3_UNAVAILABLE
    return Reason.S3_ERROR


@contextmanager
def s3_errors(action: str) -> Iterator[None]:
    """Turn any boto error raised inside into a `WeightsError` whose detail says what was being done."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError, Boto3Error) as error:
        code = error_code(error)
        raise WeightsError(
            classify_s3_error(error),
            f"{action}: {code + ': ' if code else ''}{error}",
            aws_error_code=code or type(error).__name__,
        ) from error


def fetch_object(s3: Any, location: S3Location, destination: Path, *, max_bytes: int) -> int:
    """Download one small object (a signature or a key) to `destination`, refusing objects over `max_bytes`."""
    with s3_errors(f"cannot read {location.uri}"):
        response = s3.get_object(Bucket=location.bucket, Key=location.key)
        declared = int(response.get("ContentLength") or 0)
        if declared > max_bytes:
            response["Body"].close()
            raise _too_large(location, declared, max_bytes)
        data = response["Body"].read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(location, len(data), max_bytes)
    with open(destination, "xb") as handle:
        handle.write(data)
    return len(data)


def list_model_objects(s3: Any, location: S3Location) -> list[ListedObject]:
    """Every object under the model prefix, each mapped to a safe relative path; refuse an empty prefix."""
    prefix = as_prefix(location.key)
    objects: list[ListedObject] = []
    with s3_errors(f"cannot list {S3_SCHEME}{location.bucket}/{prefix}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                relative = safe_relative_path(key, prefix, unsafe=Reason.S3_UNSAFE_KEY, noun=_NOUN)
                objects.append(ListedObject(name=key, relative_path=relative, size=int(item["Size"])))
    if not objects:
        raise WeightsError(Reason.S3_NOT_FOUND, f"no objects under {S3_SCHEME}{location.bucket}/{prefix}")
    refuse_file_directory_clashes(objects, unsafe=Reason.S3_UNSAFE_KEY, noun=_NOUN)
    return objects


def download_model(s3: Any, location: S3Location, download_dir: Path) -> list[ListedObject]:
    """Download every object under the model prefix into `download_dir` (which must be empty)."""
    from boto3.s3.transfer import TransferConfig

    objects = list_model_objects(s3, location)
    transfer = TransferConfig(
        multipart_threshold=_MULTIPART_THRESHOLD,
        multipart_chunksize=_MULTIPART_CHUNK,
        max_concurrency=_MAX_CONCURRENCY,
        use_threads=True,
    )
    for item in objects:
        target = local_target(download_dir, item)
        with s3_errors(f"cannot download {S3_SCHEME}{location.bucket}/{item.name}"):
            s3.download_file(location.bucket, item.name, str(target), Config=transfer)
    return objects


def upload_signature(s3: Any, location: S3Location, body: bytes) -> None:
    """Store a signature in the reference store, never overwriting one (conditional put, `If-None-Match: *`).

    A release's signature is evidence; replacing it in place would rewrite history even where Object Lock is not
    configured, so an existing object is a failure, not an update.
    """
    from botocore.exceptions import ClientError

    with s3_errors(f"cannot upload {location.uri}"):
        try:
            s3.put_object(
                Bucket=location.bucket,
                Key=location.key,
                Body=body,
                ContentType="application/json",
                IfNoneMatch="*",
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as error:
            if error_code(error) in _EXISTS_CODES:
                raise WeightsError(
                    Reason.SIGNATURE_EXISTS,
                    f"{location.uri} already exists; signatures are immutable, use a new key per release",
                ) from error
            raise


def _too_large(location: S3Location, size: int, limit: int) -> WeightsError:
    return WeightsError(
        Reason.S3_OBJECT_TOO_LARGE, f"{location.uri} is {size} bytes or more; no valid one exceeds {limit} bytes"
    )


class S3Store:
    """S3 behind the `object_stores.ObjectStore` interface; `s3` is a boto3 S3 client with bounded retries."""

    scheme = S3_SCHEME

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def fetch_object(self, uri: str, destination: Path, *, max_bytes: int) -> int:
        return fetch_object(self._s3, parse_s3_uri(uri), destination, max_bytes=max_bytes)

    def download_prefix(self, uri: str, download_dir: Path) -> list[ListedObject]:
        return download_model(self._s3, parse_s3_uri(uri, allow_empty_key=True), download_dir)

    def upload_new(self, uri: str, body: bytes) -> None:
        upload_signature(self._s3, parse_s3_uri(uri), body)
