"""A Cloud KMS client for `modelfort sign --kms-key projects/…`: two REST methods, bounded retries and timeouts.

Why REST through google-auth's `AuthorizedSession` and not the `google-cloud-kms` library: securesystemslib (which
model_signing imports) imports `google.cloud.kms` whenever it is installed, for a GCP signer of its own that we do
not use. Installing google-cloud-kms would therefore load it, and gRPC, into every process that imports
model_signing, `verify-weights` in each init container included (about 0.4 s, and a Python-version notice on stderr
that `verify-weights` promises not to print). Two calls do not justify that; besides, google-cloud-kms 3.15 and
later need protobuf 6 (ours is pinned to 5). google-auth and google-api-core are installed already
(google-cloud-storage brings them).

`CloudKmsClient` has the two methods `sign` needs, named and shaped like google-cloud-kms's
(`get_public_key(name=…)`, `asymmetric_sign(request={"name", "digest": {"sha256"}, "digest_crc32c"})`), returning the
fields of Cloud KMS v1's `PublicKey` and `AsymmetricSignResponse`. The signer checks every integrity field; this
module only moves them (JSON: bytes in base64, int64 as decimal strings, enums by name, false booleans omitted).

Retries: what google-cloud-kms retries for these two methods (UNAVAILABLE and DEADLINE_EXCEEDED, i.e. HTTP 503 and
504), plus connection errors and timeouts (which gRPC reports as those two), with jittered exponential backoff and a
total deadline of `RETRY_DEADLINE_S`; never a refusal (403, 404, a disabled key version). Each attempt has a connect
and a read timeout, and so has a token refresh. So an unreachable or failing Cloud KMS stops a release in well under
a minute with `kms_error`, never hangs it.

Credentials are Application Default Credentials: the release pipeline runs as the reference store's publisher
service account (attached, or through Workload Identity Federation); no key file is needed. Missing credentials
surface when the client is built (`DefaultCredentialsError`), which is why building it is inside the error handling.

Nothing here imports google-auth, google-api-core or requests at module level: AWS-only users never pay for them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from modelfort.runtime.weights.gcs_clients import quiet_google_import
from modelfort.runtime.weights.reasons import Reason, WeightsError

ENDPOINT = "https://cloudkms.googleapis.com"
# The narrowest scope that allows GetPublicKey and AsymmetricSign.
SCOPES = ("https://www.googleapis.com/auth/cloudkms",)
RETRY_DEADLINE_S = 20.0
INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 4.0
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
# Google's canonical error statuses that are worth another attempt (as google-cloud-kms retries them).
RETRYABLE_STATUSES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED"})
_RETRYABLE_HTTP = frozenset({503, 504})


@dataclass(frozen=True)
class PublicKey:
    """Cloud KMS v1 `PublicKey`: `algorithm` by name; `pem_crc32c` None when absent."""

    name: str
    pem: str
    algorithm: str
    pem_crc32c: int | None
    protection_level: str


@dataclass(frozen=True)
class AsymmetricSignResponse:
    """Cloud KMS v1 `AsymmetricSignResponse`: the DER signature and its integrity fields."""

    name: str
    signature: bytes
    signature_crc32c: int | None
    verified_digest_crc32c: bool
    protection_level: str


class CloudKmsHttpError(Exception):
    """Cloud KMS answered with an error: Google's canonical `status` (e.g. PERMISSION_DENIED) and the HTTP status."""

    def __init__(self, status: str, http_status: int, message: str) -> None:
        super().__init__(f"{status} (HTTP {http_status}): {message}")
        self.status = status
        self.http_status = http_status
        self.message = message


class CloudKmsResponseError(Exception):
    """A successful HTTP answer whose body is not the message Cloud KMS documents."""


