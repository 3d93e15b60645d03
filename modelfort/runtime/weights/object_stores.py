"""Which object store a location is in, and the one store per cloud that a run uses.

The verifier and `sign --upload` ask "which store is this location in?" once per location (`scheme_of`), then talk
to an `ObjectStore`; they never branch on the cloud themselves. Adding a store is a module like `s3_source` or
`gcs_source`, a line in `_SCHEMES` and a branch in `Stores.for_location`.

Stores may be mixed in one run (say, a gs:// model with an s3:// signature, or either with a local key). Where a
piece is fetched from adds no trust: the signature must verify with the key, and its root digest must equal the pin
from the reviewed stack config, which fixes every byte of the model whatever store served it. Each store gets its
own client and credentials, built on first use, so an S3-only run never imports google-cloud-storage and a GCS-only
run never asks for AWS credentials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from modelfort.runtime.weights import gcs_source, s3_source
from modelfort.runtime.weights.aws_clients import ClientFactory
from modelfort.runtime.weights.gcs_clients import GcsClientFactory
from modelfort.runtime.weights.object_paths import ListedObject
from modelfort.runtime.weights.reasons import Reason, WeightsError

S3 = s3_source.S3_SCHEME
GCS = gcs_source.GS_SCHEME
_SCHEMES = (S3, GCS)


class ObjectStore(Protocol):
    """What the verifier and `sign --upload` need from a store. Every failure is a `WeightsError`."""

    scheme: str

    def fetch_object(self, uri: str, destination: Path, *, max_bytes: int) -> int:
        """Write one small object (signature, key) to the new file `destination`; refuse one over `max_bytes`."""
        ...

    def download_prefix(self, uri: str, download_dir: Path) -> list[ListedObject]:
        """Download every object under the prefix into the empty `download_dir`, names mapped to safe paths."""
        ...

    def upload_new(self, uri: str, body: bytes) -> None:
        """Create the object; an existing one is `Reason.SIGNATURE_EXISTS`, never overwritten."""
        ...


def scheme_of(location: str) -> str | None:
    """`s3://` or `gs://` for a location in an object store, None for a local path."""
    return next((scheme for scheme in _SCHEMES if location.startswith(scheme)), None)


def check_location(uri: str, *, prefix: bool = False) -> None:
    """Refuse a malformed store location up front, before any client is built or any work is done.

    A location in no known store is reported as an S3 one, as it was before Cloud Storage was supported.
    """
    scheme = scheme_of(uri)
    if scheme == GCS:
        gcs_source.parse_gs_uri(uri, allow_empty_name=prefix)
    elif scheme == S3:
        s3_source.parse_s3_uri(uri, allow_empty_key=prefix)
    else:
        raise WeightsError(Reason.S3_URI_INVALID, f"{uri!r} is neither an s3:// nor a gs:// location")


class Stores:
    """The stores of one run: at most one client per cloud, each built the first time a location needs it."""

    def __init__(self, *, aws_client_factory: ClientFactory | None, gcs_client_factory: GcsClientFactory | None):
        self._aws_client_factory = aws_client_factory
        self._gcs_client_factory = gcs_client_factory
        self._stores: dict[str, ObjectStore] = {}

    def for_location(self, uri: str) -> ObjectStore:
        scheme = scheme_of(uri)
        if scheme is None:
            raise ValueError(f"{uri!r} is a local path, not an object store location")
        if scheme not in self._stores:
            self._stores[scheme] = self._open(scheme)
        return self._stores[scheme]

    def _open(self, scheme: str) -> ObjectStore:
        if scheme == GCS:
            if self._gcs_client_factory is None:
                raise ValueError("a gs:// location was given but no Cloud Storage client factory")
            # Building the client is where missing credentials surface (google.auth.default()).
            with gcs_source.gcs_errors("cannot create a Cloud Storage client"):
                return gcs_source.GcsStore(self._gcs_client_factory())
        if self._aws_client_factory is None:
            raise ValueError("an s3:// location was given but no AWS client factory")
        return s3_source.S3Store(self._aws_client_factory("s3", None))
