"""Authenticate a model signature, check its root digest against the pinned one, then check the model tree.

The order of the verdicts is deliberate. Everything that needs only the signature and the key (parsing, key match,
cryptographic check, hashing policy, pinned digest) is judged first: for a model in S3 it runs before gigabytes are
downloaded. Then the tree is walked (links and special files refused), its file list compared with the signed one,
and only then are the file digests compared. For a local model the hashing itself starts at once, beside the
signature check (`tree_hashing`, `startup`), but its digests are only read once the signature is authenticated and
pinned, and a failure is reported exactly as if the steps had run one after the other.

This module imports nothing heavy at import time: `cryptography` and `model_signing` are imported by the functions
that check a signature, which `startup` runs on one verifying thread while the hashing threads use only hashlib and
os (an import on a background thread holds the import lock; `verify-weights` must start hashing at once).

A valid signature alone is not enough: it does not say *which* release should run, so an older, validly signed model
would pass (rollback). The root digest pinned in the stack config (the release record) closes that gap.

We call the `model-signing` library's own verifier for the cryptographic check and the manifest it yields, and only
add what it does not do: distinct reasons, refusal of signatures made with a weaker hashing policy (its verifier
would honour the `ignore_paths` a signature carries), and the pinned digest.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from modelfort.runtime.weights.hashing_policy import STRICT_SERIALIZATION, available_cpus
from modelfort.runtime.weights.model_tree import MAX_LISTED, ModelTree, scan_model_tree
from modelfort.runtime.weights.reasons import Reason, WeightsError
from modelfort.runtime.weights.tree_hashing import TreeHashing

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec
    from model_signing._signing import sign_sigstore_pb

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
OMS_PREDICATE_TYPE = "https://model_signing/signature/v1.0"
# The bundle media type model_signing writes for key-based signatures and checks before verifying.
KEY_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SUPPORTED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})

# A signature lists ~150 bytes per file; 64 MiB is far beyond any real model and stops a hostile object from
# exhausting the init container's memory.
MAX_SIGNATURE_BYTES = 64 << 20
MAX_PUBLIC_KEY_BYTES = 64 << 10

_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class TrustedKey:
    """The public key the verifier trusts, and its fingerprint as model_signing records it in a bundle's key hint."""

    public_key: ec.EllipticCurvePublicKey
    pem: bytes
    fingerprint: str


@dataclass(frozen=True)
class SignedManifest:
    """What an authenticated signature says: the root digest and the SHA-256 of every file (relative POSIX path)."""

    root_digest: str
    model_name: str
    key_fingerprint: str
    digests: Mapping[str, str]
    manifest: Any  # model_signing.manifest.Manifest, kept for the library's own equality check


@dataclass(frozen=True)
class VerifiedModel:
    """A model tree that matched an authenticated signature whose root digest is the pinned one."""

    signed: SignedManifest
    files: int
    total_bytes: int


def parse_root_digest(text: str) -> str:
    """Normalise a pinned root digest: 64 hex characters, optionally prefixed `sha256:`, compared in lower case."""
    candidate = text.strip().lower().removeprefix("sha256:")
    if not _HEX_DIGEST.fullmatch(candidate):
        raise WeightsError(
            Reason.PINNED_DIGEST_INVALID, f"pinned root digest {text!r} is not a SHA-256 hex digest (64 hex characters)"
        )
    return candidate


def load_trusted_key(public_key_path: Path) -> TrustedKey:
    """Read a PEM public key and refuse anything model_signing's EC verifier would not accept."""
    from cryptography import exceptions as crypto_exceptions
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        data = _read_bounded(public_key_path, MAX_PUBLIC_KEY_BYTES)
        public_key = serialization.load_pem_public_key(data)
    except (OSError, ValueError, crypto_exceptions.UnsupportedAlgorithm) as error:
        raise WeightsError(
            Reason.PUBLIC_KEY_INVALID, f"cannot load public key {str(public_key_path)!r}: {_describe(error)}"
        ) from error
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name not in SUPPORTED_CURVES:
        raise WeightsError(
            Reason.PUBLIC_KEY_INVALID,
            f"public key {str(public_key_path)!r} is not an EC key on P-256, P-384 or P-521",
        )
    return trusted_key_from(public_key)


def trusted_key_from(public_key: ec.EllipticCurvePublicKey) -> TrustedKey:
    """Fingerprint a key exactly as model_signing does: SHA-256 of its re-encoded SubjectPublicKeyInfo PEM."""
    from cryptography.hazmat.primitives import serialization

    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return TrustedKey(public_key=public_key, pem=pem, fingerprint=hashlib.sha256(pem).hexdigest())


