"""The curated table (curated.yaml) as typed data, checked when the pack starts so a typo cannot pass silently."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from modelfort_policy.rule import SEVERITIES
from modelfort_policy.tiers import ZONE_TIERS, Tier

DATA_DIR = Path(__file__).resolve().parent
CURATED_PATH = DATA_DIR / "curated.yaml"
TITLES_PATH = DATA_DIR / "titles.json"
CHECK_ID = re.compile(r"^CKV2?_(AWS|GCP|K8S)_\d+$")
TIERS: dict[str, Tier] = {tier.name: tier for tier in ZONE_TIERS.values()}
POLICY_PREFIX = "checkov:"


@dataclass(frozen=True)
class CuratedCheck:
    check_id: str
    title: str
    controls: tuple[str, ...]
    severity: str
    mandatory_from: Tier
    remediation: str
    duplicates: str | None

    @property
    def policy_name(self) -> str:
        return f"{POLICY_PREFIX}{self.check_id}"


@dataclass(frozen=True)
class CuratedTable:
    checks: tuple[CuratedCheck, ...]
    declined: dict[str, str]
    """Check ID → why a model zone does not take it."""


def parse_table(raw: dict, titles: dict[str, str]) -> CuratedTable:
    problems: list[str] = []
    checks = []
    for check_id, entry in (raw.get("checks") or {}).items():
        where = f"curated.yaml checks.{check_id}"
        if not CHECK_ID.match(check_id):
            problems.append(f"{where}: not a checkov check ID (CKV_AWS_n, CKV2_GCP_n, ...)")
            continue
        tier = TIERS.get(entry.get("mandatory_from"))
        if tier is None:
            problems.append(f"{where}.mandatory_from: {entry.get('mandatory_from')!r} is not one of {sorted(TIERS)}")
        if entry.get("severity") not in SEVERITIES:
            problems.append(f"{where}.severity: {entry.get('severity')!r} is not one of {SEVERITIES}")
        if not entry.get("controls"):
            problems.append(f"{where}.controls: name the control IDs it enforces")
        if not entry.get("remediation"):
            problems.append(f"{where}.remediation: say what to change")
        if check_id not in titles:
            problems.append(f"{where}: checkov 3.3.30 has no such check (titles.json; rerun the regeneration script)")
        if tier is not None and check_id in titles:
            checks.append(CuratedCheck(check_id, titles[check_id], tuple(entry["controls"]), entry["severity"], tier,
                                       entry["remediation"], entry.get("duplicates")))
    declined = dict(raw.get("declined") or {})
    for check_id, reason in declined.items():
        if not isinstance(reason, str) or not reason.strip():
            problems.append(f"curated.yaml declined.{check_id}: give the reason it is declined")
    overlap = sorted({c.check_id for c in checks} & set(declined))
    if overlap:
        problems.append(f"curated.yaml: checks both curated and declined: {', '.join(overlap)}")
    if problems:
        raise ValueError("invalid checkov curated table:\n  " + "\n  ".join(problems))
    return CuratedTable(tuple(checks), declined)


@lru_cache(maxsize=1)
def load_table() -> CuratedTable:
    raw = yaml.safe_load(CURATED_PATH.read_text(encoding="utf-8"))
    titles = json.loads(TITLES_PATH.read_text(encoding="utf-8"))["titles"]
    return parse_table(raw, titles)
