"""Resource policies that let anyone in: KMS key, SNS topic and SQS queue policies (WP-02, SC-03).

S3 bucket and Secrets Manager policies have their own rules (storage.py, secrets.py); all of them use the same
reading of `Principal: "*"` and of the conditions that narrow it (conditions.py), so a `aws:SecureTransport`
condition narrows nothing anywhere. A key open to anyone lets any account decrypt the zone's weights or evidence; an
open topic or queue lets anyone read the zone's alarms or inject messages into its pipelines.
"""

from __future__ import annotations

from collections.abc import Iterable

from modelfort_policy.conditions import policy_statements, public_allows
from modelfort_policy.props import as_list
from modelfort_policy.rule import Context, Resource, Rule
from modelfort_policy.tiers import STANDARD

# The property that holds each type's policy document.
POLICY_PROPERTY = {
    "aws:kms/key:Key": "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws:sns/topic:Topic": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queue:Queue": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
}


def check_resource_policy_not_public(resource: Resource, _ctx: Context) -> Iterable[str]:
    # An unknown (computed) policy raises here, and the pack reports it as "cannot judge" (fail closed).
    document = resource.props.get(POLICY_PROPERTY[resource.resource_type])
    if document is None:
        return  # no policy: the service's default admits only the owning account
    statements = policy_statements(document)
    if statements is None:
        yield f"'{resource.name}': its policy cannot be read as a policy document, so who may use it is unknown."
        return
    for statement in public_allows(statements):
        actions = ", ".join(str(a) for a in as_list(statement.get("Action"))) or "(no Action)"
        yield (f"'{resource.name}' lets anyone {actions}: Principal \"*\" with no condition that narrows who the caller "
               "is (aws:PrincipalOrgID, aws:PrincipalAccount, aws:SourceVpce, aws:SourceArn ... with a positive match).")


RULES = (
    Rule(
        name="resource-policy-not-public",
        description="KMS key, SNS topic and SQS queue policies grant nothing to Principal \"*\" unless a condition narrows who.",
        severity="critical",
        controls=("WP-02", "SC-03"),
        mandatory_from=STANDARD,
        remediation="Name the principals (account, role or service), or add a positive condition on aws:PrincipalOrgID, "
                    "aws:PrincipalAccount, aws:SourceVpce or aws:SourceArn; a TLS condition does not narrow who.",
        resource_types=frozenset(POLICY_PROPERTY),
        resource_check=check_resource_policy_not_public,
    ),
)
