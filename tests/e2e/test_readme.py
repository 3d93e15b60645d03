"""The README's promises stay true: CI runs its test command, and its policy table is generated from the pack."""

from __future__ import annotations

import re
from pathlib import Path

from modelfort.docs import render_readme
from modelfort_policy.rules import ALL_RULES

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def quick_start_commands() -> list[str]:
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", README, re.DOTALL).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readme_test_command():
    setup_and_gate, setup_and_test = quick_start_commands()
    assert "modelfort gate" in setup_and_gate
    assert setup_and_test == "./scripts/test"
    assert "pip install -q -e \".[dev]\"" in (REPO / "scripts" / "test").read_text()
    assert "python -m pytest" in (REPO / "scripts" / "test").read_text()
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == setup_and_test, "CI must run exactly the README's test command"


def test_the_readme_policy_table_is_current():
    assert render_readme(README) == README, "run `python -m modelfort.docs` to regenerate the README's policy table"
    for rule in ALL_RULES:
        assert f"`{rule.name}`" in README
