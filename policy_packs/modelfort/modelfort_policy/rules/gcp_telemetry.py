"""Google Cloud: the inference guard's telemetry is kept locked, and only there (OB-01, OB-03).

On GKE the logging agent ships every container's stdout to Cloud Logging, where the project's `_Default` sink keeps it
in the `_Default` bucket: unlocked, under Google's key, for 30 days. The guard's stdout is its telemetry, one line per
request with the prompt and the response. In a stack that holds a GKE cluster and a pod running the guard (recognised
by its command, as `k8s-model-served-through-guard` does), two rules judge the shape, whatever built it:

- `gcp-guard-telemetry-locked`: a project sink whose filter selects the guard container's stdout routes it to a
  locked log bucket of the stack (that the bucket is also customer-encrypted and kept long enough is
  `gcp-log-bucket-locked`'s part, for every log bucket);
- `gcp-guard-telemetry-not-in-default`: an exclusion keeps the same lines out of `_Default`, either a project
  exclusion (the API puts it on `_Default`) or an enabled exclusion of an imported `_Default` sink (or that sink
  disabled).

A filter is read, not run: it is accepted when it is a disjunction of conjunctions of comparisons (the `AND` written
or implied) one of which only asks what every guard stdout line is (the `k8s_container` resource, the pod's namespace,
the guard's container name, a cluster of the stack, the `stdout` log, a `schema_version` present). Anything else
(negations, parentheses, other fields, free text) is not shown to select the telemetry: a filter the gate cannot read
is never a pass. A filter, destination or switch that is unknown at preview is reported as unseen, and blocks too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.props import as_mappings, referenced
from modelfort_policy.rule import Context, Finding, Rule, StackResource
from modelfort_policy.rules.gcp_common import CLUSTER, of_type
from modelfort_policy.rules.gcp_data import LOG_BUCKETS, PROJECT_SINK
from modelfort_policy.rules.k8s_guard import _pod_containers
from modelfort_policy.rules.kubernetes import Cluster, Workload, is_guard_container
from modelfort_policy.tiers import STANDARD

PROJECT_EXCLUSION = "gcp:logging/projectExclusion:ProjectExclusion"
DEFAULT_SINK = "_Default"
LOGGING_DESTINATION = "logging.googleapis.com/"
UNSEEN = ("is not known until deploy, so the gate cannot show where the guard's telemetry is kept (judge it with "
          "`pulumi preview --policy-pack` once the value is known, or make it a plain value)")

_COMPARISON = re.compile(
    r'(?P<field>[A-Za-z_][\w]*(?:\.[\w]+)*)\s*(?P<op>!=|=~|!~|<=|>=|=|:|<|>)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s()"]+)'
)
_TOKEN = re.compile(r'\s*(?:(?P<word>AND|OR|NOT)(?![\w.])|' + _COMPARISON.pattern.replace("(?P<", "(?P<c_") + r')')
_STDOUT_NAME = re.compile(r"projects/[^/\s]+/logs/stdout")
_STDOUT_PARTS = ("stdout", "/stdout", "logs/stdout", "/logs/stdout")
_ANY_VALUE = ("resource.labels.project_id", "resource.labels.location")  # one project, one cluster location


class Unseen(Exception):
    """A value the check needs is unknown at preview."""


@dataclass(frozen=True)
class GuardLogs:
    """Where a guard's lines come from, as GKE labels them."""

    workload: Workload
    namespace: str
    container: str
    clusters: frozenset[str] | None
    """Names of the stack's GKE clusters; None when one of them is unknown at preview (any name is then accepted)."""