def read_signature(signature_path: Path) -> sign_sigstore_pb.Signature:
    """Parse a signature file with the library's reader, separating "cannot read" from "not a bundle"."""
    from model_signing._signing import sign_sigstore_pb

    try:
        size = _regular_file_size(signature_path)
    except OSError as error:
        raise WeightsError(
            Reason.SIGNATURE_UNREADABLE, f"cannot read signature {str(signature_path)!r}: {_describe(error)}"
        ) from error
    if size > MAX_SIGNATURE_BYTES:
        raise WeightsError(
            Reason.SIGNATURE_MALFORMED, f"signature {str(signature_path)!r} is {size} bytes, more than any real one"
        )
    try:
        return sign_sigstore_pb.Signature.read(signature_path)
    except OSError as error:
        raise WeightsError(
            Reason.SIGNATURE_UNREADABLE, f"cannot read signature {str(signature_path)!r}: {_describe(error)}"
        ) from error
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        # JSONDecodeError, UnicodeDecodeError and pydantic's ValidationError are all ValueErrors.
        raise WeightsError(
            Reason.SIGNATURE_MALFORMED,
            f"signature {str(signature_path)!r} is not a valid Sigstore bundle: {_describe(error)}",
        ) from error


def authenticate_signature(signature_path: Path, public_key_path: Path, pinned_root_digest: str) -> SignedManifest:
    """Verify the signature with the trusted key and return its manifest, if its root digest is the pinned one."""
    key = load_trusted_key(public_key_path)
    signature = read_signature(signature_path)
    _check_bundle_shape(signature.bundle)
    _check_key_hint(signature.bundle, key)
    manifest = _verify_with_library(signature, public_key_path)
    # The payload bytes are the ones the library just verified, so reading them again is reading signed data.
    statement = _decode_statement(signature.bundle.dsse_envelope.payload)
    try:
        root_digest = _check_statement(statement)
    except (AttributeError, TypeError) as error:
        raise _unsupported(f"signed statement has an unexpected shape: {_describe(error)}") from error
    if root_digest != pinned_root_digest:
        raise WeightsError(
            Reason.ROOT_DIGEST_MISMATCH,
            f"signed root digest {root_digest} is not the pinned {pinned_root_digest}: "
            "this is another (possibly older) release than the one approved",
            signed_root_digest=root_digest,
        )
    digests = {rd.identifier: rd.digest.digest_hex for rd in manifest.resource_descriptors()}
    return SignedManifest(
        root_digest=root_digest,
        model_name=manifest.model_name,
        key_fingerprint=key.fingerprint,
        digests=digests,
        manifest=manifest,
    )


def start_hashing(model_dir: Path, tree: ModelTree, max_workers: int | None = None) -> TreeHashing:
    """Start hashing every file of the walked `tree` (`max_workers` threads, default `available_cpus()`)."""
    workers = max_workers or available_cpus()
    return TreeHashing(model_dir, tree.files, workers=workers, sizes=tree.sizes).start()


def verify_model_tree(
    model_dir: Path,
    signed: SignedManifest,
    *,
    max_workers: int | None = None,
    tree: ModelTree | None = None,
    hashing: TreeHashing | None = None,
) -> VerifiedModel:
    """Check that `model_dir` holds exactly the signed files with exactly the signed content.

    `tree` is the result of `scan_model_tree(model_dir)` when the caller already walked it (to log its size), and
    `hashing` the hashing of that tree when the caller started it early (`start_hashing`); either way the digests are
    read only here, after `signed` was authenticated. Hashing is stopped (and waited for) whatever the outcome.
    """
    tree = tree if tree is not None else scan_model_tree(model_dir)
    try:
        _compare_file_sets(tree.files, signed.digests)
        hashing = hashing if hashing is not None else start_hashing(model_dir, tree, max_workers)
        actual = hashing.result()
    finally:
        if hashing is not None:
            hashing.stop()
    _compare_digests(actual, signed)
    _check_unchanged(model_dir, tree)
    return VerifiedModel(signed=signed, files=len(tree.files), total_bytes=tree.total_bytes)


def verify_model(
    model_dir: Path,
    signature_path: Path,
    public_key_path: Path,
    pinned_root_digest: str,
    *,
    max_workers: int | None = None,
) -> VerifiedModel:
    """The whole local check: authenticate and pin the signature, then compare the model tree with it."""
    signed = authenticate_signature(signature_path, public_key_path, pinned_root_digest)
    return verify_model_tree(model_dir, signed, max_workers=max_workers)


