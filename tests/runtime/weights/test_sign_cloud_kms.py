"""`modelfort sign --kms-key projects/…/cryptoKeyVersions/N`: signing with a Google Cloud KMS key version.

There is no Cloud KMS emulator, so `FakeCloudKms` stands in for the Cloud KMS v1 REST API on 127.0.0.1: it holds a
real `cryptography` key, signs digests with real ECDSA, computes real CRC32C values and checks the request's
`digestCrc32c` as Cloud KMS does. The code under test is the production client (`CloudKmsClient` over google-auth's
`AuthorizedSession`), so its JSON, base64, CRC32C, HTTP error and retry handling are exercised for real. Each test
then corrupts one thing (an integrity field, the signature, the algorithm, the answer's key name) or injects one
failure (403, 404, a disabled version, 503, a hang, no server) and checks that signing fails closed, with its reason,
before anything is written.

Nothing here talks to the real Cloud KMS: that the fake's wire format matches it rests on Google's REST reference
(camelCase JSON, bytes in base64, int64 as strings, false booleans omitted).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import google_crc32c
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, utils
from gcs_emulator import FakeGcs, anonymous_client, free_port
from google.auth import credentials as google_credentials
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials as TokenCredentials
from model_signing import verifying
from weights_helpers import MODEL_FILES, build_parser, make_model

from modelfort import cli as modelfort_cli
from modelfort.runtime.weights import cloud_kms_clients, signing
from modelfort.runtime.weights.cloud_kms_clients import CloudKmsClient, retry_policy
from modelfort.runtime.weights.cloud_kms_signer import key_version_name, names_cloud_kms_key
from modelfort.runtime.weights.hashing_policy import strict_hashing_config
from modelfort.runtime.weights.reasons import Reason, WeightsError

pytestmark = pytest.mark.control("WP-06", "ST-01")

REPO_ROOT = Path(__file__).resolve().parents[3]
KEY = "projects/modelfort-prod/locations/europe-west4/keyRings/zone-a/cryptoKeys/release-signing"
KEY_VERSION = f"{KEY}/cryptoKeyVersions/1"
P256 = "EC_SIGN_P256_SHA256"


def crc32c(data: bytes) -> int:
    return google_crc32c.value(data)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def public_pem(private_key: Any) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


# --- the stand-in for Cloud KMS ------------------------------------------------------------------------------------

# (method, request count so far) -> (HTTP status, Google status) to answer instead, or None. Method is
# "GetPublicKey" or "AsymmetricSign".
Fault = Callable[[str, int], "tuple[int, str] | None"]


class FakeCloudKms:
    """Cloud KMS v1 REST for one key version: real ECDSA, real CRC32C, and hooks to corrupt or refuse.

    `tamper_public_key` / `tamper_sign` may edit a response body (a JSON dict) before it is sent;
    `tamper_received_digest` edits the digest as if corrupted on its way in (Cloud KMS then refuses it, because its
    CRC32C no longer matches); `sign_with` makes the signature with another key (a KMS whose key is not what its
    public key says) and `signs_instead` over another digest (a KMS that signs something else), both with intact
    checksums; `delay_s` holds each answer back (a hang).
    """

    def __init__(self, name: str = KEY_VERSION, algorithm: str = P256, private_key: Any = None) -> None:
        self.name = name
        self.algorithm = algorithm
        self.private_key = private_key or ec.generate_private_key(ec.SECP256R1())
        self.pem = public_pem(self.private_key)
        self.fault: Fault | None = None
        self.tamper_public_key: Callable[[dict], None] | None = None
        self.tamper_sign: Callable[[dict], None] | None = None
        self.tamper_received_digest: Callable[[bytes], bytes] | None = None
        self.sign_with: Any = None
        self.signs_instead: Callable[[bytes], bytes] | None = None
        self.delay_s = 0.0
        self.requests: list[tuple[str, str, dict | None, str | None]] = []  # method, path, body, Authorization
        self.released = threading.Event()  # set at teardown, so a held answer never outlives the test
        self._lock = threading.Lock()

    def calls(self, method: str) -> int:
        return sum(1 for request in self.requests if request[0] == method)

    def handle(self, http_method: str, path: str, body: dict | None, authorization: str | None) -> tuple[int, dict]:
        prefix = f"/v1/{self.name}"
        if http_method == "GET" and path == f"{prefix}/publicKey":
            method = "GetPublicKey"
        elif http_method == "POST" and path == f"{prefix}:asymmetricSign":
            method = "AsymmetricSign"
        else:
            return _error(404, "NOT_FOUND", f"{path} not found")
        with self._lock:
            self.requests.append((method, path, body, authorization))
            before = len(self.requests) - 1
        if self.delay_s:
            self.released.wait(self.delay_s)
        if self.fault and (injected := self.fault(method, before)):
            return _error(*injected, f"injected {injected[1]}")
        return self._public_key() if method == "GetPublicKey" else self._sign(body or {})

    def _public_key(self) -> tuple[int, dict]:
        response = {
            "pem": self.pem,
            "algorithm": self.algorithm,
            "pemCrc32c": str(crc32c(self.pem.encode())),
            "name": self.name,
            "protectionLevel": "HSM",
        }
        if self.tamper_public_key:
            self.tamper_public_key(response)
        return 200, response

    def _sign(self, body: dict) -> tuple[int, dict]:
        digest = base64.b64decode(body["digest"]["sha256"])
        if self.tamper_received_digest:
            digest = self.tamper_received_digest(digest)
        verified = "digestCrc32c" in body
        if verified and int(body["digestCrc32c"]) != crc32c(digest):
            return _error(400, "INVALID_ARGUMENT", "The checksum in field digest_crc32c did not match the data")
        if len(digest) != 32:
            return _error(400, "INVALID_ARGUMENT", "digest must be 32 bytes for EC_SIGN_P256_SHA256")
        key = self.sign_with or self.private_key
        signed = self.signs_instead(digest) if self.signs_instead else digest
        signature = key.sign(signed, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        response = {"signature": b64(signature), "signatureCrc32c": str(crc32c(signature)), "name": self.name}
        if verified:  # proto3 JSON leaves a false boolean out
            response["verifiedDigestCrc32c"] = True
        response["protectionLevel"] = "HSM"
        if self.tamper_sign:
            self.tamper_sign(response)
        return 200, response


def _error(http_status: int, status: str, message: str) -> tuple[int, dict]:
    return http_status, {"error": {"code": http_status, "message": message, "status": status}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        fake: FakeCloudKms = self.server.fake  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else None
        status, response = fake.handle(self.command, self.path, body, self.headers.get("Authorization"))
        data = json.dumps(response).encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: requests are not logged, so pytest's output stays clean."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (read timeout) closes its end; that is expected here


@pytest.fixture
def kms() -> Iterator[FakeCloudKms]:
    yield FakeCloudKms()


@pytest.fixture
def kms_url(kms: FakeCloudKms) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = kms  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-cloud-kms", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        kms.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def fast_client(url: str, *, credentials: Any = None, deadline_s: float = 1.0, read_s: float = 2.0) -> CloudKmsClient:
    """The production client and retry predicate, with short backoff and deadline so fault tests take a second."""
    return CloudKmsClient(
        AuthorizedSession(credentials or AnonymousCredentials()),
        endpoint=url,
        retry=retry_policy(deadline_s, initial_backoff_s=0.02, max_backoff_s=0.1),
        timeout=(1.0, read_s),
    )


def _sign(tmp_path: Path, model_dir: Path, client: Any, kms_key: str = KEY_VERSION, **extra: Any):
    stdout, stderr = io.StringIO(), io.StringIO()
    exit_code = signing.run_sign(
        model_dir=model_dir,
        signature_path=tmp_path / "gcp.sig",
        private_key_path=None,
        kms_key_id=kms_key,
        upload_uri=extra.get("upload_uri"),
        public_key_out=tmp_path / "gcp.pub.pem",
        client_factory=extra.get("aws_factory") or _no_aws,
        gcs_client_factory=None,
        cloud_kms_client_factory=extra.get("factory") or (lambda: client),
        stdout=stdout,
        stderr=stderr,
    )
    return exit_code, stdout.getvalue().strip(), stderr.getvalue()


def _no_aws(service: str, region: str | None) -> Any:
    raise AssertionError(f"a Cloud KMS key must not build an AWS {service} client")


def _assert_nothing_written(tmp_path: Path, stdout: str) -> None:
    assert stdout == ""
    assert not (tmp_path / "gcp.sig").exists() and not (tmp_path / "gcp.pub.pem").exists()


@pytest.fixture
def hashed(monkeypatch) -> list[Path]:
    """Records every model the signer hashes, so a test can prove a refusal came before any hashing."""
    calls: list[Path] = []
    real = signing.hash_model_dir

    def recording(model_dir: Path, max_workers: int | None = None):
        calls.append(model_dir)
        return real(model_dir, max_workers)

    monkeypatch.setattr(signing, "hash_model_dir", recording)
    return calls


# --- the release flow, end to end ----------------------------------------------------------------------------------


def test_sign_with_a_key_version_then_verify_weights_accepts_it(kms, kms_url, tmp_path, capsys, monkeypatch) -> None:
    # Through `modelfort.cli.main`, as the pipeline runs it; only the Cloud KMS endpoint is the local stand-in.
    client = fast_client(kms_url, credentials=TokenCredentials(token="pipeline-token"))
    monkeypatch.setattr(cloud_kms_clients, "client_factory", lambda *args, **kwargs: lambda: client)
    model_dir = make_model(tmp_path / "model")
    signature = tmp_path / "llama-guard-3.1.0.sig"

    capsys.readouterr()
    assert modelfort_cli.main(["sign", str(model_dir), "--kms-key", KEY_VERSION, "--signature", str(signature)]) == 0
    signed = capsys.readouterr()
    root_digest = signed.out.strip()
    assert len(root_digest) == 64 and f"pin root digest {root_digest}" in signed.err

    # The public key as an operator publishes it: exactly the PEM GetPublicKey serves (`gcloud kms keys versions
    # get-public-key` writes the same).
    public_key = tmp_path / "release.pub.pem"
    public_key.write_text(kms.pem)
    exit_code = modelfort_cli.main(
        ["verify-weights", str(model_dir), "--signature", str(signature), "--public-key", str(public_key),
         "--root-digest", root_digest]
    )  # fmt: skip
    record = json.loads(capsys.readouterr().out)
    assert exit_code == 0 and record["outcome"] == "verified", record
    # And the library's own verifier (what `model_signing verify key` runs) accepts the bundle as well.
    verifying.Config().use_elliptic_key_verifier(public_key=public_key).set_hashing_config(
        strict_hashing_config()
    ).verify(model_dir, signature)

    # One GetPublicKey, one AsymmetricSign, both authenticated with the pipeline's token and checksummed.
    assert [request[0] for request in kms.requests] == ["GetPublicKey", "AsymmetricSign"]
    assert {request[3] for request in kms.requests} == {"Bearer pipeline-token"}
    sign_body = kms.requests[1][2]
    digest = base64.b64decode(sign_body["digest"]["sha256"])
    assert int(sign_body["digestCrc32c"]) == crc32c(digest) and len(digest) == 32


def test_a_large_model_signs_too(kms, kms_url, tmp_path, capsys) -> None:
    # AWS KMS switches from RAW to DIGEST above 4096 bytes of PAE; Cloud KMS always gets the digest, at any size.
    model_dir = make_model(tmp_path / "model", {f"shards/part-{i:03d}.bin": bytes([i]) * 32 for i in range(60)})

    exit_code, root_digest, stderr = _sign(tmp_path, model_dir, fast_client(kms_url))

    assert exit_code == 0, stderr
    assert (tmp_path / "gcp.pub.pem").read_text() == kms.pem
    verifying.Config().use_elliptic_key_verifier(public_key=tmp_path / "gcp.pub.pem").set_hashing_config(
        strict_hashing_config()
    ).verify(model_dir, tmp_path / "gcp.sig")


@pytest.fixture(scope="module")
def gcs() -> Iterator[FakeGcs]:
    server = FakeGcs()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_gcp_release_flow_signs_with_cloud_kms_and_uploads_to_cloud_storage(
    kms, kms_url, gcs, tmp_path, capsys, monkeypatch
) -> None:
    # docs/release-flow.md's GCP publish steps: sign with Cloud KMS, --upload gs://, publish the key and the weights;
    # then the init container verifies everything from Cloud Storage. The storage client is the production one,
    # pointed at fake-gcs-server by STORAGE_EMULATOR_HOST (as google-cloud-storage supports).
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    client = fast_client(kms_url)
    monkeypatch.setattr(cloud_kms_clients, "client_factory", lambda *args, **kwargs: lambda: client)
    storage = anonymous_client(gcs.url)
    suffix = uuid.uuid4().hex[:12]
    reference, weights = storage.create_bucket(f"reference-{suffix}"), storage.create_bucket(f"weights-{suffix}")
    model_dir = make_model(tmp_path / "llama-guard-3.1.0")
    upload = f"gs://{reference.name}/signatures/llama-guard/3.1.0.sig"

    capsys.readouterr()
    exit_code = modelfort_cli.main(
        ["sign", str(model_dir), "--kms-key", KEY_VERSION, "--signature", str(tmp_path / "m.sig"),
         "--public-key-out", str(tmp_path / "release.pub.pem"), "--upload", upload]
    )  # fmt: skip
    signed = capsys.readouterr()
    assert exit_code == 0, signed.err
    assert f"uploaded to {upload}" in signed.err
    stored = reference.blob("signatures/llama-guard/3.1.0.sig").download_as_bytes()
    assert stored == (tmp_path / "m.sig").read_bytes()

    reference.blob("keys/release.pub.pem").upload_from_string(kms.pem)
    for relative, content in MODEL_FILES.items():
        weights.blob(f"models/llama-guard/3.1.0/{relative}").upload_from_string(content)
    exit_code = modelfort_cli.main(
        ["verify-weights", f"gs://{weights.name}/models/llama-guard/3.1.0", "--signature", upload,
         "--public-key", f"gs://{reference.name}/keys/release.pub.pem", "--root-digest", signed.out.strip(),
         "--download-dir", str(tmp_path / "weights")]
    )  # fmt: skip
    record = json.loads(capsys.readouterr().out)
    assert exit_code == 0 and record["outcome"] == "verified", record

    # Signing the same release again never replaces the stored signature (and does not reach the bucket unsigned).
    exit_code = modelfort_cli.main(
        ["sign", str(model_dir), "--kms-key", KEY_VERSION, "--signature", str(tmp_path / "again.sig"),
         "--upload", upload]
    )  # fmt: skip
    assert exit_code == Reason.SIGNATURE_EXISTS.exit_code
    assert reference.blob("signatures/llama-guard/3.1.0.sig").download_as_bytes() == stored


# --- which KMS `--kms-key` names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kms_key",
    [
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-1234abcd12ab34cd56ef1234567890ab",
        "alias/model-release",
        # AWS aliases may contain slashes; one that happens to contain "projects/" is still an AWS alias.
        "alias/projects/release",
        "arn:aws:kms:eu-west-1:111122223333:alias/projects/release",
    ],
)
def test_aws_key_forms_still_go_to_aws_kms(kms_key: str, tmp_path: Path) -> None:
    assert not names_cloud_kms_key(kms_key)

    def aws_factory(service: str, region: str | None) -> Any:
        raise WeightsError(Reason.KMS_ERROR, f"AWS {service} client requested")

    def cloud_factory() -> Any:
        raise AssertionError("an AWS key must not build a Cloud KMS client")

    exit_code, _, stderr = _sign(
        tmp_path, make_model(tmp_path / "model"), None, kms_key, aws_factory=aws_factory, factory=cloud_factory
    )
    assert exit_code == Reason.KMS_ERROR.exit_code and "AWS kms client requested" in stderr


@pytest.mark.parametrize(
    "kms_key",
    [
        KEY_VERSION,
        "projects/123456789012/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/12",
        "projects/example.com:release/locations/us/keyRings/ring_1/cryptoKeys/key-1/cryptoKeyVersions/3",
    ],
)
def test_key_version_names_are_accepted(kms_key: str) -> None:
    assert names_cloud_kms_key(kms_key) and key_version_name(kms_key) == kms_key


@pytest.mark.parametrize("kms_key", [KEY, f"{KEY}/"])
def test_a_key_without_its_version_is_refused_before_anything_else(kms_key, tmp_path, hashed) -> None:
    # ModelReferenceStore exports the key's id (…/cryptoKeys/K); Cloud KMS signs with a version, so say which.
    def cloud_factory() -> Any:
        raise AssertionError("a malformed name must be refused before any client is built")

    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), None, kms_key, factory=cloud_factory)

    assert exit_code == Reason.SIGNING_KEY_INVALID.exit_code, stderr
    assert "signing_key_invalid" in stderr and "not a key version" in stderr
    assert f"{KEY}/cryptoKeyVersions/N" in stderr
    assert hashed == []
    _assert_nothing_written(tmp_path, stdout)


@pytest.mark.parametrize(
    "kms_key",
    [
        "projects/p/locations/l/keyRings/r",
        f"{KEY}/cryptoKeyVersions/latest",
        f"{KEY}/cryptoKeyVersions/0",
        f"{KEY}/cryptoKeyVersions/1/extra",
        f"{KEY}/cryptoKeyVersions/1\n",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k k/cryptoKeyVersions/1",
        f"//cloudkms.googleapis.com/{KEY_VERSION}",
        f"gcpkms://{KEY_VERSION}",
    ],
)
def test_malformed_cloud_kms_names_are_refused(kms_key: str, tmp_path: Path, hashed) -> None:
    assert names_cloud_kms_key(kms_key)
    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), None, kms_key)

    assert exit_code == Reason.SIGNING_KEY_INVALID.exit_code, stderr
    assert "projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N" in stderr
    assert hashed == []
    _assert_nothing_written(tmp_path, stdout)


# --- the key version's algorithm and public key --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [
        ("EC_SIGN_P384_SHA384", lambda: ec.generate_private_key(ec.SECP384R1())),
        ("EC_SIGN_SECP256K1_SHA256", lambda: ec.generate_private_key(ec.SECP256K1())),
        ("RSA_SIGN_PKCS1_2048_SHA256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("RSA_SIGN_PSS_3072_SHA256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072)),
        ("EC_SIGN_ED25519", ed25519.Ed25519PrivateKey.generate),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_other_algorithms_are_refused_before_the_model_is_hashed(
    algorithm, make_key, tmp_path, kms_url, kms, hashed
) -> None:
    # Each with a public key of its own kind, as Cloud KMS would serve it.
    kms.algorithm, kms.pem = algorithm, public_pem(make_key())

    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), fast_client(kms_url))

    assert exit_code == Reason.SIGNING_KEY_INVALID.exit_code, stderr
    assert f"{KEY_VERSION} is {algorithm}; only {P256}" in stderr
    assert hashed == [] and kms.calls("AsymmetricSign") == 0
    _assert_nothing_written(tmp_path, stdout)


def test_a_public_key_that_is_not_p256_is_refused_whatever_the_algorithm_says(tmp_path, kms_url, kms) -> None:
    kms.pem = public_pem(ec.generate_private_key(ec.SECP384R1()))  # metadata still says P-256

    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), fast_client(kms_url))

    assert exit_code == Reason.SIGNING_KEY_INVALID.exit_code, stderr
    assert "did not return a P-256 EC public key" in stderr
    _assert_nothing_written(tmp_path, stdout)


def _set(field: str, value: Any) -> Callable[[dict], None]:
    def tamper(body: dict) -> None:
        if value is None:
            body.pop(field, None)
        else:
            body[field] = value

    return tamper


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda body: body.update(pemCrc32c=str(int(body["pemCrc32c"]) ^ 1)), "the public key's CRC32C is"),
        (_set("pemCrc32c", None), "the public key's CRC32C is None"),
        # The PEM changed after KMS checksummed it (corrupted in transit): still a valid P-256 key, another one.
        (lambda body: body.update(pem=public_pem(ec.generate_private_key(ec.SECP256R1()))), "the PEM received has"),
        (_set("name", f"{KEY}/cryptoKeyVersions/2"), "GetPublicKey answered for"),
    ],
    ids=["crc mismatch", "crc missing", "pem replaced", "other version"],
)
def test_public_key_integrity_failures_are_refused(tamper, expected, tmp_path, kms_url, kms, hashed) -> None:
    kms.tamper_public_key = tamper

    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), fast_client(kms_url))

    assert exit_code == Reason.KMS_ERROR.exit_code, stderr
    assert f"Cloud KMS key version {KEY_VERSION}: integrity check failed" in stderr and expected in stderr
    assert hashed == [] and kms.calls("AsymmetricSign") == 0
    _assert_nothing_written(tmp_path, stdout)


# --- the signature -------------------------------------------------------------------------------------------------


def _flip_signature_byte(body: dict) -> None:
    """Corrupt the signature after KMS computed its CRC32C, as a bad link would."""
    signature = bytearray(base64.b64decode(body["signature"]))
    signature[-1] ^= 0x01
    body["signature"] = b64(bytes(signature))


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_flip_signature_byte, "the signature's CRC32C is"),
        (lambda body: body.update(signatureCrc32c=str(int(body["signatureCrc32c"]) ^ 1)), "the signature's CRC32C"),
        (_set("signatureCrc32c", None), "the signature's CRC32C is None"),
        (_set("verifiedDigestCrc32c", None), "did not confirm the digest's CRC32C"),
        (_set("name", f"{KEY}/cryptoKeyVersions/2"), "AsymmetricSign answered for"),
    ],
    ids=["signature corrupted", "crc mismatch", "crc missing", "digest crc not verified", "other version"],
)
def test_sign_response_integrity_failures_are_refused(tamper, expected, tmp_path, kms_url, kms) -> None:
    kms.tamper_sign = tamper

    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), fast_client(kms_url))

    assert exit_code == Reason.KMS_ERROR.exit_code, stderr
    assert f"Cloud KMS key version {KEY_VERSION}: integrity check failed" in stderr and expected in stderr
    assert kms.calls("AsymmetricSign") == 1  # an integrity failure is not retried: the pipeline runs again
    _assert_nothing_written(tmp_path, stdout)


def test_a_digest_corrupted_on_its_way_to_kms_is_refused_by_kms(tmp_path, kms_url, kms) -> None:
    # The request's digest_crc32c is what lets Cloud KMS notice; it answers INVALID_ARGUMENT and signs nothing.
    kms.tamper_received_digest = lambda digest: bytes([digest[0] ^ 0x01]) + digest[1:]

    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), fast_client(kms_url))

    assert exit_code == Reason.KMS_ERROR.exit_code, stderr
    assert f"AsymmetricSign with key version {KEY_VERSION} failed: INVALID_ARGUMENT" in stderr
    assert "corrupted in transit" in stderr
    _assert_nothing_written(tmp_path, stdout)


GARBAGE_DER_SIGNATURE = bytes.fromhex("3006020101020101")  # a well-formed DER ECDSA signature (r=1, s=1)


@pytest.mark.parametrize("corrupt", ["another key", "another digest", "garbage"])
def test_a_signature_that_does_not_verify_is_a_mismatch(corrupt, tmp_path, kms_url, kms) -> None:
    # Checksums intact (KMS itself returned these bytes), but they are not a signature by this key over this PAE.
    if corrupt == "another key":
        kms.sign_with = ec.generate_private_key(ec.SECP256R1())
    elif corrupt == "another digest":
        kms.signs_instead = lambda digest: hashlib.sha256(digest).digest()
    else:
        kms.tamper_sign = lambda body: body.update(
            signature=b64(GARBAGE_DER_SIGNATURE), signatureCrc32c=str(crc32c(GARBAGE_DER_SIGNATURE))
        )

    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), fast_client(kms_url))

    assert exit_code == Reason.KMS_SIGNATURE_MISMATCH.exit_code, stderr
    assert "kms_signature_mismatch" in stderr and f"Cloud KMS key version {KEY_VERSION} returned a signature" in stderr
    _assert_nothing_written(tmp_path, stdout)


# --- Cloud KMS refusing, failing, or absent ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "http_status", "status", "hint"),
    [
        ("GetPublicKey", 403, "PERMISSION_DENIED", "roles/cloudkms.signer and roles/cloudkms.publicKeyViewer"),
        ("AsymmetricSign", 403, "PERMISSION_DENIED", "roles/cloudkms.signer"),
        ("GetPublicKey", 404, "NOT_FOUND", "check the project, location, key ring, key and version number"),
        ("AsymmetricSign", 400, "FAILED_PRECONDITION", "enable it or name an enabled version"),
        ("AsymmetricSign", 429, "RESOURCE_EXHAUSTED", "quota"),
    ],
)
def test_refusals_are_kms_errors_and_are_not_retried(method, http_status, status, hint, tmp_path, kms_url, kms):
    kms.fault = lambda called, before: (http_status, status) if called == method else None

    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), fast_client(kms_url))

    assert exit_code == Reason.KMS_ERROR.exit_code, stderr
    assert "kms_error" in stderr and KEY_VERSION in stderr
    assert f"{status} (HTTP {http_status}): injected {status}" in stderr and hint in stderr
    assert kms.calls(method) == 1
    _assert_nothing_written(tmp_path, stdout)


class RefreshingCredentials(google_credentials.Credentials):
    """Credentials that can refresh (as a service account's can), each refresh giving a new token."""

    def __init__(self) -> None:
        super().__init__()
        self.refreshes = 0

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = f"token-{self.refreshes}"


def test_refused_credentials_are_refreshed_then_reported(tmp_path, kms_url, kms) -> None:
    # google-auth's AuthorizedSession refreshes the token on a 401 and tries again (twice); then it is a kms_error.
    kms.fault = lambda called, before: (401, "UNAUTHENTICATED")
    credentials = RefreshingCredentials()

    exit_code, stdout, stderr = _sign(
        tmp_path, make_model(tmp_path / "model"), fast_client(kms_url, credentials=credentials)
    )

    assert exit_code == Reason.KMS_ERROR.exit_code, stderr
    assert "UNAUTHENTICATED (HTTP 401)" in stderr and "credentials were refused" in stderr
    assert [request[3] for request in kms.requests] == ["Bearer token-1", "Bearer token-2", "Bearer token-3"]
    _assert_nothing_written(tmp_path, stdout)


@pytest.mark.parametrize(
    ("method", "http_status", "status"),
    [("GetPublicKey", 503, "UNAVAILABLE"), ("AsymmetricSign", 504, "DEADLINE_EXCEEDED")],
)
def test_an_unavailable_kms_fails_after_bounded_retries(method, http_status, status, tmp_path, kms_url, kms) -> None:
    kms.fault = lambda called, before: (http_status, status) if called == method else None

    started = time.monotonic()
    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), fast_client(kms_url, deadline_s=1.0))
    elapsed = time.monotonic() - started

    assert exit_code == Reason.KMS_ERROR.exit_code, stderr
    assert "RetryError" in stderr and f"last error: {status}" in stderr and KEY_VERSION in stderr
    assert kms.calls(method) >= 3  # retried, with backoff, until the deadline
    assert elapsed < 5
    _assert_nothing_written(tmp_path, stdout)


