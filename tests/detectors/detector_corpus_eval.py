"""Score the detector engine against the labelled corpus (see `make_corpus.py` for the label format).

Shared by `test_detector_corpus.py` (which asserts the targets) and `benchmarks/bench_detectors.py` (which prints).

- A finding of detector D is correct when D is in the event's `expect` or `allow` labels, else a false positive.
- Recall is counted over units: an event whose `expect` names D, or a scenario whose `scenario_expect` names D
  (a unit is detected when any of its events has a finding of D).
- The benign false-positive rate is the share of benign events with any finding at all.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelfort.runtime.detectors.config import DETECTOR_NAMES, DetectorConfig, load_config
from modelfort.runtime.detectors.engine import Detector

CORPUS = Path(__file__).resolve().parent / "corpus"


@dataclass
class DetectorScore:
    true_findings: int = 0
    false_findings: int = 0
    units: int = 0
    detected: int = 0
    benign_events_flagged: int = 0
    missed: list[str] = field(default_factory=list)
    false_cases: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        total = self.true_findings + self.false_findings
        return self.true_findings / total if total else 1.0

    @property
    def recall(self) -> float:
        return self.detected / self.units if self.units else 1.0


@dataclass
class CorpusScore:
    detectors: dict[str, DetectorScore]
    benign_events: int
    benign_flagged: int
    malicious_events: int

    @property
    def benign_fp_rate(self) -> float:
        return self.benign_flagged / self.benign_events if self.benign_events else 0.0


def load(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (CORPUS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def corpus_config() -> DetectorConfig:
    return load_config(CORPUS / "detectors.toml")


def score(config: DetectorConfig | None = None) -> CorpusScore:
    config = config or corpus_config()
    scores = {name: DetectorScore() for name in DETECTOR_NAMES}
    benign_flagged = 0
    counts = {}
    for corpus_name in ("benign", "malicious"):
        events = load(corpus_name)
        counts[corpus_name] = len(events)
        detector = Detector(config, strict=True)  # a fresh engine per file: callers' histories do not mix
        scenarios: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        for event in events:
            label = event["x_label"]
            found = {finding.detector for finding in detector.process_record(event)}
            acceptable = set(label["expect"]) | set(label["allow"])
            if corpus_name == "benign" and found:
                benign_flagged += 1
            for name in found:
                if name not in scores:
                    continue
                if name in acceptable:
                    scores[name].true_findings += 1
                else:
                    scores[name].false_findings += 1
                    scores[name].false_cases.append(f"{event['request_id']} {label['case']}")
                if corpus_name == "benign":
                    scores[name].benign_events_flagged += 1
            for name in label["expect"]:
                scores[name].units += 1
                if name in found:
                    scores[name].detected += 1
                else:
                    scores[name].missed.append(f"{event['request_id']} {label['case']}")
            if "scenario" in label:
                expected, seen = scenarios[label["scenario"]]
                expected.update(label["scenario_expect"])
                seen.update(found)
        for scenario, (expected, seen) in scenarios.items():
            for name in expected:
                scores[name].units += 1
                if name in seen:
                    scores[name].detected += 1
                else:
                    scores[name].missed.append(f"scenario {scenario}")
    return CorpusScore(scores, counts["benign"], benign_flagged, counts["malicious"])
