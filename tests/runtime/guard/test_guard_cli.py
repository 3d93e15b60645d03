"""`python -m modelfort.runtime.guard` and `modelfort guard`: config errors exit 2 before listening; a real process
writes exactly one valid telemetry line per request on stdout."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from guard_support import START_TIMEOUT_S, VALIDATOR, config_dict

REPO = Path(__file__).resolve().parents[3]


def _run(args, env=None):
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_bad_config_exits_2_naming_the_key(tmp_path):
    data = config_dict("http://10.0.0.5:8000", tmp_path, tier="critical",
                       guardrail={"provider": "bedrock", "failOpen": True,
                                  "bedrock": {"guardrailId": "g", "guardrailVersion": "DRAFT", "region": "eu-west-1"}})
    path = tmp_path / "guard.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = _run(["-m", "modelfort.runtime.guard", "--config", str(path)])
    assert result.returncode == 2
    for key in ("upstream.url", "guardrail.failOpen", "guardrail.bedrock.guardrailVersion"):
        assert key in result.stderr
    assert result.stdout == ""
    via_env = _run(["-m", "modelfort.cli", "guard"], env={"MODELFORT_GUARD_CONFIG": str(path)})
    assert via_env.returncode == 2 and "upstream.url" in via_env.stderr
    missing = _run(["-m", "modelfort.cli", "guard"], env={"MODELFORT_GUARD_CONFIG": ""})
    assert missing.returncode == 2 and "--config" in missing.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_process_serves_and_writes_telemetry_to_stdout(upstream, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk["kid"] = "k1"
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
    port = _free_port()
    data = config_dict(upstream.url, tmp_path, listen={"host": "127.0.0.1", "port": port})
    data["identity"]["jwt"]["jwksFile"] = "jwks.json"  # relative to the config file
    path = tmp_path / "guard.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "modelfort.cli", "guard", "--config", str(path)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "guard did not become live"
            time.sleep(0.05)
        now = int(time.time())
        token = jwt.encode({"iss": "https://idp.test", "aud": "modelfort", "sub": "svc-a", "exp": now + 60}, key,
                           algorithm="RS256", headers={"kid": "k1"})
        ok = httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]},
                        headers={"authorization": f"Bearer {token}"})
        denied = httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=START_TIMEOUT_S)
    assert ok.status_code == 200 and denied.status_code == 401
    lines = stdout.splitlines()
    assert len(lines) == 2, stderr
    events = [json.loads(line) for line in lines]
    for event in events:
        VALIDATOR.validate(event)
    assert [e["caller"] for e in events] == ["svc-a", "unauthenticated"]
    assert events[0]["model"] == "support-llm" and events[0]["root_digest"] == "sha256:" + "ab" * 32
    assert token not in stdout and token not in stderr


def test_health_listener_answers_probes_and_never_proxies(upstream, tmp_path):
    # The kubelet probes a plain-HTTP port: it cannot present the gateway's client certificate to the main one.
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}), encoding="utf-8")
    port, health_port = _free_port(), _free_port()
    data = config_dict(upstream.url, tmp_path, listen={"host": "127.0.0.1", "port": port, "healthPort": health_port})
    data["identity"]["jwt"]["jwksFile"] = "jwks.json"
    path = tmp_path / "guard.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "modelfort.cli", "guard", "--config", str(path)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        health = f"http://127.0.0.1:{health_port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(health + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "guard health listener did not become ready"
            time.sleep(0.05)
        live = httpx.get(health + "/healthz")
        proxied = httpx.post(health + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        main = httpx.get(f"http://127.0.0.1:{port}/healthz")
        upstream.healthy = False
        server_down = httpx.get(health + "/readyz")
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, _stderr = process.communicate(timeout=START_TIMEOUT_S)
    assert live.status_code == 200 and main.status_code == 200
    assert proxied.status_code == 404  # no route: the health listener never reaches the model
    assert upstream.received == []
    assert server_down.status_code == 503  # the model server is down: the pod is not ready
    assert stdout == ""  # probes produce no telemetry
    # Both listeners stopped on SIGTERM (uvicorn re-raises the signal after its graceful shutdown).
    assert process.returncode in (0, -signal.SIGTERM)


def test_an_unusable_jwks_file_exits_2_naming_the_key(tmp_path):
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": []}), encoding="utf-8")
    data = config_dict("http://127.0.0.1:8000", tmp_path)
    data["identity"]["jwt"]["jwksFile"] = "jwks.json"
    path = tmp_path / "guard.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = _run(["-m", "modelfort.runtime.guard", "--config", str(path)])
    assert result.returncode == 2
    assert "identity.jwt.jwksFile" in result.stderr and "Traceback" not in result.stderr