def test_a_transient_outage_is_retried_and_signing_succeeds(tmp_path, kms_url, kms) -> None:
    kms.fault = lambda called, before: (503, "UNAVAILABLE") if before < 2 else None

    exit_code, root_digest, stderr = _sign(tmp_path, make_model(tmp_path / "model"), fast_client(kms_url))

    assert exit_code == 0, stderr
    assert [request[0] for request in kms.requests] == ["GetPublicKey"] * 3 + ["AsymmetricSign"]


def test_a_hanging_kms_times_out_within_the_deadline(tmp_path, kms_url, kms) -> None:
    kms.delay_s = 30  # far longer than the test's read timeout; released at teardown

    started = time.monotonic()
    exit_code, stdout, stderr = _sign(
        tmp_path, make_model(tmp_path / "model"), fast_client(kms_url, deadline_s=1.0, read_s=0.3)
    )
    elapsed = time.monotonic() - started

    assert exit_code == Reason.KMS_ERROR.exit_code, stderr
    assert "RetryError" in stderr and "ReadTimeout" in stderr
    assert elapsed < 5
    _assert_nothing_written(tmp_path, stdout)


def test_an_unreachable_kms_fails_in_seconds(tmp_path) -> None:
    client = fast_client(f"http://127.0.0.1:{free_port()}", deadline_s=1.0)  # nothing listens there

    started = time.monotonic()
    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), client)

    assert exit_code == Reason.KMS_ERROR.exit_code, stderr
    assert "RetryError" in stderr and "ConnectionError" in stderr
    assert time.monotonic() - started < 5
    _assert_nothing_written(tmp_path, stdout)