class CloudKmsClient:
    """GetPublicKey and AsymmetricSign over an authorised HTTP session, each retried within a deadline."""

    def __init__(
        self,
        session: Any,
        *,
        endpoint: str = ENDPOINT,
        retry: Any = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
    ) -> None:
        """`session` is a `google.auth.transport.requests.AuthorizedSession` (or any requests-like session)."""
        self._session = session
        self._endpoint = endpoint.rstrip("/")
        self._retry = retry if retry is not None else retry_policy()
        self._timeout = timeout

    def get_public_key(self, *, name: str) -> PublicKey:
        body = self._call("GET", f"{self._endpoint}/v1/{name}/publicKey", None)
        return PublicKey(
            name=_string(body, "name"),
            pem=_string(body, "pem"),
            algorithm=_string(body, "algorithm"),
            pem_crc32c=_int64(body, "pemCrc32c"),
            protection_level=_string(body, "protectionLevel"),
        )

    def asymmetric_sign(self, *, request: dict[str, Any]) -> AsymmetricSignResponse:
        payload = {
            "digest": {"sha256": base64.b64encode(request["digest"]["sha256"]).decode("ascii")},
            "digestCrc32c": str(request["digest_crc32c"]),
        }
        body = self._call("POST", f"{self._endpoint}/v1/{request['name']}:asymmetricSign", payload)
        return AsymmetricSignResponse(
            name=_string(body, "name"),
            signature=_bytes(body, "signature"),
            signature_crc32c=_int64(body, "signatureCrc32c"),
            verified_digest_crc32c=body.get("verifiedDigestCrc32c") is True,
            protection_level=_string(body, "protectionLevel"),
        )

    def _call(self, method: str, url: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            response = self._session.request(method, url, json=payload, timeout=self._timeout)
            if response.status_code >= 400:
                raise _http_error(response)
            try:
                body = response.json()
            except ValueError as error:
                raise CloudKmsResponseError(f"HTTP {response.status_code} with a body that is not JSON") from error
            if not isinstance(body, dict):
                raise CloudKmsResponseError("the response body is not a JSON object")
            return body

        return self._retry(attempt)()


# Called once per `sign` run, and only for a Cloud KMS key. Tests pass one that returns a client for a local server.
CloudKmsClientFactory = Callable[[], Any]


def is_retryable(error: BaseException) -> bool:
    """UNAVAILABLE / DEADLINE_EXCEEDED (HTTP 503 / 504), and connection errors and timeouts before any answer."""
    import requests

    if isinstance(error, CloudKmsHttpError):
        return error.status in RETRYABLE_STATUSES or error.http_status in _RETRYABLE_HTTP
    return isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))


def retry_policy(
    deadline_s: float = RETRY_DEADLINE_S,
    *,
    initial_backoff_s: float = INITIAL_BACKOFF_S,
    max_backoff_s: float = MAX_BACKOFF_S,
) -> Any:
    """google-api-core's retry loop (jittered exponential backoff) with our predicate and a total deadline."""
    with quiet_google_import():
        from google.api_core import retry as api_retry

    if not 0 < deadline_s <= 120:
        raise ValueError(f"deadline_s must be in (0, 120], got {deadline_s}")
    return api_retry.Retry(
        predicate=is_retryable,
        initial=initial_backoff_s,
        maximum=max_backoff_s,
        multiplier=2.0,
        timeout=deadline_s,
    )


def client_factory(deadline_s: float = RETRY_DEADLINE_S) -> CloudKmsClientFactory:
    """The production factory: Application Default Credentials, the global endpoint, our retries and timeouts."""

    def make() -> CloudKmsClient:
        with quiet_google_import():
            import google.auth
            from google.auth.transport.requests import AuthorizedSession

        credentials, _project = google.auth.default(scopes=list(SCOPES))
        session = AuthorizedSession(credentials, refresh_timeout=READ_TIMEOUT_S)
        return CloudKmsClient(session, retry=retry_policy(deadline_s))

    return make


