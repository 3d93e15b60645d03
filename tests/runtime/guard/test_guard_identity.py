"""Caller identity: JWT verified against a JWKS file, and mTLS with a locally generated CA, where the principal
header is trusted only on a connection that presented a verified client certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import time

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from guard_support import ServerThread, Sink, make_config, running_guard

from modelfort.runtime.guard.app import build_app
from modelfort.runtime.guard.cli import uvicorn_config
from modelfort.runtime.guard.telemetry_out import TelemetryWriter

CHAT = "/v1/chat/completions"
BODY = {"messages": [{"role": "user", "content": "hi"}]}


# --- JWT -------------------------------------------------------------------------------------------------------------

@pytest.fixture()
def jwt_setup(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", alg="RS256", use="sig")
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
    return key, other


def token(key, **overrides):
    now = int(time.time())
    claims = {"iss": "https://idp.test", "aud": "modelfort", "sub": "svc-helpdesk", "iat": now, "exp": now + 300,
              **overrides}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def test_jwt_good_token_200_bad_tokens_401(upstream, tmp_path, jwt_setup):
    key, other = jwt_setup
    config = make_config(upstream.url, tmp_path)
    with running_guard(config, authenticator=None) as (url, _guard, sink):
        good = httpx.post(url + CHAT, json=BODY, headers={"authorization": f"Bearer {token(key)}"})
        bad = {
            "missing": {},
            "wrong signature": {"authorization": f"Bearer {token(other)}"},
            "wrong audience": {"authorization": f"Bearer {token(key, aud='someone-else')}"},
            "wrong issuer": {"authorization": f"Bearer {token(key, iss='https://evil.test')}"},
            "expired": {"authorization": f"Bearer {token(key, exp=int(time.time()) - 3600)}"},
            "garbage": {"authorization": "Bearer not-a-jwt"},
            "hmac": {"authorization": "Bearer " + jwt.encode({"sub": "x", "iss": "https://idp.test",
                                                              "aud": "modelfort", "exp": int(time.time()) + 60},
                                                             "secret-secret-secret-secret-32b!", algorithm="HS256",
                                                             headers={"kid": "k1"})},
        }
        refused = {name: httpx.post(url + CHAT, json=BODY, headers=headers) for name, headers in bad.items()}
    assert good.status_code == 200
    for name, response in refused.items():
        assert response.status_code == 401, name
        assert response.json()["error"]["type"] == "authentication_error"
        assert response.headers["www-authenticate"] == "Bearer"
    events = sink.events()
    assert events[0]["caller"] == "svc-helpdesk"
    assert all(e["caller"] == "unauthenticated" and e["x_status"] == 401 for e in events[1:])
    assert len(upstream.received) == 1
    assert not any("eyJ" in line for line in sink.lines)  # no credential in telemetry


# --- mTLS ------------------------------------------------------------------------------------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, public_key, signing_key, *, ca=False, server=False):
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        builder = builder.add_extension(x509.SubjectAlternativeName([loopback]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _write(path, cert=None, key=None):
    data = b""
    if cert is not None:
        data += cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    path.write_bytes(data)
    return str(path)


@pytest.fixture()
def pki(tmp_path):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(_name("test gateway CA"), _name("test gateway CA"), ca_key.public_key(), ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert(_name("guard"), ca.subject, server_key.public_key(), ca_key, server=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert(_name("apigateway"), ca.subject, client_key.public_key(), ca_key)
    rogue_ca_key = ec.generate_private_key(ec.SECP256R1())
    rogue_ca = _cert(_name("rogue CA"), _name("rogue CA"), rogue_ca_key.public_key(), rogue_ca_key, ca=True)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _cert(_name("apigateway"), rogue_ca.subject, rogue_key.public_key(), rogue_ca_key)
    return {
        "ca": _write(tmp_path / "ca.pem", ca),
        "server_cert": _write(tmp_path / "server.pem", server), "server_key": _write(tmp_path / "server.key", None,
                                                                                      server_key),
        "client_cert": _write(tmp_path / "client.pem", client), "client_key": _write(tmp_path / "client.key", None,
                                                                                      client_key),
        "rogue_cert": _write(tmp_path / "rogue.pem", rogue), "rogue_key": _write(tmp_path / "rogue.key", None,
                                                                                  rogue_key),
    }


def _client_context(pki, cert=None, key=None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki["ca"])
    if cert:
        context.load_cert_chain(cert, key)
    return context


def mtls_config(upstream, tmp_path, pki):
    return make_config(upstream.url, tmp_path, identity={"mode": "apigateway-mtls", "apigatewayMtls": {
        "principalHeader": "X-ModelFort-Principal", "caBundle": pki["ca"], "certFile": pki["server_cert"],
        "keyFile": pki["server_key"]}})


def test_mtls_principal_trusted_only_with_a_verified_client_cert(upstream, tmp_path, pki):
    config = mtls_config(upstream, tmp_path, pki)
    sink = Sink()
    app = build_app(config, telemetry=TelemetryWriter(sink))
    options = uvicorn_config(config, app)
    tls = {"ssl_certfile": options.ssl_certfile, "ssl_keyfile": options.ssl_keyfile,
           "ssl_ca_certs": options.ssl_ca_certs, "ssl_cert_reqs": options.ssl_cert_reqs, "http": options.http}
    assert tls["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    principal = {"x-modelfort-principal": "arn:aws:iam::111122223333:role/helpdesk"}
    with ServerThread(app, **tls) as server:
        url = f"https://127.0.0.1:{server.port}"
        with httpx.Client(verify=_client_context(pki, pki["client_cert"], pki["client_key"])) as client:
            good = client.post(url + CHAT, json=BODY, headers=principal)
            no_header = client.post(url + CHAT, json=BODY)
        for cert, key in ((None, None), (pki["rogue_cert"], pki["rogue_key"])):
            with httpx.Client(verify=_client_context(pki, cert, key)) as client:
                with pytest.raises(httpx.TransportError):  # refused in the TLS handshake
                    client.post(url + CHAT, json=BODY, headers=principal)
    assert good.status_code == 200, good.text
    assert no_header.status_code == 401
    events = sink.events()
    assert [e["x_status"] for e in events] == [200, 401]
    assert events[0]["caller"] == "arn:aws:iam::111122223333:role/helpdesk"


def test_mtls_spoofed_principal_header_without_cert_is_401(upstream, tmp_path, pki):
    """The same app reached without TLS (a misrouted port, a sidecar bypass): the header alone proves nothing."""
    config = mtls_config(upstream, tmp_path, pki)
    with running_guard(config, authenticator=None) as (url, _guard, sink):
        response = httpx.post(url + CHAT, json=BODY, headers={"x-modelfort-principal": "admin"})
        forged = httpx.post(url + CHAT, json=BODY, headers={"x-modelfort-principal": "admin",
                                                            "ssl-client-verify": "SUCCESS"})
    assert response.status_code == 401 and forged.status_code == 401
    assert "client certificate" in response.json()["error"]["message"]
    assert upstream.received == []
    assert {e["caller"] for e in sink.events()} == {"unauthenticated"}


def test_jwks_url_keys_come_from_the_jwk_client(tmp_path, jwt_setup):
    import anyio

    from modelfort.runtime.guard.config import JwtSettings
    from modelfort.runtime.guard.identity import JwtAuthenticator, Unauthenticated

    key, other = jwt_setup
    jwks = json.loads((tmp_path / "jwks.json").read_text())

    class FakeJwkClient:  # the PyJWKClient interface the authenticator uses
        calls = 0

        def get_signing_key_from_jwt(self, token):
            FakeJwkClient.calls += 1
            return jwt.PyJWK(jwks["keys"][0])

    settings = JwtSettings("https://idp.test", "modelfort", ("RS256",), "sub", jwks_url="https://idp.test/jwks")
    auth = JwtAuthenticator(settings, jwk_client=FakeJwkClient())

    async def scenario():
        principal = await auth.authenticate({}, {"authorization": f"Bearer {token(key)}"})
        with pytest.raises(Unauthenticated):
            await auth.authenticate({}, {"authorization": f"Bearer {token(other)}"})
        return principal

    assert anyio.run(scenario) == "svc-helpdesk" and FakeJwkClient.calls == 2
