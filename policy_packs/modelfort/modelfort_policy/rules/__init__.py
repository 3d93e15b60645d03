"""Every rule the pack enforces, by area. Adding an area: write its module with a `RULES` tuple and list it here."""

from __future__ import annotations

from modelfort_policy.rule import Rule
from modelfort_policy.rules import network

ALL_RULES: tuple[Rule, ...] = (*network.RULES,)
