"""A model_signing `Signer` whose private key never leaves Google Cloud KMS (EC_SIGN_P256_SHA256).

GCP zones keep their release signing key in Cloud KMS (`ModelReferenceStore`: purpose ASYMMETRIC_SIGN, algorithm
EC_SIGN_P256_SHA256, protection level SOFTWARE or HSM). An asymmetric key signs with one specific *version*, so
`--kms-key` must name the version: `projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N`.

The bundle, and the local check of the signature against the key's public half over the exact PAE the verifier will
use, are shared with the AWS KMS signer (`remote_signer.RemoteKeySigner`). What is Cloud KMS's own:
- `GetPublicKey` returns the PEM and the version's algorithm; anything but EC_SIGN_P256_SHA256 is refused before the
  model is hashed. `AsymmetricSign` always gets SHA-256(PAE) as its digest, which is exactly what an ECDSA-SHA-256
  verifier recomputes over the PAE, so (unlike AWS KMS's 4096-byte RAW message) no model is too large.
- End-to-end integrity, as Google documents it: the request carries `digest_crc32c`, and the response must say it
  was checked (`verified_digest_crc32c`), name the version asked for, and carry a `signature_crc32c` (and the public
  key a `pem_crc32c`) that matches what arrived. A failed check is `kms_error` (the bytes were corrupted in transit,
  or the answer is for another key); nothing is retried on it and nothing is written.
- Cloud KMS has no Verify call for asymmetric keys (verification is meant to be done with the public key), so the
  local check is the only one, as it is the one that matters.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from modelfort.runtime.weights.cloud_kms_clients import CloudKmsClientFactory, cloud_kms_errors, crc32c
from modelfort.runtime.weights.reasons import Reason, WeightsError
from modelfort.runtime.weights.remote_signer import RemoteKeySigner, load_p256_public_key
from modelfort.runtime.weights.verify import TrustedKey

ALGORITHM = "EC_SIGN_P256_SHA256"
KEY_VERSION_FORM = "projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N"

# Project ids may be domain-scoped (`example.com:project`); key ring and key ids are [a-zA-Z0-9_-]{1,63}.
_KEY = (
    r"projects/[A-Za-z0-9.:_-]+/locations/[A-Za-z0-9_-]+"
    r"/keyRings/[A-Za-z0-9_-]{1,63}/cryptoKeys/[A-Za-z0-9_-]{1,63}"
)
_KEY_NAME = re.compile(rf"{_KEY}/?")
_KEY_VERSION_NAME = re.compile(rf"{_KEY}/cryptoKeyVersions/[1-9][0-9]*")
# Other spellings of a Cloud KMS key that tools print; named so they are refused as Cloud KMS, not sent to AWS.
_OTHER_GOOGLE_PREFIXES = ("//cloudkms.googleapis.com/", "gcpkms://", "https://cloudkms.googleapis.com/")


def names_cloud_kms_key(kms_key: str) -> bool:
    """Whether `--kms-key` names a Cloud KMS key (else it is an AWS KMS key ARN, id or alias).

    Only a Cloud KMS resource name starts with `projects/` (an AWS key is `arn:…`, a key id, or `alias/…`); the
    other Google spellings are claimed too, so that `key_version_name` refuses them with a precise message.
    """
    return kms_key.startswith("projects/") or kms_key.startswith(_OTHER_GOOGLE_PREFIXES)


def key_version_name(kms_key: str) -> str:
    """The Cloud KMS key version to sign with; refuses a key without its version and any other form."""
    if _KEY_VERSION_NAME.fullmatch(kms_key):
        return kms_key
    if _KEY_NAME.fullmatch(kms_key):
        raise WeightsError(
            Reason.SIGNING_KEY_INVALID,
            f"{kms_key!r} is a Cloud KMS key, not a key version: an asymmetric key signs with one specific version, "
            f"so name it: {kms_key.rstrip('/')}/cryptoKeyVersions/N "
            "(`gcloud kms keys versions list --key K --keyring R --location L` lists them)",
        )
    for prefix in _OTHER_GOOGLE_PREFIXES:
        if kms_key.startswith(prefix):
            raise WeightsError(
                Reason.SIGNING_KEY_INVALID,
                f"{kms_key!r}: give the Cloud KMS key version as a plain resource name, {KEY_VERSION_FORM}, "
                f"without {prefix!r}",
            )
    raise WeightsError(
        Reason.SIGNING_KEY_INVALID,
        f"{kms_key!r} is not a Cloud KMS key version name; expected {KEY_VERSION_FORM}",
    )


def cloud_kms_signer(kms_key: str, client_factory: CloudKmsClientFactory) -> CloudKmsSigner:
    """Check the name, connect (credentials are found here), and read and check the key version's public key."""
    name = key_version_name(kms_key)
    with cloud_kms_errors(f"cannot create a Cloud KMS client for key version {name}"):
        client = client_factory()
    return CloudKmsSigner(client, name)


