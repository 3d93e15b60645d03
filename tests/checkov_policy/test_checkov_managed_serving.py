"""The checkov checks the pack takes for managed model serving really fire on the converted plan, through the analyzer
service: each insecure resource fails its check and its secure twin passes it. These are the checks the managed-serving
rules (modelfort_policy/rules/managed_serving.py) leave to checkov rather than writing a second rule.
"""

from __future__ import annotations

import pytest
from fixtures import flagged, judge_all, res

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GCP_KEY = "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"
ROLE = "arn:aws:iam::111122223333:role/serve"
DOMAIN = {"domainName": "studio", "authMode": "IAM", "vpcId": "vpc-1", "subnetIds": ["subnet-1"], "appNetworkAccessType": "VpcOnly",
          "defaultUserSettings": {"executionRole": ROLE}}
WORKBENCH = {"location": "us-central1-a", "gceSetup": {"machineType": "g2-standard-8", "shieldedInstanceConfig": {"enableSecureBoot": True}}}

# (check, resource name, insecure resource, secure resource)
CASES = [
    ("CKV_AWS_187", "studio",
     res("aws:sagemaker/domain:Domain", "studio", DOMAIN),
     res("aws:sagemaker/domain:Domain", "studio", {**DOMAIN, "kmsKeyId": KEY})),
    ("CKV_AWS_307", "root-left-out",  # AWS's default root access is Enabled, and checkov fails the omission too
     res("aws:sagemaker/notebookInstance:NotebookInstance", "root-left-out", {"instanceType": "ml.t3.medium", "roleArn": ROLE}),
     res("aws:sagemaker/notebookInstance:NotebookInstance", "root-left-out", {"instanceType": "ml.t3.medium", "roleArn": ROLE,
                                                                             "rootAccess": "Disabled"})),
    ("CKV_AWS_370", "isolation-off",
     res("aws:sagemaker/model:Model", "isolation-off", {"executionRoleArn": ROLE, "primaryContainer": {"image": "i"},
                                                         "enableNetworkIsolation": False}),
     res("aws:sagemaker/model:Model", "isolation-off", {"executionRoleArn": ROLE, "primaryContainer": {"image": "i"},
                                                         "enableNetworkIsolation": True})),
    ("CKV_AWS_383", "agent",
     res("aws:bedrock/agentAgent:AgentAgent", "agent", {"agentName": "support", "foundationModel": "anthropic.claude-3",
                                                        "customerEncryptionKeyArn": KEY}),
     res("aws:bedrock/agentAgent:AgentAgent", "agent", {"agentName": "support", "foundationModel": "anthropic.claude-3",
                                                        "customerEncryptionKeyArn": KEY,
                                                        "guardrailConfigurations": [{"guardrailIdentifier": "gr-1", "guardrailVersion": "1"}]})),
    ("CKV2_GCP_25", "features",
     res("gcp:vertex/aiFeatureStore:AiFeatureStore", "features", {"region": "us-central1"}),
     res("gcp:vertex/aiFeatureStore:AiFeatureStore", "features", {"region": "us-central1", "encryptionSpec": {"kmsKeyName": GCP_KEY}})),
    ("CKV2_GCP_34", "vectors",
     res("gcp:vertex/aiIndexEndpoint:AiIndexEndpoint", "vectors", {"displayName": "v", "region": "us-central1", "publicEndpointEnabled": True}),
     res("gcp:vertex/aiIndexEndpoint:AiIndexEndpoint", "vectors", {"displayName": "v", "region": "us-central1",
                                                                   "network": "projects/1/global/networks/models"})),
    ("CKV2_GCP_28", "notebook",
     res("gcp:workbench/instance:Instance", "notebook", WORKBENCH),
     res("gcp:workbench/instance:Instance", "notebook", {**WORKBENCH, "gceSetup": {**WORKBENCH["gceSetup"], "disablePublicIp": True}})),
    ("CKV2_GCP_27", "cmek-notebook",
     res("gcp:workbench/instance:Instance", "cmek-notebook", WORKBENCH),
     res("gcp:workbench/instance:Instance", "cmek-notebook", {**WORKBENCH, "gceSetup": {
         **WORKBENCH["gceSetup"], "bootDisk": {"diskEncryption": "CMEK", "kmsKey": GCP_KEY}}})),
    ("CKV_GCP_30", "gpu-default",
     res("gcp:compute/instance:Instance", "gpu-default", {"machineType": "a2-highgpu-1g", "zone": "us-central1-a",
                                                          "serviceAccount": {"email": "123-compute@developer.gserviceaccount.com", "scopes": ["storage-ro"]}}),
     res("gcp:compute/instance:Instance", "gpu-default", {"machineType": "a2-highgpu-1g", "zone": "us-central1-a",
                                                          "serviceAccount": {"email": "serve@p.iam.gserviceaccount.com", "scopes": ["storage-ro"]}})),
]


@pytest.fixture(scope="module")
def judged(packs):
    pack = packs.get({"modelfort:zone": "production"})
    return judge_all(pack, [case[2] for case in CASES]), judge_all(pack, [case[3] for case in CASES])


@pytest.mark.control("WP-01", "NB-09", "GR-09")
@pytest.mark.parametrize("check,name", [case[:2] for case in CASES], ids=[case[0] for case in CASES])
def test_the_check_fires_on_the_converted_plan_and_not_on_its_twin(judged, check, name):
    insecure, secure = judged
    assert name in flagged(insecure, f"checkov:{check}"), f"{check} did not flag '{name}'"
    assert name not in flagged(secure, f"checkov:{check}"), f"{check} flagged the secure '{name}'"


def test_a_private_service_connect_endpoint_is_not_failed_by_checkov(packs):
    """CKV2_GCP_33 knows only `network`, so the pack declines it: a PSC endpoint is private and must pass."""
    from modelfort_policy.checkov.curated import load_table

    table = load_table()
    assert "CKV2_GCP_33" in table.declined and "CKV2_GCP_33" not in {c.check_id for c in table.checks}
    endpoint = res("gcp:vertex/aiEndpoint:AiEndpoint", "psc", {"displayName": "e", "location": "us-central1",
                                                               "encryptionSpec": {"kmsKeyName": GCP_KEY},
                                                               "privateServiceConnectConfig": {"enablePrivateServiceConnect": True}})
    diagnostics = judge_all(packs.get({"modelfort:zone": "production"}), [endpoint])
    assert not [d for d in diagnostics if d.enforcement == "mandatory"], [d.message for d in diagnostics]
