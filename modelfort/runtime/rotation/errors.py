"""Errors the rotation function raises on purpose.

Every message built here is made only of identifiers (secret ARN, version id, step, token kind, field names),
never of secret material, so the handler may log it and Lambda may print it. Anything else that escapes a step
(issuer code, bugs) is reported by its type name only, because its message may quote a key.
"""


class RotationError(Exception):
    """A rotation step refused to continue; the message is safe to log."""


class InvalidRotationEvent(RotationError):
    """The event is not a Secrets Manager rotation event (missing field, unknown step)."""


class RotationNotEnabled(RotationError):
    """The secret is not configured for rotation, so nobody asked Secrets Manager to rotate it."""


class VersionNotStaged(RotationError):
    """The version named by ClientRequestToken is not the one this rotation may touch."""


class InvalidServiceToken(RotationError):
    """A stored value does not follow the service-token format (see ``service_token``)."""


class PendingTokenRejected(RotationError):
    """testSecret/finishSecret found the pending token unfit to become AWSCURRENT."""


class IssuerFailed(RotationError):
    """The issuer raised something other than a RotationError; its message is withheld on purpose."""
