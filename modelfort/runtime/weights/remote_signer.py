"""What every signer whose private key stays in a cloud KMS shares: the bundle, the local check, the public key.

model_signing 1.1.1 has no cloud-KMS signer. Its EC-key signer (`model_signing._signing.sign_ec_key.Signer`) signs
the DSSE pre-authentication encoding (PAE) of the in-toto statement with ECDSA over SHA-256 and wraps it in a
Sigstore bundle whose verification material is a public-key hint: the hex SHA-256 of the key's SubjectPublicKeyInfo
PEM. `RemoteKeySigner` builds the identical bundle around a signature made elsewhere (AWS KMS in `kms_signer`,
Cloud KMS in `cloud_kms_signer`), so `model_signing verify key --public_key` and `modelfort verify-weights` accept
it unchanged.

A subclass only says how to get an ECDSA P-256/SHA-256 signature over the PAE (`_sign_pae`) and may add a check of
its own (`_confirm`). Whatever the service returns is verified here first, locally, against the key's public half
and over the exact PAE the verifier will use: that is what guarantees verifiers accept it, and what catches a service
(or an emulator, or a fake) whose key is not what it claims. Nothing is returned, so nothing is written, until the
signature has passed.
"""

from __future__ import annotations

import abc
import base64

from cryptography import exceptions as crypto_exceptions
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf import json_format
from model_signing._signing import sign_sigstore_pb
from model_signing._signing import signing as oms_signing
from sigstore_models import intoto as intoto_pb
from sigstore_models.bundle import v1 as bundle_pb
from sigstore_models.common import v1 as common_pb

from modelfort.runtime.weights.reasons import Reason, WeightsError
from modelfort.runtime.weights.verify import (
    IN_TOTO_PAYLOAD_TYPE,
    KEY_BUNDLE_MEDIA_TYPE,
    TrustedKey,
    trusted_key_from,
)


class RemoteKeySigner(sign_sigstore_pb.Signer):
    """Signs OMS payloads with a P-256 key held by a service; `public_key_pem` is the key's public half.

    `key` is the public half the service returned (already checked to be P-256); `key_label` names the key in
    every message, e.g. "KMS key arn:aws:kms:…" or "Cloud KMS key version projects/…".
    """

    def __init__(self, key: TrustedKey, key_label: str) -> None:
        self._key = key
        self.key_label = key_label

    @property
    def public_key_pem(self) -> bytes:
        return self._key.pem

    def sign(self, payload: oms_signing.Payload) -> sign_sigstore_pb.Signature:
        # Serialised exactly as the library's EC-key signer does, so the payload bytes are the same.
        raw_payload = json_format.MessageToJson(payload.statement.pb).encode("utf-8")
        pae = sign_sigstore_pb.pae(raw_payload)
        signature, how = self._sign_pae(pae)
        self._verify_locally(pae, signature, how)
        self._confirm(pae, signature)
        return sign_sigstore_pb.Signature(key_bundle(raw_payload, signature, self._key.fingerprint))

    @abc.abstractmethod
    def _sign_pae(self, pae: bytes) -> tuple[bytes, str]:
        """The service's DER ECDSA signature over SHA-256(`pae`), and how it was asked for (for messages)."""

    def _confirm(self, pae: bytes, signature: bytes) -> None:
        """A further check by the service itself, after the local one passed; none by default."""

    def _verify_locally(self, pae: bytes, signature: bytes, how: str) -> None:
        """Refuse a signature that verifiers would reject, before it can become release evidence."""
        try:
            self._key.public_key.verify(signature, pae, ec.ECDSA(hashes.SHA256()))
        except crypto_exceptions.InvalidSignature as error:
            raise WeightsError(
                Reason.KMS_SIGNATURE_MISMATCH,
                f"{self.key_label} returned a signature ({how}) that does not verify over the DSSE payload with its "
                "own public key; no signature was written",
            ) from error


def key_bundle(raw_payload: bytes, signature: bytes, key_fingerprint: str) -> bundle_pb.Bundle:
    """The Sigstore bundle model_signing's EC-key signer writes: a DSSE envelope and the key's hint, no tlog."""
    envelope = intoto_pb.Envelope(
        payload=base64.b64encode(raw_payload),
        payload_type=IN_TOTO_PAYLOAD_TYPE,
        signatures=[intoto_pb.Signature(sig=base64.b64encode(signature), keyid="")],
    )
    return bundle_pb.Bundle(
        media_type=KEY_BUNDLE_MEDIA_TYPE,
        verification_material=bundle_pb.VerificationMaterial(
            public_key=common_pb.PublicKeyIdentifier(hint=key_fingerprint),
            tlog_entries=[],
        ),
        dsse_envelope=envelope,
    )


def load_p256_public_key(data: bytes, key_label: str, *, pem: bool) -> TrustedKey:
    """Parse the public key a service returned (PEM or DER SubjectPublicKeyInfo); refuse anything but P-256.

    The service's metadata already said P-256; the key itself must agree, since it is what verifiers will be given.
    """
    load = serialization.load_pem_public_key if pem else serialization.load_der_public_key
    try:
        public_key = load(data)
    except (ValueError, TypeError, crypto_exceptions.UnsupportedAlgorithm) as error:
        raise WeightsError(Reason.SIGNING_KEY_INVALID, f"{key_label} returned an unreadable public key") from error
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        raise WeightsError(Reason.SIGNING_KEY_INVALID, f"{key_label} did not return a P-256 EC public key")
    return trusted_key_from(public_key)
