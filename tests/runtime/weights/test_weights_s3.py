"""verify-weights against S3 (moto): download, verify, clean up on failure; precise reasons for every S3 failure.

Throttling and outages are injected on botocore's own send path (`before-send`, which runs inside botocore's retry
loop), so the retry mode, backoff and attempt cap under test are exactly the ones used against AWS. Backoff sleeps
are recorded instead of slept, to keep the suite fast.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws
from moto.core.botocore_stubber import MockRawResponse
from weights_helpers import MODEL_FILES, run_cli, verify_argv

from modelfort.runtime.weights import startup
from modelfort.runtime.weights.aws_clients import retry_config
from modelfort.runtime.weights.reasons import Reason
from modelfort.runtime.weights.startup import VerifyRequest, run_verify_weights

pytestmark = [pytest.mark.control("WP-05", "WP-06", "ST-01", "ST-07"), pytest.mark.usefixtures("aws_env")]

REGION = "us-east-1"
MODELS = "model-weights"
REFERENCE = "reference-store"
MODEL_URI = f"s3://{MODELS}/llama/v2"
SIGNATURE_URI = f"s3://{REFERENCE}/llama/v2/model.sig"
PUBLIC_KEY_URI = f"s3://{REFERENCE}/keys/release.pub.pem"


@pytest.fixture
def s3_release(release, aws_env):
    """The signed tiny model uploaded to a model bucket, its signature and key to the reference store (moto)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=MODELS)
        s3.create_bucket(Bucket=REFERENCE)
        for relative, content in MODEL_FILES.items():
            s3.put_object(Bucket=MODELS, Key=f"llama/v2/{relative}", Body=content)
        s3.put_object(Bucket=REFERENCE, Key="llama/v2/model.sig", Body=release.signature.read_bytes())
        s3.put_object(Bucket=REFERENCE, Key="keys/release.pub.pem", Body=release.public_key.read_bytes())
        yield release, s3


