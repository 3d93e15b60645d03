"""Shared helpers for the weight-signing tests: tiny real model trees, keys, and CLI runs that capture the log line."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelfort.runtime.weights import cli as weights_cli

# A few KB across nested directories: enough to exercise sorting, nesting and multi-file hashing, fast to hash.
MODEL_FILES = {
    "config.json": b'{"architectures": ["TinyForCausalLM"], "hidden_size": 64}\n',
    "model-00001-of-00002.safetensors": bytes(range(256)) * 8,
    "model-00002-of-00002.safetensors": bytes(reversed(range(256))) * 8,
    "tokenizer/tokenizer.json": b'{"version": "1.0", "vocab": {"a": 0, "b": 1}}\n',
    "tokenizer/special_tokens_map.json": b'{"eos_token": "</s>"}\n',
}


def make_model(directory: Path, files: dict[str, bytes] | None = None) -> Path:
    """Create a model directory with `files` (relative POSIX path -> content)."""
    directory.mkdir(parents=True, exist_ok=True)
    for relative, content in (files or MODEL_FILES).items():
        path = directory.joinpath(*relative.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return directory


def make_key_pair(directory: Path, name: str, curve: ec.EllipticCurve | None = None) -> tuple[Path, Path]:
    """Write an unencrypted PEM EC private key and its public key; return (private, public) paths."""
    directory.mkdir(parents=True, exist_ok=True)
    private_key = ec.generate_private_key(curve or ec.SECP256R1())
    private_path = directory / f"{name}.pem"
    public_path = directory / f"{name}.pub.pem"
    private_path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public_path.write_bytes(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def build_parser() -> argparse.ArgumentParser:
    """A parser holding only this package's subcommands, wired exactly as `modelfort.cli` wires them."""
    parser = argparse.ArgumentParser(prog="modelfort")
    weights_cli.register(parser.add_subparsers(dest="command"))
    return parser


@dataclass
class CliRun:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def record(self) -> dict[str, Any]:
        """The one JSON log line `verify-weights` writes (fails the test if there is not exactly one line)."""
        lines = self.stdout.splitlines()
        assert len(lines) == 1, f"expected exactly one stdout line, got {lines!r}"
        return json.loads(lines[0])


def run_cli(argv: list[str], capsys) -> CliRun:
    """Run a subcommand through its registered handler, capturing stdout/stderr."""
    capsys.readouterr()
    args = build_parser().parse_args([str(item) for item in argv])
    exit_code = args.handler(args)
    captured = capsys.readouterr()
    return CliRun(exit_code=exit_code, stdout=captured.out, stderr=captured.err)


def sign(model_dir: Path, private_key: Path, signature: Path, capsys) -> str:
    """Sign through the CLI handler and return the printed root digest."""
    result = run_cli(["sign", model_dir, "--signature", signature, "--private-key", private_key], capsys)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def verify_argv(model: Any, signature: Any, public_key: Any, root_digest: str, *extra: Any) -> list[str]:
    return [
        "verify-weights",
        str(model),
        "--signature",
        str(signature),
        "--public-key",
        str(public_key),
        "--root-digest",
        root_digest,
        *[str(item) for item in extra],
    ]


def fake_aws_environment(monkeypatch) -> None:
    """Credentials and region for moto; never the developer's real profile."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
