"""Signing with a local key, verifying it, and interoperating with the model_signing library and its CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from model_signing import hashing, signing, verifying
from weights_helpers import MODEL_FILES, make_key_pair, make_model, run_cli, sign, verify_argv

from modelfort.runtime.weights.hashing_policy import STRICT_SERIALIZATION, available_cpus, strict_hashing_config
from modelfort.runtime.weights.reasons import Reason

pytestmark = pytest.mark.control("WP-05", "ST-01")


def test_sign_then_verify_with_a_local_key(release, capsys) -> None:
    result = run_cli(verify_argv(release.model_dir, release.signature, release.public_key, release.root_digest), capsys)

    assert result.exit_code == 0
    assert result.record["outcome"] == "verified"
    assert result.record["files"] == len(MODEL_FILES)
    assert result.record["bytes"] == sum(len(content) for content in MODEL_FILES.values())


def test_sign_prints_only_the_root_digest_on_stdout(tmp_path: Path, keys, capsys) -> None:
    private_key, _ = keys
    model_dir = make_model(tmp_path / "model")

    result = run_cli(["sign", model_dir, "--signature", tmp_path / "m.sig", "--private-key", private_key], capsys)

    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 1
    assert len(result.stdout.strip()) == 64 and int(result.stdout, 16) >= 0
    assert result.stdout.strip() in result.stderr  # the human summary names the digest to pin


def test_root_digest_is_sha256_over_file_digests_in_path_order(release) -> None:
    # What the pinned value means, recomputed independently of the library: SHA-256 over the concatenated
    # SHA-256 digests of every file, in sorted relative-path order.
    digests = b"".join(hashlib.sha256(MODEL_FILES[path]).digest() for path in sorted(MODEL_FILES))
    assert release.root_digest == hashlib.sha256(digests).hexdigest()


def test_signed_manifest_records_the_strict_hashing_policy(release) -> None:
    bundle = json.loads(release.signature.read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    assert statement["predicate"]["serialization"] == STRICT_SERIALIZATION
    assert sorted(r["name"] for r in statement["predicate"]["resources"]) == sorted(MODEL_FILES)


def test_git_files_are_signed_and_verified_like_any_other(tmp_path: Path, keys, capsys) -> None:
    private_key, public_key = keys
    model_dir = make_model(tmp_path / "model", {**MODEL_FILES, ".gitattributes": b"*.bin filter=lfs\n"})
    digest = sign(model_dir, private_key, tmp_path / "m.sig", capsys)

    assert run_cli(verify_argv(model_dir, tmp_path / "m.sig", public_key, digest), capsys).exit_code == 0
    (model_dir / ".gitattributes").write_bytes(b"*.bin -filter\n")
    result = run_cli(verify_argv(model_dir, tmp_path / "m.sig", public_key, digest), capsys)
    assert result.record["evidence"]["modified"] == [".gitattributes"]


def test_p384_keys_work(tmp_path: Path, capsys) -> None:
    private_key, public_key = make_key_pair(tmp_path / "keys", "p384", ec.SECP384R1())
    model_dir = make_model(tmp_path / "model")
    digest = sign(model_dir, private_key, tmp_path / "m.sig", capsys)
    assert run_cli(verify_argv(model_dir, tmp_path / "m.sig", public_key, digest), capsys).exit_code == 0


def test_model_signing_library_verifies_our_signature(release) -> None:
    verifying.Config().use_elliptic_key_verifier(public_key=release.public_key).set_hashing_config(
        strict_hashing_config()
    ).verify(release.model_dir, release.signature)


def test_model_signing_cli_verifies_our_signature(release) -> None:
    # The acceptance criterion for interoperability: the upstream CLI, as a user would run it.
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_signing",
            "verify",
            "key",
            str(release.model_dir),
            "--signature",
            str(release.signature),
            "--public_key",
            str(release.public_key),
            "--no-ignore-git-paths",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Verification succeeded" in completed.stdout


def test_signature_made_with_the_library_defaults_is_refused(tmp_path: Path, keys, capsys) -> None:
    # The library's defaults ignore .git* paths and record them in the signature, and its verifier would then
    # ignore them too. Such a signature is refused outright, pointing at `modelfort sign`.
    private_key, public_key = keys
    model_dir = make_model(tmp_path / "model")
    signing.Config().use_elliptic_key_signer(private_key=private_key).sign(model_dir, tmp_path / "lib.sig")
    digest = _root_digest_of(tmp_path / "lib.sig")

    result = run_cli(verify_argv(model_dir, tmp_path / "lib.sig", public_key, digest), capsys)

    assert result.exit_code == Reason.SIGNATURE_UNSUPPORTED.exit_code
    assert "ignore_paths" in result.record["detail"] and "modelfort sign" in result.record["detail"]


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(
            lambda: (
                hashing.Config()
                .use_shard_serialization(hashing_algorithm="sha256", shard_size=1024)
                .set_ignored_paths(paths=[], ignore_git_paths=False)
            ),
            id="sharded",
        ),
        pytest.param(
            lambda: (
                hashing.Config()
                .use_file_serialization(hashing_algorithm="blake2")
                .set_ignored_paths(paths=[], ignore_git_paths=False)
            ),
            id="blake2",
        ),
        pytest.param(
            lambda: (
                hashing.Config()
                .use_file_serialization(hashing_algorithm="sha256")
                .set_ignored_paths(paths=[], ignore_git_paths=False)
                .set_allow_symlinks(True)
            ),
            id="symlinks-allowed",
        ),
    ],
)
def test_signatures_made_with_a_weaker_hashing_policy_are_refused(config, tmp_path: Path, keys, capsys) -> None:
    private_key, public_key = keys
    model_dir = make_model(tmp_path / "model")
    signing.Config().use_elliptic_key_signer(private_key=private_key).set_hashing_config(config()).sign(
        model_dir, tmp_path / "weak.sig"
    )

    result = run_cli(
        verify_argv(model_dir, tmp_path / "weak.sig", public_key, _root_digest_of(tmp_path / "weak.sig")), capsys
    )

    assert result.exit_code == Reason.SIGNATURE_UNSUPPORTED.exit_code


def test_sign_refuses_a_signature_inside_the_model(tmp_path: Path, keys, capsys) -> None:
    private_key, _ = keys
    model_dir = make_model(tmp_path / "model")

    result = run_cli(["sign", model_dir, "--signature", model_dir / "model.sig", "--private-key", private_key], capsys)

    assert result.exit_code == Reason.SIGNATURE_PATH_INVALID.exit_code
    assert not (model_dir / "model.sig").exists()
    assert "signature_path_invalid" in result.stderr and result.stdout == ""


def test_sign_never_overwrites_a_signature(release, capsys) -> None:
    before = release.signature.read_bytes()
    result = run_cli(
        ["sign", release.model_dir, "--signature", release.signature, "--private-key", release.private_key], capsys
    )
    assert result.exit_code == Reason.SIGNATURE_EXISTS.exit_code
    assert release.signature.read_bytes() == before


def test_sign_refuses_a_model_with_a_symlink(tmp_path: Path, keys, capsys) -> None:
    private_key, _ = keys
    model_dir = make_model(tmp_path / "model")
    os.symlink("config.json", model_dir / "alias.json")

    result = run_cli(["sign", model_dir, "--signature", tmp_path / "m.sig", "--private-key", private_key], capsys)

    assert result.exit_code == Reason.SYMLINK_PRESENT.exit_code
    assert not (tmp_path / "m.sig").exists()


def test_sign_refuses_an_empty_model(tmp_path: Path, keys, capsys) -> None:
    private_key, _ = keys
    (tmp_path / "empty").mkdir()
    result = run_cli(
        ["sign", tmp_path / "empty", "--signature", tmp_path / "m.sig", "--private-key", private_key], capsys
    )
    assert result.exit_code == Reason.MODEL_DIR_INVALID.exit_code


@pytest.mark.parametrize("key_bytes", [b"not a key", b""], ids=["garbage", "empty"])
def test_sign_refuses_an_unusable_private_key(tmp_path: Path, key_bytes: bytes, capsys) -> None:
    model_dir = make_model(tmp_path / "model")
    (tmp_path / "bad.pem").write_bytes(key_bytes)
    result = run_cli(
        ["sign", model_dir, "--signature", tmp_path / "m.sig", "--private-key", tmp_path / "bad.pem"], capsys
    )
    assert result.exit_code == Reason.SIGNING_KEY_INVALID.exit_code
    assert not (tmp_path / "m.sig").exists()


def test_sign_writes_the_public_key_when_asked(tmp_path: Path, keys, capsys) -> None:
    private_key, public_key = keys
    model_dir = make_model(tmp_path / "model")
    result = run_cli(
        [
            "sign",
            model_dir,
            "--signature",
            tmp_path / "m.sig",
            "--private-key",
            private_key,
            "--public-key-out",
            tmp_path / "out.pub",
        ],
        capsys,
    )
    assert result.exit_code == 0
    assert (tmp_path / "out.pub").read_bytes() == public_key.read_bytes()


def test_sign_needs_exactly_one_key_source(tmp_path: Path, keys, capsys) -> None:
    private_key, _ = keys
    with pytest.raises(SystemExit) as exited:
        run_cli(
            ["sign", tmp_path, "--signature", tmp_path / "m.sig", "--private-key", private_key, "--kms-key", "k"],
            capsys,
        )
    assert exited.value.code == 2


def test_strict_hashing_config_records_the_strict_policy(tmp_path: Path) -> None:
    model_dir = make_model(tmp_path / "model", {**MODEL_FILES, ".git/config": b"[core]\n"})
    manifest = strict_hashing_config().hash(model_dir)
    assert manifest.serialization_type == STRICT_SERIALIZATION
    assert ".git/config" in {rd.identifier for rd in manifest.resource_descriptors()}


@pytest.mark.parametrize(
    ("cpu_max", "cap"),
    [("max 100000\n", None), ("150000 100000\n", 2), ("50000 100000\n", 1), ("garbage", None)],
)
def test_available_cpus_honours_the_cgroup_quota(tmp_path: Path, cpu_max: str, cap: int | None) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))
    expected = affinity if cap is None else min(affinity, cap)
    assert available_cpus(tmp_path / "cpu.max") == expected
    assert available_cpus(tmp_path / "absent") == affinity


def _root_digest_of(signature: Path) -> str:
    bundle = json.loads(signature.read_text())
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))["subject"][0]["digest"]["sha256"]
