"""One `verify-weights` run, as the init container runs it: fetch, verify, log one JSON line, exit.

Inputs may be local paths, `s3://` or `gs://` locations (model prefix, signature, public key), mixed freely (see
`object_stores` for why mixing adds no trust). The signature and the key are fetched first, each refused if larger
than any valid one, and checked (signature valid, root digest pinned), so a rollback or a wrong key fails before any
weights are downloaded. A model in an object store is downloaded into an empty directory and verified there; if the
run fails, that directory is emptied again, so nothing unverified is left for a model server to load.

A local model starts hashing at once: one verifying thread imports the signature library and checks the signature
while the hashing threads (stdlib only) read the tree, because the library's import alone costs as much as hashing
a gigabyte. The verdict is still reached in the sequential order: a signature, key or pin failure is reported
first (and the file count stays unlogged), then the tree's, then the digests'; hashing is stopped and waited for
on every path, and nothing is reported verified before every comparison passed.

This module and everything it imports at import time are stdlib or ours: the entry point must not pay for
model_signing, cryptography, boto3 or google-cloud-storage before it starts hashing (they are imported where used).

Logging contract: every run writes exactly one JSON object, on one line, to stdout, and nothing else to stdout.
Stderr is used only for a traceback when an unexpected exception occurs (the run still fails closed) and for
argparse usage errors. Fields: see `RunRecord`.
"""

from __future__ import annotations

import datetime
import json
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from modelfort.runtime.weights import object_paths, object_stores
from modelfort.runtime.weights.aws_clients import ClientFactory
from modelfort.runtime.weights.gcs_clients import GcsClientFactory
from modelfort.runtime.weights.model_tree import ModelTree, scan_model_tree
from modelfort.runtime.weights.object_stores import Stores
from modelfort.runtime.weights.reasons import Reason, WeightsError
from modelfort.runtime.weights.tree_hashing import TreeHashing
from modelfort.runtime.weights.verify import (
    MAX_PUBLIC_KEY_BYTES,
    MAX_SIGNATURE_BYTES,
    SignedManifest,
    authenticate_signature,
    parse_root_digest,
    start_hashing,
    verify_model_tree,
)

EVENT = "modelfort.weights.verify"
CONTROLS = ("WP-05", "WP-06", "ST-01", "ST-07", "OB-04")


@dataclass(frozen=True)
class VerifyRequest:
    """What to verify. Each of `model`, `signature`, `public_key` is a local path, an `s3://` or a `gs://` location."""

    model: str
    signature: str
    public_key: str
    root_digest: str
    model_version: str | None = None
    download_dir: str | None = None
    max_workers: int | None = None


@dataclass
class RunRecord:
    """The structured log line. `None` means the run stopped before that value was known."""

    event: str
    time: str
    outcome: str  # "verified" or "rejected"
    reason: str | None  # a `Reason.code` when rejected
    exit_code: int
    detail: str | None
    model: str
    model_version: str | None
    model_dir: str | None  # where the verified files are (the download directory for a model in an object store)
    signature: str
    public_key: str
    pinned_root_digest: str
    root_digest: str | None  # the root digest the signature carries
    signed_model_name: str | None
    key_fingerprint: str | None  # SHA-256 of the trusted key's PEM, as in the bundle's key hint
    files: int | None
    bytes: int | None
    duration_s: float
    controls: list[str] = field(default_factory=lambda: list(CONTROLS))
    evidence: dict[str, Any] = field(default_factory=dict)


