"""The curated pattern set: every pattern proves its examples, its stems gate it correctly, and none backtracks."""

from __future__ import annotations

import time

import pytest

from modelfort.runtime.detectors.normalize import normalize
from modelfort.runtime.detectors.patterns import PATTERNS, Kind, compile_pattern, stem_form
from modelfort.runtime.detectors.scan import scan


@pytest.mark.control("OB-05")
@pytest.mark.control("OB-06")
@pytest.mark.control("WP-07")
@pytest.mark.control("OB-08")
@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.id)
def test_every_pattern_matches_its_examples_through_its_own_stems(pattern) -> None:
    assert pattern.examples, "a pattern without examples is unproven"
    for example in pattern.examples:
        skeleton = normalize(example).text
        assert any(stem in stem_form(skeleton) for stem in pattern.stems), (example, pattern.stems)
        assert pattern.regex.search(skeleton), example
        # And the full scan (stem index included) finds it.
        assert pattern.id in {hit.pattern.id for hit in scan(example, frozenset({pattern.kind})).hits}


def test_pattern_ids_are_unique_and_weights_sane() -> None:
    ids = [pattern.id for pattern in PATTERNS]
    assert len(ids) == len(set(ids))
    assert all(0 < pattern.weight <= 1 for pattern in PATTERNS)


def test_the_set_covers_the_required_languages_for_every_kind() -> None:
    languages = {kind: {p.language for p in PATTERNS if p.kind is kind} for kind in Kind}
    for kind in (Kind.INJECTION, Kind.JAILBREAK, Kind.CONFIG_DUMP, Kind.DIRECTIVE):
        assert {"en", "es", "fr", "de"} <= languages[kind], kind
        assert languages[kind] & {"ru", "zh", "ja"}, kind


def test_compile_conventions() -> None:
    regex = compile_pattern(r"\bignore {F}rules")
    assert regex.search("ignore these silly rules")
    assert regex.search("1gnore ruies".replace("1", "i"))  # i and l are one letter
    assert regex.search("ignore---rules")  # a space is a short non-word gap
    assert compile_pattern("précédentes").search("precedentes")  # accents stripped from the source
    assert not regex.search("ignore the many many silly rules")  # at most three filler words


@pytest.mark.parametrize("kind", list(Kind))
def test_no_pattern_backtracks_catastrophically(kind: Kind) -> None:
    # Long runs of the characters the patterns are made of: repeated words, gaps, fillers, partial matches.
    hostile = " ".join(["ignore all the previous", "you are now", "system prompt", "---", "a" * 60, "show me your"]
                       * 400)
    started = time.perf_counter()
    scan(hostile, frozenset({kind}))
    assert time.perf_counter() - started < 2.0
