"""Sign a model directory with the strict hashing policy, with a local EC key, an AWS KMS key or a Cloud KMS key.

The signature is the library's OMS bundle (model_signing's own EC-key signer, or `KmsSigner` / `CloudKmsSigner`,
which build the same bundle). `--kms-key` names either KMS; its form alone says which (`_kms_signer`). Before
anything is written, the new signature is put through the same `authenticate_signature` the startup verifier runs,
so a release can never publish a signature its own verifier would refuse. It is written to a new file and, with
`--upload`, to a new object in the reference store (`s3://` or `gs://`; never over an existing one).

This uses two names from `model_signing._signing` (`Payload` and the EC-key `Signer`) because the public
`model_signing.signing.Config` can neither take a custom (KMS) signer nor return the root digest to pin. The
library is pinned (1.1.1), and the tests verify our bundles with its public API and its CLI, so drift shows up there.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from cryptography import exceptions as crypto_exceptions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from model_signing._signing import sign_ec_key
from model_signing._signing import signing as oms_signing

from modelfort.runtime.weights import cloud_kms_clients
from modelfort.runtime.weights.aws_clients import ClientFactory, region_of_kms_key
from modelfort.runtime.weights.cloud_kms_clients import CloudKmsClientFactory
from modelfort.runtime.weights.gcs_clients import GcsClientFactory
from modelfort.runtime.weights.hashing_policy import hash_model_dir
from modelfort.runtime.weights.model_tree import scan_model_tree
from modelfort.runtime.weights.reasons import Reason, WeightsError
from modelfort.runtime.weights.verify import SUPPORTED_CURVES, authenticate_signature, trusted_key_from


class ModelSigner(Protocol):
    """A model_signing `Signer` that also exposes its public key's PEM (for the self-check and `--public-key-out`)."""

    public_key_pem: bytes

    def sign(self, payload: oms_signing.Payload) -> Any: ...


@dataclass(frozen=True)
class LocalKeySigner:
    """model_signing's own EC-key signer, paired with its public key."""

    signer: Any
    public_key_pem: bytes

    def sign(self, payload: oms_signing.Payload) -> Any:
        return self.signer.sign(payload)


@dataclass(frozen=True)
class SignedModel:
    """A signature ready to store: the bundle JSON, the root digest to pin, and what was signed."""

    bundle_json: bytes
    root_digest: str
    files: int
    total_bytes: int
    public_key_pem: bytes


def local_key_signer(private_key_path: Path) -> LocalKeySigner:
    """Load an unencrypted PEM EC private key (P-256/384/521) and wrap the library's signer around it."""
    try:
        private_key = serialization.load_pem_private_key(private_key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, crypto_exceptions.UnsupportedAlgorithm) as error:
        raise WeightsError(
            Reason.SIGNING_KEY_INVALID, f"cannot load private key {str(private_key_path)!r}: {error}"
        ) from error
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or private_key.curve.name not in SUPPORTED_CURVES:
        raise WeightsError(
            Reason.SIGNING_KEY_INVALID, f"{str(private_key_path)!r} is not an EC private key on P-256, P-384 or P-521"
        )
    return LocalKeySigner(
        signer=sign_ec_key.Signer(private_key_path),
        public_key_pem=trusted_key_from(private_key.public_key()).pem,
    )


def check_signature_destination(model_dir: Path, output_path: Path) -> None:
    """An output (signature, public key) inside the model would be an unsigned file there, failing verification."""
    if output_path.resolve().is_relative_to(model_dir.resolve()):
        raise WeightsError(
            Reason.SIGNATURE_PATH_INVALID,
            f"{str(output_path)!r} is inside the model directory {str(model_dir)!r}; "
            "store signatures and keys beside the model, not in it",
        )


def sign_model(model_dir: Path, signer: ModelSigner, *, max_workers: int | None = None) -> SignedModel:
    """Hash `model_dir` with the strict policy, sign the manifest, and prove the startup verifier accepts it."""
    tree = scan_model_tree(model_dir)
    if not tree.files:
        raise WeightsError(Reason.MODEL_DIR_INVALID, f"{str(model_dir)!r} holds no files; there is nothing to sign")
    manifest = hash_model_dir(model_dir, max_workers)
    hashed = {descriptor.identifier for descriptor in manifest.resource_descriptors()}
    if hashed != set(tree.files):
        raise WeightsError(Reason.MODEL_DIR_INVALID, "the model directory changed while it was being signed")
    payload = oms_signing.Payload(manifest)
    bundle_json = signer.sign(payload).bundle.to_json().encode("utf-8")
    root_digest = payload.statement.pb.subject[0].digest["sha256"]
    _self_check(bundle_json, signer.public_key_pem, root_digest)
    return SignedModel(
        bundle_json=bundle_json,
        root_digest=root_digest,
        files=len(tree.files),
        total_bytes=tree.total_bytes,
        public_key_pem=signer.public_key_pem,
    )


