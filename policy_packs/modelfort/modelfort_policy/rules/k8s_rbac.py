"""Kubernetes RBAC (RI-04, RI-11, NB-06, SC-02): no grant that hands a workload or an outsider the cluster.

A model server's service account is the first thing an attacker who escapes the model holds. Roles that let it exec
into other pods, read every Secret, or mint more rights turn one compromised pod into the cluster; bindings to the
anonymous or unauthenticated groups give the same to anyone who can reach the API server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from modelfort_policy.props import as_list, as_mappings
from modelfort_policy.rule import Context, Resource, Rule
from modelfort_policy.tiers import STANDARD

ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
ROLES = frozenset({ROLE, CLUSTER_ROLE, ROLE + "Patch", CLUSTER_ROLE + "Patch"})
BINDINGS = frozenset({ROLE_BINDING, CLUSTER_ROLE_BINDING, ROLE_BINDING + "Patch", CLUSTER_ROLE_BINDING + "Patch"})

ADMIN_ROLES = frozenset({"cluster-admin", "admin", "edit", "system:masters"})
"""Built-in roles that include exec into pods and reading Secrets (admin and edit do, within a namespace)."""
PUBLIC_SUBJECTS = frozenset({"system:anonymous", "system:unauthenticated", "system:authenticated"})
"""Everyone who can reach the API server (system:authenticated includes every service account of every tenant)."""
INTERACTIVE = frozenset({"pods/exec", "pods/attach", "pods/portforward"})
ESCALATING_VERBS = frozenset({"escalate", "bind", "impersonate"})
READ_VERBS = frozenset({"get", "list", "watch"})


def _rules(resource: Resource) -> list[Mapping[str, Any]]:
    return as_mappings(resource.props.get("rules"))


def _strings(value: Any) -> set[str]:
    return {str(v) for v in as_list(value)}


def _covers(granted: set[str], wanted: Iterable[str]) -> set[str]:
    """Which of `wanted` a rule's resource list grants, `*` and `pods/*` included."""
    wanted = set(wanted)
    if "*" in granted or "*/*" in granted:
        return wanted
    hits = wanted & granted
    hits |= {w for w in wanted if "/" in w and f"{w.split('/', 1)[0]}/*" in granted}
    return hits


def _core_group(rule: Mapping[str, Any]) -> bool:
    groups = _strings(rule.get("apiGroups"))
    return not groups or bool(groups & {"", "*"})


def role_problems(resource: Resource) -> Iterable[str]:
    kind = "ClusterRole" if resource.resource_type.startswith(CLUSTER_ROLE) else "Role"
    for index, rule in enumerate(_rules(resource)):
        verbs, resources = _strings(rule.get("verbs")), _strings(rule.get("resources"))
        where = f"{kind} '{resource.name}' rule {index}"
        if "*" in verbs:
            yield f"{where} grants every verb ('*')"
        if "*" in resources and "*" not in verbs:
            yield f"{where} grants every resource ('*')"
        if verbs & ESCALATING_VERBS:
            yield f"{where} grants {', '.join(sorted(verbs & ESCALATING_VERBS))}: the holder can grant itself any role"
        if not _core_group(rule):
            continue
        interactive = _covers(resources, INTERACTIVE)
        if interactive and verbs & {"create", "get", "*"}:
            yield f"{where} grants {', '.join(sorted(interactive))}: a shell in, or a tunnel to, every pod it covers"
        if kind == "ClusterRole" and _covers(resources, {"secrets"}) and verbs & (READ_VERBS | {"*"}):
            yield f"{where} grants {', '.join(sorted(verbs & (READ_VERBS | {'*'})))} on secrets in every namespace"


def binding_problems(resource: Resource) -> Iterable[str]:
    kind = "ClusterRoleBinding" if resource.resource_type.startswith(CLUSTER_ROLE_BINDING) else "RoleBinding"
    role = resource.props.get("roleRef")
    role_name = str(role.get("name")) if isinstance(role, Mapping) else ""
    if role_name in ADMIN_ROLES:
        yield f"{kind} '{resource.name}' binds the built-in '{role_name}' role (exec into pods, every Secret)"
    for subject in as_mappings(resource.props.get("subjects")):
        name = str(subject.get("name", ""))
        if name in PUBLIC_SUBJECTS:
            yield f"{kind} '{resource.name}' binds {name}: every caller of the API server gets '{role_name}'"


def check_roles(resource: Resource, _ctx: Context) -> Iterable[str]:
    for problem in role_problems(resource):
        yield problem + "."


def check_bindings(resource: Resource, _ctx: Context) -> Iterable[str]:
    for problem in binding_problems(resource):
        yield problem + "."


RULES = (
    Rule(
        name="k8s-rbac-no-dangerous-grants",
        description="No Role or ClusterRole grants '*', escalate/bind/impersonate, exec/attach/port-forward, or "
        "cluster-wide reads of Secrets.",
        severity="critical",
        controls=("RI-04", "RI-11", "SC-02"),
        remediation="Name the verbs and resources a workload needs; read one Secret by resourceNames in a Role, never "
        "secrets cluster-wide; grant no pods/exec, pods/attach, pods/portforward, escalate, bind or impersonate.",
        mandatory_from=STANDARD,
        resource_types=ROLES,
        resource_check=check_roles,
    ),
    Rule(
        name="k8s-rbac-no-admin-or-public-bindings",
        description="No binding to cluster-admin/admin/edit, nor to system:anonymous, system:unauthenticated or "
        "system:authenticated.",
        severity="critical",
        controls=("RI-04", "NB-05", "NB-06"),
        remediation="Bind a narrow Role to the workload's own service account; never bind the built-in admin roles or "
        "the API server's public groups.",
        mandatory_from=STANDARD,
        resource_types=BINDINGS,
        resource_check=check_bindings,
    ),
)