def _read(read):
    try:
        return read()
    except UnknownValueError as exc:
        raise Unseen() from exc


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _parse(text: str) -> list[list[tuple[str, str, str]]] | None:
    """A filter as OR-ed groups of AND-ed comparisons, or None when it is anything else."""
    groups: list[list[tuple[str, str, str]]] = [[]]
    position, after_operator = 0, True
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None:
            return None  # parentheses, free text, a '-' negation: not read here
        position = match.end()
        word = match.group("word")
        if word == "NOT":
            return None
        if word:
            if after_operator:
                return None
            if word == "OR":
                groups.append([])
            after_operator = True
            continue
        groups[-1].append((match.group("c_field"), match.group("c_op"), _unquote(match.group("c_value"))))
        after_operator = False
    return None if after_operator else groups


def _holds(comparison: tuple[str, str, str], guard: GuardLogs) -> bool:
    """Whether every stdout line of the guard satisfies the comparison."""
    field, op, value = comparison
    if op not in ("=", ":"):
        return False

    def same(actual: str) -> bool:
        return value == actual if op == "=" else value in actual

    if field == "resource.type":
        return same("k8s_container")
    if field == "resource.labels.namespace_name":
        return same(guard.namespace)
    if field == "resource.labels.container_name":
        return same(guard.container)
    if field == "resource.labels.cluster_name":
        return guard.clusters is None or any(same(name) for name in guard.clusters)
    if field in _ANY_VALUE:
        return True
    if field == "logName":
        return bool(_STDOUT_NAME.fullmatch(value)) if op == "=" else (value in _STDOUT_PARTS or bool(_STDOUT_NAME.fullmatch(value)))
    if field == "jsonPayload.schema_version":
        return op == ":" and value == "*"
    return False


def selects(text: Any, guard: GuardLogs) -> bool:
    """Whether a sink or exclusion filter is shown to select every stdout line of the guard container. No filter (or
    an empty one) selects every entry."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return True
    if not isinstance(text, str):
        return False
    groups = _parse(text)
    return groups is not None and any(all(_holds(c, guard) for c in group) for group in groups)


# ---------------------------------------------------------------------------------------------------- the guards
def _cluster_names(resources: Sequence[StackResource]) -> frozenset[str] | None:
    names = set()
    for cluster in of_type(resources, CLUSTER):
        try:
            name = cluster.props.get("name")
        except UnknownValueError:
            return None
        if not isinstance(name, str):
            return None  # auto-named: whatever the provider picks
        names.add(name)
    return frozenset(names)


def guard_logs(resources: Sequence[StackResource]) -> Iterable[GuardLogs | Finding]:
    """Every guard container of the stack's pods, or a finding when its name or namespace is unknown at preview."""
    clusters = _cluster_names(resources)
    for workload in Cluster(resources).workloads:
        try:
            guards = [c for c in _pod_containers(workload.template.spec) if is_guard_container(c)]
            names = [c.get("name") for c in guards]
        except UnknownValueError:
            yield Finding(f"{workload.describe()}: its containers {UNSEEN}.", workload.resource.urn)
            continue
        for name in names:
            if not isinstance(name, str) or not isinstance(workload.namespace, str):
                yield Finding(f"{workload.describe()}: the guard container's name or namespace {UNSEEN}.", workload.resource.urn)
                continue
            yield GuardLogs(workload, workload.namespace, name, clusters)


def _enabled(resource: Any, key: str = "disabled") -> bool:
    return _read(lambda: resource.get(key) if isinstance(resource, Mapping) else resource.props.get(key)) is not True


def _locked(bucket: StackResource) -> bool | None:
    """True, False, or None when the switch is unknown at preview."""
    try:
        return bucket.props.get("locked") is True
    except UnknownValueError:
        return None


def _to_locked_bucket(sink: StackResource, buckets: list[StackResource]) -> bool:
    """Whether the sink writes into a locked log bucket of the stack; Unseen when that bucket's lock is unknown."""
    targets = {dep.urn for dep in referenced(sink, "destination")}
    matched = [b for b in buckets if b.urn in targets]
    if not matched:
        destination = _read(lambda: sink.props.get("destination"))
        if isinstance(destination, str) and destination.startswith(LOGGING_DESTINATION):
            name = destination[len(LOGGING_DESTINATION):]
            matched = [b for b in buckets if _known_id(b) == name]
    states = [_locked(b) for b in matched]
    if True in states:
        return True
    if None in states:
        raise Unseen()
    return False


