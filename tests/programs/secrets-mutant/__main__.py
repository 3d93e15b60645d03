"""A production zone's secrets, credential janitor and image supply chain, with one hardening default turned off,
chosen by config `secrets-mutant:mutation` ("none" builds everything hardened).

Every mutation must be blocked by the gate (tests/e2e/test_secrets_mutations.py); the component tests read the
unmutated plan (tests/components/test_secrets_*.py, test_image_trust*.py).
"""

import dataclasses
import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.credential_janitor import CredentialJanitor, CredentialJanitorArgs
from components.aws.image_trust import ImageTrust, ImageTrustArgs
from components.aws.lambda_package import package_runtime
from components.aws.secrets import RotatedSecret, RotatedSecretArgs
from components.k8s.image_admission import ImageAdmission, ImageAdmissionArgs

ZONE, REGION = "production", "us-east-1"
SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003"]
WORKLOAD_SG = "sg-0a1b2c3d4e5f60001"
ONCALL = ["arn:aws:sns:us-east-1:123456789012:modelfort-production-oncall"]
TRUST = {"lambda": "lambda.amazonaws.com", "pods": "pods.eks.amazonaws.com", "codebuild": "codebuild.amazonaws.com"}

# Escape hatches and knobs of each component.
SECRET_MUTATIONS = {
    "rotation-slower-than-tier": {"rotation_days": 90},
    "rotation-short-log-retention": {"log_retention_days": 30},
    "secret-slow-key-rotation": {"key_rotation_days": 730},
    # An Output the component cannot inspect at construction, resolving to no subnet at all.
    "rotation-no-subnets": {"subnet_ids": pulumi.Output.from_input([])},
}
JANITOR_MUTATIONS = {
    "janitor-dry-run": {"dry_run": True},
    "janitor-idle-limit": {"max_idle_days": 90},
    "janitor-short-log-retention": {"log_retention_days": 30},
    "janitor-slow-key-rotation": {"key_rotation_days": 730},
}
IMAGE_MUTATIONS = {
    "ecr-mutable-tags": {"allow_mutable_tags": True},
    "registry-scanning-unmanaged": {"manage_registry_scanning": False},
    "images-slow-key-rotation": {"key_rotation_days": 730},
}
ADMISSION_MUTATIONS = {
    "admission-audit-only": {"audit_only": True},
}
# What a program could add beside the components (the pack judges programs, not just components).
RAW_MUTATIONS = (
    "secret-aws-managed-key", "secret-not-rotated", "secret-rotation-cron-monthly", "rotation-lambda-outside-vpc",
    "public-secret-policy", "secret-force-delete", "credential-in-function-env", "credential-in-stack-config",
    "janitor-weekly-schedule", "ecr-no-scan-on-push", "ecr-aes256", "registry-scanning-basic",
    "kyverno-failure-ignore", "kyverno-not-required", "kyverno-force-ignore", "kyverno-old-chart",
)
# Not a hardening knob but a misuse the component must refuse: the run fails (tests/components/test_secrets_components.py).
MISUSE = ("grant-read-unlisted-role",)
KNOWN = {"none", *MISUSE, *SECRET_MUTATIONS, *JANITOR_MUTATIONS, *IMAGE_MUTATIONS, *ADMISSION_MUTATIONS, *RAW_MUTATIONS}

mutation = pulumi.Config().require("mutation")
if mutation not in KNOWN:
    raise ValueError(f"secrets-mutant:mutation: unknown mutation {mutation!r}")


def role(name: str, service: str) -> aws.iam.Role:
    return aws.iam.Role(
        name,
        assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": TRUST[service]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}],
        }),
    )


serving = role("serving-role", "pods")
secret = RotatedSecret(
    "prod-agent-token",
    dataclasses.replace(
        RotatedSecretArgs(
            zone=ZONE, region=REGION, token_kind="agent", rotation_days=30, subnet_ids=SUBNETS,
            security_group_ids=[WORKLOAD_SG], log_retention_days=365, reader_role_arns=[serving.arn],
            description="API key the retrieval agent presents to the search tool", alarm_actions=ONCALL,
        ),
        **SECRET_MUTATIONS.get(mutation, {}),
    ),
)
secret.grant_read("serving", serving)
if mutation == "grant-read-unlisted-role":
    secret.grant_read("intruder", role("intruder-role", "pods"))

CredentialJanitor(
    "prod-janitor",
    dataclasses.replace(CredentialJanitorArgs(zone=ZONE, region=REGION, log_retention_days=365, alarm_actions=ONCALL), **JANITOR_MUTATIONS.get(mutation, {})),
)

images = ImageTrust(
    "prod-images",
    dataclasses.replace(
        ImageTrustArgs(zone=ZONE, region=REGION, repositories=["model-server", "guardrail"]), **IMAGE_MUTATIONS.get(mutation, {})
    ),
)
builder, kyverno_role = role("image-builder", "codebuild"), role("kyverno-admission", "pods")
images.grant_push("ci", builder)
images.grant_sign("ci", builder)
images.grant_verify("kyverno", kyverno_role)
ImageAdmission(
    "prod-admission",
    dataclasses.replace(
        ImageAdmissionArgs(signing_key_arn=images.signing_key_arn, model_namespaces=["models", "guardrails"], service_account_role_arn=kyverno_role.arn),
        **ADMISSION_MUTATIONS.get(mutation, {}),
    ),
)


