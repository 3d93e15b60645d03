"""The README's promises stay true: CI runs its test command, and it documents every policy the pack enforces."""

from __future__ import annotations

import re
from pathlib import Path

from modelfort_policy.pack import WAIVERS_VALID_POLICY
from modelfort_policy.rules import ALL_RULES

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def quick_start_commands() -> list[str]:
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", README, re.DOTALL).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readme_test_command():
    setup_and_gate, setup_and_test = quick_start_commands()
    assert "modelfort gate" in setup_and_gate
    assert "pytest" in setup_and_test
    assert setup_and_test in (REPO / ".ci" / "run").read_text()


def test_the_readme_documents_every_policy():
    for name in [rule.name for rule in ALL_RULES] + [WAIVERS_VALID_POLICY]:
        assert f"`{name}`" in README, f"README's policy table lacks {name}"
