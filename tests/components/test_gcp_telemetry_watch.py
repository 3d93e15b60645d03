"""GCP TelemetryWatch under mocks, as the gcp-production stack builds it, and the detection functions' archive."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components.gcp.function_source import FunctionSourceError, check_imports, detection_function_source
from components.gcp.telemetry_routing import STDOUT_LOG, guard_logs_filter
from components.gcp.telemetry_watch import DEAD_LETTER_SENDS, OLDEST_UNACKED, TelemetryWatchArgs
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]
DAY = 86_400
W = "production-detection"


@pytest.fixture(scope="module")
def production() -> dict[str, dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, "gcp-production"))
    assert result["error"] is None, result["error"]
    return {r["name"]: r for r in result["resources"]}


def props(resources: dict[str, dict], name: str) -> dict:
    return resources[name]["properties"]


def depends(resources: dict[str, dict], name: str) -> set[str]:
    return {u.rsplit("::", 1)[-1] for u in resources[name]["dependencies"]}


@pytest.mark.control("OB-01", "OB-03")
def test_every_topic_and_the_state_bucket_are_under_the_watchs_key_in_the_region(production):
    key = production[f"{W}-key"]["id"]
    for role in ("telemetry", "caller-events", "telemetry-dead-letter", "caller-events-dead-letter"):
        topic = props(production, f"{W}-{role}")
        assert topic["kmsKeyName"] == key
        assert topic["messageStoragePolicy"] == {"allowedPersistenceRegions": ["us-central1"]}
        assert topic["messageRetentionDuration"] == f"{7 * DAY}s"
        assert {f"{W}-key-agents-0", f"{W}-key-agents-1"} <= depends(production, f"{W}-{role}")
    state = props(production, f"{W}-state")
    assert state["encryption"]["defaultKmsKeyName"] == key
    assert state["uniformBucketLevelAccess"] is True and state["publicAccessPrevention"] == "enforced"
    assert state["versioning"] == {"enabled": False}
    assert state["lifecycleRules"] == [{"action": {"type": "Delete"}, "condition": {"daysSinceCustomTime": 1}}]


@pytest.mark.control("OB-01")
def test_the_guards_stdout_is_routed_to_the_telemetry_topic_by_a_sink_that_may_publish_only_there(production):
    sink = props(production, f"{W}-telemetry-sink")
    assert sink["destination"] == "pubsub.googleapis.com/" + production[f"{W}-telemetry"]["id"]
    # Detection reads exactly what the locked telemetry bucket keeps: the guard's stdout on the zone's cluster.
    assert sink["filter"] == guard_logs_filter("modelfort-production", "modelfort-production", "models", "guard", STDOUT_LOG)
    assert 'resource.labels.container_name="guard"' in sink["filter"] and 'namespace_name="models"' in sink["filter"]
    grant = props(production, f"{W}-telemetry-sink-publishes")
    assert grant["topic"] == production[f"{W}-telemetry"]["id"] and grant["role"] == "roles/pubsub.publisher"


@pytest.mark.control("OB-07")
def test_subscriptions_push_with_oidc_retry_dead_letter_and_caller_events_keep_order(production):
    invoker = "mf-production-det-push@modelfort-production.iam.gserviceaccount.com"
    assert production[f"{W}-invoker"]["id"].endswith(invoker)
    for role, function, ordered in (("telemetry", "fanout", False), ("caller-events", "stream", True)):
        sub = props(production, f"{W}-{role}-push")
        assert sub["topic"] == production[f"{W}-{role}"]["id"]
        assert sub.get("enableMessageOrdering", False) is ordered
        assert sub["deadLetterPolicy"] == {"deadLetterTopic": production[f"{W}-{role}-dead-letter"]["id"],
                                           "maxDeliveryAttempts": 10}
        assert sub["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
        assert sub["expirationPolicy"] == {"ttl": ""}
        push = sub["pushConfig"]
        assert push["oidcToken"] == {"serviceAccountEmail": invoker, "audience": push["pushEndpoint"]}
        run_invoker = props(production, f"{W}-{role}-invoker")
        assert run_invoker["role"] == "roles/run.invoker" and run_invoker["member"] == "serviceAccount:" + invoker
        # The invoker may call exactly the function this subscription pushes to.
        assert run_invoker["name"].startswith(f"{W}-{function}-function")
        assert push["pushEndpoint"].endswith("/" + run_invoker["name"])
        # Dead letters are kept, and the Pub/Sub agent may forward to them.
        kept = props(production, f"{W}-{role}-dead-letter-kept")
        assert kept["topic"] == production[f"{W}-{role}-dead-letter"]["id"]
        assert props(production, f"{W}-{role}-dead-letter-agent")["role"] == "roles/pubsub.publisher"
        assert props(production, f"{W}-{role}-push-agent")["role"] == "roles/pubsub.subscriber"


@pytest.mark.control("OB-05", "OB-07")
def test_each_function_is_private_egresses_into_the_zone_and_may_do_only_its_own_work(production):
    network = production["production-network-vpc"]["id"]
    accounts = {}
    for role, entry in (("fanout", "stage_one"), ("stream", "stage_two")):
        function = props(production, f"{W}-{role}-function")
        service = function["serviceConfig"]
        assert function["buildConfig"]["entryPoint"] == entry and function["buildConfig"]["runtime"] == "python312"
        assert service["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
        assert service["directVpcEgress"] == "VPC_EGRESS_ALL_TRAFFIC"
        assert service["directVpcNetworkInterfaces"][0]["network"] == network
        assert service["serviceAccountEmail"].startswith(f"mf-production-det-{role}@")
        assert service["environmentVariables"]["ZONE"] == "production"
        accounts[role] = "serviceAccount:" + service["serviceAccountEmail"]
    assert props(production, f"{W}-fanout-function")["serviceConfig"]["environmentVariables"]["CALLER_EVENTS_TOPIC"] == \
        production[f"{W}-caller-events"]["id"]
    assert props(production, f"{W}-stream-function")["serviceConfig"]["environmentVariables"]["STATE_BUCKET"] == \
        production[f"{W}-state"]["id"]
    for role, member in accounts.items():
        grants = [(name, r["properties"]) for name, r in production.items() if r["properties"].get("member") == member]
        if role == "fanout":
            assert [(g["role"], g["topic"]) for _, g in grants] == [("roles/pubsub.publisher", production[f"{W}-caller-events"]["id"])]
        else:
            assert [(g["role"], g["bucket"]) for _, g in grants] == [("roles/storage.objectAdmin", production[f"{W}-state"]["id"])]
            assert production[grants[0][0]]["type"] == "gcp:storage/bucketIAMMember:BucketIAMMember"


@pytest.mark.control("OB-05", "OB-06", "OB-07", "OB-08")
def test_backlogs_dead_letters_and_findings_page_the_zones_on_call(production):
    policies = {name: r["properties"] for name, r in production.items()
                if r["type"] == "gcp:monitoring/alertPolicy:AlertPolicy" and name.startswith(W)}
    assert set(policies) == {f"{W}-findings-alert", f"{W}-telemetry-backlog-alert", f"{W}-caller-events-backlog-alert",
                             f"{W}-telemetry-dead-letters-alert", f"{W}-caller-events-dead-letters-alert"}
    for role in ("telemetry", "caller-events"):
        (backlog,) = policies[f"{W}-{role}-backlog-alert"]["conditions"]
        assert OLDEST_UNACKED in backlog["conditionThreshold"]["filter"]
        assert f'subscription_id="modelfort-production-{role}-push"' in backlog["conditionThreshold"]["filter"]
        assert backlog["conditionThreshold"]["thresholdValue"] == 600
        (dead,) = policies[f"{W}-{role}-dead-letters-alert"]["conditions"]
        assert DEAD_LETTER_SENDS in dead["conditionThreshold"]["filter"]
        assert f'topic_id="modelfort-production-{role}-dead-letter"' in dead["conditionThreshold"]["filter"]
    metric = props(production, f"{W}-alerts")
    assert 'jsonPayload.record="alert"' in metric["filter"]
    for service in ("fanout", "stream"):
        assert f'"{W}-{service}-function-' in metric["filter"]
    (findings,) = policies[f"{W}-findings-alert"]["conditions"]
    assert f'logging.googleapis.com/user/{metric["name"]}"' in findings["conditionThreshold"]["filter"]
    channels = [c for c in policies[f"{W}-findings-alert"].get("notificationChannels", [])]
    assert all(p.get("notificationChannels", []) == channels for p in policies.values())
    # Findings are evidence: routed to the zone's locked evidence log bucket.
    evidence = props(production, f"{W}-evidence-sink")
    assert evidence["destination"].startswith("logging.googleapis.com/")
    assert 'jsonPayload.record=("finding" OR "malformed_event")' in evidence["filter"]


def test_the_source_object_is_named_by_content(production):
    source = detection_function_source()
    assert props(production, f"{W}-source-archive")["name"] == f"detection-gcp-{source.sha256[:16]}.zip"


def test_the_archive_imports_both_stages_without_boto3_or_the_gate(tmp_path):
    source = detection_function_source()
    assert "modelfort/runtime/detectors/cli.py" not in source.files
    assert not any(path.startswith(("modelfort/gate", "components/")) for path in source.files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in source.contents.items():
            archive.writestr(path, data)
    zipfile.ZipFile(buffer).extractall(tmp_path)
    site = next(p for p in sys.path if p.endswith("site-packages"))  # the pinned google libraries, as requirements install
    probe = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); sys.path.append({site!r}); "
        "sys.modules['boto3'] = None; sys.modules['botocore'] = None; "
        "import main, modelfort; print(main.stage_one.__module__, main.stage_two.__module__, modelfort.__file__)"
    )
    completed = subprocess.run([sys.executable, "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                               env={"PATH": os.environ.get("PATH", "")}, timeout=60)
    assert completed.returncode == 0, completed.stderr
    one, two, package_file = completed.stdout.split()
    assert one == two == "modelfort.runtime.detection_stream_gcp.entry"
    assert Path(package_file).is_relative_to(tmp_path)
    requirements = source.contents["requirements.txt"].decode()
    assert "google-cloud-storage==" in requirements and "google-auth==" in requirements


def test_packaging_refuses_boto3_outside_the_aws_entry_function():
    allowed = ("modelfort.runtime.detection_stream",)
    check_imports("m.py", b"def lambda_handler(e, c):\n    import boto3\n", allowed, "x", ("lambda_handler",))
    with pytest.raises(FunctionSourceError, match="boto3"):
        check_imports("m.py", b"import boto3\n", allowed, "x", ("lambda_handler",))


def args(**changes):
    base = dict(zone="production", project="modelfort-production", region="us-central1", key_ring_id="kr",
                network_id="net", subnetwork_id="sub", telemetry_filter='resource.type="k8s_container"',
                evidence_log_bucket_id="projects/modelfort-production/locations/us-central1/buckets/evidence")
    return TelemetryWatchArgs(**{**base, **changes})


@pytest.mark.parametrize(("changes", "message"), [
    ({"alert_min_severity": "URGENT"}, r"alert_min_severity: 'URGENT' is not allowed \(one of: LOW, MEDIUM, HIGH, CRITICAL\)"),
    ({"max_delivery_attempts": 3}, "max_delivery_attempts: 3 must be a whole number from 5 to 100"),
    ({"message_retention_days": 45}, "message_retention_days: 45 must be a whole number from 1 to 31"),
    ({"state_ttl_days": 0}, "state_ttl_days"),
    ({"notification_channels": "projects/p/notificationChannels/1"}, "notification_channels: give a list"),
    ({"zone": "Prod"}, "TelemetryWatchArgs.zone"),
])
def test_unsafe_or_malformed_args_are_refused_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        args(**changes)
