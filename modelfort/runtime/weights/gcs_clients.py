"""Cloud Storage clients with bounded retries, for `verify-weights` and `sign --upload` on GCP.

The google-cloud-storage client keeps no retry or timeout setting of its own: both are passed on every call. So a
"client" here is a `GcsConnection`, the client together with how to call it, and every call in `gcs_source` passes
both. Retries are the library's own policy (`DEFAULT_RETRY`: exponential backoff with jitter on 408, 429, 5xx,
connection errors and timeouts; never on 401/403/404) with a total deadline per request, and every attempt has a
connect and a read timeout, so an unavailable Cloud Storage delays startup by seconds, never hangs it, and then fails
with a precise reason.

`--max-attempts` bounds S3 only: google-api-core retries until a deadline, not a number of attempts (see
https://github.com/googleapis/python-api-core/issues/535), and counting attempts ourselves would be wrong for the
chunked downloads, whose workers share one retry policy. The deadline is fixed instead: `RETRY_DEADLINE_S`.

Credentials are Application Default Credentials: on GKE, Workload Identity through the metadata server; no key file
is read or needed. `STORAGE_EMULATOR_HOST`, when set, is honoured by the library (anonymous credentials, the
emulator's endpoint), which is how the tests run the production client against an emulator.

Nothing here imports google-cloud-storage at module level: AWS-only users never pay for the import.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# How long one request may keep retrying. google-api-core checks it before each retry, so it never cuts off a healthy
# multi-GB download; a stalled one is ended by the read timeout (which applies between bytes) and then retried.
RETRY_DEADLINE_S = 30.0
INITIAL_BACKOFF_S = 1.0
MAX_BACKOFF_S = 8.0
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class GcsConnection:
    """A `google.cloud.storage.Client`, and the retry policy and per-attempt timeout every call is made with."""

    client: Any
    retry: Any  # google.api_core.retry.Retry
    timeout: tuple[float, float]  # (connect, read) seconds, per attempt


# Called once per run, and only when a location is in Cloud Storage. Tests pass one that returns an emulator client.
GcsClientFactory = Callable[[], GcsConnection]


@contextmanager
def quiet_google_import() -> Iterator[None]:
    """Import Google client libraries without their Python-version `FutureWarning` reaching stderr.

    google-api-core warns on import when the interpreter nears its end of life. `verify-weights` promises that
    stderr carries nothing but a traceback or a usage error, so that notice is silenced here (only that one: any
    other warning still shows).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"You are using a Python version", category=FutureWarning)
        yield


def retry_policy(
    deadline_s: float = RETRY_DEADLINE_S,
    *,
    initial_backoff_s: float = INITIAL_BACKOFF_S,
    max_backoff_s: float = MAX_BACKOFF_S,
) -> Any:
    """The library's default retry predicate, with our backoff and a total deadline per request."""
    with quiet_google_import():
        from google.cloud.storage.retry import DEFAULT_RETRY

    if not 0 < deadline_s <= 300:
        raise ValueError(f"deadline_s must be in (0, 300], got {deadline_s}")
    return DEFAULT_RETRY.with_delay(initial=initial_backoff_s, maximum=max_backoff_s, multiplier=2.0).with_timeout(
        deadline_s
    )


def client_factory(deadline_s: float = RETRY_DEADLINE_S) -> GcsClientFactory:
    """The production factory: Application Default Credentials, our retry policy and timeouts."""

    def make() -> GcsConnection:
        with quiet_google_import():
            from google.cloud import storage

        # project=None: reading and writing objects in named buckets needs no project, and not asking for one
        # avoids a metadata lookup and a failure where none can be determined.
        return GcsConnection(
            client=without_bucket_metadata_lookups(storage.Client(project=None)),
            retry=retry_policy(deadline_s),
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        )

    return make


def without_bucket_metadata_lookups(client: Any) -> Any:
    """Stop the client fetching each bucket's metadata in a background thread; return the client.

    google-cloud-storage 3.x, the first time it touches a bucket, starts a thread that GETs the bucket (project
    number and location, to label trace spans), with tracing off too. The verifier has no use for it and should not
    hold `storage.buckets.get` for it: without that permission every run would leave a denied request in the audit
    log, and a thread still talking to Cloud Storage after the verdict. The client treats a missing cache as "off"
    (every use is guarded by `hasattr(client, "_bucket_metadata_cache") and client._bucket_metadata_cache`); the
    tests assert that a verify run makes no bucket request, so a library change that brings it back is caught.
    """
    client._bucket_metadata_cache = None
    return client
