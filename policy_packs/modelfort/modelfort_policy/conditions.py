"""Which IAM policy conditions really narrow `Principal: "*"`: ONE answer for every resource policy the pack reads.

An Allow to `"*"` is public unless a condition limits *who* (or from where) the caller is. Many conditions limit
nothing of the sort: `aws:SecureTransport` only asks for TLS, a time window or a user agent says nothing about the
caller. Only a positive match (StringEquals, StringLike, ArnEquals, ArnLike, and their ForAnyValue/ForAllValues
forms) on a key from `NARROWING_KEYS`, with a value that is not itself a wildcard, narrows:

- a negated operator (StringNotEquals ...) in an Allow admits everyone *except* the named caller;
- an `...IfExists` operator is satisfied when the key is absent, which it is for most callers;
- `Null` only asks whether a key is present;
- a value of "*" (or a pattern that is only wildcards) matches every caller.

S3 bucket policies, Secrets Manager secret policies, KMS key policies, SNS topic and SQS queue policies all ask
`narrows_principal` (and `is_anyone` for the principal).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelfort_policy.props import as_list

# Keys that say who the caller is, or which network or organisation the request comes from. kms:ViaService is not
# one: it names the AWS service a call came through, and any account's principals can call through that service.
# aws:SourceAccount / aws:SourceArn are set only when an AWS service calls on a resource's behalf, so with
# Principal "*" they confine the grant to that service acting for the named account or resource.
NARROWING_KEYS = (
    "aws:principalarn", "aws:principalaccount", "aws:principalorgid", "aws:principalorgpaths", "aws:principaltag/",
    "aws:sourcevpce", "aws:sourcevpc", "aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths",
    "aws:userid", "aws:username", "aws:principalservicename", "kms:calleraccount",
)
# Keys that say whose resource a request may reach: what closes a VPC endpoint's path to other accounts' data.
RESOURCE_NARROWING_KEYS = ("aws:resourceaccount", "s3:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths")
POSITIVE_OPERATORS = frozenset({"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"})
SET_PREFIXES = ("foranyvalue:", "forallvalues:")


def policy_statements(document: Any) -> list[Mapping[str, Any]] | None:
    """The statements of a policy document given as JSON text or a mapping; None when it cannot be read."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return None
    if not isinstance(document, Mapping):
        return None
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def is_anyone(principal: Any) -> bool:
    """`"*"`, or {"AWS": "*"} (alone or in a list): every caller, in every account."""
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return "*" in [str(p) for p in as_list(principal.get("AWS"))]


def _positive(operator: str) -> bool:
    name = operator.lower()
    for prefix in SET_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
    # ForAllValues is also satisfied by an empty key set: it narrows nothing when the key may be missing.
    return name in POSITIVE_OPERATORS and not operator.lower().startswith("forallvalues:")


def _narrowing_key(key: str) -> bool:
    return str(key).lower().startswith(NARROWING_KEYS)


def _specific(values: Any) -> bool:
    """At least one value, and none that matches everything."""
    texts = [str(v) for v in as_list(values)]
    return bool(texts) and all(text.strip("*?") for text in texts)


def narrowing_conditions(condition: Any) -> list[str]:
    """The `operator key` pairs of a Condition block that narrow who may act (empty: the grant is still public)."""
    if not isinstance(condition, Mapping):
        return []
    found = []
    for operator, entries in condition.items():
        if not isinstance(entries, Mapping) or not _positive(str(operator)):
            continue
        found.extend(f"{operator} {key}" for key, values in entries.items() if _narrowing_key(key) and _specific(values))
    return found


def narrows_principal(condition: Any) -> bool:
    return bool(narrowing_conditions(condition))


def narrows_resource(condition: Any) -> bool:
    """A positive, specific condition on whose resource is reached (aws:ResourceAccount, aws:ResourceOrgID, ...)."""
    if not isinstance(condition, Mapping):
        return False
    return any(
        isinstance(entries, Mapping) and _positive(str(operator))
        and any(str(key).lower() in RESOURCE_NARROWING_KEYS and _specific(values) for key, values in entries.items())
        for operator, entries in condition.items()
    )


def public_allows(statements: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The Allow statements that grant to anyone with no condition that narrows who."""
    return [s for s in statements
            if s.get("Effect") == "Allow" and is_anyone(s.get("Principal")) and not narrows_principal(s.get("Condition"))]
