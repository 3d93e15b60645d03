"""Google Cloud IAM rules (WP-02, WP-03, SC-03): nothing is granted to everyone, and secrets are granted one at a time.

Every GCP IAM resource is judged, whatever it guards (buckets, secrets, keys, repositories, functions, projects): its
`member`, `members`, or the bindings of its `policy_data`; and Cloud Storage's ACL resources, which bypass IAM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from modelfort_policy.props import as_list
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.rules.gcp_common import BUCKET, SIGNATURES, WEIGHTS, data_class, of_type, points_to
from modelfort_policy.tiers import STANDARD

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
IAM_KINDS = ("IAMMember", "IamMember", "IAMBinding", "IamBinding", "IAMPolicy", "IamPolicy")
ACL_TYPES = frozenset({
    "gcp:storage/bucketACL:BucketACL",
    "gcp:storage/defaultObjectACL:DefaultObjectACL",
    "gcp:storage/objectACL:ObjectACL",
    "gcp:storage/bucketAccessControl:BucketAccessControl",
    "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl",
    "gcp:storage/objectAccessControl:ObjectAccessControl",
})
# Cloud Storage's canned ACLs that name allUsers or allAuthenticatedUsers (the JSON API's predefinedAcl values).
PUBLIC_PREDEFINED_ACLS = frozenset({"publicRead", "publicReadWrite", "authenticatedRead"})
PREDEFINED_ACL_TYPES = frozenset({"gcp:storage/bucketACL:BucketACL", "gcp:storage/objectACL:ObjectACL"})
HIERARCHY_GRANTS = frozenset({
    f"gcp:{scope}/iAM{kind}:IAM{kind}" for scope in ("projects", "folder", "organizations") for kind in ("Member", "Binding", "Policy")
})
SECRET_ROLES = frozenset({
    "roles/secretmanager.secretAccessor",
    "roles/secretmanager.secretVersionManager",
    "roles/secretmanager.secretVersionAdder",
    "roles/secretmanager.admin",
})
"""Roles that read, replace or administer secret values. Granted on a project (or higher) they reach every secret in
it, present and future, including other workloads' credentials."""


BUCKET_GRANTS = frozenset(f"gcp:storage/bucketIAM{kind}:BucketIAM{kind}" for kind in ("Member", "Binding", "Policy"))
WORKLOAD_READ_ROLE = "roles/storage.objectViewer"
WORKLOAD_MEMBER = re.compile(r"^(principal|principalSet)://iam\.googleapis\.com/.*/workloadIdentityPools/[^/]+\.svc\.id\.goog/"
                             r"|^serviceAccount:[^@\s]+\.svc\.id\.goog\[")
"""A Kubernetes workload's own identity (Workload Identity Federation for GKE): a pod, not a person or a pipeline."""


def _is_iam_resource(resource_type: str) -> bool:
    # BucketIAMMember, SecretIamMember, CryptoKeyIAMBinding, ServiceIamPolicy, ...: every service spells it its way.
    return resource_type.startswith("gcp:") and resource_type.rsplit(":", 1)[-1].endswith(IAM_KINDS)


def _grants(resource: Any) -> list[tuple[str, list[str], bool]]:
    """(role, members, narrowed by an IAM condition) for each grant of a GCP IAM resource; policy documents are
    parsed, one grant per binding."""
    props = resource.props
    kind = resource.resource_type.rsplit(":", 1)[-1]
    if kind.lower().endswith("policy"):
        data = props.get("policyData")
        try:
            document = json.loads(data) if isinstance(data, str) else None
        except json.JSONDecodeError:
            document = None
        if not isinstance(document, dict):
            return [("(unreadable policy_data)", ["(unreadable)"], False)]
        return [(str(b.get("role")), [str(m) for m in b.get("members") or []], bool(b.get("condition")))
                for b in document.get("bindings") or [] if isinstance(b, dict)]
    members = [str(m) for m in as_list(props.get("members"))] or [str(props.get("member"))]
    condition = props.get("condition")
    return [(str(props.get("role")), members, bool(condition.get("expression") if hasattr(condition, "get") else None))]


