"""GCP SecretRotation and RotatedSecret under mocks, and the rotation function's archive as it ships."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components.gcp.function_source import FunctionSourceError, check_imports, rotation_function_source
from components.gcp.secrets import RotatedSecretArgs
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]
DAY = 86_400


@pytest.fixture(scope="module")
def production() -> dict[str, dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, "gcp-production"))
    assert result["error"] is None, result["error"]
    return {r["name"]: r for r in result["resources"]}


@pytest.mark.control("SC-03", "SC-04")
def test_the_client_token_is_customer_encrypted_regional_and_rotated_at_the_tiers_pace(production):
    secret = production["production-client-token-secret"]["properties"]
    (replica,) = secret["replication"]["userManaged"]["replicas"]
    assert replica == {"location": "us-central1", "customerManagedEncryption": {"kmsKeyName": production["production-rotation-key"]["id"]}}
    assert secret["rotation"]["rotationPeriod"] == f"{30 * DAY}s"
    assert dt.datetime.strptime(secret["rotation"]["nextRotationTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert secret["topics"] == [{"name": production["production-rotation-topic"]["id"]}]
    assert secret["labels"]["modelfort-token-kind"] == "client" and secret["deletionProtection"] is True
    # The topic must accept Secret Manager's messages before the secret names it.
    assert "production-rotation-topic-secrets-agent" in {u.rsplit("::", 1)[-1] for u in production["production-client-token-secret"]["dependencies"]}


@pytest.mark.control("SC-04", "SC-05")
def test_the_rotation_function_is_private_egresses_into_the_zone_and_manages_only_its_secrets(production):
    function = production["production-rotation-function"]["properties"]
    service = function["serviceConfig"]
    assert service["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    assert service["directVpcEgress"] == "VPC_EGRESS_ALL_TRAFFIC"
    assert service["directVpcNetworkInterfaces"][0]["network"] == production["production-network-vpc"]["id"]
    assert service["maxInstanceCount"] == 1 and service["maxInstanceRequestConcurrency"] == 1
    assert service["serviceAccountEmail"].startswith("mf-production-rotator@")
    assert function["buildConfig"]["entryPoint"] == "handle" and function["buildConfig"]["runtime"] == "python312"
    assert function["buildConfig"]["serviceAccount"].endswith("mf-production-rot-build@modelfort-production.iam.gserviceaccount.com")
    assert function["eventTrigger"]["retryPolicy"] == "RETRY_POLICY_RETRY"
    assert function["eventTrigger"]["pubsubTopic"] == production["production-rotation-topic"]["id"]
    rotator = "serviceAccount:" + service["serviceAccountEmail"]
    grants = [r["properties"] for r in production.values() if r["properties"].get("member") == rotator]
    assert {(g["role"], g["secretId"]) for g in grants} == {
        ("roles/secretmanager.secretVersionManager", production["production-client-token-secret"]["id"]),
        ("roles/secretmanager.secretAccessor", production["production-client-token-secret"]["id"]),
    }
    topic = production["production-rotation-topic"]["properties"]
    assert topic["kmsKeyName"] == production["production-rotation-key"]["id"]
    assert topic["messageStoragePolicy"] == {"allowedPersistenceRegions": ["us-central1"]}


def test_the_source_object_is_named_by_content(production):
    source = rotation_function_source()
    assert production["production-rotation-source-archive"]["properties"]["name"] == f"rotation-gcp-{source.sha256[:16]}.zip"


def test_the_archive_ships_only_the_rotation_code_and_imports_without_boto3(tmp_path):
    source = rotation_function_source()
    assert set(source.files) == {
        "main.py", "requirements.txt", "modelfort/__init__.py", "modelfort/runtime/__init__.py",
        "modelfort/runtime/rotation/__init__.py", "modelfort/runtime/rotation/errors.py",
        "modelfort/runtime/rotation/issuers.py", "modelfort/runtime/rotation/service_token.py",
        *(f"modelfort/runtime/rotation_gcp/{p.name}" for p in (REPO / "modelfort" / "runtime" / "rotation_gcp").glob("*.py")),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in source.contents.items():
            archive.writestr(path, data)
    zipfile.ZipFile(buffer).extractall(tmp_path)
    # Isolated interpreter (-I: no repository, environment or user site on the path), only the unpacked archive added,
    # and the AWS SDK made unimportable: as bare as the function's runtime.
    probe = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); sys.modules['boto3'] = None; sys.modules['botocore'] = None; "
        "import main, modelfort; from modelfort.runtime.rotation_gcp import rotate; "
        "print(main.handle.__module__, rotate.__module__, modelfort.__file__)"
    )
    completed = subprocess.run([sys.executable, "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                               env={"PATH": os.environ.get("PATH", "")}, timeout=60)
    assert completed.returncode == 0, completed.stderr
    handler_module, rotate_module, package_file = completed.stdout.split()
    assert (handler_module, rotate_module) == ("modelfort.runtime.rotation_gcp.entry", "modelfort.runtime.rotation_gcp.rotate")
    assert Path(package_file).is_relative_to(tmp_path)  # the archive's copy, not the repository's
    assert "google-cloud-secret-manager==" in source.contents["requirements.txt"].decode()


@pytest.mark.parametrize(
    "code",
    ["import boto3\n", "from modelfort.gate import engine\n", "import requests\n", "from ..rotation import handler\n"],
)
def test_packaging_refuses_imports_the_function_cannot_satisfy(code):
    with pytest.raises(FunctionSourceError, match="imports"):
        check_imports("modelfort/runtime/rotation_gcp/extra.py", code.encode())


def test_packaging_accepts_the_shared_modules_and_the_client_library():
    check_imports("modelfort/runtime/rotation_gcp/ok.py", b"from google.cloud import secretmanager\nfrom ..rotation.issuers import TokenIssuer\nimport json\n")


@pytest.mark.parametrize(
    "change,message",
    [
        ({"secret_id": "bad id"}, "secret_id"),
        ({"kind": "human"}, "kind"),
        ({"rotation_days": 0}, "rotation_days"),
        ({"first_rotation": dt.datetime(2030, 1, 1)}, "first_rotation"),
    ],
)
def test_unsafe_secret_args_fail_naming_the_arg(change, message):
    base = dict(zone="production", secret_id="agent-key", kind="agent", rotation=object(), rotation_days=30)
    with pytest.raises(ValueError, match=message):
        RotatedSecretArgs(**{**base, **change})
