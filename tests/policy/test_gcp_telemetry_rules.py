"""The guard's telemetry on GKE is routed to a locked log bucket (gcp-guard-telemetry-locked) and kept out of _Default
(gcp-guard-telemetry-not-in-default): pass, fail and unknown-value fixtures judged by the pack through the analyzer.

`telemetry_stack()` is a GKE cluster, the guarded model Deployment 'm' of test_k8s_guard_rules (its guard container
is named 'guard' and runs in namespace 'models'), a locked log bucket, a sink of the guard's stdout to it and a project
exclusion of the same lines. Each test changes one thing, in the ways a program that does not use GuardTelemetryLog
could write it.
"""

from __future__ import annotations

import pytest
from fixtures import UNKNOWN, judge_all, res
from test_k8s_guard_rules import guard_container, guarded_pod, guarded_stack

LOCKED, NOT_IN_DEFAULT = "gcp-guard-telemetry-locked", "gcp-guard-telemetry-not-in-default"
POLICIES = (LOCKED, NOT_IN_DEFAULT)
TESTING = {"modelfort:zone": "testing"}
KEY = "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"
CLUSTER = "gcp:container/cluster:Cluster"
LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
SINK = "gcp:logging/projectSink:ProjectSink"
EXCLUSION = "gcp:logging/projectExclusion:ProjectExclusion"
BUCKET_ID = "projects/p/locations/us-central1/buckets/telemetry"
FILTER = ('resource.type="k8s_container" AND resource.labels.cluster_name="gke" AND resource.labels.namespace_name="models" '
          'AND resource.labels.container_name="guard" AND logName="projects/p/logs/stdout"')


def bucket(**changes) -> dict:
    return res(LOG_BUCKET, "telemetry-bucket", {"id": BUCKET_ID, "bucketId": "telemetry", "locked": True, "retentionDays": 365,
                                                "cmekSettings": {"kmsKeyName": KEY}, **changes})


def sink(target: dict | None = None, *, name: str = "telemetry-sink", deps: bool = True, **changes) -> dict:
    target = target or bucket()
    props = {"destination": f"logging.googleapis.com/{BUCKET_ID}", "filter": FILTER, **changes}
    return res(SINK, name, props, {"destination": [target]} if deps else None)


def exclusion(**changes) -> dict:
    return res(EXCLUSION, "not-in-default", {"name": "guard-telemetry", "filter": FILTER, **changes})


def telemetry_stack(*, spec: dict | None = None, log_bucket: dict | None = None, routing: list | None = None,
                    excluding: list | None = None, cluster: dict | None = None) -> list[dict]:
    target = log_bucket or bucket()
    return [
        cluster or res(CLUSTER, "gke", {"name": "gke", "location": "us-central1"}),
        *guarded_stack(spec),
        target,
        *(routing if routing is not None else [sink(target)]),
        *(excluding if excluding is not None else [exclusion()]),
    ]


