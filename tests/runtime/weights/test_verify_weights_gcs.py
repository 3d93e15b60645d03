"""verify-weights and sign --upload against Google Cloud Storage (gs://), on a real emulator: the S3 contract, again.

Everything runs the production code paths against fake-gcs-server (see `gcs_emulator`): the CLI with the production
client (pointed at the emulator by `STORAGE_EMULATOR_HOST`, as google-cloud-storage itself supports), or
`run_verify_weights` with an injected connection whose retry deadline is short. Faults (429, 503, 403, corruption,
an unreachable endpoint) are injected by an HTTP proxy in front of the emulator, so the library's own retry loop and
checksum validation are what is under test.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from gcs_emulator import FakeGcs, FaultProxy, SeenRequest, anonymous_client, fast_connection, free_port
from moto import mock_aws
from weights_helpers import MODEL_FILES, make_key_pair, run_cli, verify_argv

from modelfort import cli as modelfort_cli
from modelfort.runtime.weights import gcs_source, startup
from modelfort.runtime.weights.gcs_clients import GcsConnection
from modelfort.runtime.weights.reasons import Reason
from modelfort.runtime.weights.startup import VerifyRequest, run_verify_weights

pytestmark = pytest.mark.control("WP-05", "WP-06", "ST-01", "ST-07")

REPO_ROOT = Path(__file__).resolve().parents[3]
MODEL_PREFIX = "models/llama-guard/3.1.0"
SIGNATURE_NAME = "signatures/llama-guard/3.1.0.sig"
PUBLIC_KEY_NAME = "keys/release.pub.pem"


@pytest.fixture(scope="module")
def gcs() -> Iterator[FakeGcs]:
    server = FakeGcs()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class GcsRelease:
    """The signed tiny model in a weights bucket; its signature and key in a reference bucket (fresh per test)."""

    release: Any  # conftest.SignedRelease
    weights: Any  # google.cloud.storage.Bucket
    reference: Any
    model_uri: str
    signature_uri: str
    public_key_uri: str

    @property
    def root_digest(self) -> str:
        return self.release.root_digest

    def put(self, bucket: Any, name: str, data: bytes) -> None:
        bucket.blob(name).upload_from_string(data)


@pytest.fixture
def gcs_release(release, gcs: FakeGcs) -> GcsRelease:
    client = anonymous_client(gcs.url)
    suffix = uuid.uuid4().hex[:12]
    weights = client.create_bucket(f"weights-{suffix}")
    reference = client.create_bucket(f"reference-{suffix}")
    for relative, content in MODEL_FILES.items():
        weights.blob(f"{MODEL_PREFIX}/{relative}").upload_from_string(content)
    reference.blob(SIGNATURE_NAME).upload_from_string(release.signature.read_bytes())
    reference.blob(PUBLIC_KEY_NAME).upload_from_string(release.public_key.read_bytes())
    return GcsRelease(
        release=release,
        weights=weights,
        reference=reference,
        model_uri=f"gs://{weights.name}/{MODEL_PREFIX}",
        signature_uri=f"gs://{reference.name}/{SIGNATURE_NAME}",
        public_key_uri=f"gs://{reference.name}/{PUBLIC_KEY_NAME}",
    )


def _request(tmp_path: Path, gcs_release: GcsRelease, **overrides: Any) -> VerifyRequest:
    values = {
        "model": gcs_release.model_uri,
        "signature": gcs_release.signature_uri,
        "public_key": gcs_release.public_key_uri,
        "root_digest": gcs_release.root_digest,
        "model_version": "3.1.0",
        "download_dir": str(tmp_path / "weights"),
        **overrides,
    }
    return VerifyRequest(**values)


def _run(request: VerifyRequest, connection: GcsConnection | None, aws_client: Any = None) -> tuple[int, dict]:
    stdout, stderr = io.StringIO(), io.StringIO()
    exit_code = run_verify_weights(
        request,
        client_factory=lambda service, region: aws_client,
        gcs_client_factory=lambda: connection,
        stdout=stdout,
        stderr=stderr,
    )
    lines = stdout.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert stderr.getvalue() == ""
    return exit_code, json.loads(lines[0])


def _assert_discarded(tmp_path: Path, record: dict) -> None:
    assert record["evidence"]["download_dir_cleared"] is True
    assert list((tmp_path / "weights").iterdir()) == []


# --- a verified release, as the init container runs it ------------------------------------------------------------


def test_verify_weights_from_gcs_through_the_modelfort_cli(gcs_release, gcs, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)  # the production client, anonymous, at the emulator
    download_dir = tmp_path / "weights"
    argv = verify_argv(
        gcs_release.model_uri,
        gcs_release.signature_uri,
        gcs_release.public_key_uri,
        gcs_release.root_digest,
        "--model-version",
        "3.1.0",
        "--download-dir",
        download_dir,
    )
    capsys.readouterr()

    exit_code = modelfort_cli.main(argv)

    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert exit_code == 0, record
    assert len(captured.out.splitlines()) == 1 and captured.err == ""
    assert record["outcome"] == "verified" and record["reason"] is None
    assert record["model"] == gcs_release.model_uri and record["model_version"] == "3.1.0"
    assert record["signature"] == gcs_release.signature_uri and record["public_key"] == gcs_release.public_key_uri
    assert record["root_digest"] == record["pinned_root_digest"] == gcs_release.root_digest
    assert record["model_dir"] == str(download_dir)
    assert record["files"] == len(MODEL_FILES) and record["bytes"] == sum(map(len, MODEL_FILES.values()))
    for relative, content in MODEL_FILES.items():
        assert download_dir.joinpath(*relative.split("/")).read_bytes() == content


def test_a_verify_run_only_gets_and_lists_objects(gcs_release, gcs, tmp_path, capsys, monkeypatch) -> None:
    # What the verifier's service account needs is exactly what it does: objects.get and objects.list. In
    # particular no bucket metadata request (google-cloud-storage 3.x makes one per bucket unless told not to).
    with FaultProxy(gcs.url) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        result = run_cli(
            verify_argv(
                gcs_release.model_uri,
                gcs_release.signature_uri,
                gcs_release.public_key_uri,
                gcs_release.root_digest,
                "--download-dir",
                tmp_path / "weights",
            ),
            capsys,
        )
        time.sleep(0.2)  # a background request, were there one, would have been sent by now

    assert result.exit_code == 0, result.record
    assert not any(seen.is_bucket_get for seen in proxy.requests), proxy.requests
    assert all(seen.method == "GET" for seen in proxy.requests)
    listings = [seen for seen in proxy.requests if seen.path.startswith(f"/storage/v1/b/{gcs_release.weights.name}/o?")]
    assert len(listings) == 1 and "prefix=models%2Fllama-guard%2F3.1.0%2F" in listings[0].path
    # Signature and key: metadata, then bytes. Then one download per model file.
    assert len(proxy.media_requests()) == 2 + len(MODEL_FILES)
    assert len(proxy.requests) == 2 * 2 + 1 + len(MODEL_FILES)


def test_verify_weights_from_gcs_in_a_fresh_process(gcs_release, gcs, tmp_path) -> None:
    # As the init container runs it: a fresh interpreter, its exit code, one JSON line and a silent stderr (the
    # Google libraries' import-time Python-version notice must not leak there).
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelfort.cli",
            *verify_argv(
                gcs_release.model_uri,
                gcs_release.signature_uri,
                gcs_release.public_key_uri,
                gcs_release.root_digest,
                "--download-dir",
                tmp_path / "weights",
            ),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "STORAGE_EMULATOR_HOST": gcs.url},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stderr == ""
    assert len(completed.stdout.splitlines()) == 1
    assert json.loads(completed.stdout)["outcome"] == "verified"


def test_prefix_does_not_match_a_longer_sibling(gcs_release, gcs, tmp_path) -> None:
    # Without the trailing slash, prefix ".../3.1.0" would also pull in ".../3.1.0x/...".
    gcs_release.put(gcs_release.weights, f"{MODEL_PREFIX}x/intruder.bin", b"x")
    exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(gcs.url))
    assert exit_code == 0, record


def test_mixed_run_gcs_model_with_local_signature_and_key(gcs_release, gcs, tmp_path) -> None:
    request = _request(
        tmp_path,
        gcs_release,
        signature=str(gcs_release.release.signature),
        public_key=str(gcs_release.release.public_key),
    )
    exit_code, record = _run(request, fast_connection(gcs.url))
    assert exit_code == 0, record
    assert record["signature"] == str(gcs_release.release.signature)


def test_mixed_run_gcs_model_with_s3_signature_and_key(gcs_release, gcs, tmp_path, aws_env) -> None:
    # Mixing stores is allowed (object_stores explains why it adds no trust): each store gets its own client.
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="reference-store")
        release = gcs_release.release
        s3.put_object(Bucket="reference-store", Key="llama/model.sig", Body=release.signature.read_bytes())
        s3.put_object(Bucket="reference-store", Key="keys/release.pub.pem", Body=release.public_key.read_bytes())
        request = _request(
            tmp_path,
            gcs_release,
            signature="s3://reference-store/llama/model.sig",
            public_key="s3://reference-store/keys/release.pub.pem",
        )
        exit_code, record = _run(request, fast_connection(gcs.url), aws_client=s3)
    assert exit_code == 0, record
    assert record["files"] == len(MODEL_FILES)


# --- tampering in the store ----------------------------------------------------------------------------------------


def test_tampered_object_fails_and_the_download_is_discarded(gcs_release, gcs, tmp_path) -> None:
    gcs_release.put(gcs_release.weights, f"{MODEL_PREFIX}/config.json", b'{"backdoor": true}\n')

    exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(gcs.url))

    assert exit_code == Reason.FILE_MODIFIED.exit_code
    assert record["evidence"]["modified"] == ["config.json"]
    _assert_discarded(tmp_path, record)


def test_extra_object_under_the_prefix_fails(gcs_release, gcs, tmp_path) -> None:
    gcs_release.put(gcs_release.weights, f"{MODEL_PREFIX}/.git/config", b"[core]\n")
    exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(gcs.url))
    assert exit_code == Reason.FILE_UNEXPECTED.exit_code
    assert record["evidence"]["unexpected"] == [".git/config"]
    _assert_discarded(tmp_path, record)


def test_missing_object_fails(gcs_release, gcs, tmp_path) -> None:
    gcs_release.weights.blob(f"{MODEL_PREFIX}/tokenizer/tokenizer.json").delete()
    exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(gcs.url))
    assert exit_code == Reason.FILE_MISSING.exit_code
    assert record["evidence"]["missing"] == ["tokenizer/tokenizer.json"]
    _assert_discarded(tmp_path, record)


@pytest.mark.parametrize(
    "name",
    ["../escape.bin", "sub//file.bin", "./file.bin", "folder/", "/rooted.bin", "sub/../../escape.bin"],
    ids=["dot-dot", "empty segment", "dot", "folder marker", "leading slash", "nested dot-dot"],
)
def test_unsafe_object_names_are_refused_and_nothing_escapes(gcs_release, gcs, tmp_path, name: str) -> None:
    full_name = f"{MODEL_PREFIX}/{name}"
    gcs_release.put(gcs_release.weights, full_name, b"payload")
    download_dir = tmp_path / "deep" / "weights"

    exit_code, record = _run(_request(tmp_path, gcs_release, download_dir=str(download_dir)), fast_connection(gcs.url))

    assert exit_code == Reason.GCS_UNSAFE_NAME.exit_code, record
    assert record["reason"] == "gcs_unsafe_name"
    assert repr(full_name) in record["detail"] and record["evidence"]["key"] == full_name
    assert not (tmp_path / "deep" / "escape.bin").exists() and not (tmp_path / "escape.bin").exists()
    assert list(download_dir.iterdir()) == []


def test_a_name_used_as_file_and_directory_is_refused(gcs_release, gcs, tmp_path) -> None:
    gcs_release.put(gcs_release.weights, f"{MODEL_PREFIX}/config.json/nested", b"x")
    exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(gcs.url))
    assert exit_code == Reason.GCS_UNSAFE_NAME.exit_code
    assert "used both as a file and as a directory: config.json" in record["detail"]
    assert list((tmp_path / "weights").iterdir()) == []


def test_a_non_empty_download_dir_is_refused_and_left_alone(gcs_release, gcs, tmp_path) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "stale.bin").write_bytes(b"old")

    exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(gcs.url))

    assert exit_code == Reason.DOWNLOAD_DIR_INVALID.exit_code
    assert "not empty" in record["detail"]
    assert (tmp_path / "weights" / "stale.bin").read_bytes() == b"old"


def _missing_locations(gcs_release: GcsRelease) -> dict[str, tuple[dict, Reason]]:
    weights, reference = gcs_release.weights.name, gcs_release.reference.name
    return {
        "empty model prefix": ({"model": f"gs://{weights}/models/llama-guard/9.9.9"}, Reason.GCS_NOT_FOUND),
        "model bucket": ({"model": f"gs://no-such-{weights}/{MODEL_PREFIX}"}, Reason.GCS_NOT_FOUND),
        "signature object": ({"signature": f"gs://{reference}/signatures/none.sig"}, Reason.GCS_NOT_FOUND),
        "key bucket": ({"public_key": f"gs://no-such-{reference}/{PUBLIC_KEY_NAME}"}, Reason.GCS_NOT_FOUND),
        "bad bucket name": ({"model": "gs://Not_A_Bucket/x"}, Reason.GCS_URI_INVALID),
        "no object name": ({"signature": f"gs://{reference}"}, Reason.GCS_URI_INVALID),
        "no download dir": ({"download_dir": None}, Reason.DOWNLOAD_DIR_INVALID),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty model prefix",
        "model bucket",
        "signature object",
        "key bucket",
        "bad bucket name",
        "no object name",
        "no download dir",
    ],
)
def test_missing_or_malformed_locations(gcs_release, gcs, tmp_path, case: str) -> None:
    overrides, reason = _missing_locations(gcs_release)[case]
    exit_code, record = _run(_request(tmp_path, gcs_release, **overrides), fast_connection(gcs.url))
    assert exit_code == reason.exit_code, record
    assert record["reason"] == reason.code
    if case == "empty model prefix":  # the listing succeeds, empty: refused all the same
        assert "no objects under" in record["detail"]
        assert list((tmp_path / "weights").iterdir()) == []
    elif reason is Reason.GCS_NOT_FOUND:
        assert record["evidence"]["gcs_http_status"] == 404


# --- what must fail before any weights are downloaded --------------------------------------------------------------


def test_an_oversized_signature_is_refused_before_its_bytes_are_requested(
    gcs_release, gcs, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(startup, "MAX_SIGNATURE_BYTES", 100)
    with FaultProxy(gcs.url) as proxy:
        exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(proxy.url))

    assert exit_code == Reason.GCS_OBJECT_TOO_LARGE.exit_code, record
    assert gcs_release.signature_uri in record["detail"]
    assert proxy.media_requests() == []  # only the metadata (declared size) was read
    assert not (tmp_path / "weights").exists()


def test_an_oversized_key_is_refused(gcs_release, gcs, tmp_path) -> None:
    gcs_release.put(gcs_release.reference, "keys/huge.pub.pem", b"-" * ((64 << 10) + 1))
    request = _request(tmp_path, gcs_release, public_key=f"gs://{gcs_release.reference.name}/keys/huge.pub.pem")
    exit_code, record = _run(request, fast_connection(gcs.url))
    assert exit_code == Reason.GCS_OBJECT_TOO_LARGE.exit_code, record


def test_a_wrong_key_fails_before_any_weights_are_downloaded(gcs_release, gcs, tmp_path) -> None:
    _, other_public = make_key_pair(tmp_path / "other", "other")
    gcs_release.put(gcs_release.reference, "keys/other.pub.pem", other_public.read_bytes())
    request = _request(tmp_path, gcs_release, public_key=f"gs://{gcs_release.reference.name}/keys/other.pub.pem")

    with FaultProxy(gcs.url) as proxy:  # records, injects nothing
        exit_code, record = _run(request, fast_connection(proxy.url))

    assert exit_code == Reason.KEY_MISMATCH.exit_code, record
    assert not any(seen.names(gcs_release.weights.name) for seen in proxy.requests)  # not even a listing
    assert not (tmp_path / "weights").exists()


def test_rollback_is_refused_before_any_weights_are_downloaded(gcs_release, gcs, tmp_path) -> None:
    with FaultProxy(gcs.url) as proxy:
        exit_code, record = _run(_request(tmp_path, gcs_release, root_digest="ab" * 32), fast_connection(proxy.url))

    assert exit_code == Reason.ROOT_DIGEST_MISMATCH.exit_code
    assert record["root_digest"] == gcs_release.root_digest
    assert not any(seen.names(gcs_release.weights.name) for seen in proxy.requests)
    assert not (tmp_path / "weights").exists()


# --- transfers: chunks, checksums -----------------------------------------------------------------------------------


def test_large_objects_are_downloaded_in_checksummed_chunks(gcs_release, gcs, tmp_path, monkeypatch) -> None:
    # The two 2 KiB shards stand in for multi-GB ones: lower the threshold so they take the chunked path.
    monkeypatch.setattr(gcs_source, "_CHUNKED_THRESHOLD", 1024)
    monkeypatch.setattr(gcs_source, "_MIN_CHUNK_SIZE", 700)

    with FaultProxy(gcs.url) as proxy:
        exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(proxy.url))

    assert exit_code == 0, record
    slices = [seen for seen in proxy.media_requests() if seen.range is not None]
    assert len(slices) == 2 * 3  # each 2048-byte shard in three ranges
    assert {seen.range for seen in slices} == {"bytes=0-699", "bytes=700-1399", "bytes=1400-2047"}


@pytest.mark.parametrize("chunked", [False, True], ids=["single request", "chunked"])
def test_a_download_corrupted_in_transit_is_caught_by_the_checksum(
    gcs_release, gcs, tmp_path, monkeypatch, chunked: bool
) -> None:
    if chunked:
        monkeypatch.setattr(gcs_source, "_CHUNKED_THRESHOLD", 1024)
        monkeypatch.setattr(gcs_source, "_MIN_CHUNK_SIZE", 700)
    shard = "model-00001-of-00002.safetensors"

    def corrupt(seen: SeenRequest) -> bool:
        return seen.is_media and shard in seen.path

    with FaultProxy(gcs.url, corrupt=corrupt) as proxy:
        exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(proxy.url))

    # The library's CRC32C check fails the transfer itself; the hash comparison never gets to see the bytes.
    assert exit_code == Reason.GCS_ERROR.exit_code, record
    assert record["evidence"]["gcs_error_code"] == "DataCorruption"
    assert shard in record["detail"]
    assert record["files"] is None
    _assert_discarded(tmp_path, record)
    assert proxy.media_requests()


# --- failures of the service: bounded retries, precise reasons -----------------------------------------------------


def _always(status: int):
    return lambda seen, before: status


def test_throttling_is_retried_until_the_deadline_then_fails(gcs_release, gcs, tmp_path) -> None:
    with FaultProxy(gcs.url, fault=_always(429)) as proxy:
        started = time.monotonic()
        exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(proxy.url, deadline_s=1.0))
        elapsed = time.monotonic() - started

    assert exit_code == Reason.GCS_THROTTLED.exit_code, record
    assert record["evidence"] == {"gcs_error_code": "TooManyRequests", "gcs_http_status": 429}
    assert "Timeout of 1.0s exceeded" in record["detail"]
    assert len(proxy.requests) >= 3  # retried, with backoff
    assert elapsed < 10  # bounded by the deadline, not hanging


def test_throttling_that_clears_within_the_deadline_is_survived(gcs_release, gcs, tmp_path) -> None:
    def first_two(seen: SeenRequest, before: int) -> int | None:
        return 429 if before < 2 else None

    with FaultProxy(gcs.url, fault=first_two) as proxy:
        exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(proxy.url))

    assert exit_code == 0, record
    assert len(proxy.requests) > 2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_retried_then_reported_as_unavailable(gcs_release, gcs, tmp_path, status: int) -> None:
    with FaultProxy(gcs.url, fault=_always(status)) as proxy:
        exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(proxy.url, deadline_s=0.5))

    assert exit_code == Reason.GCS_UNAVAILABLE.exit_code, record
    assert record["evidence"]["gcs_http_status"] == status
    assert len(proxy.requests) >= 2


def test_access_denied_is_not_retried(gcs_release, gcs, tmp_path) -> None:
    # (401 is left to the unit tests: google-auth answers it by refreshing the token, which anonymous credentials
    # cannot do.)
    with FaultProxy(gcs.url, fault=_always(403)) as proxy:
        exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(proxy.url))

    assert exit_code == Reason.GCS_ACCESS_DENIED.exit_code, record
    assert record["evidence"] == {"gcs_error_code": "Forbidden", "gcs_http_status": 403}
    assert len(proxy.requests) == 1


def test_an_unreachable_endpoint_fails_within_the_deadline(gcs_release, tmp_path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(closed, deadline_s=1.0))
    elapsed = time.monotonic() - started

    assert exit_code == Reason.GCS_UNAVAILABLE.exit_code, record
    assert record["evidence"]["gcs_error_code"] == "ConnectionError"
    assert elapsed < 10


def test_an_outage_during_the_model_download_discards_what_was_downloaded(gcs_release, gcs, tmp_path) -> None:
    # The signature, the key, the listing and the first weight file get through; then the service fails.
    def after_first_weight_file(seen: SeenRequest, before: int) -> int | None:
        if not seen.is_media or not seen.names(gcs_release.weights.name):
            return None
        weight_downloads = sum(
            1 for earlier in proxy.requests[:before] if earlier.is_media and earlier.names(gcs_release.weights.name)
        )
        return 503 if weight_downloads >= 1 else None

    with FaultProxy(gcs.url, fault=after_first_weight_file) as proxy:
        exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(proxy.url, deadline_s=0.5))

    assert exit_code == Reason.GCS_UNAVAILABLE.exit_code, record
    assert record["evidence"]["gcs_http_status"] == 503
    assert "Timeout of 0.5s exceeded" in record["detail"]
    _assert_discarded(tmp_path, record)


def test_an_outage_during_a_chunked_download_fails_within_one_retry_deadline(
    gcs_release, gcs, tmp_path, monkeypatch
) -> None:
    # Every shard in 8 ranges of 256 bytes: all ranges run at once, so however many there are, an outage costs one
    # retry deadline, not one per wave of ranges.
    monkeypatch.setattr(gcs_source, "_CHUNKED_THRESHOLD", 1024)
    monkeypatch.setattr(gcs_source, "_MIN_CHUNK_SIZE", 1)

    def ranges_fail(seen: SeenRequest, before: int) -> int | None:
        return 503 if seen.range is not None else None

    with FaultProxy(gcs.url, fault=ranges_fail) as proxy:
        started = time.monotonic()
        exit_code, record = _run(_request(tmp_path, gcs_release), fast_connection(proxy.url, deadline_s=1.0))
        elapsed = time.monotonic() - started

    assert exit_code == Reason.GCS_UNAVAILABLE.exit_code, record
    assert {seen.range for seen in proxy.requests if seen.range} == {
        f"bytes={start}-{start + 255}" for start in range(0, 2048, 256)
    }
    assert elapsed < 5
    _assert_discarded(tmp_path, record)


def test_no_credentials_is_access_denied(gcs_release, tmp_path, capsys, monkeypatch) -> None:
    # The production client and Application Default Credentials, with nothing to find: a pod without Workload
    # Identity fails with a precise reason and its log line, not a traceback.
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))

    result = run_cli(
        verify_argv(
            gcs_release.model_uri,
            gcs_release.signature_uri,
            gcs_release.public_key_uri,
            gcs_release.root_digest,
            "--download-dir",
            tmp_path / "weights",
        ),
        capsys,
    )

    assert result.exit_code == Reason.GCS_ACCESS_DENIED.exit_code, result.record
    assert result.record["evidence"]["gcs_error_code"] == "DefaultCredentialsError"
    assert "cannot create a Cloud Storage client" in result.record["detail"]
    assert result.stderr == ""


# --- sign --upload gs:// -------------------------------------------------------------------------------------------


def test_sign_uploads_to_gcs_and_never_overwrites(gcs_release, gcs, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    release = gcs_release.release
    upload = f"gs://{gcs_release.reference.name}/signatures/llama-guard/3.2.0.sig"

    first = run_cli(
        ["sign", release.model_dir, "--signature", tmp_path / "a.sig", "--private-key", release.private_key,
         "--upload", upload],
        capsys,
    )  # fmt: skip
    assert first.exit_code == 0, first.stderr
    assert f"uploaded to {upload}" in first.stderr
    stored = gcs_release.reference.blob("signatures/llama-guard/3.2.0.sig")
    assert stored.download_as_bytes() == (tmp_path / "a.sig").read_bytes()

    second = run_cli(
        ["sign", release.model_dir, "--signature", tmp_path / "b.sig", "--private-key", release.private_key,
         "--upload", upload],
        capsys,
    )  # fmt: skip
    assert second.exit_code == Reason.SIGNATURE_EXISTS.exit_code
    assert "signature_exists" in second.stderr and upload in second.stderr
    assert stored.download_as_bytes() == (tmp_path / "a.sig").read_bytes()  # the first signature stands

    # And the uploaded signature is what verify-weights accepts.
    verified = run_cli(
        verify_argv(gcs_release.model_uri, upload, gcs_release.public_key_uri, first.stdout.strip(),
                    "--download-dir", tmp_path / "weights"),
        capsys,
    )  # fmt: skip
    assert verified.exit_code == 0, verified.record


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        ("gs://Bad_Bucket/x.sig", Reason.GCS_URI_INVALID),
        ("gs://only-a-bucket", Reason.GCS_URI_INVALID),
        ("gs://no-such-reference-bucket/x.sig", Reason.GCS_NOT_FOUND),
    ],
    ids=["bad bucket", "no object name", "missing bucket"],
)
def test_sign_upload_failures_have_gcs_reasons(
    gcs_release, gcs, tmp_path, capsys, monkeypatch, upload: str, reason: Reason
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    release = gcs_release.release
    result = run_cli(
        ["sign", release.model_dir, "--signature", tmp_path / "c.sig", "--private-key", release.private_key,
         "--upload", upload],
        capsys,
    )  # fmt: skip
    assert result.exit_code == reason.exit_code, result.stderr
    assert reason.code in result.stderr
    # A malformed location is refused before anything is signed or written.
    assert (tmp_path / "c.sig").exists() is (reason is Reason.GCS_NOT_FOUND)