def check_no_public_members(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for resource in resources:
        if _is_iam_resource(resource.resource_type):
            for role, members, _conditioned in _grants(resource):
                if "(unreadable)" in members:
                    yield Finding(f"'{resource.name}' has a policy_data that cannot be read as an IAM policy.", resource.urn)
                for member in members:
                    if member in PUBLIC_MEMBERS:
                        yield Finding(f"'{resource.name}' grants {role} to {member}: anyone on the internet.", resource.urn)
        elif resource.resource_type in ACL_TYPES:
            props = resource.props
            entries = [str(e) for e in as_list(props.get("roleEntities"))] + [str(props.get("entity") or "")]
            for entry in entries:
                if any(public in entry for public in PUBLIC_MEMBERS):
                    yield Finding(f"ACL '{resource.name}' grants access to {entry}.", resource.urn)
        if resource.resource_type in PREDEFINED_ACL_TYPES and resource.props.get("predefinedAcl") in PUBLIC_PREDEFINED_ACLS:
            # A canned ACL is a grant to allUsers / allAuthenticatedUsers spelled as one word.
            yield Finding(f"'{resource.name}' applies the predefined ACL '{resource.props.get('predefinedAcl')}', "
                          "which grants access to anyone.", resource.urn)


def check_secret_access_scoped(resource: Resource, _ctx: Context) -> Iterable[str]:
    for role, members, _conditioned in _grants(resource):
        if role in SECRET_ROLES:
            yield (f"'{resource.name}' grants {role} on a whole project, folder or organization to {', '.join(members)}: "
                   "grant it on each secret instead (RotatedSecret.grant_access).")


def check_workload_reads_scoped(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    """A pod's identity reads model weights and signatures object by object, narrowed by an IAM condition to its own
    release: a bucket-wide grant lets one model's pods read every model, and any other role lets them change one."""
    buckets = [b for b in of_type(resources, BUCKET) if data_class(b) in (WEIGHTS, SIGNATURES)]
    for grant in resources:
        if grant.resource_type not in BUCKET_GRANTS:
            continue
        guarded = next((b for b in buckets if points_to(grant, "bucket", b)), None)
        if guarded is None:
            continue
        for role, members, conditioned in _grants(grant):
            for member in (m for m in members if WORKLOAD_MEMBER.match(m)):
                if role != WORKLOAD_READ_ROLE:
                    yield Finding(f"'{grant.name}' grants {role} on {data_class(guarded)} bucket '{guarded.name}' to the "
                                  f"workload {member}: pods only ever read ({WORKLOAD_READ_ROLE}).", grant.urn)
                elif not conditioned:
                    yield Finding(f"'{grant.name}' lets the workload {member} read all of {data_class(guarded)} bucket "
                                  f"'{guarded.name}': narrow it with an IAM condition to its own release.", grant.urn)


RULES = (
    Rule(name="gcp-no-public-members", description="No GCP IAM grant or storage ACL names allUsers or allAuthenticatedUsers.",
         severity="critical", controls=("WP-03", "WP-02", "SC-03"), mandatory_from=STANDARD,
         remediation="Grant named service accounts only (WeightsBucket.grant_read, RotatedSecret.grant_access).",
         stack_check=check_no_public_members),
    Rule(name="gcp-secret-access-scoped", description="Secret Manager roles are granted on single secrets, never on a project, folder or organization.",
         severity="high", controls=("SC-03", "WP-02"), mandatory_from=STANDARD,
         remediation="Grant roles/secretmanager.secretAccessor on the secret (gcp.secretmanager.SecretIamMember).",
         resource_types=HIERARCHY_GRANTS, resource_check=check_secret_access_scoped),
    Rule(name="gcs-workload-read-scoped",
         description="Kubernetes workloads read model weights and signatures only through grants narrowed to their own release.",
         severity="high", controls=("WP-03", "WP-02", "NB-06"), mandatory_from=STANDARD,
         remediation="Grant roles/storage.objectViewer with an IAM condition on the release's objects "
         "(WeightsBucket.grant_read, ModelReferenceStore.grant_verify).",
         stack_check=check_workload_reads_scoped),
)