# What to check when Cloud KMS (or google-auth) says no; the key version is named in every message already.
_HINTS = {
    "PERMISSION_DENIED": (
        "the signing identity needs roles/cloudkms.signer and roles/cloudkms.publicKeyViewer on the key "
        "(the reference store's publisher service account has both)"
    ),
    "UNAUTHENTICATED": "the credentials were refused; check the pipeline's Google identity",
    "NOT_FOUND": "no such key version; check the project, location, key ring, key and version number",
    "FAILED_PRECONDITION": (
        "the key version cannot sign in its state (disabled, destroyed, scheduled for destruction or still being "
        "generated); enable it or name an enabled version"
    ),
    "INVALID_ARGUMENT": "Cloud KMS refused the request (a digest CRC32C mismatch means it was corrupted in transit)",
    "RESOURCE_EXHAUSTED": "the project's Cloud KMS quota is used up; run again later",
    "DefaultCredentialsError": (
        "no Google credentials found (Application Default Credentials): run as the publisher service account"
    ),
    "RefreshError": "no access token could be obtained for the pipeline's Google identity",
    "RetryError": "Cloud KMS kept failing until the retry deadline ran out",
}


@contextmanager
def cloud_kms_errors(action: str) -> Iterator[None]:
    """Turn a Cloud KMS, google-auth or transport error raised inside into `kms_error`, naming `action` and cause.

    `action` must name the key version. Other errors (a bug, say) pass through and still fail closed.
    """
    import requests

    with quiet_google_import():
        from google.api_core import exceptions as api_exceptions
        from google.auth import exceptions as auth_exceptions

    try:
        yield
    except (
        CloudKmsHttpError,
        CloudKmsResponseError,
        api_exceptions.GoogleAPIError,
        auth_exceptions.GoogleAuthError,
        requests.exceptions.RequestException,
    ) as error:
        raise cloud_kms_error(action, error) from error


def cloud_kms_error(action: str, error: BaseException) -> WeightsError:
    """`kms_error` with what was being done, the error's kind and message, and what to check."""
    with quiet_google_import():
        from google.api_core import exceptions as api_exceptions

    kind = error.status if isinstance(error, CloudKmsHttpError) else type(error).__name__
    message = str(error)
    if isinstance(error, api_exceptions.RetryError) and error.cause is not None:
        # Only retryable failures (unavailable, deadline exceeded, no connection) get here; the last one says which.
        cause = error.cause
        cause_kind = cause.status if isinstance(cause, CloudKmsHttpError) else type(cause).__name__
        message = f"{error.message}; last error: {cause_kind}: {cause}"
    hint = _HINTS.get(kind)
    detail = f"{action}: {kind}: {message}" + (f" ({hint})" if hint else "")
    return WeightsError(Reason.KMS_ERROR, detail, gcp_error_code=kind)


def crc32c(data: bytes) -> int:
    """CRC32C of `data`, as Cloud KMS computes its integrity fields (google-crc32c, from google-cloud-storage)."""
    import google_crc32c

    return google_crc32c.value(data)


def _http_error(response: Any) -> CloudKmsHttpError:
    """Google's JSON error body (`{"error": {"code", "message", "status"}}`), or what a proxy sent instead."""
    status, message = "", ""
    # A body that is not Google's JSON error (a proxy's HTML page, say) leaves the HTTP status and the text below.
    with suppress(ValueError, AttributeError):
        error = response.json().get("error") or {}
        status = str(error.get("status") or "")
        message = str(error.get("message") or "")
    if not message:
        message = (response.text or "").strip()[:200] or "no error message"
    return CloudKmsHttpError(status or f"HTTP_{response.status_code}", response.status_code, message)


def _string(body: dict[str, Any], field: str) -> str:
    value = body.get(field, "")
    if not isinstance(value, str):
        raise CloudKmsResponseError(f"field {field!r} is not a string")
    return value


def _int64(body: dict[str, Any], field: str) -> int | None:
    """An Int64Value: a decimal string in JSON (a number is accepted too); None when absent."""
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CloudKmsResponseError(f"field {field!r} is not an int64")
    try:
        return int(value)
    except ValueError as error:
        raise CloudKmsResponseError(f"field {field!r} is not an int64") from error


def _bytes(body: dict[str, Any], field: str) -> bytes:
    """A bytes field: base64, standard or URL-safe, padded or not (proto3 JSON accepts all four)."""
    value = _string(body, field)
    padded = value + "=" * (-len(value) % 4)
    try:
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise CloudKmsResponseError(f"field {field!r} is not base64") from error
