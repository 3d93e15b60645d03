"""A model_signing `Signer` whose private key never leaves AWS KMS (ECC_NIST_P256, ECDSA_SHA_256).

model_signing 1.1.1 has no cloud-KMS signer. Its EC-key signer (`model_signing._signing.sign_ec_key.Signer`)
signs the DSSE pre-authentication encoding (PAE) of the in-toto statement with ECDSA over SHA-256 and wraps it in a
Sigstore bundle whose verification material is a public-key hint: the hex SHA-256 of the key's SubjectPublicKeyInfo
PEM. This class builds the identical bundle, but gets the ECDSA signature from KMS `Sign`, so
`model_signing verify key --public_key` (and `modelfort verify-weights`) accept it unchanged.

How the message reaches KMS:
- `RAW` with the PAE itself when it fits KMS's 4096-byte limit: KMS hashes it with SHA-256, exactly what the
  verifier recomputes. This is also the only form moto emulates correctly.
- `DIGEST` with SHA-256(PAE) when it does not (a manifest lists ~150 bytes per file, so a model of more than ~25
  files). Real KMS signs a DIGEST as given; moto wrongly hashes it again.
Whatever KMS returns is checked twice before the bundle exists: locally, against the key's public half, over the
exact PAE the verifier will use (this is what guarantees verifiers accept it, and what catches an emulator or a
key that is not what it claims); and with KMS `Verify`, which also leaves a CloudTrail record pairing the signature
with the key.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography import exceptions as crypto_exceptions
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf import json_format
from model_signing._signing import sign_sigstore_pb
from model_signing._signing import signing as oms_signing
from sigstore_models import intoto as intoto_pb
from sigstore_models.bundle import v1 as bundle_pb
from sigstore_models.common import v1 as common_pb

from modelfort.runtime.weights.aws_clients import error_code
from modelfort.runtime.weights.reasons import Reason, WeightsError
from modelfort.runtime.weights.verify import (
    IN_TOTO_PAYLOAD_TYPE,
    KEY_BUNDLE_MEDIA_TYPE,
    TrustedKey,
    trusted_key_from,
)

KEY_SPEC = "ECC_NIST_P256"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
# KMS accepts a RAW message of at most 4096 bytes.
KMS_RAW_MESSAGE_LIMIT = 4096


class KmsSigner(sign_sigstore_pb.Signer):
    """Signs OMS payloads with an asymmetric KMS key; `public_key_pem` is the key's public half."""

    def __init__(self, kms: Any, key_id: str) -> None:
        """`kms` is a boto3 KMS client; `key_id` a key ARN, id or alias. Checks the key spec up front."""
        self._kms = kms
        self._key_id = key_id
        self._key = fetch_signing_key(kms, key_id)

    @property
    def public_key_pem(self) -> bytes:
        return self._key.pem

    def sign(self, payload: oms_signing.Payload) -> sign_sigstore_pb.Signature:
        # Serialised exactly as the library's EC-key signer does, so the payload bytes are the same.
        raw_payload = json_format.MessageToJson(payload.statement.pb).encode("utf-8")
        pae = sign_sigstore_pb.pae(raw_payload)
        message, message_type = kms_message_for(pae)
        signature = kms_sign(self._kms, self._key_id, message, message_type)
        self._check(pae, message, message_type, signature)
        envelope = intoto_pb.Envelope(
            payload=base64.b64encode(raw_payload),
            payload_type=IN_TOTO_PAYLOAD_TYPE,
            signatures=[intoto_pb.Signature(sig=base64.b64encode(signature), keyid="")],
        )
        return sign_sigstore_pb.Signature(
            bundle_pb.Bundle(
                media_type=KEY_BUNDLE_MEDIA_TYPE,
                verification_material=bundle_pb.VerificationMaterial(
                    public_key=common_pb.PublicKeyIdentifier(hint=self._key.fingerprint),
                    tlog_entries=[],
                ),
                dsse_envelope=envelope,
            )
        )

    def _check(self, pae: bytes, message: bytes, message_type: str, signature: bytes) -> None:
        """Refuse a KMS signature that verifiers would reject, before it can become release evidence."""
        try:
            self._key.public_key.verify(signature, pae, ec.ECDSA(hashes.SHA256()))
        except crypto_exceptions.InvalidSignature as error:
            raise WeightsError(
                Reason.KMS_SIGNATURE_MISMATCH,
                f"KMS key {self._key_id} returned a signature ({message_type}) that does not verify over the DSSE "
                "payload with its own public key; no signature was written",
            ) from error
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
    try:
        public_key = serialization.load_der_public_key(response["PublicKey"])
    except (KeyError, ValueError, crypto_exceptions.UnsupportedAlgorithm) as error:
        raise WeightsError(Reason.SIGNING_KEY_INVALID, f"KMS key {key_id} returned an unreadable public key") from error
    # The metadata said P-256; the key itself must agree, since it is what verifiers will be given.
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        raise WeightsError(Reason.SIGNING_KEY_INVALID, f"KMS key {key_id} did not return a P-256 EC public key")
    return trusted_key_from(public_key)


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
