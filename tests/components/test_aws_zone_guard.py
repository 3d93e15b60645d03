"""The AWS zone's path from API Gateway to a model: every request ends at the model pod's guard, over mutual TLS,
with the caller's principal in a header the guard trusts only on that connection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def production() -> list[dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, "production"))
    assert result["error"] is None, result["error"]
    return result["resources"]


def _of(resources: list[dict], type_: str) -> list[dict]:
    return [r for r in resources if r["type"] == type_]


@pytest.mark.control("NB-05", "NB-06", "RC-01")
def test_each_route_ends_at_the_guard_with_the_gateways_principal_and_client_certificate(production):
    integrations = [r["properties"] for r in _of(production, "aws:apigateway/integration:Integration")]
    assert integrations
    for integration in integrations:
        assert integration["uri"].endswith(("/v1/chat/completions", "/v1/completions"))
        (mapping,) = integration["requestParameters"].items()
        assert mapping[0] == "integration.request.header.x-modelfort-principal"
        assert mapping[1].startswith("context.")
    (certificate,) = _of(production, "aws:apigateway/clientCertificate:ClientCertificate")
    (stage,) = _of(production, "aws:apigateway/stage:Stage")
    assert stage["properties"]["clientCertificateId"] == certificate["id"]


@pytest.mark.control("NB-05", "NB-02")
def test_the_load_balancer_passes_tls_through_to_the_guard_port_only(production):
    for listener in _of(production, "aws:lb/listener:Listener"):
        assert listener["properties"]["protocol"] == "TCP" and "certificateArn" not in listener["properties"]
    for group in _of(production, "aws:lb/targetGroup:TargetGroup"):
        assert group["properties"]["port"] == 8443
    # The guard verifies the gateway's certificate against the PEM the stage presents.
    ca = [r for r in _of(production, "kubernetes:core/v1:ConfigMap") if r["properties"]["metadata"]["name"].endswith("-gateway-ca")]
    assert ca and all("ca.pem" in r["properties"]["data"] for r in ca)
    configs = [json.loads(r["properties"]["data"]["guard.json"]) for r in _of(production, "kubernetes:core/v1:ConfigMap")
               if "guard.json" in r["properties"].get("data", {})]
    assert configs and all(c["identity"]["mode"] == "apigateway-mtls" and c["guardrail"]["provider"] == "bedrock"
                           for c in configs)
