"""Stack config validation: every bad input gets one clear message naming the key, before any resource exists."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.config import StackConfigError, parse_stack_config
from components.zones import ZONE_PROFILES

VALID = {
    "aws:region": "us-east-1",
    "modelfort:cloud": "aws",
    "modelfort:zone": "production",
    "modelfort:network": json.dumps({"cidr": "10.30.0.0/16"}),
}


def problems_for(**changes) -> list[str]:
    raw = {**VALID}
    for key, value in changes.items():
        full_key = key.replace("__", ":")
        if value is None:
            raw.pop(full_key, None)
        else:
            raw[full_key] = json.dumps(value) if isinstance(value, (dict, list)) else value
    with pytest.raises(StackConfigError) as error:
        parse_stack_config(raw, "test")
    return error.value.problems


def test_a_valid_config_takes_the_zone_profile_defaults():
    config = parse_stack_config(VALID, "production")
    assert config.zone == "production" and config.profile == ZONE_PROFILES["production"]
    assert config.network.availability_zone_count == ZONE_PROFILES["production"].availability_zone_count
    assert config.network.egress_allowlist_cidrs == ()


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"modelfort__zone": None}, "modelfort:zone: required (one of: testing, redteam, production, high-sensitivity)"),
        ({"modelfort__zone": "prod"}, "modelfort:zone: 'prod' is not allowed"),
        ({"modelfort__cloud": "azure"}, "modelfort:cloud: 'azure' is not allowed (one of: aws, gcp)"),
        ({"modelfort__cloud": "gcp"}, "gcp:project: None is not a Google Cloud project id"),
        ({"modelfort__cloud": "gcp", "gcp__project": "acme-models-prod"}, "gcp:region: None is not a Google Cloud region"),
        # Keys the GCP zone would not act on are refused, never silently ignored.
        ({"modelfort__cloud": "gcp", "modelfort__onCall": [{"protocol": "email", "endpoint": "secops@example.com"}]},
         "modelfort:onCall: on GCP, only stacks that serve models (modelfort:models) page on-call"),
        ({"modelfort__cloud": "gcp", "modelfort__endpoint": {"hostname": "models.example.com"}},
         "modelfort:endpoint: AWS stacks only (the GCP zone has no managed model API yet)"),
        ({"aws__region": None}, "aws:region: required for cloud 'aws'"),
        ({"aws__region": "Virginia"}, "aws:region: 'Virginia' is not an AWS region name"),
        ({"modelfort__zones": "production"}, "modelfort:zones: unknown key"),
        ({"acme__owner": "me"}, "acme:owner: unknown namespace 'acme'"),
        ({"modelfort__network": None}, "modelfort:network: required"),
        ({"modelfort__network": "10.0.0.0/16"}, "modelfort:network: must be an object"),
        ({"modelfort__network": {"cidr": "10.30.0.0/33"}}, "modelfort:network.cidr: '10.30.0.0/33' is not a valid CIDR"),
        ({"modelfort__network": {"cidr": "10.30.0.1/16"}}, "modelfort:network.cidr: '10.30.0.1/16' is not a valid CIDR"),
        ({"modelfort__network": {"cidr": "8.8.0.0/16"}}, "is not a private range"),
        ({"modelfort__network": {"cidr": "10.0.0.0/8"}}, "/8 is not allowed (a prefix from /16 to /24)"),
        ({"modelfort__network": {"cidr": "fd00::/48"}}, "is IPv6"),
        ({"modelfort__network": {"cidr": 10}}, "modelfort:network.cidr: required"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "azs": 2}}, "modelfort:network.azs: unknown key"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "availabilityZoneCount": 1}}, "availabilityZoneCount: 1 is not allowed"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "availabilityZoneCount": "3"}}, "availabilityZoneCount: '3' is not allowed"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "availabilityZoneCount": True}}, "availabilityZoneCount: True is not allowed"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "egressAllowlistCidrs": ["0.0.0.0/0"]}}, "egressAllowlistCidrs[0]: 0.0.0.0/0 is too wide"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "egressAllowlistCidrs": ["10.30.8.0/24"]}}, "overlaps the zone's own CIDR"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "egressAllowlistCidrs": ["198.51.100.0/24", "198.51.100.128/25"]}}, "egressAllowlistCidrs[1]: 198.51.100.128/25 overlaps 198.51.100.0/24"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "endpointAllowedCidrs": ["198.51.100.0/24"]}}, "endpointAllowedCidrs[0]: 198.51.100.0/24 is not a private range"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "endpointAllowedCidrs": "10.1.0.0/16"}}, "endpointAllowedCidrs: must be a list"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "dnsAllowedDomains": ["not a domain"]}}, "dnsAllowedDomains[0]: 'not a domain' is not a domain name"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "interfaceEndpoints": ["Bedrock Runtime"]}}, "interfaceEndpoints[0]: 'Bedrock Runtime' is not an AWS service name"),
        ({"modelfort__network": {"cidr": "10.30.0.0/16", "interfaceEndpoints": ["kms", "kms"]}}, "interfaceEndpoints[1]: 'kms' is listed twice"),
        ({"modelfort__tags": {"aws:reserved": "x"}}, "modelfort:tags.aws:reserved: not a valid tag key"),
        ({"modelfort__tags": ["a"]}, "modelfort:tags: must be a map"),
        ({"modelfort__waivers": {"policy": "x"}}, "modelfort:waivers: must be a list"),
    ],
)
def test_bad_input_names_the_key_and_what_is_allowed(changes, expected):
    problems = problems_for(**changes)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once():
    problems = problems_for(modelfort__zone="prod", aws__region=None, modelfort__network={"cidr": "x"})
    assert len(problems) == 3


def test_the_error_message_lists_the_problems_for_humans():
    with pytest.raises(StackConfigError) as error:
        parse_stack_config({}, "x")
    assert str(error.value).startswith("invalid stack config:\n  - modelfort:zone: required")
    assert error.value.gate_exit_code == 2


config_values = st.one_of(
    st.text(max_size=30),
    st.integers().map(str),
    st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.lists(st.text(max_size=20), max_size=3)), max_size=4).map(json.dumps),
    st.lists(st.one_of(st.text(max_size=20), st.integers()), max_size=4).map(json.dumps),
)


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(["modelfort:zone", "modelfort:cloud", "modelfort:network", "modelfort:tags", "modelfort:waivers", "aws:region", "modelfort:other"]),
    value=config_values,
)
def test_any_garbage_in_any_key_is_a_config_error_never_a_crash(key, value):
    raw = {**VALID, key: value}
    try:
        config = parse_stack_config(raw, "fuzz")
    except StackConfigError as error:
        assert error.problems and all(":" in p for p in error.problems)
    else:
        # Whatever was accepted must be safe to build from.
        assert config.zone in ZONE_PROFILES and config.region


@settings(max_examples=200, deadline=None)
@given(cidr=st.ip_addresses(v=4).flatmap(lambda ip: st.integers(0, 32).map(lambda p: f"{ip}/{p}")))
def test_any_vpc_cidr_is_accepted_only_if_private_aligned_and_sized(cidr):
    import ipaddress

    raw = {**VALID, "modelfort:network": json.dumps({"cidr": cidr})}
    try:
        config = parse_stack_config(raw, "fuzz")
    except StackConfigError as error:
        assert any(p.startswith("modelfort:network.cidr:") for p in error.problems)
    else:
        network = ipaddress.ip_network(config.network.cidr)
        assert any(network.subnet_of(ipaddress.ip_network(r)) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))
        assert 16 <= network.prefixlen <= 24 and str(network) == cidr


IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelfort/vllm@sha256:" + "a" * 64
MODEL = {"name": "llama-guard", "version": "3.1.0", "image": IMAGE, "rootDigest": "b" * 64}


VERIFIER = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelfort/verifier@sha256:" + "5e" * 32


def test_a_model_release_takes_safe_defaults_and_derives_its_locations():
    supply_chain = json.dumps({"trustedBuilders": ["https://github.com/slsa-framework/slsa-github-generator@refs/tags/v2.1.0"]})
    endpoint = json.dumps({"hostname": "models.production.internal.example.com",
                           "guardCertificate": "modelfort-guard-tls",
                           "clients": {"support-assistant": {"rateLimit": 20, "burstLimit": 40, "dailyQuota": 200000}}})
    config = parse_stack_config({**VALID, "modelfort:models": json.dumps([MODEL]), "modelfort:verifierImage": VERIFIER,
                                 "modelfort:supplyChain": supply_chain, "modelfort:endpoint": endpoint}, "p")
    assert config.endpoint.clients["support-assistant"].burst_limit == 40
    (model,) = config.models
    assert config.verifier_image == VERIFIER
    assert (model.gpus, model.max_tokens, model.request_timeout_seconds, model.replicas) == (1, 4096, 60, 2)
    assert model.weights_prefix == "models/llama-guard/3.1.0"
    assert model.signature_key == "signatures/llama-guard/3.1.0.sig"


@pytest.mark.control("ST-05", "RC-09", "RC-10", "RI-08")
@pytest.mark.parametrize(
    "change,expected",
    [
        ({"image": "vllm/vllm-openai:latest"}, "modelfort:models[0].image: 'vllm/vllm-openai:latest' is not allowed (an image pinned by digest"),
        ({"image": IMAGE.replace("sha256:", "sha512:")}, "modelfort:models[0].image"),
        ({"rootDigest": "B" * 64}, "modelfort:models[0].rootDigest"),
        ({"name": "Llama_Guard"}, "modelfort:models[0].name"),
        ({"gpus": 16}, "modelfort:models[0].gpus: 16 is not allowed"),
        ({"maxTokens": 0}, "modelfort:models[0].maxTokens: 0 is not allowed"),
        ({"requestTimeoutSeconds": 3600}, "modelfort:models[0].requestTimeoutSeconds: 3600 is not allowed"),
        ({"memory": "lots"}, "modelfort:models[0].memory: 'lots' is not allowed"),
        ({"canary": {"version": "3.2.0", "image": IMAGE, "rootDigest": "c" * 64, "percent": 80}}, "canary.percent: 80 is not allowed"),
        ({"canary": {"version": "3.2.0", "image": "x:latest", "rootDigest": "c" * 64, "percent": 10}}, "canary.image"),
        ({"sbom": {"path": "sbom.json"}}, "sbom: must be an object with exactly path and sha256"),
        ({"weights": "s3://elsewhere"}, "modelfort:models[0].weights: unknown key"),
    ],
)
def test_bad_model_releases_name_the_field(change, expected):
    problems = problems_for(modelfort__models=[{**MODEL, **change}])
    assert any(expected in p for p in problems), problems


def test_models_need_a_digest_pinned_verifier_image():
    problems = problems_for(modelfort__models=[MODEL])
    assert any(p.startswith("modelfort:verifierImage: required when modelfort:models is set") for p in problems)
    problems = problems_for(modelfort__models=[MODEL], modelfort__verifierImage="modelfort/verifier:latest")
    assert any(p.startswith("modelfort:verifierImage: 'modelfort/verifier:latest' is not an image pinned by digest") for p in problems)


@pytest.mark.control("ST-03", "ST-07")
@pytest.mark.parametrize(
    "supply_chain,expected",
    [
        (None, "modelfort:supplyChain: required when modelfort:models is set"),
        ({"trustedBuilders": []}, "modelfort:supplyChain.trustedBuilders: name at least one builder id"),
        ({"trustedBuilders": ["jenkins"]}, "modelfort:supplyChain.trustedBuilders: every entry must be a builder id URI"),
        ({"trustedBuilders": ["https://b"], "deniedPackages": ["ultralytics"]}, "deniedPackages: every entry must be a package URL"),
        ({"trustedBuilders": ["https://b"], "trusted": []}, "modelfort:supplyChain.trusted: unknown key"),
    ],
)
def test_served_models_need_a_supply_chain_policy(supply_chain, expected):
    problems = problems_for(modelfort__models=[MODEL], modelfort__verifierImage=VERIFIER, modelfort__supplyChain=supply_chain)
    assert any(expected in p for p in problems), problems


@pytest.mark.control("NB-05", "NB-07")
@pytest.mark.parametrize(
    "endpoint,expected",
    [
        (None, "modelfort:endpoint: required when modelfort:models is set"),
        ({"hostname": "models.internal", "guardCertificate": "Not_A_Name", "clients": {}},
         "modelfort:endpoint.guardCertificate"),
        ({"hostname": "models.internal.example.com", "guardCertificate": "modelfort-guard-tls",
          "clients": {}}, "modelfort:endpoint.clients: name at least one client"),
        ({"hostname": "models.internal.example.com", "guardCertificate": "modelfort-guard-tls",
          "clients": {"app": {"rateLimit": 0, "burstLimit": 1, "dailyQuota": 1}}}, "modelfort:endpoint.clients.app: rateLimit"),
    ],
)
def test_served_models_need_an_endpoint_with_limited_clients(endpoint, expected):
    problems = problems_for(modelfort__models=[MODEL], modelfort__endpoint=endpoint)
    assert any(expected in p for p in problems), problems


@pytest.mark.control("OB-05")
def test_on_call_endpoints_are_email_or_https_only():
    config = parse_stack_config({**VALID, "modelfort:onCall": json.dumps([{"protocol": "email", "endpoint": "secops@example.com"}])}, "p")
    assert config.on_call == (("email", "secops@example.com"),)
    problems = problems_for(modelfort__onCall=[{"protocol": "http", "endpoint": "http://pager.example.com"}])
    assert any("modelfort:onCall[0]: give exactly protocol (email or https; never plain http)" in p for p in problems)
    problems = problems_for(modelfort__onCall=[{"protocol": "email", "endpoint": "not-an-address"}])
    assert any("modelfort:onCall[0].endpoint" in p for p in problems)


def test_one_deployment_per_model_name():
    problems = problems_for(modelfort__models=[MODEL, {**MODEL, "version": "3.2.0"}])
    assert any("modelfort:models[1].name: 'llama-guard' is listed twice" in p for p in problems)
