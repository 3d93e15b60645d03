"""Issuers: who makes a new token, who must accept it, and how we know it works.

The rotation steps call an issuer at three points:

- ``issue`` (createSecret): produce the next value. It is stored as AWSPENDING and nobody uses it yet.
- ``activate`` (setSecret): make whoever verifies the token accept the pending value, without revoking the
  current one (consumers still hold AWSCURRENT until finishSecret).
- ``test`` (testSecret): prove the pending value works. Raise to stop the rotation; AWSCURRENT then stays where it
  is, so a broken issuer can never leave the secret unusable.

Secrets Manager retries a failed step with the same ClientRequestToken, so ``activate`` and ``test`` must be
idempotent: registering the same key twice, or testing it twice, must succeed.

Exception messages from ``activate``/``test`` are not logged (they may quote a key): raise
``PendingTokenRejected`` with a message made only of identifiers when the reason should reach the logs.
"""

from __future__ import annotations

import abc
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

from .errors import PendingTokenRejected
from .service_token import TOKEN_KINDS, ServiceToken

# 32 random bytes = 256 bits, above the 128-bit floor NIST SP 800-63B sets for secrets that must resist offline
# guessing; `token_urlsafe` encodes them as 43 URL-safe characters, usable in headers without escaping.
TOKEN_BYTES = 32
_TOKEN_BODY = re.compile(r"[A-Za-z0-9_-]{43,}")


class TokenIssuer(abc.ABC):
    """The interface the rotation steps call. Subclass ``GeneratedTokenIssuer`` or ``ThirdPartyIssuer`` instead
    of this unless the token neither comes from us nor fits the third-party pattern."""

    #: Written to the value's ``issuer`` field, so an operator can tell which code produced a version.
    name: ClassVar[str]
    #: Extra IAM actions this issuer needs on top of the rotation function's own (``REQUIRED_IAM_ACTIONS``),
    #: e.g. reading the admin credential of a third-party API; the Pulumi component grants their union.
    required_iam_actions: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> TokenIssuer:
        """Build the issuer from the Lambda environment. Override to read issuer settings; the default needs none."""
        return cls()

    @abc.abstractmethod
    def issue(self, *, secret_arn: str, kind: str, now: datetime) -> ServiceToken:
        """Return the next token for ``kind``. Called once per rotation (createSecret is skipped on retry)."""

    @abc.abstractmethod
    def activate(self, *, secret_arn: str, pending: ServiceToken, current: ServiceToken | None) -> None:
        """Make the verifier accept ``pending`` alongside ``current`` (None if the current value predates the
        service-token format, e.g. the bootstrap placeholder). Must be idempotent."""

    @abc.abstractmethod
    def test(self, *, secret_arn: str, pending: ServiceToken) -> None:
        """Raise unless ``pending`` is ready to become AWSCURRENT. Must be idempotent and must not change state."""


class GeneratedTokenIssuer(TokenIssuer):
    """Default: tokens we mint ourselves and verify against Secrets Manager.

    The model API (and any internal tool) validates a presented token by comparing it with the secret's
    AWSCURRENT and AWSPREVIOUS values, so Secrets Manager itself is the verifier: there is nothing to push in
    setSecret, and testSecret's job is to make sure the value is well formed before it is promoted.
    """

    name = "generated"

    def issue(self, *, secret_arn: str, kind: str, now: datetime) -> ServiceToken:
        return ServiceToken(
            kind=kind,
            token=TOKEN_KINDS[kind] + secrets.token_urlsafe(TOKEN_BYTES),
            created_at=now,
            issuer=self.name,
        )

    def activate(self, *, secret_arn: str, pending: ServiceToken, current: ServiceToken | None) -> None:
        """Nothing to do: verifiers read the token from Secrets Manager, which already holds the pending value
        and starts accepting it the moment finishSecret makes it AWSCURRENT."""

    def test(self, *, secret_arn: str, pending: ServiceToken) -> None:
        self.check_format(pending)

    @staticmethod
    def check_format(pending: ServiceToken) -> None:
        """Refuse a token without its kind's prefix or with less entropy than we generate. Exposed so
        ``ThirdPartyIssuer`` subclasses that keep the inherited ``issue`` can run it in their own ``test``."""
        prefix = TOKEN_KINDS[pending.kind]
        if not pending.token.startswith(prefix):
            raise PendingTokenRejected(f"pending token does not start with the {pending.kind!r} prefix {prefix!r}")
        if not _TOKEN_BODY.fullmatch(pending.token[len(prefix) :]):
            raise PendingTokenRejected(
                f"pending token body must be at least 43 URL-safe characters ({TOKEN_BYTES} random bytes)"
            )


class ThirdPartyIssuer(GeneratedTokenIssuer):
    """Hook for keys a third party must accept (an external API, a SaaS tool an agent calls).

    Subclass it in your own module, implement ``activate`` (register the pending key with the provider) and
    ``test`` (authenticate to the provider with it), and expose ``make_lambda_handler(YourIssuer)`` as the
    function's handler. ``issue`` is inherited: we generate the key and the provider accepts it. If the provider
    generates keys itself, override ``issue`` to create one there and keep its id in ``attributes`` (non-secret),
    so a later rotation can revoke it.

    Revoking superseded keys is the subclass's decision: a safe place is ``activate``, revoking every provider key
    other than ``current`` and ``pending`` (consumers have had a whole rotation period to move off AWSPREVIOUS).
    """

    name = "third-party"

    @abc.abstractmethod
    def activate(self, *, secret_arn: str, pending: ServiceToken, current: ServiceToken | None) -> None:
        """Register ``pending`` with the provider; keep ``current`` valid. Must be idempotent."""

    @abc.abstractmethod
    def test(self, *, secret_arn: str, pending: ServiceToken) -> None:
        """Authenticate to the provider with ``pending``; raise if it is refused."""
