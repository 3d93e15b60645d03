"""The GCP detection stages' topics and per-caller state bucket under a customer key, judged by the pack through the
analyzer service: no key, an empty key, a key still unknown at preview (a key: it is another resource's id), and
the secure shapes, in the lowest tier (telemetry carries prompts in every zone)."""

from __future__ import annotations

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

TOPIC = "gcp:pubsub/topic:Topic"
BUCKET = "gcp:storage/bucket:Bucket"
KEY = "projects/p/locations/us-central1/keyRings/zone/cryptoKeys/detection"
TESTING = {"modelfort:zone": "testing"}
PRIVATE = {"publicAccessPrevention": "enforced", "uniformBucketLevelAccess": True}

TOPICS = {
    "no-key": ({"name": "telemetry", "messageRetentionDuration": "604800s"}, True),
    "empty-key": ({"name": "caller-events", "kmsKeyName": ""}, True),
    "null-key": ({"name": "caller-events", "kmsKeyName": None}, True),
    "customer-key": ({"name": "telemetry", "kmsKeyName": KEY}, False),
    "key-unknown-at-preview": ({"name": "telemetry", "kmsKeyName": UNKNOWN}, False),
}

STATE_BUCKETS = {
    "google-managed": ({**PRIVATE, "lifecycleRules": [{"action": {"type": "Delete"}, "condition": {"daysSinceCustomTime": 1}}]}, True),
    "empty-encryption": ({**PRIVATE, "encryption": {}}, True),
    "customer-key": ({**PRIVATE, "encryption": {"defaultKmsKeyName": KEY}}, False),
    "key-unknown-at-preview": ({**PRIVATE, "encryption": {"defaultKmsKeyName": UNKNOWN}}, False),
}


@pytest.fixture(scope="module")
def verdicts(packs):
    pack = packs.get(TESTING)
    resources = [res(TOPIC, f"topic-{name}", props) for name, (props, _) in TOPICS.items()]
    resources += [res(BUCKET, f"state-{name}", {**props, "labels": {"modelfort-data-class": "detection-state"}})
                  for name, (props, _) in STATE_BUCKETS.items()]
    diagnostics = judge_all(pack, resources)
    return {"gcp-pubsub-topic-cmek": flagged(diagnostics, "gcp-pubsub-topic-cmek"),
            "gcs-bucket-cmek": flagged(diagnostics, "gcs-bucket-cmek"),
            "mandatory": {d.urn.rsplit("::", 1)[-1] for d in diagnostics if d.enforcement == "mandatory"}}


@pytest.mark.control("OB-03", "OB-01")
@pytest.mark.parametrize("name", sorted(TOPICS))
def test_a_topic_passes_only_with_a_customer_key(verdicts, name):
    expected = TOPICS[name][1]
    assert (f"topic-{name}" in verdicts["gcp-pubsub-topic-cmek"]) is expected
    assert (f"topic-{name}" in verdicts["mandatory"]) is expected


@pytest.mark.control("OB-03", "WP-01")
@pytest.mark.parametrize("name", sorted(STATE_BUCKETS))
def test_the_state_bucket_passes_only_with_a_customer_key(verdicts, name):
    expected = STATE_BUCKETS[name][1]
    assert (f"state-{name}" in verdicts["gcs-bucket-cmek"]) is expected
    assert (f"state-{name}" in verdicts["mandatory"]) is expected


def test_the_topic_rule_flags_topics_and_nothing_else(verdicts):
    assert verdicts["gcp-pubsub-topic-cmek"] == {f"topic-{n}" for n, (_, bad) in TOPICS.items() if bad}
