"""Fixtures for the weight-signing tests: a signed tiny model, and a fake AWS environment for moto."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from weights_helpers import fake_aws_environment, make_key_pair, make_model, sign


@dataclass(frozen=True)
class SignedRelease:
    """A model signed with `private_key`; `root_digest` is what a stack would pin."""

    model_dir: Path
    signature: Path
    private_key: Path
    public_key: Path
    root_digest: str


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return make_key_pair(tmp_path / "keys", "release")


@pytest.fixture
def release(tmp_path: Path, keys: tuple[Path, Path], capsys) -> SignedRelease:
    private_key, public_key = keys
    model_dir = make_model(tmp_path / "model")
    signature = tmp_path / "model.sig"
    root_digest = sign(model_dir, private_key, signature, capsys)
    return SignedRelease(model_dir, signature, private_key, public_key, root_digest)


@pytest.fixture
def aws_env(monkeypatch) -> None:
    fake_aws_environment(monkeypatch)
