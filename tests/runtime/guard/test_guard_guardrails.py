"""Guardrail backends through the real app: Bedrock ApplyGuardrail (botocore Stubber on a real client) and Model
Armor (a local fake of its REST API), including fail-closed and fail-open."""

from __future__ import annotations

import boto3
import httpx
import pytest
from botocore.stub import ANY, Stubber
from guard_support import make_config, running_guard, sse_payloads, streamed_text

from modelfort.runtime.guard.guardrails import BedrockGuardrail, ModelArmorGuardrail, parse_model_armor

CHAT = "/v1/chat/completions"
BEDROCK = {"provider": "bedrock", "bedrock": {"guardrailId": "gr-123", "guardrailVersion": "3",
                                              "region": "eu-west-1"}}
USAGE = {k: 1 for k in ("topicPolicyUnits", "contentPolicyUnits", "wordPolicyUnits", "sensitiveInformationPolicyUnits",
                         "sensitiveInformationPolicyFreeUnits", "contextualGroundingPolicyUnits")}
NONE = {"action": "NONE", "outputs": [], "assessments": []}


def chat(text: str, **extra):
    return {"messages": [{"role": "user", "content": text}], **extra}


def bedrock(config):
    client = boto3.client("bedrock-runtime", region_name="eu-west-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    stubber = Stubber(client)
    return BedrockGuardrail(config.guardrail.bedrock, config.guardrail.timeout_s, client), stubber


def expect(stubber, source, response, content=ANY):
    expected = {"guardrailIdentifier": "gr-123", "guardrailVersion": "3", "source": source, "content": content}
    stubber.add_response("apply_guardrail", {"usage": USAGE, **response}, expected)


@pytest.mark.control("RC-01")
def test_bedrock_pii_in_output_is_anonymised(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, guardrail=BEDROCK)
    guardrail, stubber = bedrock(config)
    masked = "Sure. Contact {NAME} at {EMAIL} for details."
    expect(stubber, "INPUT", NONE, [{"text": {"text": "#pii who to contact?"}}])
    expect(stubber, "OUTPUT", {"action": "GUARDRAIL_INTERVENED", "outputs": [{"text": masked}], "assessments": [
        {"sensitiveInformationPolicy": {"piiEntities": [
            {"match": "jane.doe@example.com", "type": "EMAIL", "action": "ANONYMIZED"},
            {"match": "Jane Doe", "type": "NAME", "action": "ANONYMIZED"}], "regexes": []}}]})
    with stubber, running_guard(config, guardrail=guardrail) as (url, _guard, sink):
        response = httpx.post(url + CHAT, json=chat("#pii who to contact?"))
    stubber.assert_no_pending_responses()
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == masked
    assert "jane.doe" not in response.text
    [event] = sink.events()
    assert event["output"]["text"] == masked and "jane.doe" not in sink.lines[0]
    assert event["guardrail"] == {"action": "INTERVENED", "categories": ["PII"]} and "RC-01" in event["x_controls"]


@pytest.mark.control("RC-01")
def test_bedrock_pii_blocked_output_is_withheld(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, guardrail=BEDROCK)
    guardrail, stubber = bedrock(config)
    expect(stubber, "INPUT", NONE)
    expect(stubber, "OUTPUT", {"action": "GUARDRAIL_INTERVENED", "outputs": [{"text": "blocked"}], "assessments": [
        {"sensitiveInformationPolicy": {"piiEntities": [
            {"match": "x", "type": "US_SOCIAL_SECURITY_NUMBER", "action": "BLOCKED"}], "regexes": []}}]})
    with stubber, running_guard(config, guardrail=guardrail) as (url, _guard, _sink):
        response = httpx.post(url + CHAT, json=chat("#pii"))
    assert response.status_code == 403 and "RC-01" in response.json()["error"]["message"]
    assert "jane.doe" not in response.text


@pytest.mark.control("RC-02", "RC-03")
def test_bedrock_toxic_output_and_denied_topic_input(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, guardrail=BEDROCK)
    guardrail, stubber = bedrock(config)
    expect(stubber, "INPUT", NONE)
    expect(stubber, "OUTPUT", {"action": "GUARDRAIL_INTERVENED", "outputs": [{"text": "no"}], "assessments": [
        {"contentPolicy": {"filters": [{"type": "HATE", "confidence": "HIGH", "action": "BLOCKED"}]}}]})
    expect(stubber, "INPUT", {"action": "GUARDRAIL_INTERVENED", "outputs": [{"text": "no"}], "assessments": [
        {"topicPolicy": {"topics": [{"name": "weapons", "type": "DENY", "action": "BLOCKED"}]}}]})
    with stubber, running_guard(config, guardrail=guardrail) as (url, _guard, sink):
        toxic = httpx.post(url + CHAT, json=chat("hello"))
        topic = httpx.post(url + CHAT, json=chat("how to build a weapon"))
    assert toxic.status_code == 403 and "RC-02" in toxic.json()["error"]["message"]
    assert topic.status_code == 400 and "RC-03" in topic.json()["error"]["message"]
    assert len(upstream.received) == 1
    assert [e["guardrail"]["categories"] for e in sink.events()] == [["HATE"], ["DENIED_TOPIC"]]


@pytest.mark.control("RC-04")
def test_bedrock_grounding_uses_request_sources(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, guardrail=BEDROCK)
    guardrail, stubber = bedrock(config)
    source = "Tokens are reset from the self-service portal."
    expect(stubber, "INPUT", NONE)
    expect(stubber, "OUTPUT", {"action": "GUARDRAIL_INTERVENED", "outputs": [{"text": "no"}], "assessments": [
        {"contextualGroundingPolicy": {"filters": [
            {"type": "GROUNDING", "threshold": 0.8, "score": 0.1, "action": "BLOCKED"}]}}]},
        [{"text": {"text": source, "qualifiers": ["grounding_source"]}},
         {"text": {"text": "How do I reset?", "qualifiers": ["query"]}},
         {"text": {"text": "Hello from the stub model.", "qualifiers": ["guard_content"]}}])
    with stubber, running_guard(config, guardrail=guardrail) as (url, _guard, _sink):
        response = httpx.post(url + CHAT, json=chat("How do I reset?", retrieved=[
            {"source_url": "https://kb.example.com/t", "text": source}]))
    stubber.assert_no_pending_responses()
    assert response.status_code == 403 and "RC-04" in response.json()["error"]["message"]


@pytest.mark.control("RC-02", "RC-03", "RC-08")
def test_bedrock_error_fails_closed(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, guardrail=BEDROCK)
    guardrail, stubber = bedrock(config)
    stubber.add_client_error("apply_guardrail", service_error_code="ThrottlingException", http_status_code=429)
    with stubber, running_guard(config, guardrail=guardrail) as (url, _guard, sink):
        response = httpx.post(url + CHAT, json=chat("hello"))
    assert response.status_code == 503 and response.json()["error"]["code"] == "guardrail_unavailable"
    assert upstream.received == []
    assert sink.events()[0]["x_outcome"] == "failed"


def test_model_armor_input_and_output(upstream, model_armor, tmp_path):
    armor = {"provider": "model-armor", "modelArmor": {"project": "p1", "location": "europe-west4",
                                                       "template": "t1", "endpointUrl": model_armor.url}}
    config = make_config(upstream.url, tmp_path, guardrail=armor, streaming={"windowChars": 512})

    async def token() -> str:
        return "test-token"

    guardrail = ModelArmorGuardrail(config.guardrail.model_armor, config.guardrail.timeout_s, token_provider=token)
    model_armor.calls.clear()
    with running_guard(config, guardrail=guardrail) as (url, _guard, sink):
        pii = httpx.post(url + CHAT, json=chat("#pii"))
        with httpx.stream("POST", url + CHAT, json=chat("#pii", stream=True)) as streamed:
            raw = streamed.read().decode()
        hateful = httpx.post(url + CHAT, json=chat("say something hateful"))
    assert pii.status_code == 200
    assert pii.json()["choices"][0]["message"]["content"] == "Sure. Contact Jane Doe at [EMAIL_ADDRESS] for details."
    assert streamed_text(sse_payloads(raw)) == "Sure. Contact Jane Doe at [EMAIL_ADDRESS] for details."
    assert "jane.doe" not in raw
    assert hateful.status_code == 400 and "RC-02" in hateful.json()["error"]["message"]
    paths = [call[0] for call in model_armor.calls]
    assert paths[0] == "/v1/projects/p1/locations/europe-west4/templates/t1:sanitizeUserPrompt"
    assert paths[1] == "/v1/projects/p1/locations/europe-west4/templates/t1:sanitizeModelResponse"
    assert all(call[2] == "Bearer test-token" for call in model_armor.calls)
    assert len(sink.events()) == 3


@pytest.mark.control("RC-02", "RC-03", "RC-08")
def test_model_armor_down_refuses_unless_fail_open(upstream, tmp_path):
    down = {"provider": "model-armor", "modelArmor": {"project": "p", "location": "l", "template": "t",
                                                      "endpointUrl": "http://127.0.0.1:9"}, "timeoutS": 2.0}

    async def token() -> None:
        return None

    closed = make_config(upstream.url, tmp_path, guardrail=down)
    guardrail = ModelArmorGuardrail(closed.guardrail.model_armor, 2.0, token_provider=token)
    with running_guard(closed, guardrail=guardrail) as (url, _guard, sink):
        response = httpx.post(url + CHAT, json=chat("hello"))
    assert response.status_code == 503 and response.json()["error"]["type"] == "service_unavailable_error"
    assert upstream.received == []

    opened = make_config(upstream.url, tmp_path, guardrail={**down, "failOpen": True})
    guardrail = ModelArmorGuardrail(opened.guardrail.model_armor, 2.0, token_provider=token)
    with running_guard(opened, guardrail=guardrail) as (url, _guard, sink):
        response = httpx.post(url + CHAT, json=chat("hello"))
    assert response.status_code == 200 and len(upstream.received) == 1
    assert "GUARDRAIL_FAIL_OPEN" in sink.events()[0]["guardrail"]["categories"]


def test_fail_open_is_refused_at_tier_critical(tmp_path):
    from modelfort.runtime.guard.config import GuardConfigError

    with pytest.raises(GuardConfigError, match="guardrail.failOpen"):
        make_config("http://127.0.0.1:8000", tmp_path, tier="critical", guardrail={**BEDROCK, "failOpen": True})


def test_model_armor_parser_fails_closed_on_partial_invocation():
    from modelfort.runtime.guard.guardrails import GuardrailError

    with pytest.raises(GuardrailError):
        parse_model_armor({"sanitizationResult": {"filterMatchState": "NO_MATCH_FOUND", "invocationResult": "PARTIAL"}})
    verdict = parse_model_armor({"sanitizationResult": {"filterMatchState": "MATCH_FOUND", "filterResults": {
        "pi_and_jailbreak": {"piAndJailbreakFilterResult": {"matchState": "MATCH_FOUND"}}}}})
    assert verdict.blocked and verdict.controls == ("RC-08",)


class ParkedClient:
    """A bedrock-runtime client whose call blocks until released: a guardrail that never answers."""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()

    def apply_guardrail(self, **params):
        self.release.wait(60)
        return {"action": "NONE", "outputs": [], "assessments": []}


@pytest.mark.control("RC-10")
def test_bedrock_timeout_fails_closed_without_waiting_for_the_thread(upstream, tmp_path):
    config = make_config(upstream.url, tmp_path, guardrail={**BEDROCK, "timeoutS": 0.2})
    client = ParkedClient()
    guardrail = BedrockGuardrail(config.guardrail.bedrock, config.guardrail.timeout_s, client)
    try:
        with running_guard(config, guardrail=guardrail) as (url, _guard, sink):
            response = httpx.post(url + CHAT, json=chat("hello"), timeout=30)
    finally:
        client.release.set()
    assert response.status_code == 503 and "timed out" in response.json()["error"]["message"]
    assert upstream.received == []
