"""The service-token secret value: one JSON object per secret version.

    {
      "format": "modelfort.service-token/v1",
      "kind": "agent",
      "token": "mf_agent_Q2p6...",
      "created_at": "2025-06-01T12:00:00Z",
      "issuer": "generated",
      "attributes": {}
    }

- ``format``: fixed marker and schema version. A reader that does not know the version refuses the value instead
  of guessing.
- ``kind``: what the token is for: ``agent`` (an API key an agent uses), ``tool`` (an API key a tool uses) or
  ``client`` (a token a client presents to the model API). It must equal the secret's ``modelfort:token-kind`` tag.
- ``token``: the credential itself. Tokens we generate start with a per-kind prefix (``mf_agent_``, ``mf_tool_``,
  ``mf_client_``) so secret scanners (SC-01) and humans can tell a leaked ModelFort token and its purpose at a
  glance, the way ``ghp_``/``xoxb-`` prefixes work; third-party keys keep whatever shape their issuer gives them.
- ``created_at``: UTC issue time, second precision, ``YYYY-MM-DDTHH:MM:SSZ``.
- ``issuer``: the name of the issuer that produced it (``generated`` for our own tokens).
- ``attributes``: non-secret, issuer-specific strings (for example the third party's key id, needed later to
  revoke that key). Never put secret material here: it exists so that issuers have no reason to.

Parsing is strict (unknown fields, missing fields, wrong types are errors): a value we cannot fully understand
must never be promoted to AWSCURRENT.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidServiceToken

FORMAT = "modelfort.service-token/v1"

# Kind -> prefix of the tokens we generate for it. Adding a kind is a format change reviewers should see.
TOKEN_KINDS: Mapping[str, str] = {
    "agent": "mf_agent_",
    "tool": "mf_tool_",
    "client": "mf_client_",
}

# Set on the secret by the Pulumi component; tags are returned by DescribeSecret, which every step calls anyway,
# so one rotation function can serve every kind without another permission.
KIND_TAG = "modelfort:token-kind"

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_FIELDS = frozenset({"format", "kind", "token", "created_at", "issuer", "attributes"})


@dataclass(frozen=True)
class ServiceToken:
    """One parsed secret version. ``token`` is excluded from ``repr`` so an accidental log of the object is safe."""

    kind: str
    token: str = field(repr=False)
    created_at: datetime
    issuer: str
    attributes: Mapping[str, str] = field(default_factory=dict)

    def to_secret_string(self) -> str:
        """Serialize for ``PutSecretValue``; the inverse of ``parse_service_token``."""
        return json.dumps(
            {
                "format": FORMAT,
                "kind": self.kind,
                "token": self.token,
                "created_at": format_time(self.created_at),
                "issuer": self.issuer,
                "attributes": dict(self.attributes),
            },
            sort_keys=True,
        )


def format_time(moment: datetime) -> str:
    """UTC, second precision. Naive datetimes are refused: a guessed timezone would corrupt ``created_at``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("created_at must be timezone-aware")
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_service_token(secret_string: str | None) -> ServiceToken:
    """Parse and validate a stored value. Error messages name the offending field, never its content."""
    if not isinstance(secret_string, str):
        raise InvalidServiceToken("secret version has no SecretString")
    try:
        document = json.loads(secret_string)
    except ValueError:
        # `from None`: the decoder error carries the document, which is the secret.
        raise InvalidServiceToken("secret value is not JSON") from None
    if not isinstance(document, dict):
        raise InvalidServiceToken("secret value is not a JSON object")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise InvalidServiceToken(f"secret value has unknown fields: {', '.join(unknown)}")
    if document.get("format") != FORMAT:
        raise InvalidServiceToken(f"secret value format is not {FORMAT}")
    kind = document.get("kind")
    if kind not in TOKEN_KINDS:
        raise InvalidServiceToken(f"secret value kind must be one of {sorted(TOKEN_KINDS)}")
    token = document.get("token")
    if not isinstance(token, str) or not token:
        raise InvalidServiceToken("secret value field 'token' must be a non-empty string")
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise InvalidServiceToken("secret value field 'issuer' must be a non-empty string")
    return ServiceToken(
        kind=kind,
        token=token,
        created_at=_parse_time(document.get("created_at")),
        issuer=issuer,
        attributes=_parse_attributes(document.get("attributes", {})),
    )


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidServiceToken("secret value field 'created_at' must be a string")
    try:
        return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidServiceToken("secret value field 'created_at' must look like 2025-06-01T12:00:00Z") from None


def _parse_attributes(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidServiceToken("secret value field 'attributes' must map strings to strings")
    return dict(value)