def _check_bundle_shape(bundle: Any) -> None:
    """Refuse bundles the key verifier would misread: keyless/certificate bundles, bare signatures, legacy formats."""
    if bundle.media_type != KEY_BUNDLE_MEDIA_TYPE:
        raise _unsupported(f"bundle media type {bundle.media_type!r} is not {KEY_BUNDLE_MEDIA_TYPE!r}")
    envelope = bundle.dsse_envelope
    if envelope is None:
        raise _unsupported("bundle carries no DSSE envelope (a bare message signature is not an OMS signature)")
    if len(envelope.signatures) != 1:
        raise _unsupported(f"DSSE envelope has {len(envelope.signatures)} signatures; exactly one is expected")
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise _unsupported(f"DSSE payload type {envelope.payload_type!r} is not {IN_TOTO_PAYLOAD_TYPE!r}")
    public_key = bundle.verification_material.public_key
    if public_key is None:
        raise _unsupported("bundle is not key-signed (it carries a certificate or a Sigstore keyless identity)")
    if not public_key.hint:
        # The library would only print a warning to stdout and carry on; a pre-1.0 bundle must be re-signed.
        raise _unsupported("bundle has no public-key hint (pre-1.0 format); re-sign it with `modelfort sign`")


def _check_key_hint(bundle: Any, key: TrustedKey) -> None:
    """Name the wrong key precisely: the hint is unauthenticated, but a mismatch means "signed for another key"."""
    hint = bundle.verification_material.public_key.hint
    if hint != key.fingerprint:
        raise WeightsError(
            Reason.KEY_MISMATCH,
            f"signature was made for the key with fingerprint {hint}, not the trusted key {key.fingerprint}",
            signature_key_fingerprint=hint,
        )


def _verify_with_library(signature: Any, public_key_path: Path) -> Any:
    """Run model_signing's EC-key verifier: the cryptographic check over the DSSE PAE, then payload parsing."""
    from cryptography import exceptions as crypto_exceptions
    from model_signing._signing import sign_ec_key

    try:
        return sign_ec_key.Verifier(public_key_path).verify(signature)
    except crypto_exceptions.InvalidSignature as error:
        raise WeightsError(
            Reason.SIGNATURE_INVALID,
            "signature does not verify with the trusted public key (the signature or its payload was altered, "
            "or it was made with another key)",
        ) from error
    except (ValueError, KeyError, TypeError, IndexError) as error:
        # The library checks the signature before parsing the payload, so these mean "validly signed, but not an
        # OMS v1.0 statement we understand".
        raise _unsupported(f"signed payload is not an OMS v1.0 statement: {_describe(error)}") from error


def _decode_statement(payload: bytes) -> dict[str, Any]:
    try:
        statement = json.loads(payload)
    except ValueError as error:
        raise _unsupported(f"signed payload is not JSON: {_describe(error)}") from error
    if not isinstance(statement, dict):
        raise _unsupported("signed payload is not a JSON object")
    return statement


def _check_statement(statement: dict[str, Any]) -> str:
    """Accept only an OMS v1.0 statement made with the strict hashing policy; return its root digest.

    The library also accepts the pre-1.0 "Digests/v0.1" predicate, which has no root digest and cannot detect
    missing files, and signatures that recorded ignored paths or allowed symlinks; all are refused here.
    """
    if statement.get("_type") != IN_TOTO_STATEMENT_TYPE:
        raise _unsupported(f"statement type {statement.get('_type')!r} is not {IN_TOTO_STATEMENT_TYPE!r}")
    if statement.get("predicateType") != OMS_PREDICATE_TYPE:
        raise _unsupported(f"predicate type {statement.get('predicateType')!r} is not {OMS_PREDICATE_TYPE!r}")
    predicate = statement.get("predicate") or {}
    serialization_args = dict(predicate.get("serialization") or {})
    if serialization_args.get("ignore_paths") == []:
        del serialization_args["ignore_paths"]
    if serialization_args != STRICT_SERIALIZATION:
        raise _unsupported(
            f"signature was made with hashing policy {serialization_args}, not the strict {STRICT_SERIALIZATION} "
            "(nothing ignored, no symlinks); re-sign it with `modelfort sign`"
        )
    resources = predicate.get("resources") or []
    names = [resource.get("name") for resource in resources]
    if len(set(names)) != len(names):
        raise _unsupported("signed manifest lists a file more than once")
    if any(resource.get("algorithm") != "sha256" for resource in resources):
        raise _unsupported("signed manifest has a file digest that is not SHA-256")
    subjects = statement.get("subject") or []
    if len(subjects) != 1:
        raise _unsupported(f"statement has {len(subjects)} subjects; exactly one is expected")
    root_digest = ((subjects[0] or {}).get("digest") or {}).get("sha256", "")
    if not isinstance(root_digest, str) or not _HEX_DIGEST.fullmatch(root_digest):
        raise _unsupported(f"statement root digest {root_digest!r} is not a lower-case SHA-256 hex digest")
    return root_digest