def verdicts(pack, resources: list[dict]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """policy -> resource name -> [(message, enforcement)]."""
    found: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for d in judge_all(pack, resources):
        if d.policy in POLICIES:
            found.setdefault(d.policy, {}).setdefault(d.urn.rsplit("::", 1)[-1], []).append((d.message, d.enforcement))
    return found


def flagged(pack, resources: list[dict]) -> dict[str, set[str]]:
    return {policy: set(names) for policy, names in verdicts(pack, resources).items()}


@pytest.fixture(scope="module")
def pack(packs):
    return packs.get(TESTING)  # mandatory from the lowest tier


# ------------------------------------------------------------------------------------------------ what passes
@pytest.mark.control("OB-01", "OB-03")
def test_the_guards_stdout_routed_locked_and_excluded_passes(pack):
    assert flagged(pack, telemetry_stack()) == {}


@pytest.mark.control("OB-01", "OB-03")
def test_without_a_gke_cluster_or_a_guard_there_is_nothing_to_judge(pack):
    no_cluster = [r for r in telemetry_stack(routing=[], excluding=[]) if r["type"] != CLUSTER]
    assert flagged(pack, no_cluster) == {}
    no_guard = [r for r in telemetry_stack(routing=[], excluding=[]) if r["name"] != "m"]
    assert flagged(pack, no_guard) == {}


@pytest.mark.control("OB-01", "OB-03")
@pytest.mark.parametrize("text", [
    FILTER,
    # spaces around operators, unquoted values, the AND implied, substring matches
    'resource.type = k8s_container resource.labels.namespace_name = "models" resource.labels.container_name = guard logName:"stdout"',
    'resource.type="k8s_container" AND resource.labels.container_name:"guard" AND logName:"/logs/stdout" AND jsonPayload.schema_version:*',
    # the guard's lines in one branch of a wider sink
    f'logName:"cloudaudit.googleapis.com" OR {FILTER}',
    # every log, or every container of the namespace
    "",
    'resource.type="k8s_container" AND resource.labels.namespace_name="models"',
], ids=["exact", "spelled-loosely", "substrings", "one-branch", "everything", "whole-namespace"])
def test_a_filter_that_selects_every_guard_stdout_line_passes(pack, text):
    resources = telemetry_stack(routing=[sink(filter=text)], excluding=[exclusion(filter=text)])
    assert flagged(pack, resources) == {}


@pytest.mark.control("OB-01", "OB-03")
def test_a_literal_destination_naming_the_locked_bucket_passes(pack):
    assert flagged(pack, telemetry_stack(routing=[sink(deps=False)])) == {}


@pytest.mark.control("OB-01", "OB-03")
@pytest.mark.parametrize("default_sink", [
    {"name": "_Default", "exclusions": [{"name": "guard", "filter": FILTER}]},
    {"name": "_Default", "disabled": True},
], ids=["default-sink-exclusion", "default-sink-disabled"])
def test_an_imported_default_sink_can_keep_the_lines_out_itself(pack, default_sink):
    resources = telemetry_stack(excluding=[res(SINK, "default", {"destination": "logging.googleapis.com/projects/p/locations/global/buckets/_Default",
                                                                 **default_sink})])
    assert flagged(pack, resources) == {}


# ------------------------------------------------------------------------------------------------ what blocks
@pytest.mark.control("OB-01", "OB-03")
@pytest.mark.parametrize("routing", [
    [],
    [sink(disabled=True)],
    [sink(filter=FILTER.replace('"guard"', '"server"'))],
    [sink(filter=FILTER.replace("/logs/stdout", "/logs/stderr"))],
    [sink(filter=FILTER.replace('"gke"', '"another-cluster"'))],
    [sink(filter=FILTER.replace('"models"', '"default"'))],
    [sink(filter=f'{FILTER} AND jsonPayload.x_outcome="refused"')],
    [sink(filter=f'{FILTER} AND severity>=WARNING')],
    [sink(filter=f'({FILTER})')],
    [sink(filter=f'NOT resource.labels.container_name="server" AND {FILTER}')],
    [sink(filter=f'{FILTER} AND')],
    [sink(filter='"guard"')],
    [sink(deps=False, destination="logging.googleapis.com/projects/p/locations/us-central1/buckets/elsewhere")],
    [sink(deps=False, destination="storage.googleapis.com/telemetry")],
], ids=["no-sink", "disabled", "other-container", "stderr", "other-cluster", "other-namespace", "some-lines", "severity",
        "parenthesised", "negation", "dangling-and", "free-text", "other-bucket", "cloud-storage"])
def test_telemetry_not_shown_routed_to_a_locked_bucket_blocks_the_deployment(pack, routing):
    found = verdicts(pack, telemetry_stack(routing=routing))
    assert set(found) == {LOCKED} and set(found[LOCKED]) == {"m"}
    assert all(enforcement == "mandatory" for _, enforcement in found[LOCKED]["m"])


@pytest.mark.control("OB-01", "OB-03")
@pytest.mark.parametrize("locked", [False, UNKNOWN, None], ids=["unlocked", "unknown", "missing"])
def test_a_sink_to_a_bucket_not_locked_does_not_count(pack, locked):
    target = bucket(locked=locked) if locked is not None else res(LOG_BUCKET, "telemetry-bucket", {"id": BUCKET_ID, "bucketId": "telemetry"})
    found = verdicts(pack, telemetry_stack(log_bucket=target))
    assert {policy: set(names) for policy, names in found.items()} == {LOCKED: {"m"}}
    ((message, _),) = found[LOCKED]["m"]
    assert ("not known until deploy" in message) is (locked == UNKNOWN)


@pytest.mark.control("OB-01", "OB-03")
@pytest.mark.parametrize("excluding", [
    [],
    [exclusion(disabled=True)],
    [exclusion(filter=FILTER.replace('"guard"', '"server"'))],
    [exclusion(filter=f'{FILTER} AND jsonPayload.guardrail.action="INTERVENED"')],
    [res(SINK, "default", {"name": "_Default", "exclusions": [{"name": "guard", "filter": FILTER, "disabled": True}]})],
    [res(SINK, "default", {"name": "_Default", "exclusions": []})],
], ids=["no-exclusion", "disabled", "other-container", "some-lines", "default-sink-exclusion-disabled", "default-sink-without"])
def test_telemetry_not_shown_kept_out_of_default_blocks_the_deployment(pack, excluding):
    found = verdicts(pack, telemetry_stack(excluding=excluding))
    assert set(found) == {NOT_IN_DEFAULT} and set(found[NOT_IN_DEFAULT]) == {"m"}
    assert all(enforcement == "mandatory" for _, enforcement in found[NOT_IN_DEFAULT]["m"])


@pytest.mark.control("OB-01", "OB-03")
def test_the_sink_must_name_the_guard_container_as_it_is_called(pack):
    """The pack knows the guard by its command; GKE labels its lines with the container's name."""
    renamed = guarded_pod(guard={**guard_container(), "name": "inference-guard"})
    assert flagged(pack, telemetry_stack(spec=renamed)) == {LOCKED: {"m"}, NOT_IN_DEFAULT: {"m"}}
    text = FILTER.replace('"guard"', '"inference-guard"')
    assert flagged(pack, telemetry_stack(spec=renamed, routing=[sink(filter=text)], excluding=[exclusion(filter=text)])) == {}


# ------------------------------------------------------------------------------------------------ unknown at preview
@pytest.mark.control("OB-01", "OB-03")
@pytest.mark.parametrize("routing,excluding,policy", [
    ([sink(filter=UNKNOWN)], None, LOCKED),
    ([sink(disabled=UNKNOWN)], None, LOCKED),
    ([sink(deps=False, destination=UNKNOWN)], None, LOCKED),
    (None, [exclusion(filter=UNKNOWN)], NOT_IN_DEFAULT),
    (None, [exclusion(disabled=UNKNOWN)], NOT_IN_DEFAULT),
    (None, [res(SINK, "default", {"name": UNKNOWN, "exclusions": [{"name": "guard", "filter": FILTER}]})], NOT_IN_DEFAULT),
], ids=["sink-filter", "sink-switch", "sink-destination", "exclusion-filter", "exclusion-switch", "sink-name"])
def test_a_value_unknown_at_preview_is_reported_unseen_and_blocks(pack, routing, excluding, policy):
    found = verdicts(pack, telemetry_stack(routing=routing, excluding=excluding))
    assert set(found) == {policy} and set(found[policy]) == {"m"}
    ((message, enforcement),) = found[policy]["m"]
    assert "not known until deploy" in message and enforcement == "mandatory"


@pytest.mark.control("OB-01", "OB-03")
def test_a_guard_whose_name_is_unknown_is_reported_unseen_by_both_rules(pack):
    found = verdicts(pack, telemetry_stack(spec=guarded_pod(guard={**guard_container(), "name": UNKNOWN})))
    assert {policy: set(names) for policy, names in found.items()} == {LOCKED: {"m"}, NOT_IN_DEFAULT: {"m"}}
    assert all("not known until deploy" in message for names in found.values() for hits in names.values() for message, _ in hits)


@pytest.mark.control("OB-01", "OB-03")
def test_an_auto_named_cluster_accepts_any_cluster_name(pack):
    resources = telemetry_stack(cluster=res(CLUSTER, "gke", {"location": "us-central1"}),
                                routing=[sink(filter=FILTER.replace('"gke"', '"gke-1a2b3c"'))])
    assert flagged(pack, resources) == {}
