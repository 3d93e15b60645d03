"""The structured log line (OB-04), the exit-code contract, and the CLI wiring."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from weights_helpers import MODEL_FILES, build_parser, run_cli, verify_argv

from modelfort.runtime.weights import startup
from modelfort.runtime.weights.reasons import Reason
from modelfort.runtime.weights.startup import VerifyRequest, run_verify_weights

pytestmark = pytest.mark.control("OB-04", "OB-02", "WP-05")

REPO_ROOT = Path(__file__).resolve().parents[3]

LOG_FIELDS = {
    "event",
    "time",
    "outcome",
    "reason",
    "exit_code",
    "detail",
    "model",
    "model_version",
    "model_dir",
    "signature",
    "public_key",
    "pinned_root_digest",
    "root_digest",
    "signed_model_name",
    "key_fingerprint",
    "files",
    "bytes",
    "duration_s",
    "controls",
    "evidence",
}


def test_success_line_tracks_model_version_and_hash(release, capsys) -> None:
    result = run_cli(
        verify_argv(
            release.model_dir, release.signature, release.public_key, release.root_digest, "--model-version", "2.1.0"
        ),
        capsys,
    )

    record = result.record
    assert set(record) == LOG_FIELDS
    assert record["event"] == "modelfort.weights.verify"
    assert record["outcome"] == "verified" and record["reason"] is None and record["exit_code"] == 0
    assert record["detail"] is None and record["evidence"] == {}
    assert record["model"] == str(release.model_dir) and record["model_dir"] == str(release.model_dir)
    assert record["model_version"] == "2.1.0"
    assert record["root_digest"] == record["pinned_root_digest"] == release.root_digest
    assert record["signed_model_name"] == release.model_dir.name
    assert record["key_fingerprint"] == hashlib.sha256(release.public_key.read_bytes()).hexdigest()
    assert record["files"] == len(MODEL_FILES)
    assert record["bytes"] == sum(map(len, MODEL_FILES.values()))
    assert isinstance(record["duration_s"], float) and 0 <= record["duration_s"] < 60
    assert record["controls"] == ["WP-05", "WP-06", "ST-01", "ST-07", "OB-04"]
    assert datetime.datetime.fromisoformat(record["time"]).tzinfo is not None
    assert result.stderr == ""


def test_failure_line_carries_reason_detail_and_evidence(release, capsys) -> None:
    (release.model_dir / "config.json").write_bytes(b"{}")

    result = run_cli(
        verify_argv(
            release.model_dir, release.signature, release.public_key, release.root_digest, "--model-version", "7"
        ),
        capsys,
    )

    record = result.record
    assert set(record) == LOG_FIELDS
    assert record["outcome"] == "rejected"
    assert record["reason"] == "file_modified" and record["exit_code"] == Reason.FILE_MODIFIED.exit_code
    assert "config.json" in record["detail"]
    assert record["evidence"] == {"modified": ["config.json"]}
    assert record["model_version"] == "7"
    assert record["root_digest"] == release.root_digest  # the signature was good; the files were not
    assert record["files"] == len(MODEL_FILES)


def test_fields_not_reached_are_null(release, capsys) -> None:
    release.signature.write_bytes(b"{")
    record = run_cli(
        verify_argv(release.model_dir, release.signature, release.public_key, release.root_digest), capsys
    ).record
    assert record["reason"] == "signature_malformed"
    assert record["root_digest"] is None and record["files"] is None and record["bytes"] is None
    assert record["model_version"] is None


def test_unexpected_errors_fail_closed_with_a_log_line_and_a_traceback(release, monkeypatch) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(startup, "verify_model_tree", explode)
    stdout, stderr = io.StringIO(), io.StringIO()
    request = VerifyRequest(
        model=str(release.model_dir),
        signature=str(release.signature),
        public_key=str(release.public_key),
        root_digest=release.root_digest,
    )

    exit_code = run_verify_weights(request, client_factory=None, stdout=stdout, stderr=stderr)

    record = json.loads(stdout.getvalue())
    assert exit_code == Reason.INTERNAL_ERROR.exit_code
    assert record["outcome"] == "rejected" and record["reason"] == "internal_error"
    assert "disk on fire" in record["detail"]
    assert "Traceback" in stderr.getvalue()
    assert len(stdout.getvalue().splitlines()) == 1


def test_duration_is_measured_by_the_injected_clock(release) -> None:
    ticks = iter([100.0, 102.5])
    stdout = io.StringIO()
    request = VerifyRequest(
        model=str(release.model_dir),
        signature=str(release.signature),
        public_key=str(release.public_key),
        root_digest=release.root_digest,
    )
    run_verify_weights(request, client_factory=None, stdout=stdout, clock=lambda: next(ticks))
    assert json.loads(stdout.getvalue())["duration_s"] == 2.5


def test_reasons_have_unique_codes_and_exit_codes() -> None:
    codes = [reason.code for reason in Reason]
    exit_codes = [reason.exit_code for reason in Reason]
    assert len(set(codes)) == len(codes)
    assert len(set(exit_codes)) == len(exit_codes)
    # 0 is success, 1 an uncaught Python error, 2 argparse; above 125 the shell reserves.
    assert all(3 <= code <= 125 for code in exit_codes)


def test_verify_weights_has_no_option_that_weakens_it() -> None:
    # A reviewer's guard: adding any option here (say --ignore-paths or --warn-only) must be a conscious change.
    parser = build_parser()
    verify = parser._subparsers._group_actions[0].choices["verify-weights"]
    options = {option for action in verify._actions for option in action.option_strings}
    assert options == {
        "-h",
        "--help",
        "--signature",
        "--public-key",
        "--root-digest",
        "--model-version",
        "--download-dir",
        "--max-attempts",
        "--threads",
    }


@pytest.mark.parametrize("value", ["0", "11", "x"])
def test_retry_budget_is_bounded(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(verify_argv("m", "s", "p", "0" * 64, "--max-attempts", value))
    assert exited.value.code == 2


def test_importing_the_cli_module_is_cheap() -> None:
    code = (
        "import sys, modelfort.runtime.weights.cli; "
        "heavy = [m for m in ('boto3', 'botocore', 'model_signing', 'cryptography') if m in sys.modules]; "
        "print(heavy)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60, env=_env()
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_the_modelfort_dispatcher_wires_both_subcommands() -> None:
    for command in ("sign", "verify-weights"):
        completed = subprocess.run(
            [sys.executable, "-m", "modelfort.cli", command, "--help"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
            env=_env(),
        )
        assert completed.returncode == 0, completed.stderr
        assert "--signature" in completed.stdout


def test_verify_weights_end_to_end_in_a_process(release) -> None:
    # As the init container runs it: a fresh interpreter, exit code and one JSON line on stdout.
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelfort.cli",
            *verify_argv(release.model_dir, release.signature, release.public_key, release.root_digest),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        env=_env(),
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["outcome"] == "verified"
    assert len(completed.stdout.splitlines()) == 1


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
