"""Cloud Storage pieces that need no server: error classification, gs:// parsing, store dispatch, retry and range
bounds, reason codes.

Exceptions are built directly from google-api-core, google-auth, requests and google-cloud-storage, the same
classes the library raises after its retries (test_verify_weights_gcs.py shows them raised against an emulator).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import urllib3

from modelfort.runtime.weights import gcs_clients, gcs_source, object_stores
from modelfort.runtime.weights.gcs_clients import GcsConnection, quiet_google_import
from modelfort.runtime.weights.object_paths import safe_relative_path
from modelfort.runtime.weights.reasons import Reason, WeightsError

with quiet_google_import():  # as the code under test imports them
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

pytestmark = pytest.mark.control("WP-05", "ST-07", "OB-04")

REPO_ROOT = Path(__file__).resolve().parents[3]


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


CLASSIFIED = [
    (api_exceptions.NotFound("no such object"), Reason.GCS_NOT_FOUND),
    (api_exceptions.Forbidden("caller lacks storage.objects.get"), Reason.GCS_ACCESS_DENIED),
    (api_exceptions.Unauthorized("invalid token"), Reason.GCS_ACCESS_DENIED),
    (api_exceptions.TooManyRequests("rate limit"), Reason.GCS_THROTTLED),
    (api_exceptions.ServiceUnavailable("backend"), Reason.GCS_UNAVAILABLE),
    (api_exceptions.InternalServerError("backend"), Reason.GCS_UNAVAILABLE),
    (api_exceptions.BadGateway("backend"), Reason.GCS_UNAVAILABLE),
    (api_exceptions.GatewayTimeout("backend"), Reason.GCS_UNAVAILABLE),
    (api_exceptions.from_http_status(408, "request timeout"), Reason.GCS_UNAVAILABLE),
    (api_exceptions.BadRequest("invalid argument"), Reason.GCS_ERROR),
    (api_exceptions.PreconditionFailed("generation mismatch"), Reason.GCS_ERROR),
    # The retry deadline ran out: the last error retried decides.
    (api_exceptions.RetryError("Timeout of 30.0s exceeded", api_exceptions.TooManyRequests("x")), Reason.GCS_THROTTLED),
    (api_exceptions.RetryError("Timeout of 30.0s exceeded", InvalidResponse(_response(429))), Reason.GCS_THROTTLED),
    (
        api_exceptions.RetryError("Timeout of 30.0s exceeded", api_exceptions.ServiceUnavailable("x")),
        Reason.GCS_UNAVAILABLE,
    ),
    (
        api_exceptions.RetryError("Timeout of 30.0s exceeded", requests.exceptions.ConnectionError("refused")),
        Reason.GCS_UNAVAILABLE,
    ),
    (api_exceptions.RetryError("Timeout of 30.0s exceeded", None), Reason.GCS_UNAVAILABLE),
    # Credentials: none found, or a token refused, versus a token service that could not be reached.
    (auth_exceptions.DefaultCredentialsError("Your default credentials were not found"), Reason.GCS_ACCESS_DENIED),
    (auth_exceptions.RefreshError("iam.serviceAccounts.getAccessToken denied"), Reason.GCS_ACCESS_DENIED),
    (auth_exceptions.RefreshError(auth_exceptions.TransportError("metadata server")), Reason.GCS_UNAVAILABLE),
    (auth_exceptions.RefreshError("metadata server 503", retryable=True), Reason.GCS_UNAVAILABLE),
    (auth_exceptions.TransportError("connection reset"), Reason.GCS_UNAVAILABLE),
    # Raw transport and media errors.
    (requests.exceptions.ConnectionError("refused"), Reason.GCS_UNAVAILABLE),
    (requests.exceptions.ReadTimeout("read timed out"), Reason.GCS_UNAVAILABLE),
    (requests.exceptions.ChunkedEncodingError("broken"), Reason.GCS_UNAVAILABLE),
    (ConnectionResetError(104, "reset by peer"), Reason.GCS_UNAVAILABLE),
    (urllib3.exceptions.ProtocolError("connection aborted"), Reason.GCS_UNAVAILABLE),
    (InvalidResponse(_response(503), "unexpected status"), Reason.GCS_UNAVAILABLE),
    (InvalidResponse(_response(404), "unexpected status"), Reason.GCS_NOT_FOUND),
    (DataCorruption(None, "Checksum mismatch while downloading"), Reason.GCS_ERROR),
]
CLASSIFIED_IDS = [f"{index:02d}-{type(error).__name__}" for index, (error, _) in enumerate(CLASSIFIED)]


@pytest.mark.parametrize(("error", "reason"), CLASSIFIED, ids=CLASSIFIED_IDS)
def test_every_failure_is_classified(error: BaseException, reason: Reason) -> None:
    assert gcs_source.classify_gcs_error(error) is reason


@pytest.mark.parametrize(("error", "reason"), CLASSIFIED, ids=CLASSIFIED_IDS)
def test_gcs_errors_turns_them_into_weights_errors_with_evidence(error: BaseException, reason: Reason) -> None:
    with pytest.raises(WeightsError) as raised, gcs_source.gcs_errors("cannot read gs://bucket/x"):
        raise error
    assert raised.value.reason is reason
    assert raised.value.detail.startswith("cannot read gs://bucket/x: ")
    assert raised.value.__cause__ is error
    decisive = getattr(error, "cause", None) or error
    assert raised.value.context["gcs_error_code"] == type(decisive).__name__


def test_evidence_carries_the_http_status_of_the_last_failure() -> None:
    with pytest.raises(WeightsError) as raised, gcs_source.gcs_errors("cannot list gs://bucket/p/"):
        raise api_exceptions.RetryError("Timeout of 30.0s exceeded", api_exceptions.TooManyRequests("slow down"))
    assert raised.value.context == {"gcs_error_code": "TooManyRequests", "gcs_http_status": 429}


@pytest.mark.parametrize("error", [ValueError("bug"), KeyError("bug"), WeightsError(Reason.FILE_MODIFIED, "x")])
def test_gcs_errors_leaves_other_exceptions_alone(error: BaseException) -> None:
    # A bug stays a bug (the run reports internal_error with a traceback); a WeightsError keeps its reason.
    with pytest.raises(type(error)) as raised, gcs_source.gcs_errors("cannot read gs://bucket/x"):
        raise error
    assert raised.value is error


@pytest.mark.parametrize(
    ("uri", "bucket", "name"),
    [
        ("gs://weights/models/llama/3.1.0", "weights", "models/llama/3.1.0"),
        ("gs://my_bucket-01/a.sig", "my_bucket-01", "a.sig"),
        ("gs://example.com.releases/k/release.pub.pem", "example.com.releases", "k/release.pub.pem"),
    ],
)
def test_valid_gs_uris_parse(uri: str, bucket: str, name: str) -> None:
    location = gcs_source.parse_gs_uri(uri)
    assert (location.bucket, location.name, location.uri) == (bucket, name, uri)


@pytest.mark.parametrize(
    "uri",
    [
        "s3://weights/x",
        "gs://",
        "gs://ab/x",  # too short
        "gs://Weights/x",  # upper case
        "gs://-weights/x",
        "gs://weights-/x",
        "gs://wei ghts/x",
        "gs://" + "a" * 64 + "/x",  # over 63 without dots
        "gs://" + "a" * 64 + ".example/x",  # a dotted part over 63
        "gs://weights",  # no object
        "gs://weights/",
        "gs://weights/a\nb",
        "gs://weights/" + "x" * 1025,
    ],
)
def test_malformed_gs_uris_are_refused(uri: str) -> None:
    with pytest.raises(WeightsError) as raised:
        gcs_source.parse_gs_uri(uri)
    assert raised.value.reason is Reason.GCS_URI_INVALID


def test_a_bucket_alone_is_a_valid_model_prefix() -> None:
    assert gcs_source.parse_gs_uri("gs://weights", allow_empty_name=True).name == ""


@pytest.mark.parametrize(
    "name",
    ["p/a\x00b", "p/" + "x" * 256 + "/w.bin", "other/w.bin", "p/"],
    ids=["NUL", "segment over 255 bytes", "outside the prefix", "the prefix itself"],
)
def test_unsafe_names_get_the_reason_of_their_store(name: str) -> None:
    for reason, noun in ((Reason.GCS_UNSAFE_NAME, "object name"), (Reason.S3_UNSAFE_KEY, "object key")):
        with pytest.raises(WeightsError) as raised:
            safe_relative_path(name, "p/", unsafe=reason, noun=noun)
        assert raised.value.reason is reason and raised.value.detail.startswith(f"{noun} {name!r}")


def test_scheme_dispatch() -> None:
    assert object_stores.scheme_of("gs://weights/m") == "gs://"
    assert object_stores.scheme_of("s3://weights/m") == "s3://"
    assert object_stores.scheme_of("/models/m") is None
    assert object_stores.scheme_of("gcs://weights/m") is None  # not a scheme we know: a (non-existent) local path


def test_check_location_reports_the_store_of_the_location() -> None:
    with pytest.raises(WeightsError) as gcs_error:
        object_stores.check_location("gs://Bad/x")
    with pytest.raises(WeightsError) as s3_error:
        object_stores.check_location("s3://Bad/x")
    with pytest.raises(WeightsError) as neither:
        object_stores.check_location("https://storage.googleapis.com/b/x")
    assert gcs_error.value.reason is Reason.GCS_URI_INVALID
    assert s3_error.value.reason is Reason.S3_URI_INVALID
    assert neither.value.reason is Reason.S3_URI_INVALID and "neither" in neither.value.detail


def test_each_cloud_is_only_asked_for_a_client_when_a_location_needs_it() -> None:
    calls: list[str] = []

    def aws(service: str, region: str | None) -> object:
        calls.append(f"aws:{service}")
        return object()

    def gcs() -> GcsConnection:
        calls.append("gcs")
        return GcsConnection(client=object(), retry=None, timeout=(1.0, 1.0))

    stores = object_stores.Stores(aws_client_factory=aws, gcs_client_factory=gcs)
    first = stores.for_location("gs://weights/m")
    assert stores.for_location("gs://reference/s.sig") is first  # one client per cloud per run
    assert calls == ["gcs"]
    stores.for_location("s3://reference/s.sig")
    assert calls == ["gcs", "aws:s3"]


def test_a_failing_gcs_client_factory_is_a_gcs_reason() -> None:
    def no_credentials() -> GcsConnection:
        raise auth_exceptions.DefaultCredentialsError("Your default credentials were not found")

    stores = object_stores.Stores(aws_client_factory=None, gcs_client_factory=no_credentials)
    with pytest.raises(WeightsError) as raised:
        stores.for_location("gs://weights/m")
    assert raised.value.reason is Reason.GCS_ACCESS_DENIED
    assert raised.value.context["gcs_error_code"] == "DefaultCredentialsError"


@pytest.mark.parametrize(
    ("size", "chunk"),
    [(64 << 20, 32 << 20), (300 << 20, (300 << 20) // 8), (10 << 30, (10 << 30) // 8), ((10 << 30) + 1, 1342177281)],
)
def test_a_large_object_is_never_split_into_more_ranges_than_workers(size: int, chunk: int) -> None:
    # More ranges than workers would make an outage cost one retry deadline per wave (see gcs_source._chunk_size).
    assert gcs_source._chunk_size(size) == chunk
    assert -(-size // chunk) <= gcs_source._MAX_WORKERS


def test_the_production_retry_policy_is_bounded() -> None:
    policy = gcs_clients.retry_policy()
    assert policy.timeout == gcs_clients.RETRY_DEADLINE_S
    assert policy._maximum == gcs_clients.MAX_BACKOFF_S
    # The library's own predicate: retry throttling and outages, never a refusal.
    assert policy._predicate(api_exceptions.TooManyRequests("x"))
    assert policy._predicate(api_exceptions.ServiceUnavailable("x"))
    assert not policy._predicate(api_exceptions.Forbidden("x"))
    assert not policy._predicate(api_exceptions.NotFound("x"))
    with pytest.raises(ValueError):
        gcs_clients.retry_policy(0)
    with pytest.raises(ValueError):
        gcs_clients.retry_policy(3600)


def test_gcs_reason_codes_are_the_6x_group_and_s3_codes_are_unchanged() -> None:
    gcs = {reason.code: reason.exit_code for reason in Reason if reason.code.startswith("gcs_")}
    assert gcs == {
        "gcs_uri_invalid": 60,
        "gcs_throttled": 61,
        "gcs_unavailable": 62,
        "gcs_not_found": 63,
        "gcs_access_denied": 64,
        "gcs_error": 65,
        "gcs_unsafe_name": 66,
        "gcs_object_too_large": 67,
    }
    s3 = {reason.code: reason.exit_code for reason in Reason if 40 <= reason.exit_code < 50}
    assert s3 == {
        "s3_uri_invalid": 40,
        "s3_throttled": 41,
        "s3_unavailable": 42,
        "s3_not_found": 43,
        "s3_access_denied": 44,
        "s3_error": 45,
        "s3_unsafe_key": 46,
        "s3_object_too_large": 47,
        "download_dir_invalid": 48,
    }
    assert (Reason.SIGNATURE_EXISTS.exit_code, Reason.INTERNAL_ERROR.exit_code) == (53, 70)


def test_importing_the_weights_modules_does_not_import_the_google_libraries() -> None:
    # AWS-only users (and `modelfort --help`) never pay for google-cloud-storage.
    code = (
        "import sys\n"
        "import modelfort.runtime.weights.cli, modelfort.runtime.weights.startup, modelfort.runtime.weights.signing\n"
        "prefixes = ('google.cloud.storage', 'google.api_core', 'google.auth')\n"
        "print(sorted(m for m in sys.modules if m.startswith(prefixes)))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