# ------------------------------------------------------------------------------------------------ raw resources
def raw_function(name: str, handler: str, **kwargs) -> aws.lambda_.Function:
    package = package_runtime(handler.split(".")[0])
    return aws.lambda_.Function(name, runtime="python3.12", handler=handler, code=package.archive, role=role(f"{name}-role", "lambda").arn, **kwargs)


def verify_images_policy(name: str, failure_policy: str = "Fail", **entry_changes) -> None:
    entry = {
        "imageReferences": ["*"],
        "attestors": [{"entries": [{"keys": {"kms": "awskms:///arn:aws:kms:us-east-1:123456789012:key/abcd"}}]}],
        **entry_changes,
    }
    spec = {
        "validationFailureAction": "Enforce",
        "failurePolicy": failure_policy,
        "rules": [{"name": "verify", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "verifyImages": [entry]}],
    }
    k8s.apiextensions.CustomResource(name, api_version="kyverno.io/v1", kind="ClusterPolicy", metadata={"name": name}, spec=spec)


key = aws.kms.Key("side-key", enable_key_rotation=True, rotation_period_in_days=365)
if mutation == "secret-aws-managed-key":
    aws.secretsmanager.Secret("plain-secret")
elif mutation == "secret-not-rotated":
    aws.secretsmanager.Secret("unrotated", kms_key_id=key.arn)
elif mutation == "secret-rotation-cron-monthly":
    monthly = aws.secretsmanager.Secret("monthly-secret", kms_key_id=key.arn)
    aws.secretsmanager.SecretRotation("monthly-rotation", secret_id=monthly.id, rotation_lambda_arn=secret.rotation_function_arn,
                                      rotation_rules={"schedule_expression": "cron(0 3 1 * ? *)"})
elif mutation == "rotation-lambda-outside-vpc":
    outside = raw_function("raw-rotation", "rotation.handler.lambda_handler")
    rotated = aws.secretsmanager.Secret("raw-rotated", kms_key_id=key.arn)
    aws.secretsmanager.SecretRotation("raw-rotation-schedule", secret_id=rotated.id, rotation_lambda_arn=outside.arn,
                                      rotation_rules={"automatically_after_days": 7})
elif mutation == "public-secret-policy":
    aws.secretsmanager.SecretPolicy("open-secret-policy", secret_arn=secret.secret_arn, policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
                       "Condition": {"Bool": {"aws:SecureTransport": "true"}}}],
    }))
elif mutation == "secret-force-delete":
    doomed = aws.secretsmanager.Secret("doomed-secret", kms_key_id=key.arn, recovery_window_in_days=0)
    aws.secretsmanager.SecretRotation("doomed-rotation", secret_id=doomed.id, rotation_lambda_arn=secret.rotation_function_arn,
                                      rotation_rules={"automatically_after_days": 7})
elif mutation == "credential-in-function-env":
    raw_function("leaky-function", "rotation.handler.lambda_handler",
                 environment={"variables": {"OPENAI_API_KEY": "sk-proj-EXAMPLEonlyNOTaREALkey0123456789abcdef"}})
elif mutation == "janitor-weekly-schedule":
    weekly_janitor = raw_function("raw-janitor", "janitor.handler.lambda_handler")
    weekly = aws.cloudwatch.EventRule("raw-janitor-weekly", schedule_expression="rate(7 days)")
    aws.cloudwatch.EventTarget("raw-janitor-target", rule=weekly.name, arn=weekly_janitor.arn)
elif mutation == "ecr-no-scan-on-push":
    aws.ecr.Repository("unscanned-repo", image_tag_mutability="IMMUTABLE",
                       encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}])
elif mutation == "ecr-aes256":
    aws.ecr.Repository("aes-repo", image_tag_mutability="IMMUTABLE", image_scanning_configuration={"scan_on_push": True},
                       encryption_configurations=[{"encryption_type": "AES256"}])
elif mutation == "registry-scanning-basic":
    aws.ecr.RegistryScanningConfiguration("basic-scanning", scan_type="BASIC")
elif mutation == "kyverno-failure-ignore":
    verify_images_policy("lenient-policy", failure_policy="Ignore")
elif mutation == "kyverno-not-required":
    verify_images_policy("optional-signatures", required=False)
elif mutation == "kyverno-force-ignore":
    k8s.helm.v3.Release("raw-kyverno", chart="kyverno", version="3.8.2", repository_opts={"repo": "https://kyverno.github.io/kyverno/"},
                        values={"features": {"forceFailurePolicyIgnore": {"enabled": True}}})
elif mutation == "kyverno-old-chart":
    k8s.helm.v3.Release("old-kyverno", chart="kyverno", version="3.3.4", repository_opts={"repo": "https://kyverno.github.io/kyverno/"})
