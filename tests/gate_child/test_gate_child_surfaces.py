"""Outputs and invoke results answered from the SDKs' own type information, in a preview, through the alias the
gate uses in a program's interpreter (nothing of ModelFort importable there)."""

from __future__ import annotations

import base64
import re

import pytest
from gate_child_support import by_name, run_child

pytestmark = pytest.mark.control("ST-07")


@pytest.fixture(scope="module")
def surfaces(tmp_path_factory):
    result = run_child(tmp_path_factory.mktemp("surfaces"), "sdk-surfaces", region="eu-west-1")
    assert result["error"] is None, result["error"]["traceback"]
    return result


@pytest.fixture(scope="module")
def observed(surfaces):
    return by_name(surfaces, "observed")["properties"]["data"]


def test_the_program_runs_as_a_preview(observed):
    assert observed["dry_run"] == "True"


def test_every_read_is_answered_and_nothing_is_a_gap(surfaces, observed):
    assert surfaces["mock_gaps"] == [] and surfaces["unanswered_invokes"] == [] and surfaces["unexpandable"] == []
    # A value the mocks could not answer would be unknown in a preview, and an unknown never lands in `data`.
    assert all(isinstance(v, str) and v for v in observed.values()), observed


def test_a_load_balancer_service_reports_a_documentation_range_address(observed):
    assert re.fullmatch(r"192\.0\.2\.\d{1,3}", observed["service_ip"])


def test_helm_release_status_and_api_execution_arn_and_cloud_sql_connection_name(observed):
    assert observed["release_status"] and observed["release_namespace"]
    assert re.fullmatch(r"arn:aws:execute-api:eu-west-1:123456789012:[0-9a-f]{10}", observed["execution_arn"])
    project, region, instance = observed["connection_name"].split(":")
    assert project and region == "europe-west1" and instance.startswith("db-")


def test_ec2_lookups_answer_ids_with_their_service_prefixes(observed):
    assert observed["ami_id"].startswith("ami-") and observed["ami_image_id"].startswith("ami-")
    assert observed["vpc_id"].startswith("vpc-") and re.fullmatch(r"10\.\d+\.0\.0/16", observed["vpc_cidr"])
    subnets = observed["subnet_ids"].split(",")
    assert subnets and all(s.startswith("subnet-") for s in subnets)


def test_ecr_credentials_and_route53_zone(observed):
    user, _, password = base64.b64decode(observed["ecr_token"]).decode().partition(":")
    assert user == "AWS" and password
    assert observed["ecr_endpoint"].startswith("https://") and "eu-west-1" in observed["ecr_endpoint"]
    assert re.fullmatch(r"Z[0-9A-F]{20}", observed["zone_id"])
    assert observed["zone_name"] == "example.com.", "an invoke's result keeps what the program asked for"


def test_sdks_the_project_does_not_use_are_answered_too(observed):
    assert observed["password_length"] == "24", "random's result honours the length the program asked for"
    assert observed["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", observed["image_repo_digest"])


def test_inputs_the_program_gave_are_never_overridden(surfaces):
    service = by_name(surfaces, "web")
    assert service["properties"]["spec"]["type"] == "LoadBalancer" and service["remote"] is False


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    result = run_child(tmp_path_factory.mktemp("remote"), "sdk-remote")
    assert result["error"] is None, result["error"]["traceback"]
    return result


def test_a_remote_components_declared_outputs_are_answered(remote):
    component = by_name(remote, "network")
    assert component["remote"] is True and component["custom"] is False
    assert component["properties"] == {"cidrBlock": "10.40.0.0/16"}
    observed = by_name(remote, "observed")["properties"]["data"]
    assert observed["vpc_id"].startswith("vpc-")
    assert observed["public_subnets"].startswith("subnet-") and observed["private_subnets"].startswith("subnet-")
    assert observed["kubeconfig_server"].startswith("https://")
    assert remote["mock_gaps"] == []


def test_types_and_invokes_no_installed_sdk_declares_are_reported_as_gaps():
    from pulumi.runtime import MockCallArgs, MockResourceArgs

    from modelfort.gate.child.mocks import RealisticMocks

    mocks = RealisticMocks()
    args = MockResourceArgs(typ="nosuchcloud:compute/machine:Machine", name="m", inputs={"size": "xl"}, provider="",
                            resource_id="", custom=True)
    _, state = mocks.new_resource(args)
    assert state["size"] == "xl"
    assert mocks.call(MockCallArgs(token="nosuchcloud:index/getThing:getThing", args={}, provider="")) == {}
    assert {(g["kind"], g["token"]) for g in mocks.mock_gaps} == {
        ("output", "nosuchcloud:compute/machine:Machine"), ("invoke", "nosuchcloud:index/getThing:getThing")}
    assert mocks.unanswered_invokes == ["nosuchcloud:index/getThing:getThing"]


def test_awsx_vpc_subnet_lists_are_as_long_as_its_zones_and_specs_imply(tmp_path):
    """Programs index awsx's subnet lists by position (one subnet per zone per spec); a shorter answer would crash
    them in `apply` before anything is judged."""
    result = run_child(tmp_path, "sdk-awsx-subnets")
    assert result["error"] is None, result["error"]["traceback"]
    observed = by_name(result, "observed")["properties"]["data"]
    assert observed["last_isolated"].startswith("subnet-")
    assert observed["counts"] == "2,0,4" and observed["distinct"] == "4"
    assert observed["default_counts"] == "3,3,0"  # awsx's defaults: three zones, a public and a private spec
