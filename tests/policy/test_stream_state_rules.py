"""The telemetry stream and per-caller state stores under a customer key, judged by the pack through the analyzer
service, in every way a program can write them: no encryption, the AWS-managed key, a value computed at deploy time
(which the gate cannot see, so it never passes), and the secure shape with a key that is still unknown at preview."""

from __future__ import annotations

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

STREAM = "aws:kinesis/stream:Stream"
TABLE = "aws:dynamodb/table:Table"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000000"
TESTING = {"modelfort:zone": "testing"}

STREAMS = {
    "no-encryption": ({"streamModeDetails": {"streamMode": "ON_DEMAND"}}, True),
    "none-spelled": ({"encryptionType": "NONE"}, True),
    "aws-managed": ({"encryptionType": "KMS", "kmsKeyId": "alias/aws/kinesis"}, True),
    "kms-without-key": ({"encryptionType": "KMS"}, True),
    "computed-type": ({"encryptionType": UNKNOWN, "kmsKeyId": KEY}, True),
    "customer-key": ({"encryptionType": "KMS", "kmsKeyId": KEY}, False),
    "key-unknown-at-preview": ({"encryptionType": "KMS", "kmsKeyId": UNKNOWN}, False),
}

TABLES = {
    "default-owned-key": ({"hashKey": "caller"}, True),
    "disabled": ({"serverSideEncryption": {"enabled": False}}, True),
    "aws-managed": ({"serverSideEncryption": {"enabled": True}}, True),
    "computed-sse": ({"serverSideEncryption": UNKNOWN}, True),
    "customer-key": ({"serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY}}, False),
    "key-unknown-at-preview": ({"serverSideEncryption": {"enabled": True, "kmsKeyArn": UNKNOWN}}, False),
}


@pytest.fixture(scope="module")
def verdicts(packs):
    pack = packs.get(TESTING)  # mandatory from the lowest tier: even the testing zone keeps caller data encrypted
    resources = [res(STREAM, f"stream-{name}", props) for name, (props, _) in STREAMS.items()]
    resources += [res(TABLE, f"table-{name}", props) for name, (props, _) in TABLES.items()]
    diagnostics = judge_all(pack, resources)
    return {"kinesis-stream-encrypted": flagged(diagnostics, "kinesis-stream-encrypted"),
            "dynamodb-table-encrypted": flagged(diagnostics, "dynamodb-table-encrypted"),
            "mandatory": {d.urn.rsplit("::", 1)[-1] for d in diagnostics if d.enforcement == "mandatory"}}


@pytest.mark.control("OB-03", "OB-01")
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_a_stream_passes_only_with_a_customer_key(verdicts, name):
    expected = STREAMS[name][1]
    assert (f"stream-{name}" in verdicts["kinesis-stream-encrypted"]) is expected
    assert (f"stream-{name}" in verdicts["mandatory"]) is expected


@pytest.mark.control("OB-03", "OB-01")
@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_table_passes_only_with_a_customer_key(verdicts, name):
    expected = TABLES[name][1]
    assert (f"table-{name}" in verdicts["dynamodb-table-encrypted"]) is expected
    assert (f"table-{name}" in verdicts["mandatory"]) is expected
