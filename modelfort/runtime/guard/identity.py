"""Who is calling: a verified JWT, or a principal header vouched for by a verified mTLS client certificate.

`jwt` mode: the bearer token is verified (signature with a key from the JWKS, `iss`, `aud`, `exp` required, the
configured algorithms only) and the principal is the configured claim. Keys come from `jwksFile` (loaded once)
or `jwksUrl` (PyJWT's `PyJWKClient`, cached, fetched in a worker thread because it blocks).

`apigateway-mtls` mode: the guard serves TLS with `CERT_REQUIRED` and the gateway's CA bundle, so the handshake
already refuses a client without a certificate from that CA. The principal header that the gateway sets is then
trusted only on a connection whose client certificate was verified: uvicorn does not put the peer certificate in
the ASGI scope, so `TlsPeerH11Protocol` reads it from the TLS transport when the connection is made and adds the
ASGI TLS extension (`scope["extensions"]["tls"]`, with `client_cert_chain` in PEM) to every request on that
connection. A request without that extension (plain HTTP, or a transport without a verified certificate) is 401
whatever headers it carries.

Credentials (tokens, headers' raw values) never appear in errors, logs or telemetry; only the principal does.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import anyio
import jwt
from uvicorn.protocols.http.h11_impl import H11Protocol

from modelfort.runtime.guard.config import IdentitySettings, JwtSettings, MtlsSettings


class Unauthenticated(Exception):
    """The caller could not be identified; `reason` is safe to return (it never holds the credential)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Authenticator(Protocol):
    async def authenticate(self, scope: Mapping[str, Any], headers: Mapping[str, str]) -> str: ...


class JwtAuthenticator:
    def __init__(self, settings: JwtSettings, jwk_client: Any = None) -> None:
        self.settings = settings
        self._keyset: jwt.PyJWKSet | None = None
        self._client = jwk_client
        if settings.jwks_file:
            try:
                self._keyset = jwt.PyJWKSet.from_dict(json.loads(Path(settings.jwks_file).read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError, jwt.PyJWTError) as exc:
                # A startup error naming the key, never a traceback: the pod stays unready with a reason.
                raise ValueError(f"identity.jwt.jwksFile: {settings.jwks_file} is not a usable JWK set ({exc})") from exc
        elif self._client is None and settings.jwks_url:
            self._client = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=5)

    async def _key(self, token: str) -> Any:
        if self._keyset is not None:
            kid = jwt.get_unverified_header(token).get("kid")
            keys = self._keyset.keys
            if kid is None and len(keys) == 1:
                return keys[0]
            for key in keys:
                if key.key_id == kid:
                    return key
            raise Unauthenticated("token signed with an unknown key")
        assert self._client is not None
        try:
            return await anyio.to_thread.run_sync(self._client.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated("token signing key not found in the JWKS") from exc

    async def authenticate(self, scope: Mapping[str, Any], headers: Mapping[str, str]) -> str:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("a bearer token is required")
        token = token.strip()
        try:
            key = await self._key(token)
            claims = jwt.decode(token, key, algorithms=list(self.settings.algorithms),
                                audience=self.settings.audience, issuer=self.settings.issuer,
                                options={"require": ["exp", "iss", "aud"]}, leeway=30)
        except Unauthenticated:
            raise
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token ({type(exc).__name__})") from exc
        principal = claims.get(self.settings.principal_claim)
        if not isinstance(principal, str) or not principal.strip():
            raise Unauthenticated(f"token has no {self.settings.principal_claim!r} claim")
        return principal


class MtlsAuthenticator:
    def __init__(self, settings: MtlsSettings) -> None:
        self.settings = settings

    async def authenticate(self, scope: Mapping[str, Any], headers: Mapping[str, str]) -> str:
        tls = (scope.get("extensions") or {}).get("tls") or {}
        if not tls.get("client_cert_chain") or tls.get("client_cert_error"):
            raise Unauthenticated("no verified client certificate on this connection")
        principal = headers.get(self.settings.principal_header, "").strip()
        if not principal:
            raise Unauthenticated(f"the {self.settings.principal_header} header is required")
        return principal


def build_authenticator(settings: IdentitySettings, *, jwk_client: Any = None) -> Authenticator:
    if settings.mode == "jwt" and settings.jwt is not None:
        return JwtAuthenticator(settings.jwt, jwk_client)
    if settings.mode == "apigateway-mtls" and settings.mtls is not None:
        return MtlsAuthenticator(settings.mtls)
    raise ValueError(f"identity mode {settings.mode!r} is not configured")


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension for a connection, or None when it carries no verified client certificate."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    # With CERT_REQUIRED/OPTIONAL, a certificate is only returned after the chain verified against the CA bundle.
    if not der or ssl_object.context.verify_mode == ssl.CERT_NONE:
        return None
    peer = ssl_object.getpeercert() or {}
    subject = ",".join(f"{k}={v}" for rdn in peer.get("subject", ()) for k, v in rdn)
    cipher = ssl_object.cipher()
    return {"server_cert": None, "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)],
            "client_cert_name": subject or None, "client_cert_error": None,
            "tls_version": ssl_object.version(), "cipher_suite": cipher[0] if cipher else None}


class TlsPeerH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the ASGI TLS extension carrying the verified client certificate."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        extension = tls_extension(transport)
        inner = self.app

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("type") == "http":
                extensions = dict(scope.get("extensions") or {})
                extensions.pop("tls", None)  # only what this connection proved, never anything else
                if extension is not None:
                    extensions["tls"] = extension
                scope["extensions"] = extensions
            await inner(scope, receive, send)

        self.app = app