def _known_id(bucket: StackResource) -> Any:
    try:
        return bucket.props.get("id")
    except UnknownValueError:
        return None


def _routed(resources: Sequence[StackResource], guard: GuardLogs) -> tuple[bool, bool]:
    """(routed to a locked bucket, something needed was unseen)."""
    buckets, unseen = [b for b in resources if b.resource_type in LOG_BUCKETS], False
    for sink in of_type(resources, PROJECT_SINK):
        try:
            if _enabled(sink) and selects(_read(lambda s=sink: s.props.get("filter")), guard) and _to_locked_bucket(sink, buckets):
                return True, False
        except Unseen:
            unseen = True
    return False, unseen


def _kept_out_of_default(resources: Sequence[StackResource], guard: GuardLogs) -> tuple[bool, bool]:
    unseen = False
    for exclusion in of_type(resources, PROJECT_EXCLUSION):
        try:
            if _enabled(exclusion) and selects(_read(lambda e=exclusion: e.props.get("filter")), guard):
                return True, False
        except Unseen:
            unseen = True
    for sink in of_type(resources, PROJECT_SINK):
        try:
            if _read(lambda s=sink: s.props.get("name")) != DEFAULT_SINK:
                continue
            if not _enabled(sink):
                return True, False  # the _Default sink stores nothing
            for entry in as_mappings(_read(lambda s=sink: s.props.get("exclusions"))):
                if _enabled(entry) and selects(_read(lambda e=entry: e.get("filter")), guard):
                    return True, False
        except Unseen:
            unseen = True
    return False, unseen


def _judge(resources: Sequence[StackResource], judge, missing: str) -> Iterable[Finding]:
    if not of_type(resources, CLUSTER):
        return
    for guard in guard_logs(resources):
        if isinstance(guard, Finding):
            yield guard
            continue
        done, unseen = judge(resources, guard)
        if done:
            continue
        where = f"{guard.workload.describe()} (guard container '{guard.container}' in namespace '{guard.namespace}')"
        if unseen:
            yield Finding(f"{where}: a sink or exclusion that may {missing} has a filter, destination or switch that "
                          f"{UNSEEN}.", guard.workload.resource.urn)
        else:
            yield Finding(f"{where}: nothing {missing}; its telemetry holds every prompt and response.", guard.workload.resource.urn)


def check_guard_telemetry_locked(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    yield from _judge(resources, _routed, "routes the guard's stdout to a locked log bucket of this stack")


def check_guard_telemetry_not_in_default(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    yield from _judge(resources, _kept_out_of_default, "keeps the guard's stdout out of the unlocked _Default bucket")


RULES = (
    Rule(name="gcp-guard-telemetry-locked",
         description="On GKE, a project sink routes the inference guard's stdout (its telemetry) to a locked log bucket.",
         severity="high", controls=("OB-01", "OB-03"), mandatory_from=STANDARD,
         remediation="Use GuardTelemetryLog (GcpZone does), or add a ProjectSink whose filter selects resource.type="
         "\"k8s_container\", the pod's namespace_name, container_name=\"guard\" and the stdout log, with a locked "
         "ProjectBucketConfig as its destination.",
         stack_check=check_guard_telemetry_locked),
    Rule(name="gcp-guard-telemetry-not-in-default",
         description="On GKE, an exclusion keeps the inference guard's stdout (prompts and responses) out of the "
         "project's unlocked _Default bucket.",
         severity="high", controls=("OB-01", "OB-03"), mandatory_from=STANDARD,
         remediation="Use GuardTelemetryLog (GcpZone does), or add a ProjectExclusion with the telemetry sink's filter.",
         stack_check=check_guard_telemetry_not_in_default),
)
