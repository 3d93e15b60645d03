"""The guard's config: the Bedrock identifiers may come from a file of their own (they are computed at deploy time,
while everything the policy pack judges stays in the main document), and the health listener's port is checked."""

from __future__ import annotations

import json

import pytest
from guard_support import config_dict

from modelfort.runtime.guard.config import GuardConfigError, parse_config

BEDROCK = {"guardrailId": "gr-abc123", "guardrailVersion": "4", "region": "eu-west-1"}


def _bedrock(tmp_path, bedrock):
    return config_dict("http://127.0.0.1:8000", tmp_path, guardrail={"provider": "bedrock", "bedrock": bedrock})


def test_bedrock_identifiers_from_a_file_next_to_the_config(tmp_path):
    (tmp_path / "bedrock-guardrail.json").write_text(json.dumps(BEDROCK), encoding="utf-8")
    config = parse_config(_bedrock(tmp_path, {"file": "bedrock-guardrail.json"}), tmp_path)
    assert config.guardrail.bedrock is not None
    assert (config.guardrail.bedrock.guardrail_id, config.guardrail.bedrock.guardrail_version) == ("gr-abc123", "4")


@pytest.mark.parametrize(
    "bedrock,written,key",
    [
        ({"file": "missing.json"}, None, "guardrail.bedrock.file"),
        ({"file": "bedrock-guardrail.json"}, "{not json", "guardrail.bedrock.file"),
        ({"file": "bedrock-guardrail.json"}, json.dumps({**BEDROCK, "guardrailVersion": "DRAFT"}),
         "guardrail.bedrock.guardrailVersion"),
        ({"file": "bedrock-guardrail.json"}, json.dumps({**BEDROCK, "extra": 1}), "guardrail.bedrock.extra"),
        ({"file": "bedrock-guardrail.json", **BEDROCK}, json.dumps(BEDROCK), "guardrail.bedrock"),
    ],
)
def test_a_bad_bedrock_file_is_refused_naming_the_key(tmp_path, bedrock, written, key):
    if written is not None:
        (tmp_path / "bedrock-guardrail.json").write_text(written, encoding="utf-8")
    with pytest.raises(GuardConfigError) as raised:
        parse_config(_bedrock(tmp_path, bedrock), tmp_path)
    assert key in {k for k, _ in raised.value.problems}


@pytest.mark.parametrize("health_port", [8443, 0, 70000])
def test_health_port_must_be_a_port_other_than_the_main_one(tmp_path, health_port):
    data = config_dict("http://127.0.0.1:8000", tmp_path, listen={"port": 8443, "healthPort": health_port})
    with pytest.raises(GuardConfigError, match="listen.healthPort"):
        parse_config(data, tmp_path)
