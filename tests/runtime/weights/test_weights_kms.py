"""Signing through AWS KMS (moto): bundles the model_signing key verifier accepts, and every KMS failure fails closed.

moto signs what it is given after hashing it, whatever MessageType says (see reference/testing-notes.md), so:
- a small model's PAE goes as RAW and moto's signature is exactly what real KMS would return;
- a large model's PAE goes as SHA-256 DIGEST; moto hashes it again, and the signer's self-check must refuse the
  result. The DIGEST path itself is proven against a fake client with real KMS semantics.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from model_signing import verifying
from moto import mock_aws
from weights_helpers import MODEL_FILES, make_model, run_cli, verify_argv

from modelfort.runtime.weights.hashing_policy import strict_hashing_config
from modelfort.runtime.weights.kms_signer import KMS_RAW_MESSAGE_LIMIT, KmsSigner, kms_signature_is_valid
from modelfort.runtime.weights.reasons import Reason, WeightsError
from modelfort.runtime.weights.signing import run_sign

pytestmark = [pytest.mark.control("WP-05", "ST-01", "DP-01"), pytest.mark.usefixtures("aws_env")]

REGION = "us-east-1"


class RecordingKms:
    """A KMS client that records the MessageType of each Sign call and can force Verify's answer."""

    def __init__(self, client: Any, verify_answer: bool | None = None) -> None:
        self._client = client
        self._verify_answer = verify_answer
        self.message_types: list[str] = []

    def get_public_key(self, **kwargs: Any) -> Any:
        return self._client.get_public_key(**kwargs)

    def sign(self, **kwargs: Any) -> Any:
        self.message_types.append(kwargs["MessageType"])
        return self._client.sign(**kwargs)

    def verify(self, **kwargs: Any) -> Any:
        if self._verify_answer is not None:
            return {"SignatureValid": self._verify_answer}
        return self._client.verify(**kwargs)


