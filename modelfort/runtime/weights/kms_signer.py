"""A model_signing `Signer` whose private key never leaves AWS KMS (ECC_NIST_P256, ECDSA_SHA_256).

The bundle, and the local check of every signature against the key's public half over the exact PAE the verifier
will use, are shared with the Cloud KMS signer (`remote_signer.RemoteKeySigner`); this module only says how AWS KMS
is asked.

How the message reaches KMS:
- `RAW` with the PAE itself when it fits KMS's 4096-byte limit: KMS hashes it with SHA-256, exactly what the
  verifier recomputes. This is also the only form moto emulates correctly.
- `DIGEST` with SHA-256(PAE) when it does not (a manifest lists ~150 bytes per file, so a model of more than ~25
  files). Real KMS signs a DIGEST as given; moto wrongly hashes it again.
Whatever KMS returns is checked twice before the bundle exists: locally (`RemoteKeySigner`, which is what guarantees
verifiers accept it, and what catches an emulator or a key that is not what it claims); and with KMS `Verify`, which
also leaves a CloudTrail record pairing the signature with the key.
"""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from modelfort.runtime.weights.aws_clients import error_code
from modelfort.runtime.weights.reasons import Reason, WeightsError
from modelfort.runtime.weights.remote_signer import RemoteKeySigner, load_p256_public_key
from modelfort.runtime.weights.verify import TrustedKey

KEY_SPEC = "ECC_NIST_P256"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
# KMS accepts a RAW message of at most 4096 bytes.
KMS_RAW_MESSAGE_LIMIT = 4096


class KmsSigner(RemoteKeySigner):
    """Signs OMS payloads with an asymmetric AWS KMS key; `public_key_pem` is the key's public half."""

    def __init__(self, kms: Any, key_id: str) -> None:
        """`kms` is a boto3 KMS client; `key_id` a key ARN, id or alias. Checks the key spec up front."""
        self._kms = kms
        self._key_id = key_id
        super().__init__(fetch_signing_key(kms, key_id), f"KMS key {key_id}")

    def _sign_pae(self, pae: bytes) -> tuple[bytes, str]:
        message, message_type = kms_message_for(pae)
        return kms_sign(self._kms, self._key_id, message, message_type), message_type

    def _confirm(self, pae: bytes, signature: bytes) -> None:
        message, message_type = kms_message_for(pae)
        if not kms_signature_is_valid(self._kms, self._key_id, message, message_type, signature):
            raise WeightsError(
                Reason.KMS_SIGNATURE_MISMATCH,
                f"KMS Verify rejected the signature key {self._key_id} just made; no signature was written",
            )


def fetch_signing_key(kms: Any, key_id: str) -> TrustedKey:
    """Read the key's public half and refuse any key that is not an ECC_NIST_P256 signing key."""
    try:
        response = kms.get_public_key(KeyId=key_id)
    except (ClientError, BotoCoreError) as error:
        raise _kms_error(f"cannot read the public key of {key_id}", error) from error
    # `CustomerMasterKeySpec` is the deprecated name AWS still returns alongside `KeySpec` (moto returns only it).
    key_spec = response.get("KeySpec") or response.get("CustomerMasterKeySpec")
    if (
        key_spec != KEY_SPEC
        or response.get("KeyUsage") != "SIGN_VERIFY"
        or SIGNING_ALGORITHM not in response.get("SigningAlgorithms", [])
    ):
        raise WeightsError(
            Reason.SIGNING_KEY_INVALID,
            f"KMS key {key_id} is {key_spec}/{response.get('KeyUsage')}; "
            f"a {KEY_SPEC} SIGN_VERIFY key with {SIGNING_ALGORITHM} is required",
        )
    return load_p256_public_key(response.get("PublicKey"), f"KMS key {key_id}", pem=False)


def kms_message_for(pae: bytes) -> tuple[bytes, str]:
    """The message and MessageType to send: the PAE itself as RAW when KMS accepts it, else its SHA-256 DIGEST."""
    if len(pae) <= KMS_RAW_MESSAGE_LIMIT:
        return pae, "RAW"
    return hashlib.sha256(pae).digest(), "DIGEST"


def kms_sign(kms: Any, key_id: str, message: bytes, message_type: str) -> bytes:
    """One KMS `Sign` call; returns the DER-encoded ECDSA signature."""
    try:
        response = kms.sign(KeyId=key_id, Message=message, MessageType=message_type, SigningAlgorithm=SIGNING_ALGORITHM)
    except (ClientError, BotoCoreError) as error:
        raise _kms_error(f"KMS Sign with {key_id} failed", error) from error
    return response["Signature"]


def kms_signature_is_valid(kms: Any, key_id: str, message: bytes, message_type: str, signature: bytes) -> bool:
    """Ask KMS whether `signature` is valid; False for either way KMS says "invalid".

    Real KMS raises `KMSInvalidSignatureException` for a bad signature, moto returns `SignatureValid=False`; both
    mean invalid. Any other error (access denied, throttling) is not an answer and raises.
    """
    try:
        response = kms.verify(
            KeyId=key_id,
            Message=message,
            MessageType=message_type,
            Signature=signature,
            SigningAlgorithm=SIGNING_ALGORITHM,
        )
    except (ClientError, BotoCoreError) as error:
        if error_code(error) == "KMSInvalidSignatureException":
            return False
        raise _kms_error(f"KMS Verify with {key_id} failed", error) from error
    return response.get("SignatureValid") is True


def _kms_error(action: str, error: BaseException) -> WeightsError:
    code = error_code(error)
    return WeightsError(Reason.KMS_ERROR, f"{action}: {code + ': ' if code else ''}{error}", aws_error_code=code)