class CloudKmsSigner(RemoteKeySigner):
    """Signs OMS payloads with a Cloud KMS EC_SIGN_P256_SHA256 key version; `public_key_pem` is its public half."""

    def __init__(self, client: Any, key_version: str) -> None:
        """`client` is a `cloud_kms_clients.CloudKmsClient` (or anything with its two methods); `key_version` a full
        key version name. Reads and checks the public key and its algorithm up front, before anything is hashed."""
        self._client = client
        self._name = key_version
        super().__init__(fetch_public_key(client, key_version), f"Cloud KMS key version {key_version}")

    def _sign_pae(self, pae: bytes) -> tuple[bytes, str]:
        return asymmetric_sign(self._client, self._name, hashlib.sha256(pae).digest()), "SHA-256 digest"


def fetch_public_key(client: Any, name: str) -> TrustedKey:
    """`GetPublicKey`, its integrity checked; refuse any version that is not EC_SIGN_P256_SHA256."""
    with cloud_kms_errors(f"cannot read the public key of Cloud KMS key version {name}"):
        response = client.get_public_key(name=name)
    if response.name != name:
        raise _integrity_error(name, f"GetPublicKey answered for {response.name!r}, not for the version asked")
    pem = response.pem.encode("utf-8")
    if response.pem_crc32c is None or response.pem_crc32c != crc32c(pem):
        raise _integrity_error(
            name, f"the public key's CRC32C is {response.pem_crc32c!r}, the PEM received has {crc32c(pem)}"
        )
    algorithm = response.algorithm or "no algorithm"
    if algorithm != ALGORITHM:
        raise WeightsError(
            Reason.SIGNING_KEY_INVALID,
            f"Cloud KMS key version {name} is {algorithm}; only {ALGORITHM} (purpose ASYMMETRIC_SIGN, "
            "P-256 with SHA-256: what model_signing's EC verifier accepts) can sign releases",
        )
    return load_p256_public_key(pem, f"Cloud KMS key version {name}", pem=True)


def asymmetric_sign(client: Any, name: str, digest: bytes) -> bytes:
    """One `AsymmetricSign` of a SHA-256 digest, its integrity checked both ways; the DER ECDSA signature."""
    request = {"name": name, "digest": {"sha256": digest}, "digest_crc32c": crc32c(digest)}
    with cloud_kms_errors(f"Cloud KMS AsymmetricSign with key version {name} failed"):
        response = client.asymmetric_sign(request=request)
    if not response.verified_digest_crc32c:
        raise _integrity_error(name, "AsymmetricSign did not confirm the digest's CRC32C (verified_digest_crc32c)")
    if response.name != name:
        raise _integrity_error(name, f"AsymmetricSign answered for {response.name!r}, not for the version asked")
    signature = response.signature
    if response.signature_crc32c is None or response.signature_crc32c != crc32c(signature):
        raise _integrity_error(
            name, f"the signature's CRC32C is {response.signature_crc32c!r}, the signature received has "
            f"{crc32c(signature)}"
        )
    return signature


def _integrity_error(name: str, what: str) -> WeightsError:
    return WeightsError(
        Reason.KMS_ERROR,
        f"Cloud KMS key version {name}: integrity check failed: {what}; the request or the response was "
        "corrupted in transit (run again), no signature was written",
        gcp_error_code="IntegrityCheckFailed",
    )
