"""Why a `sign` or `verify-weights` run failed: one reason per failure mode, each with its own exit code.

An init container's exit code is often all an operator (or an alert rule) sees first, so every failure mode gets a
distinct, stable code, and the structured log line carries the same reason as a string. Codes 1 and 2 are left to
Python (uncaught error) and argparse (usage error), so a ModelFort reason is never confused with either.

Codes are grouped by where the failure was found: 1x the model tree, 2x the signature and key, 3x the pinned digest,
4x S3, 5x signing, 6x Google Cloud Storage, 70 an unexpected error (which still fails closed). Never renumber a
reason: alerts match on them.

Each object store has its own group, store-specific reasons included (`s3_unsafe_key` 46 and `gcs_unsafe_name` 66,
`s3_object_too_large` 47 and `gcs_object_too_large` 67), so the code alone says which store and which cloud's
permissions to look at, and the S3 codes that alerts already match stay exactly as they were. Two reasons are not
about a store and are shared: `download_dir_invalid` (48, the local directory either store downloads into) and
`signature_exists` (53, `sign --upload` to either store).

The signing reasons (5x) are shared by AWS KMS and Cloud KMS: which one signed is already fixed by the `--kms-key`
given, and each detail names the key (or key version) and what went wrong.
"""

from __future__ import annotations

import enum
from typing import Any


class Reason(enum.Enum):
    """A failure reason: `code` (for logs), `exit_code` (for the process) and a one-line `summary`."""

    MODEL_DIR_INVALID = ("model_dir_invalid", 10, "the model directory is missing, not a directory, or unreadable")
    SYMLINK_PRESENT = ("symlink_present", 11, "the model directory contains a symbolic link")
    SPECIAL_FILE_PRESENT = ("special_file_present", 12, "the model directory contains a FIFO, socket or device")
    FILE_MISSING = ("file_missing", 13, "a signed file is missing from the model directory")
    FILE_UNEXPECTED = ("file_unexpected", 14, "the model directory holds a file that was not signed")
    FILE_MODIFIED = ("file_modified", 15, "a file's content differs from its signed digest")

    SIGNATURE_UNREADABLE = ("signature_unreadable", 20, "the signature file cannot be read")
    SIGNATURE_MALFORMED = ("signature_malformed", 21, "the signature is truncated, garbled or not a Sigstore bundle")
    SIGNATURE_UNSUPPORTED = (
        "signature_unsupported",
        22,
        "the signature is not a key-signed OMS v1.0 statement made with the strict hashing policy",
    )
    PUBLIC_KEY_INVALID = ("public_key_invalid", 23, "the public key cannot be read or is not a supported EC key")
    KEY_MISMATCH = ("key_mismatch", 24, "the signature names a different public key than the one trusted")
    SIGNATURE_INVALID = ("signature_invalid", 25, "the signature does not verify with the trusted public key")

    PINNED_DIGEST_INVALID = ("pinned_digest_invalid", 30, "the pinned root digest is not 64 hex characters")
    ROOT_DIGEST_MISMATCH = (
        "root_digest_mismatch",
        31,
        "the signed root digest is not the pinned one (another or an older release)",
    )

    S3_URI_INVALID = ("s3_uri_invalid", 40, "an s3:// location is malformed")
    S3_THROTTLED = ("s3_throttled", 41, "S3 kept throttling after the bounded retries")
    S3_UNAVAILABLE = ("s3_unavailable", 42, "S3 kept failing (5xx, timeout, connection) after the bounded retries")
    S3_NOT_FOUND = ("s3_not_found", 43, "the bucket, object or model prefix does not exist")
    S3_ACCESS_DENIED = ("s3_access_denied", 44, "S3 refused access, or no credentials were found")
    S3_ERROR = ("s3_error", 45, "S3 returned an error not covered by another reason")
    S3_UNSAFE_KEY = ("s3_unsafe_key", 46, "an object key under the model prefix cannot be mapped to a safe local path")
    S3_OBJECT_TOO_LARGE = ("s3_object_too_large", 47, "a signature or key object is larger than any valid one")
    DOWNLOAD_DIR_INVALID = ("download_dir_invalid", 48, "the download directory is missing, misplaced or not empty")

    SIGNING_KEY_INVALID = ("signing_key_invalid", 50, "the signing key cannot be used (unreadable, wrong type or spec)")
    KMS_ERROR = (
        "kms_error",
        51,
        "AWS KMS or Cloud KMS returned an error, could not be reached, or failed an integrity (CRC32C) check",
    )
    KMS_SIGNATURE_MISMATCH = ("kms_signature_mismatch", 52, "KMS returned a signature that does not verify")
    SIGNATURE_EXISTS = ("signature_exists", 53, "a signature already exists at the destination (they are immutable)")
    SIGNATURE_PATH_INVALID = (
        "signature_path_invalid",
        54,
        "the signature cannot be written where asked (inside the model directory, or not writable)",
    )

    GCS_URI_INVALID = ("gcs_uri_invalid", 60, "a gs:// location is malformed")
    GCS_THROTTLED = ("gcs_throttled", 61, "Cloud Storage kept answering 429 until the bounded retries ran out")
    GCS_UNAVAILABLE = (
        "gcs_unavailable",
        62,
        "Cloud Storage kept failing (408/5xx, timeout, connection, token service) until the bounded retries ran out",
    )
    GCS_NOT_FOUND = ("gcs_not_found", 63, "the bucket, object or model prefix does not exist")
    GCS_ACCESS_DENIED = ("gcs_access_denied", 64, "Cloud Storage refused access, or no credentials were found")
    GCS_ERROR = ("gcs_error", 65, "Cloud Storage returned an error not covered by another reason")
    GCS_UNSAFE_NAME = (
        "gcs_unsafe_name",
        66,
        "an object name under the model prefix cannot be mapped to a safe local path",
    )
    GCS_OBJECT_TOO_LARGE = ("gcs_object_too_large", 67, "a signature or key object is larger than any valid one")

    INTERNAL_ERROR = ("internal_error", 70, "an unexpected error; the run fails closed")

    def __init__(self, code: str, exit_code: int, summary: str) -> None:
        self.code = code
        self.exit_code = exit_code
        self.summary = summary


class WeightsError(Exception):
    """A run failed for `reason`; `detail` says precisely what was found, `context` carries structured evidence.

    Every failure path raises this (or is converted to it at the boundary), so the entry points have exactly one
    place that turns failures into an exit code and a log line.
    """

    def __init__(self, reason: Reason, detail: str, **context: Any) -> None:
        super().__init__(f"{reason.code}: {detail}")
        self.reason = reason
        self.detail = detail
        self.context = context
