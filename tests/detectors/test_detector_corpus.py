"""The labelled corpus: reproducible, diverse, and the detectors meet their targets on it.

Targets (from the task): recall >= 0.9 per detector on the malicious set, false positives <= 2% of benign events.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from detector_corpus_eval import score

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def result():
    return score()


def test_the_committed_corpus_is_what_the_generator_produces() -> None:
    completed = subprocess.run([sys.executable, str(HERE / "make_corpus.py"), "--check"], capture_output=True,
                               text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr


def test_the_corpus_is_large_and_varied(corpus) -> None:
    benign, malicious = corpus["benign"], corpus["malicious"]
    assert len(benign) >= 300 and len(malicious) >= 300
    assert all(not event["x_label"]["expect"] for event in benign)
    cases = Counter(event["x_label"]["case"].split(".")[0] for event in malicious if event["x_label"]["expect"])
    assert {"jailbreak", "extraction", "tool_use", "rag"} <= set(cases)
    obfuscations = {event["x_label"]["case"].split(".")[-1] for event in malicious
                    if ".obfuscated." in event["x_label"]["case"]}
    assert {"homoglyph_cyrillic", "zero_width", "spaced", "leetspeak", "base64", "tag_chars"} <= obfuscations
    languages = {event["x_label"]["case"].rsplit("_", 1)[-1] for event in malicious
                 if event["x_label"]["case"].startswith(("jailbreak.", "extraction.config_dump_"))}
    assert {"en", "es", "fr", "de", "ru", "zh"} <= languages
    hard_benign = Counter(event["x_label"]["case"].split(".")[0] for event in benign)
    assert hard_benign["security"] >= 20 and hard_benign["numbers"] + hard_benign["hex"] >= 10


@pytest.mark.control("WP-04")
@pytest.mark.control("WP-07")
@pytest.mark.control("OB-05")
@pytest.mark.control("OB-06")
@pytest.mark.control("OB-07")
@pytest.mark.control("OB-08")
@pytest.mark.parametrize("detector", ["extraction", "jailbreak", "tool_use", "rag_poisoning"])
def test_recall_is_at_least_90_percent(result, detector) -> None:
    scored = result.detectors[detector]
    assert scored.units >= 10
    assert scored.recall >= 0.9, scored.missed


@pytest.mark.parametrize("detector", ["extraction", "jailbreak", "tool_use", "rag_poisoning"])
def test_precision_is_at_least_90_percent(result, detector) -> None:
    scored = result.detectors[detector]
    assert scored.precision >= 0.9, scored.false_cases


def test_false_positives_are_at_most_2_percent_of_benign_events(result) -> None:
    assert result.benign_fp_rate <= 0.02, {name: s.false_cases for name, s in result.detectors.items()}