class S3Faults:
    """Answers S3 requests with an error (or raises a connection error) before they reach moto.

    `failures` limits how many requests fail in total (None: all of them); `attempts` counts every request seen
    per operation, so a test can assert exactly how many tries botocore made.
    """

    def __init__(
        self,
        client: Any,
        *,
        status: int = 503,
        code: str = "SlowDown",
        failures: int | None = None,
        connection_error: bool = False,
    ) -> None:
        self.status, self.code, self.remaining, self.connection_error = status, code, failures, connection_error
        self.attempts: Counter[str] = Counter()
        client.meta.events.register_first("before-send.s3", self._answer)

    def _answer(self, request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        self.attempts[event_name.rsplit(".", 1)[-1]] += 1
        if self.remaining is not None:
            if self.remaining <= 0:
                return None
            self.remaining -= 1
        if self.connection_error:
            raise EndpointConnectionError(endpoint_url=request.url)
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{self.code}</Code><Message>injected</Message></Error>"
        )
        return AWSResponse(request.url, self.status, {"Content-Type": "application/xml"}, MockRawResponse(body))


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Backoff delays botocore asked for (recorded, not slept)."""
    recorded: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", recorded.append)
    return recorded


def _request(tmp_path: Path, release, **overrides: Any) -> VerifyRequest:
    values = {
        "model": MODEL_URI,
        "signature": SIGNATURE_URI,
        "public_key": PUBLIC_KEY_URI,
        "root_digest": release.root_digest,
        "model_version": "v2",
        "download_dir": str(tmp_path / "weights"),
        **overrides,
    }
    return VerifyRequest(**values)


def _run(request: VerifyRequest, client: Any) -> tuple[int, dict]:
    stdout, stderr = io.StringIO(), io.StringIO()
    exit_code = run_verify_weights(request, client_factory=lambda service, region: client, stdout=stdout, stderr=stderr)
    lines = stdout.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert stderr.getvalue() == ""
    return exit_code, json.loads(lines[0])


def _client(max_attempts: int = 3) -> Any:
    return boto3.client("s3", region_name=REGION, config=retry_config(max_attempts))


def test_verify_weights_from_s3_through_the_cli(s3_release, tmp_path: Path, capsys) -> None:
    release, _ = s3_release
    download_dir = tmp_path / "weights"

    result = run_cli(
        verify_argv(MODEL_URI, SIGNATURE_URI, PUBLIC_KEY_URI, release.root_digest, "--download-dir", download_dir),
        capsys,
    )

    assert result.exit_code == 0, result.record
    assert result.record["outcome"] == "verified"
    assert result.record["model_dir"] == str(download_dir)
    assert result.record["files"] == len(MODEL_FILES)
    for relative, content in MODEL_FILES.items():
        assert download_dir.joinpath(*relative.split("/")).read_bytes() == content


def test_prefix_does_not_match_a_longer_sibling(s3_release, tmp_path: Path) -> None:
    # Without the trailing slash, prefix "llama/v2" would also pull in "llama/v20/...".
    release, s3 = s3_release
    s3.put_object(Bucket=MODELS, Key="llama/v20/intruder.bin", Body=b"x")
    exit_code, record = _run(_request(tmp_path, release), _client())
    assert exit_code == 0, record


def test_tampered_object_fails_and_the_download_is_discarded(s3_release, tmp_path: Path) -> None:
    release, s3 = s3_release
    s3.put_object(Bucket=MODELS, Key="llama/v2/config.json", Body=b'{"backdoor": true}\n')

    exit_code, record = _run(_request(tmp_path, release), _client())

    assert exit_code == Reason.FILE_MODIFIED.exit_code
    assert record["evidence"]["modified"] == ["config.json"]
    assert record["evidence"]["download_dir_cleared"] is True
    assert list((tmp_path / "weights").iterdir()) == []


def test_extra_object_under_the_prefix_fails(s3_release, tmp_path: Path) -> None:
    release, s3 = s3_release
    s3.put_object(Bucket=MODELS, Key="llama/v2/.git/config", Body=b"[core]\n")
    exit_code, record = _run(_request(tmp_path, release), _client())
    assert exit_code == Reason.FILE_UNEXPECTED.exit_code
    assert record["evidence"]["unexpected"] == [".git/config"]


def test_rollback_is_refused_before_any_weights_are_downloaded(s3_release, tmp_path: Path) -> None:
    release, _ = s3_release
    client = _client()
    faults = S3Faults(client, failures=0)  # counts requests, injects nothing
    pinned_newer = "ab" * 32

    exit_code, record = _run(_request(tmp_path, release, root_digest=pinned_newer), client)

    assert exit_code == Reason.ROOT_DIGEST_MISMATCH.exit_code
    assert record["root_digest"] == release.root_digest
    assert faults.attempts["ListObjectsV2"] == 0
    assert not (tmp_path / "weights").exists()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"model": f"s3://{MODELS}/llama/v9"}, Reason.S3_NOT_FOUND),
        ({"signature": f"s3://{REFERENCE}/llama/v9/model.sig"}, Reason.S3_NOT_FOUND),
        ({"public_key": "s3://no-such-bucket/release.pub.pem"}, Reason.S3_NOT_FOUND),
        ({"model": "s3://Not_A_Bucket/x"}, Reason.S3_URI_INVALID),
        ({"signature": f"s3://{REFERENCE}"}, Reason.S3_URI_INVALID),
        ({"download_dir": None}, Reason.DOWNLOAD_DIR_INVALID),
    ],
    ids=["model prefix", "signature object", "key bucket", "bad bucket name", "no key", "no download dir"],
)
def test_missing_or_malformed_locations(s3_release, tmp_path: Path, overrides: dict, reason: Reason) -> None:
    release, _ = s3_release
    exit_code, record = _run(_request(tmp_path, release, **overrides), _client())
    assert exit_code == reason.exit_code, record
    assert record["reason"] == reason.code


@pytest.mark.parametrize(
    "key",
    ["llama/v2/../escape.bin", "llama/v2/sub//file.bin", "llama/v2/./file.bin", "llama/v2/folder/"],
    ids=["dot-dot", "empty segment", "dot", "folder marker"],
)
def test_unsafe_object_keys_are_refused_and_nothing_escapes(s3_release, tmp_path: Path, key: str) -> None:
    release, s3 = s3_release
    s3.put_object(Bucket=MODELS, Key=key, Body=b"payload")

    exit_code, record = _run(_request(tmp_path, release, download_dir=str(tmp_path / "deep" / "weights")), _client())

    assert exit_code == Reason.S3_UNSAFE_KEY.exit_code, record
    assert key in record["detail"]
    assert not (tmp_path / "deep" / "escape.bin").exists()
    assert list((tmp_path / "deep" / "weights").iterdir()) == []


def test_a_key_used_as_file_and_directory_is_refused(s3_release, tmp_path: Path) -> None:
    release, s3 = s3_release
    s3.put_object(Bucket=MODELS, Key="llama/v2/config.json/nested", Body=b"x")
    exit_code, record = _run(_request(tmp_path, release), _client())
    assert exit_code == Reason.S3_UNSAFE_KEY.exit_code
    assert "config.json" in record["detail"]


def test_a_non_empty_download_dir_is_refused_and_left_alone(s3_release, tmp_path: Path) -> None:
    release, _ = s3_release
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "stale.bin").write_bytes(b"old")

    exit_code, record = _run(_request(tmp_path, release), _client())

    assert exit_code == Reason.DOWNLOAD_DIR_INVALID.exit_code
    assert "not empty" in record["detail"]
    assert (tmp_path / "weights" / "stale.bin").read_bytes() == b"old"


def test_download_dir_with_a_local_model_is_refused(release, tmp_path: Path) -> None:
    request = VerifyRequest(
        model=str(release.model_dir),
        signature=str(release.signature),
        public_key=str(release.public_key),
        root_digest=release.root_digest,
        download_dir=str(tmp_path / "weights"),
    )
    exit_code, record = _run(request, None)
    assert exit_code == Reason.DOWNLOAD_DIR_INVALID.exit_code
    assert "local MODEL" in record["detail"]


def test_an_oversized_signature_object_is_not_read(s3_release, tmp_path: Path, monkeypatch) -> None:
    release, _ = s3_release
    monkeypatch.setattr(startup, "MAX_SIGNATURE_BYTES", 100)
    exit_code, record = _run(_request(tmp_path, release), _client())
    assert exit_code == Reason.S3_OBJECT_TOO_LARGE.exit_code
    assert SIGNATURE_URI in record["detail"]


def test_throttling_is_retried_a_bounded_number_of_times_then_fails(s3_release, tmp_path: Path, sleeps) -> None:
    release, _ = s3_release
    client = _client(max_attempts=3)
    faults = S3Faults(client, status=503, code="SlowDown")

    exit_code, record = _run(_request(tmp_path, release), client)

    assert exit_code == Reason.S3_THROTTLED.exit_code
    assert record["reason"] == "s3_throttled" and record["evidence"]["aws_error_code"] == "SlowDown"
    assert faults.attempts == Counter({"GetObject": 3})  # the signature fetch: 3 tries, then give up
    assert len(sleeps) == 2 and all(0 <= delay <= 20 for delay in sleeps)  # backoff between tries


def test_throttling_that_clears_within_the_budget_is_survived(s3_release, tmp_path: Path, sleeps) -> None:
    release, _ = s3_release
    client = _client(max_attempts=3)
    faults = S3Faults(client, status=503, code="SlowDown", failures=2)

    exit_code, record = _run(_request(tmp_path, release), client)

    assert exit_code == 0, record
    assert faults.attempts["GetObject"] >= 3 and len(sleeps) == 2


def test_server_errors_are_retried_then_reported_as_unavailable(s3_release, tmp_path: Path, sleeps) -> None:
    release, _ = s3_release
    client = _client(max_attempts=4)
    faults = S3Faults(client, status=500, code="InternalError")

    exit_code, record = _run(_request(tmp_path, release), client)

    assert exit_code == Reason.S3_UNAVAILABLE.exit_code
    assert record["evidence"]["aws_error_code"] == "InternalError"
    assert faults.attempts == Counter({"GetObject": 4}) and len(sleeps) == 3


def test_connection_errors_are_retried_then_reported_as_unavailable(s3_release, tmp_path: Path, sleeps) -> None:
    release, _ = s3_release
    client = _client(max_attempts=2)
    faults = S3Faults(client, connection_error=True)

    exit_code, record = _run(_request(tmp_path, release), client)

    assert exit_code == Reason.S3_UNAVAILABLE.exit_code
    assert record["evidence"]["aws_error_code"] == "EndpointConnectionError"
    assert faults.attempts == Counter({"GetObject": 2})


def test_access_denied_is_not_retried(s3_release, tmp_path: Path, sleeps) -> None:
    release, _ = s3_release
    client = _client(max_attempts=5)
    faults = S3Faults(client, status=403, code="AccessDenied")

    exit_code, record = _run(_request(tmp_path, release), client)

    assert exit_code == Reason.S3_ACCESS_DENIED.exit_code
    assert record["evidence"]["aws_error_code"] == "AccessDenied"
    assert faults.attempts == Counter({"GetObject": 1}) and sleeps == []


def test_throttled_model_download_discards_what_was_downloaded(s3_release, tmp_path: Path, sleeps) -> None:
    release, _ = s3_release
    client = _client(max_attempts=2)
    seen: Counter[str] = Counter()

    def answer(request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        # The signature, the key, the listing and the first weight file get through; then S3 throttles.
        operation = event_name.rsplit(".", 1)[-1]
        seen[operation] += 1
        if operation in ("ListObjectsV2", "HeadObject") or seen["GetObject"] <= 3:
            return None
        body = "<Error><Code>SlowDown</Code><Message>injected</Message></Error>"
        return AWSResponse(request.url, 503, {}, MockRawResponse(body))

    client.meta.events.register_first("before-send.s3", answer)

    exit_code, record = _run(_request(tmp_path, release), client)

    assert exit_code == Reason.S3_THROTTLED.exit_code, record
    assert seen["GetObject"] == 3 + 2  # one weight file downloaded, the next one tried twice
    assert record["evidence"]["download_dir_cleared"] is True
    assert list((tmp_path / "weights").iterdir()) == []