def run_verify_weights(
    request: VerifyRequest,
    *,
    client_factory: ClientFactory | None,
    gcs_client_factory: GcsClientFactory | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Verify, write the log line, return the exit code (0 only when the model is exactly the pinned release).

    `client_factory` builds AWS clients, `gcs_client_factory` the Cloud Storage connection; each is called only if a
    location is in that cloud (the CLI passes both production factories; a run without one fails closed if it needs
    it). `stdout`/`stderr` default to the streams current at call time (so redirection, and pytest's capture, apply).
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    started = clock()
    record = _new_record(request)
    try:
        stores = Stores(aws_client_factory=client_factory, gcs_client_factory=gcs_client_factory)
        _verify(request, stores, record)
        record.outcome, record.reason, record.exit_code = "verified", None, 0
    except WeightsError as error:
        _reject(record, error.reason, error.detail, error.context)
    except Exception as error:
        # Anything unforeseen must still fail closed, and still leave its log line.
        traceback.print_exc(file=stderr)
        _reject(record, Reason.INTERNAL_ERROR, f"{type(error).__name__}: {error}", {})
    record.duration_s = round(clock() - started, 6)
    emit(record, stdout)
    return record.exit_code


def emit(record: RunRecord, stream: TextIO) -> None:
    """Write the record as one JSON line, in a single write, and flush (the container may exit right after)."""
    stream.write(json.dumps(asdict(record), sort_keys=True, separators=(",", ":"), default=str) + "\n")
    stream.flush()


def _verify(request: VerifyRequest, stores: Stores, record: RunRecord) -> None:
    pinned = parse_root_digest(request.root_digest)
    record.pinned_root_digest = pinned
    model_scheme = object_stores.scheme_of(request.model)
    _check_download_dir_use(request, model_scheme)
    with tempfile.TemporaryDirectory(prefix="modelfort-verify-") as scratch:
        # Fetched on this thread, before any other starts: a store's client is imported here, never beside another
        # thread's import.
        signature_path = _local_copy(request.signature, stores, Path(scratch, "model.sig"), MAX_SIGNATURE_BYTES)
        public_key_path = _local_copy(request.public_key, stores, Path(scratch, "trusted.pub"), MAX_PUBLIC_KEY_BYTES)
        if model_scheme is None:
            _verify_local_model_overlapped(Path(request.model), signature_path, public_key_path, pinned, request, record)
            return
        signed = _authenticate(signature_path, public_key_path, pinned, record)
    _record_signed(record, signed)
    _verify_remote_model(request, stores.for_location(request.model), signed, record)


def _authenticate(signature_path: Path, public_key_path: Path, pinned: str, record: RunRecord) -> SignedManifest:
    try:
        return authenticate_signature(signature_path, public_key_path, pinned)
    except WeightsError as error:
        record.root_digest = error.context.get("signed_root_digest")
        raise


def _verify_local_model_overlapped(
    model_dir: Path, signature_path: Path, public_key_path: Path, pinned: str, request: VerifyRequest, record: RunRecord
) -> None:
    """Check the signature on a verifying thread while this thread walks the tree and starts hashing it.

    Only the verifying thread imports (model_signing, cryptography); this thread and the hashing threads use modules
    already imported. The outcome is decided after the signature check has finished, in the sequential order.
    """
    check = _SignatureCheck(signature_path, public_key_path, pinned).start()
    hashing: TreeHashing | None = None
    try:
        tree, tree_error = _scan(model_dir)
        if tree is not None:
            hashing = start_hashing(model_dir, tree, request.max_workers)
        signed = check.result(record)  # a signature, key or pin failure wins, as when it ran first
        _record_signed(record, signed)
        record.model_dir = str(model_dir)
        if tree_error is not None:
            raise tree_error
        record.files, record.bytes = len(tree.files), tree.total_bytes
        verify_model_tree(model_dir, signed, max_workers=request.max_workers, tree=tree, hashing=hashing)
    finally:
        if hashing is not None:
            hashing.stop()
        check.join()


def _scan(model_dir: Path) -> tuple[ModelTree | None, WeightsError | None]:
    try:
        return scan_model_tree(model_dir), None
    except WeightsError as error:
        return None, error


class _SignatureCheck:
    """`authenticate_signature` on its own thread; `result()` waits for it and returns or raises what it did."""

    def __init__(self, signature_path: Path, public_key_path: Path, pinned: str) -> None:
        self._arguments = (signature_path, public_key_path, pinned)
        self._signed: SignedManifest | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="modelfort-verify-signature", daemon=True)

    def start(self) -> _SignatureCheck:
        self._thread.start()
        return self

    def join(self) -> None:
        self._thread.join()

    def result(self, record: RunRecord) -> SignedManifest:
        self._thread.join()
        if self._error is not None:
            if isinstance(self._error, WeightsError):
                record.root_digest = self._error.context.get("signed_root_digest")
            raise self._error
        if self._signed is None:
            raise RuntimeError("the signature check ended without a result")
        return self._signed

    def _run(self) -> None:
        try:
            self._signed = authenticate_signature(*self._arguments)
        except BaseException as error:  # handed to the main thread, which reports it
            self._error = error


def _check_download_dir_use(request: VerifyRequest, model_scheme: str | None) -> None:
    if model_scheme is not None and not request.download_dir:
        raise WeightsError(
            Reason.DOWNLOAD_DIR_INVALID, "--download-dir is required when MODEL is an s3:// or gs:// prefix"
        )
    if model_scheme is None and request.download_dir:
        raise WeightsError(
            Reason.DOWNLOAD_DIR_INVALID,
            "--download-dir applies only to an s3:// or gs:// MODEL; a local MODEL is verified in place",
        )


def _local_copy(location: str, stores: Stores, scratch_path: Path, max_bytes: int) -> Path:
    """A local path for a signature or key: the path itself, or a bounded download into the scratch directory."""
    if object_stores.scheme_of(location) is None:
        return Path(location)
    stores.for_location(location).fetch_object(location, scratch_path, max_bytes=max_bytes)
    return scratch_path


def _verify_local_model(model_dir: Path, signed: SignedManifest, max_workers: int | None, record: RunRecord) -> None:
    record.model_dir = str(model_dir)
    tree = scan_model_tree(model_dir)
    record.files, record.bytes = len(tree.files), tree.total_bytes
    verify_model_tree(model_dir, signed, max_workers=max_workers, tree=tree)


def _verify_remote_model(
    request: VerifyRequest, store: object_stores.ObjectStore, signed: SignedManifest, record: RunRecord
) -> None:
    """Download into an empty directory and verify there; on any failure, leave the directory empty."""
    object_stores.check_location(request.model, prefix=True)  # a malformed location creates no directory
    download_dir = object_paths.prepare_download_dir(Path(request.download_dir))
    try:
        store.download_prefix(request.model, download_dir)
        _verify_local_model(download_dir, signed, request.max_workers, record)
    except BaseException as error:
        _discard_download(download_dir, record, error)
        raise


def _discard_download(download_dir: Path, record: RunRecord, error: BaseException) -> None:
    try:
        object_paths.clear_directory(download_dir)
        record.evidence["download_dir_cleared"] = True
    except OSError as cleanup_error:
        # Still fails closed (the caller re-raises); the log says the directory needs attention.
        record.evidence["download_dir_cleared"] = False
        record.evidence["cleanup_error"] = f"{type(cleanup_error).__name__}: {cleanup_error}"


def _record_signed(record: RunRecord, signed: SignedManifest) -> None:
    record.root_digest = signed.root_digest
    record.signed_model_name = signed.model_name
    record.key_fingerprint = signed.key_fingerprint


def _reject(record: RunRecord, reason: Reason, detail: str, context: dict[str, Any]) -> None:
    record.outcome, record.reason, record.exit_code, record.detail = "rejected", reason.code, reason.exit_code, detail
    record.evidence.update({key: value for key, value in context.items() if key != "signed_root_digest"})


def _new_record(request: VerifyRequest) -> RunRecord:
    return RunRecord(
        event=EVENT,
        time=datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        outcome="rejected",
        reason=None,
        exit_code=Reason.INTERNAL_ERROR.exit_code,
        detail=None,
        model=request.model,
        model_version=request.model_version,
        model_dir=None,
        signature=request.signature,
        public_key=request.public_key,
        pinned_root_digest=request.root_digest,
        root_digest=None,
        signed_model_name=None,
        key_fingerprint=None,
        files=None,
        bytes=None,
        duration_s=0.0,
    )
