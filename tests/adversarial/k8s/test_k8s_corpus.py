"""The Kubernetes adversarial corpus (k8s_corpus_cases.py): every insecure case is blocked with a mandatory violation
on the resource it names, and every secure twin passes. Each case runs as its own tiny program through the gate's
program runner under mocks, judged by the zone's shared pack (tests/adversarial/corpus_harness.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from corpus_harness import assert_blocked, assert_passes, run_case  # noqa: E402
from k8s_corpus_cases import CASES  # noqa: E402

CATEGORIES = sorted({c.category for c in CASES.values()})


def program(name: str, secure: bool) -> str:
    """The case as its own program: it imports the cases module (plain pulumi_kubernetes code) and runs one case."""
    return (f"import sys\nsys.path.insert(0, {str(HERE)!r})\nimport k8s_corpus_cases\n"
            f"k8s_corpus_cases.run({name!r}, secure={secure!r})\n")


def test_the_corpus_is_large_and_covers_every_kubernetes_gap():
    assert len(CASES) >= 30
    assert set(CATEGORIES) == {"crd", "procmount", "helm", "exposure", "rbac", "gpu-env", "system-namespace"}
    # Every case names the resource it must be blocked on, and no two cases share a function.
    assert all(c.target and c.policy for c in CASES.values())


@pytest.mark.control("RI-04", "RI-09", "RI-11", "RI-06", "NB-05", "NB-09", "SC-02")
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_insecure_case_is_blocked_on_its_resource(packs, name):
    case = CASES[name]
    assert_blocked(run_case(packs, program(name, secure=False)), case.target, case.policy)


@pytest.mark.control("RI-04", "RI-09", "RI-11", "RI-06", "NB-05", "NB-09", "SC-02")
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_secure_twin_passes(packs, name):
    assert_passes(run_case(packs, program(name, secure=True)))
