"""The adversarial corpora (cloud/, k8s/) share one harness, corpus_harness.py, beside this file: pytest puts this
directory on sys.path for the modules below it, and `corpus` runs one case with the session's shared packs."""

from __future__ import annotations

import pytest
from corpus_harness import CaseResult, Program, run_case


@pytest.fixture
def corpus(packs):
    """corpus(program, zone="production", cloud="aws", config=None) -> CaseResult, through the real paths."""

    def run(program: Program, zone: str = "production", cloud: str = "aws", config: dict | None = None) -> CaseResult:
        return run_case(packs, program, zone=zone, cloud=cloud, config=config)

    return run
