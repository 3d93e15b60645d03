"""S3 as the model store and the reference store: download a model prefix, fetch a signature or key, upload one.

Everything downloaded here is untrusted until `verify` says otherwise, so this module's job is narrower than it
looks: never write outside the download directory whatever the object keys say, never read an unbounded object into
memory, and turn every S3 failure into a precise reason after botocore's bounded retries.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelfort.runtime.weights.aws_clients import THROTTLING_CODES, error_code, http_status
from modelfort.runtime.weights.model_tree import MAX_LISTED
from modelfort.runtime.weights.reasons import Reason, WeightsError

S3_SCHEME = "s3://"
# S3 bucket naming rules (lower case, digits, dots, hyphens; 3-63 characters).
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Linux refuses longer path components; refusing them here gives a precise reason instead of an OSError.
_MAX_COMPONENT_BYTES = 255

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


@dataclass(frozen=True)
class S3Object:
    """One object under a model prefix, with the local relative path it will be written to."""

    key: str
    relative_path: str
    size: int


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


def as_prefix(key: str) -> str:
    """`models/llama/v3` -> `models/llama/v3/`: without the slash, the prefix would also match `v30/...`."""
    return key if not key or key.endswith("/") else f"{key}/"


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


def list_model_objects(s3: Any, location: S3Location) -> list[S3Object]:
    """Every object under the model prefix, each mapped to a safe relative path; refuse an empty prefix."""
    prefix = as_prefix(location.key)
    objects: list[S3Object] = []
    with s3_errors(f"cannot list {S3_SCHEME}{location.bucket}/{prefix}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                objects.append(S3Object(key=key, relative_path=safe_relative_path(key, prefix), size=int(item["Size"])))
    if not objects:
        raise WeightsError(Reason.S3_NOT_FOUND, f"no objects under {S3_SCHEME}{location.bucket}/{prefix}")
    _refuse_file_directory_clashes(objects)
    return objects


def safe_relative_path(key: str, prefix: str) -> str:
    """The local path (relative, POSIX) for `key`, or a failure if the key could escape or alias another path.

    Keys are attacker-influenced input: `..`, empty or `.` segments, a leading slash, a trailing slash (a "folder"
    marker, which would become a directory the signature never mentions) or NUL are all refused rather than
    normalised, because normalising is how two keys end up on one path.
    """
    relative = key[len(prefix) :]
    segments = relative.split("/")
    problem = None
    if not key.startswith(prefix):
        problem = "is not under the model prefix"
    elif not relative:
        problem = "is the prefix itself"
    elif "\x00" in relative:
        problem = "contains NUL"
    elif any(segment in ("", ".", "..") for segment in segments):
        problem = "has an empty, '.' or '..' path segment (or a leading/trailing slash)"
    elif any(len(segment.encode("utf-8")) > _MAX_COMPONENT_BYTES for segment in segments):
        problem = f"has a path segment longer than {_MAX_COMPONENT_BYTES} bytes"
    if problem:
        raise WeightsError(Reason.S3_UNSAFE_KEY, f"object key {key!r} {problem}", key=key)
    return relative


def _refuse_file_directory_clashes(objects: list[S3Object]) -> None:
    """`a` and `a/b` cannot both be written; refuse up front instead of failing halfway through a download."""
    files = {item.relative_path for item in objects}
    directories = {
        "/".join(item.relative_path.split("/")[:depth])
        for item in objects
        for depth in range(1, item.relative_path.count("/") + 1)
    }
    clashes = sorted(files & directories)
    if clashes:
        raise WeightsError(
            Reason.S3_UNSAFE_KEY,
            f"object key(s) used both as a file and as a directory: {', '.join(clashes[:MAX_LISTED])}",
        )


def prepare_download_dir(download_dir: Path) -> Path:
    """Create the download directory, or accept an existing one only if it is a real, empty directory.

    Empty matters: a leftover file would either be overwritten silently or, worse, be verified as part of a model
    it never belonged to. The caller clears the directory after a failed run, so a retry starts empty again.
    """
    try:
        mode = os.lstat(download_dir).st_mode
    except FileNotFoundError:
        try:
            download_dir.mkdir(parents=True, mode=0o750)
        except OSError as error:
            raise WeightsError(
                Reason.DOWNLOAD_DIR_INVALID, f"cannot create {str(download_dir)!r}: {error.strerror}"
            ) from error
        return download_dir
    except OSError as error:
        raise WeightsError(
            Reason.DOWNLOAD_DIR_INVALID, f"cannot read {str(download_dir)!r}: {error.strerror}"
        ) from error
    if not stat.S_ISDIR(mode):
        raise WeightsError(Reason.DOWNLOAD_DIR_INVALID, f"{str(download_dir)!r} is not a directory (or is a symlink)")
    if any(download_dir.iterdir()):
        raise WeightsError(
            Reason.DOWNLOAD_DIR_INVALID,
            f"{str(download_dir)!r} is not empty; the verifier only downloads into an empty directory",
        )
    return download_dir


def download_model(s3: Any, location: S3Location, download_dir: Path) -> list[S3Object]:
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
        target = download_dir.joinpath(*item.relative_path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with s3_errors(f"cannot download {S3_SCHEME}{location.bucket}/{item.key}"):
            s3.download_file(location.bucket, item.key, str(target), Config=transfer)
    return objects


def clear_directory(directory: Path) -> None:
    """Delete everything inside `directory` (not the directory itself, which may be a mounted volume)."""
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


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