def test_a_body_that_is_not_cloud_kms_json_is_a_kms_error(tmp_path, kms_url, kms) -> None:
    kms.tamper_public_key = lambda body: body.update(pemCrc32c={"value": "1"})

    exit_code, stdout, stderr = _sign(tmp_path, make_model(tmp_path / "model"), fast_client(kms_url))

    assert exit_code == Reason.KMS_ERROR.exit_code, stderr
    assert "CloudKmsResponseError" in stderr and "'pemCrc32c' is not an int64" in stderr
    _assert_nothing_written(tmp_path, stdout)


def test_no_google_credentials_is_a_kms_error(tmp_path, capsys, monkeypatch) -> None:
    # The production factory and Application Default Credentials, with nothing to find.
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    model_dir = make_model(tmp_path / "model")

    capsys.readouterr()
    exit_code = modelfort_cli.main(
        ["sign", str(model_dir), "--kms-key", KEY_VERSION, "--signature", str(tmp_path / "gcp.sig")]
    )
    result = capsys.readouterr()

    assert exit_code == Reason.KMS_ERROR.exit_code, result.err
    assert f"cannot create a Cloud KMS client for key version {KEY_VERSION}: DefaultCredentialsError" in result.err
    assert "run as the publisher service account" in result.err
    _assert_nothing_written(tmp_path, result.out)


