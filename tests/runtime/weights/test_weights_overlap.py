"""A local `verify-weights` hashes while the signature is checked: it must still fail closed in either order.

The order of the two is forced with events (never with sleeps): `signature_last` makes the signature check wait until
every file is hashed, `hashing_last` makes hashing start only after the signature check has returned. Whatever the
order, the verdict is the one the sequential verifier gave.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from weights_helpers import MODEL_FILES, make_model, run_cli, verify_argv

from modelfort.runtime.weights import startup
from modelfort.runtime.weights.reasons import Reason, WeightsError
from modelfort.runtime.weights.tree_hashing import TreeHashing

pytestmark = pytest.mark.control("WP-05", "ST-01", "ST-07")

REPO_ROOT = Path(__file__).resolve().parents[3]
# Only a guard against a hang if the code under test deadlocks; no assertion depends on how long anything takes.
HANG_GUARD_S = 60


class Order:
    """Wraps `startup.start_hashing` and `startup.authenticate_signature` to force which one finishes first."""

    def __init__(self, monkeypatch, first: str) -> None:
        self.first = first
        self.hashing: list[TreeHashing] = []
        self.hashed_before_verdict: dict[str, str] | None = None
        self._hashing_started = threading.Event()
        self._signature_done = threading.Event()
        real_start, real_authenticate = startup.start_hashing, startup.authenticate_signature

        def start_hashing(*args, **kwargs):
            if first == "signature":
                assert self._signature_done.wait(HANG_GUARD_S)
            hashing = real_start(*args, **kwargs)
            self.hashing.append(hashing)
            self._hashing_started.set()
            return hashing

        def authenticate_signature(*args, **kwargs):
            try:
                if first == "hashing":
                    assert self._hashing_started.wait(HANG_GUARD_S)
                    self.hashed_before_verdict = self.hashing[0].result()  # every worker has finished
                return real_authenticate(*args, **kwargs)
            finally:
                self._signature_done.set()

        monkeypatch.setattr(startup, "start_hashing", start_hashing)
        monkeypatch.setattr(startup, "authenticate_signature", authenticate_signature)


def _no_hashing_threads_left() -> bool:
    return not [thread for thread in threading.enumerate() if thread.name.startswith("modelfort-")]


def _flip_signature_bit(signature: Path) -> None:
    bundle = json.loads(signature.read_bytes())
    envelope_signature = bundle["dsseEnvelope"]["signatures"][0]
    raw = bytearray(base64.b64decode(envelope_signature["sig"]))
    raw[-1] ^= 0x01
    envelope_signature["sig"] = base64.b64encode(bytes(raw)).decode()
    signature.write_text(json.dumps(bundle))


@pytest.mark.parametrize("first", ["hashing", "signature"])
def test_a_tampered_signature_over_a_correct_tree_fails_even_when_hashing_finished_first(
    first: str, release, monkeypatch, capsys
) -> None:
    order = Order(monkeypatch, first)
    _flip_signature_bit(release.signature)

    result = run_cli(verify_argv(release.model_dir, release.signature, release.public_key, release.root_digest), capsys)

    record = result.record
    assert result.exit_code == Reason.SIGNATURE_INVALID.exit_code, record
    assert (record["outcome"], record["reason"]) == ("rejected", Reason.SIGNATURE_INVALID.code)
    # Nothing about the tree is reported: the run stopped, as before, at the signature.
    assert record["model_dir"] is None and record["files"] is None and record["bytes"] is None
    assert record["root_digest"] is None
    if first == "hashing":
        assert order.hashed_before_verdict is not None and set(order.hashed_before_verdict) == set(MODEL_FILES)
    assert _no_hashing_threads_left()


@pytest.mark.parametrize("first", ["hashing", "signature"])
def test_a_rollback_fails_on_the_pin_even_when_hashing_finished_first(
    first: str, tmp_path: Path, release, monkeypatch, capsys
) -> None:
    Order(monkeypatch, first)
    pinned_other = "ab" * 32

    result = run_cli(verify_argv(release.model_dir, release.signature, release.public_key, pinned_other), capsys)

    record = result.record
    assert result.exit_code == Reason.ROOT_DIGEST_MISMATCH.exit_code, record
    assert record["root_digest"] == release.root_digest and record["files"] is None
    assert _no_hashing_threads_left()


@pytest.mark.parametrize("first", ["hashing", "signature"])
def test_a_tampered_file_under_a_valid_signature_fails_in_either_order(first: str, release, monkeypatch, capsys) -> None:
    order = Order(monkeypatch, first)
    path = release.model_dir / "model-00002-of-00002.safetensors"
    data = bytearray(path.read_bytes())
    data[7] ^= 0x80  # same size: only the digest can tell
    path.write_bytes(bytes(data))

    result = run_cli(verify_argv(release.model_dir, release.signature, release.public_key, release.root_digest), capsys)

    record = result.record
    assert result.exit_code == Reason.FILE_MODIFIED.exit_code, record
    assert (record["outcome"], record["reason"]) == ("rejected", Reason.FILE_MODIFIED.code)
    assert record["evidence"]["modified"] == ["model-00002-of-00002.safetensors"]
    assert record["root_digest"] == release.root_digest  # the signature itself was fine
    if first == "hashing":
        assert order.hashed_before_verdict is not None
    assert _no_hashing_threads_left()


def test_a_symlink_in_the_tree_is_reported_after_a_valid_signature(release, capsys) -> None:
    (release.model_dir / "extra.bin").symlink_to("/etc/hostname")

    result = run_cli(verify_argv(release.model_dir, release.signature, release.public_key, release.root_digest), capsys)

    assert result.exit_code == Reason.SYMLINK_PRESENT.exit_code, result.record
    assert result.record["model_dir"] == str(release.model_dir) and result.record["files"] is None


def test_a_symlink_in_the_tree_does_not_hide_a_bad_signature(release, capsys) -> None:
    (release.model_dir / "extra.bin").symlink_to("/etc/hostname")
    _flip_signature_bit(release.signature)

    result = run_cli(verify_argv(release.model_dir, release.signature, release.public_key, release.root_digest), capsys)

    assert result.exit_code == Reason.SIGNATURE_INVALID.exit_code, result.record


def test_tree_hashing_matches_hashlib(tmp_path: Path) -> None:
    import hashlib

    model = make_model(tmp_path / "model")
    files = sorted(MODEL_FILES)
    digests = TreeHashing(model, files, workers=3, sizes=[len(MODEL_FILES[name]) for name in files]).result()
    assert digests == {name: hashlib.sha256(content).hexdigest() for name, content in MODEL_FILES.items()}


@pytest.mark.parametrize("swap", ["symlink", "fifo", "gone"])
def test_a_file_swapped_after_the_walk_is_refused_not_followed(tmp_path: Path, swap: str) -> None:
    model = make_model(tmp_path / "model")
    victim = model / "config.json"
    victim.unlink()
    if swap == "symlink":
        (tmp_path / "elsewhere.json").write_bytes(MODEL_FILES["config.json"])
        victim.symlink_to(tmp_path / "elsewhere.json")
    elif swap == "fifo":
        os.mkfifo(victim)

    with pytest.raises(WeightsError) as raised:
        TreeHashing(model, sorted(MODEL_FILES), workers=2).result()

    assert raised.value.reason is Reason.MODEL_DIR_INVALID
    assert "config.json" in raised.value.detail


def test_verify_weights_process_imports_no_other_subcommand() -> None:
    # The init container's start path: the dispatcher registers only the weights subcommands.
    code = (
        "from modelfort import cli\n"
        "cli.main(['verify-weights', '--help'])\n"
    )
    check = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(sorted(m for m in sys.modules if m.startswith("
        "('modelfort.gate', 'modelfort.runtime.guard', 'modelfort.runtime.detectors', 'modelfort.controls', "
        "'boto3', 'model_signing', 'cryptography', 'google'))), file=sys.stderr))\n" + code
    )
    completed = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=HANG_GUARD_S,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert completed.returncode == 0, completed.stderr
    assert "--signature" in completed.stdout
    assert completed.stderr.strip().splitlines()[-1] == "[]"