class RealSemanticsKms:
    """A local stand-in with real KMS semantics: DIGEST is signed as given (prehashed), RAW is hashed once."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.message_types: list[str] = []

    def get_public_key(self, KeyId: str) -> dict:
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "PublicKey": der,
            "KeySpec": "ECC_NIST_P256",
            "KeyUsage": "SIGN_VERIFY",
            "SigningAlgorithms": ["ECDSA_SHA_256"],
        }

    def sign(self, KeyId: str, Message: bytes, MessageType: str, SigningAlgorithm: str) -> dict:
        self.message_types.append(MessageType)
        algorithm = utils.Prehashed(hashes.SHA256()) if MessageType == "DIGEST" else hashes.SHA256()
        return {"Signature": self._key.sign(Message, ec.ECDSA(algorithm))}

    def verify(self, **kwargs: Any) -> dict:
        algorithm = utils.Prehashed(hashes.SHA256()) if kwargs["MessageType"] == "DIGEST" else hashes.SHA256()
        try:
            self._key.public_key().verify(kwargs["Signature"], kwargs["Message"], ec.ECDSA(algorithm))
        except Exception:
            return {"SignatureValid": False}
        return {"SignatureValid": True}


def _create_key(kms: Any, key_spec: str = "ECC_NIST_P256", key_usage: str = "SIGN_VERIFY") -> str:
    return kms.create_key(KeySpec=key_spec, KeyUsage=key_usage)["KeyMetadata"]["Arn"]


def _sign(tmp_path: Path, model_dir: Path, kms_client: Any, key_id: str, **extra: Any) -> tuple[int, str, str]:
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    exit_code = run_sign(
        model_dir=model_dir,
        signature_path=tmp_path / "kms.sig",
        private_key_path=None,
        kms_key_id=key_id,
        upload_uri=extra.get("upload_uri"),
        public_key_out=tmp_path / "kms.pub.pem",
        client_factory=lambda service, region: (
            kms_client if service == "kms" else boto3.client(service, region_name=REGION)
        ),
        stdout=stdout,
        stderr=stderr,
    )
    return exit_code, stdout.getvalue().strip(), stderr.getvalue()


def _many_files() -> dict[str, bytes]:
    return {f"shards/part-{index:03d}.bin": bytes([index]) * 32 for index in range(60)}


@mock_aws
def test_kms_signed_bundle_is_accepted_by_both_verifiers(tmp_path: Path, capsys) -> None:
    kms = RecordingKms(boto3.client("kms", region_name=REGION))
    key_arn = _create_key(kms._client)
    model_dir = make_model(tmp_path / "model")

    exit_code, root_digest, stderr = _sign(tmp_path, model_dir, kms, key_arn)

    assert exit_code == 0, stderr
    assert kms.message_types == ["RAW"]  # a small model's PAE fits KMS's RAW limit
    result = run_cli(verify_argv(model_dir, tmp_path / "kms.sig", tmp_path / "kms.pub.pem", root_digest), capsys)
    assert result.exit_code == 0 and result.record["outcome"] == "verified"
    verifying.Config().use_elliptic_key_verifier(public_key=tmp_path / "kms.pub.pem").set_hashing_config(
        strict_hashing_config()
    ).verify(model_dir, tmp_path / "kms.sig")


@mock_aws
def test_kms_signing_through_the_cli_resolves_the_region_from_the_arn(tmp_path: Path, capsys, monkeypatch) -> None:
    key_arn = _create_key(boto3.client("kms", region_name="eu-west-1"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the key is elsewhere; the ARN must win
    model_dir = make_model(tmp_path / "model")

    result = run_cli(
        [
            "sign",
            model_dir,
            "--signature",
            tmp_path / "m.sig",
            "--kms-key",
            key_arn,
            "--public-key-out",
            tmp_path / "p.pem",
        ],
        capsys,
    )

    assert result.exit_code == 0, result.stderr
    verify = run_cli(verify_argv(model_dir, tmp_path / "m.sig", tmp_path / "p.pem", result.stdout.strip()), capsys)
    assert verify.exit_code == 0


@mock_aws
def test_moto_double_hashed_digest_is_caught_before_anything_is_written(tmp_path: Path) -> None:
    kms = RecordingKms(boto3.client("kms", region_name=REGION))
    key_arn = _create_key(kms._client)
    model_dir = make_model(tmp_path / "model", _many_files())  # PAE > 4096 bytes -> DIGEST

    exit_code, stdout, stderr = _sign(tmp_path, model_dir, kms, key_arn)

    assert kms.message_types == ["DIGEST"]
    assert exit_code == Reason.KMS_SIGNATURE_MISMATCH.exit_code
    assert "kms_signature_mismatch" in stderr and stdout == ""
    assert not (tmp_path / "kms.sig").exists()


def test_digest_path_with_real_kms_semantics_verifies(tmp_path: Path, capsys) -> None:
    kms = RealSemanticsKms()
    model_dir = make_model(tmp_path / "model", _many_files())

    exit_code, root_digest, stderr = _sign(tmp_path, model_dir, kms, "alias/model-release")

    assert exit_code == 0, stderr
    assert kms.message_types == ["DIGEST"]
    result = run_cli(verify_argv(model_dir, tmp_path / "kms.sig", tmp_path / "kms.pub.pem", root_digest), capsys)
    assert result.exit_code == 0


def test_raw_limit_is_the_kms_limit() -> None:
    assert KMS_RAW_MESSAGE_LIMIT == 4096


@mock_aws
def test_kms_verify_saying_invalid_stops_signing(tmp_path: Path) -> None:
    client = boto3.client("kms", region_name=REGION)
    kms = RecordingKms(client, verify_answer=False)
    model_dir = make_model(tmp_path / "model")

    exit_code, _, stderr = _sign(tmp_path, model_dir, kms, _create_key(client))

    assert exit_code == Reason.KMS_SIGNATURE_MISMATCH.exit_code
    assert "KMS Verify rejected" in stderr
    assert not (tmp_path / "kms.sig").exists()


@mock_aws
def test_kms_signature_is_valid_handles_moto_signature_valid_false() -> None:
    kms = boto3.client("kms", region_name=REGION)
    key_arn = _create_key(kms)
    message = b"DSSEv1 28 application/vnd.in-toto+json 2 {}"
    signature = kms.sign(KeyId=key_arn, Message=message, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]

    assert kms_signature_is_valid(kms, key_arn, message, "RAW", signature) is True
    assert kms_signature_is_valid(kms, key_arn, message + b"!", "RAW", signature) is False


def test_kms_signature_is_valid_handles_aws_invalid_signature_exception() -> None:
    kms = boto3.client("kms", region_name=REGION)
    with Stubber(kms) as stubber:
        stubber.add_client_error("verify", service_error_code="KMSInvalidSignatureException", http_status_code=400)
        assert kms_signature_is_valid(kms, "alias/k", b"m", "RAW", b"s") is False


def test_kms_verify_errors_other_than_invalid_signature_are_not_an_answer() -> None:
    kms = boto3.client("kms", region_name=REGION)
    with Stubber(kms) as stubber:
        stubber.add_client_error("verify", service_error_code="AccessDeniedException", http_status_code=400)
        with pytest.raises(WeightsError) as raised:
            kms_signature_is_valid(kms, "alias/k", b"m", "RAW", b"s")
    assert raised.value.reason is Reason.KMS_ERROR


@pytest.mark.parametrize(
    ("key_spec", "key_usage"),
    [("RSA_2048", "SIGN_VERIFY"), ("ECC_NIST_P384", "SIGN_VERIFY"), ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")],
)
@mock_aws
def test_keys_other_than_p256_signing_keys_are_refused(tmp_path: Path, key_spec: str, key_usage: str) -> None:
    client = boto3.client("kms", region_name=REGION)
    key_arn = _create_key(client, key_spec, key_usage)

    exit_code, _, stderr = _sign(tmp_path, make_model(tmp_path / "model"), client, key_arn)

    assert exit_code == Reason.SIGNING_KEY_INVALID.exit_code, stderr
    assert key_spec in stderr
    assert not (tmp_path / "kms.sig").exists()


@mock_aws
def test_unknown_kms_key_is_a_kms_error(tmp_path: Path) -> None:
    client = boto3.client("kms", region_name=REGION)
    exit_code, _, stderr = _sign(
        tmp_path, make_model(tmp_path / "model"), client, "arn:aws:kms:us-east-1:123456789012:key/does-not-exist"
    )
    assert exit_code == Reason.KMS_ERROR.exit_code
    assert "NotFoundException" in stderr


@pytest.mark.control("WP-06")
@mock_aws
def test_signature_is_uploaded_to_the_reference_store_once(tmp_path: Path, capsys) -> None:
    client = boto3.client("kms", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="reference-store")
    key_arn = _create_key(client)
    model_dir = make_model(tmp_path / "model")

    exit_code, root_digest, stderr = _sign(
        tmp_path, model_dir, client, key_arn, upload_uri="s3://reference-store/llama/v1/model.sig"
    )

    assert exit_code == 0, stderr
    stored = s3.get_object(Bucket="reference-store", Key="llama/v1/model.sig")["Body"].read()
    assert stored == (tmp_path / "kms.sig").read_bytes()
    result = run_cli(
        verify_argv(model_dir, "s3://reference-store/llama/v1/model.sig", tmp_path / "kms.pub.pem", root_digest), capsys
    )
    assert result.exit_code == 0

    # Re-signing to the same reference-store key must not replace the stored evidence.
    (tmp_path / "kms.sig").unlink()
    (tmp_path / "kms.pub.pem").unlink()
    (model_dir / "config.json").write_bytes(b"{}")
    exit_code, _, stderr = _sign(
        tmp_path, model_dir, client, key_arn, upload_uri="s3://reference-store/llama/v1/model.sig"
    )
    assert exit_code == Reason.SIGNATURE_EXISTS.exit_code, stderr
    assert s3.get_object(Bucket="reference-store", Key="llama/v1/model.sig")["Body"].read() == stored


def test_kms_signer_refuses_a_key_that_is_not_ec(tmp_path: Path) -> None:
    class RsaKms(RealSemanticsKms):
        def get_public_key(self, KeyId: str) -> dict:
            from cryptography.hazmat.primitives.asymmetric import rsa

            der = (
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
                .public_key()
                .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            )
            return {**super().get_public_key(KeyId), "PublicKey": der}

    with pytest.raises(WeightsError) as raised:
        KmsSigner(RsaKms(), "alias/lying-key")
    assert raised.value.reason is Reason.SIGNING_KEY_INVALID


def test_many_file_manifest_really_exceeds_the_raw_limit(tmp_path: Path) -> None:
    # Guards the DIGEST tests above: they only prove something if the PAE is over the limit.
    from google.protobuf import json_format
    from model_signing._signing import sign_sigstore_pb
    from model_signing._signing import signing as oms_signing

    manifest = strict_hashing_config().hash(make_model(tmp_path / "model", _many_files()))
    payload = json_format.MessageToJson(oms_signing.Payload(manifest).statement.pb).encode()
    assert len(sign_sigstore_pb.pae(payload)) > KMS_RAW_MESSAGE_LIMIT
    small = strict_hashing_config().hash(make_model(tmp_path / "small", MODEL_FILES))
    small_payload = json_format.MessageToJson(oms_signing.Payload(small).statement.pb).encode()
    assert len(sign_sigstore_pb.pae(small_payload)) <= KMS_RAW_MESSAGE_LIMIT
    assert hashlib.sha256(payload).hexdigest()  # payload is bytes, as KMS needs