def test_production_retry_budget_is_bounded() -> None:
    # An unavailable Cloud KMS must end a release in seconds: a 20 s retry deadline, 5 s connect / 10 s read.
    policy = retry_policy()
    assert policy._timeout == cloud_kms_clients.RETRY_DEADLINE_S == 20.0
    assert (cloud_kms_clients.CONNECT_TIMEOUT_S, cloud_kms_clients.READ_TIMEOUT_S) == (5.0, 10.0)
    with pytest.raises(ValueError):
        retry_policy(0)


# --- the CLI -------------------------------------------------------------------------------------------------------


def test_sign_has_no_new_option_kms_key_takes_both_clouds() -> None:
    # One --kms-key for both clouds: its form says which. Adding an option must be a conscious change.
    sign = build_parser()._subparsers._group_actions[0].choices["sign"]
    options = {option for action in sign._actions for option in action.option_strings}
    assert options == {
        "-h", "--help", "--signature", "--private-key", "--kms-key", "--upload", "--public-key-out", "--max-attempts",
    }  # fmt: skip
    kms_help = next(action.help for action in sign._actions if "--kms-key" in action.option_strings)
    assert "cryptoKeyVersions/N" in kms_help and "EC_SIGN_P256_SHA256" in kms_help and "ARN" in kms_help


def test_signing_modules_load_no_google_client_library_until_a_cloud_kms_key_is_used() -> None:
    # AWS-only users never pay for google-auth or google-api-core. And google-cloud-kms must stay uninstalled:
    # securesystemslib (imported by model_signing) imports it whenever it is present, which would load it and gRPC
    # into every verify-weights process (see cloud_kms_clients' docstring).
    code = (
        "import sys, modelfort.runtime.weights.signing, modelfort.runtime.weights.cloud_kms_signer, "
        "modelfort.runtime.weights.kms_signer; "
        "print([m for m in ('google.cloud.kms', 'grpc', 'google.auth', 'google.api_core', 'google_crc32c') "
        "if m in sys.modules])"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