def write_new_file(path: Path, data: bytes) -> None:
    """Write `data` to a new file; an existing file is never replaced (a signature is release evidence)."""
    try:
        with open(path, "xb") as handle:
            handle.write(data)
    except FileExistsError as error:
        raise WeightsError(
            Reason.SIGNATURE_EXISTS, f"{str(path)!r} already exists; refusing to overwrite it"
        ) from error
    except OSError as error:
        raise WeightsError(Reason.SIGNATURE_PATH_INVALID, f"cannot write {str(path)!r}: {error.strerror}") from error


def run_sign(
    *,
    model_dir: Path,
    signature_path: Path,
    private_key_path: Path | None,
    kms_key_id: str | None,
    upload_uri: str | None,
    public_key_out: Path | None,
    client_factory: ClientFactory,
    gcs_client_factory: GcsClientFactory | None = None,
    cloud_kms_client_factory: CloudKmsClientFactory | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    max_workers: int | None = None,
) -> int:
    """`modelfort sign`: sign, write, optionally upload; print the root digest (hex) alone on stdout.

    `kms_key_id` is an AWS KMS key (signed through a `kms` client from `client_factory`) or a Cloud KMS key version
    `projects/…/cryptoKeyVersions/N` (through the client `cloud_kms_client_factory` makes; None means the
    production one); the key is read and checked before the model is hashed.

    `upload_uri` may be `s3://` (uploaded with an AWS client from `client_factory`) or `gs://` (with the Cloud
    Storage connection from `gcs_client_factory`); it is checked before anything is signed, and the upload never
    replaces an existing object. Stdout carries only the digest so a pipeline can capture it
    (`DIGEST=$(modelfort sign ...)`) and pin it.
    """
    from modelfort.runtime.weights import object_stores

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        check_signature_destination(model_dir, signature_path)
        if public_key_out is not None:
            check_signature_destination(model_dir, public_key_out)
        for path in (signature_path, public_key_out):
            if path is not None and (path.exists() or path.is_symlink()):
                raise WeightsError(Reason.SIGNATURE_EXISTS, f"{str(path)!r} already exists; refusing to overwrite it")
        if upload_uri:
            object_stores.check_location(upload_uri)
        signer = _make_signer(private_key_path, kms_key_id, client_factory, cloud_kms_client_factory)
        signed = sign_model(model_dir, signer, max_workers=max_workers)
        write_new_file(signature_path, signed.bundle_json)
        if public_key_out is not None:
            write_new_file(public_key_out, signed.public_key_pem)
        if upload_uri:
            stores = object_stores.Stores(aws_client_factory=client_factory, gcs_client_factory=gcs_client_factory)
            stores.for_location(upload_uri).upload_new(upload_uri, signed.bundle_json)
    except WeightsError as error:
        print(f"modelfort sign: {error.reason.code}: {error.detail}", file=stderr)
        return error.reason.exit_code
    print(signed.root_digest, file=stdout)
    where = f" and uploaded to {upload_uri}" if upload_uri else ""
    print(
        f"modelfort sign: signed {signed.files} file(s), {signed.total_bytes} bytes; signature written to "
        f"{signature_path}{where}; pin root digest {signed.root_digest}",
        file=stderr,
    )
    return 0


def _make_signer(
    private_key_path: Path | None,
    kms_key_id: str | None,
    client_factory: ClientFactory,
    cloud_kms_client_factory: CloudKmsClientFactory | None,
) -> ModelSigner:
    if (private_key_path is None) == (kms_key_id is None):
        raise WeightsError(Reason.SIGNING_KEY_INVALID, "give exactly one of --private-key or --kms-key")
    if private_key_path is not None:
        return local_key_signer(private_key_path)
    return _kms_signer(kms_key_id, client_factory, cloud_kms_client_factory)


def _kms_signer(
    kms_key: str, client_factory: ClientFactory, cloud_kms_client_factory: CloudKmsClientFactory | None
) -> ModelSigner:
    """The one place `--kms-key` is told apart: a Cloud KMS resource name (`projects/…`) or else an AWS KMS key.

    A Cloud KMS key builds no AWS client, and an AWS key loads no Google library (the Cloud KMS modules import
    google-auth only when a client is built).
    """
    from modelfort.runtime.weights import cloud_kms_signer

    if cloud_kms_signer.names_cloud_kms_key(kms_key):
        factory = cloud_kms_client_factory or cloud_kms_clients.client_factory()
        return cloud_kms_signer.cloud_kms_signer(kms_key, factory)
    from modelfort.runtime.weights.kms_signer import KmsSigner

    return KmsSigner(client_factory("kms", region_of_kms_key(kms_key)), kms_key)


def _self_check(bundle_json: bytes, public_key_pem: bytes, root_digest: str) -> None:
    """Run the startup verifier's signature checks on the new bundle (they read files, hence the temp dir)."""
    with tempfile.TemporaryDirectory(prefix="modelfort-sign-") as scratch:
        signature_path = Path(scratch, "model.sig")
        public_key_path = Path(scratch, "signer.pub")
        signature_path.write_bytes(bundle_json)
        public_key_path.write_bytes(public_key_pem)
        try:
            authenticate_signature(signature_path, public_key_path, root_digest)
        except WeightsError as error:
            raise WeightsError(
                error.reason, f"the new signature failed the startup verifier's checks, not written: {error.detail}"
            ) from error