def _compare_file_sets(files: tuple[str, ...], signed: Mapping[str, str]) -> None:
    """Compare names before hashing: a missing or extra file fails in milliseconds, not after hashing everything."""
    present = set(files)
    missing = sorted(set(signed) - present)
    unexpected = sorted(present - set(signed))
    evidence = {"missing": missing[:MAX_LISTED], "unexpected": unexpected[:MAX_LISTED]}
    if missing:
        raise WeightsError(
            Reason.FILE_MISSING,
            f"{len(missing)} signed file(s) missing: {_listing(missing)}"
            + (f"; also {len(unexpected)} unsigned file(s): {_listing(unexpected)}" if unexpected else ""),
            **evidence,
        )
    if unexpected:
        raise WeightsError(
            Reason.FILE_UNEXPECTED,
            f"{len(unexpected)} file(s) that were not signed: {_listing(unexpected)}",
            **evidence,
        )


def _compare_digests(actual: Mapping[str, str], signed: SignedManifest) -> None:
    unexpected = sorted(set(actual) - set(signed.digests))
    if unexpected:
        raise WeightsError(
            Reason.FILE_UNEXPECTED,
            f"file(s) appeared while hashing: {_listing(unexpected)}",
            unexpected=unexpected[:MAX_LISTED],
        )
    modified = sorted(
        path for path, expected in signed.digests.items() if path not in actual or actual[path] != expected
    )
    if modified:
        raise WeightsError(
            Reason.FILE_MODIFIED,
            f"{len(modified)} file(s) differ from their signed SHA-256: {_listing(modified)}",
            modified=modified[:MAX_LISTED],
        )
    if _library_manifest(signed.model_name, actual) != signed.manifest:
        # Unreachable unless the library's notion of equality drifts from ours; fail closed rather than trust it.
        raise WeightsError(Reason.FILE_MODIFIED, "model manifest differs from the signed manifest")


def _library_manifest(model_name: str, digests: Mapping[str, str]) -> Any:
    """Our digests as the library's `Manifest` (what its own file hashing returns), compared with its equality."""
    # Already imported by the signature check, which ran before any digest is compared.
    from model_signing import manifest
    from model_signing._hashing.hashing import Digest

    items = [
        manifest.FileManifestItem(path=PurePosixPath(path), digest=Digest("sha256", bytes.fromhex(digest)))
        for path, digest in digests.items()
    ]
    return manifest.Manifest(model_name, items, manifest._FileSerialization("sha256", allow_symlinks=False))


def _check_unchanged(model_dir: Path, tree: ModelTree) -> None:
    """Walk the tree again: a file added, removed or replaced by a link while hashing fails the run."""
    try:
        after = scan_model_tree(model_dir)
    except WeightsError as error:
        raise WeightsError(
            Reason.MODEL_DIR_INVALID, f"model directory changed while hashing: {error.detail}", **error.context
        ) from error
    appeared = sorted(set(after.files) - set(tree.files))
    if appeared:
        raise WeightsError(
            Reason.FILE_UNEXPECTED,
            f"file(s) appeared while hashing: {_listing(appeared)}",
            unexpected=appeared[:MAX_LISTED],
        )
    if after.files != tree.files:
        raise WeightsError(Reason.MODEL_DIR_INVALID, "model directory changed while hashing: file(s) disappeared")


def _unsupported(detail: str) -> WeightsError:
    return WeightsError(Reason.SIGNATURE_UNSUPPORTED, detail)


def _regular_file_size(path: Path) -> int:
    """The size of `path`, which must be a regular file: opening a FIFO or device would block or never end."""
    status = path.stat()
    if not stat.S_ISREG(status.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return status.st_size


def _read_bounded(path: Path, limit: int) -> bytes:
    _regular_file_size(path)
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"file is larger than {limit} bytes")
    return data


def _listing(paths: list[str]) -> str:
    more = f" and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else ""
    return ", ".join(paths[:MAX_LISTED]) + more


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")
