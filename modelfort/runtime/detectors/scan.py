"""Run the pattern set over one text: normalise, prefilter by stems, match, then judge each hit.

A text is scanned in up to three forms: its skeleton; text hidden in Unicode tag characters; and base64 strings
that decode to text (bounded in number and size). A hit in the last two is obfuscated by construction; a hit in the
skeleton is obfuscated when the same pattern does not match the plain (case-folded) text.

A hit in a text that talks *about* attacks ("what does ... mean", "how do we detect ...") is marked `discussed`
when it is fully inside quotation marks, or reported as said to a third party ("people telling it to ignore all
previous instructions"): people ask about prompt injection all the time, and paging someone for each question would
bury the real attacks. This is an evasion path for an attacker who wraps a payload in quotes *and* poses a
question, so the guardrail verdict still counts on its own, an unquoted direct repeat still fires, payloads hidden
in base64 or tag characters are never exempt, and `JailbreakConfig.flag_quoted_mentions` turns the exemption off.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from modelfort.runtime.detectors.literals import admits, required_literals
from modelfort.runtime.detectors.normalize import Normalized, base64_payloads, normalize, plain_form
from modelfort.runtime.detectors.patterns import (
    DISCUSSION_CUES,
    PATTERNS,
    REPORTED_SPEECH,
    Kind,
    Pattern,
    stem_form,
)

_WINDOW = 240  # characters kept around a hit for its evidence excerpt
_MAX_OCCURRENCES = 8  # occurrences of one pattern examined when the first ones are quoted discussion

_QUOTED = re.compile(
    r'"[^"\n]{1,400}"|“[^”\n]{1,400}”|„[^“”\n]{1,400}[“”]|«[^»]{1,400}»|‹[^›]{1,400}›|「[^」]{1,400}」|『[^』]{1,400}』'
    r"|`[^`]{1,400}`|‘[^’\n]{1,400}’|(?<!\w)'[^'\n]{1,400}'(?!\w)"
)


@dataclass(frozen=True, slots=True)
class Hit:
    pattern: Pattern
    source: str
    """Where it matched: `text`, `hidden` (Unicode tag characters) or `base64`."""
    window: str
    """Text around the match, for the evidence excerpt: the original text when positions allow, else the skeleton."""
    window_is_skeleton: bool
    start: int
    end: int
    """The match within `window`."""
    obfuscated: bool
    discussed: bool


@dataclass(frozen=True, slots=True)
class ScanResult:
    hits: tuple[Hit, ...]
    transforms: tuple[str, ...]
    """Normalisation steps that changed the text (see `Normalized.transforms`)."""

    def active(self, kinds: frozenset[Kind]) -> list[Hit]:
        """Hits of these kinds that count (not quoted discussion), the strongest per pattern, strongest first."""
        best: dict[str, Hit] = {}
        for hit in self.hits:
            if hit.pattern.kind in kinds and not hit.discussed and hit.pattern.id not in best:
                best[hit.pattern.id] = hit
        return sorted(best.values(), key=lambda hit: -hit.pattern.weight)

    def score(self, kinds: frozenset[Kind]) -> float:
        return sum(hit.pattern.weight for hit in self.active(kinds))

    def discussed(self, kinds: frozenset[Kind]) -> list[Hit]:
        return [hit for hit in self.hits if hit.pattern.kind in kinds and hit.discussed]


EMPTY = ScanResult((), ())


def scan(text: str, kinds: frozenset[Kind], *, base64_candidates: int = 4, base64_max_chars: int = 8192,
         flag_quoted: bool = False, only: frozenset[Kind] | None = None, analysis: TextAnalysis | None = None,
         reference: bool = False) -> ScanResult:
    """All pattern hits of `kinds` in `text`, its hidden tag-character text and its base64 payloads.

    `only` keeps the hits of those kinds and skips the other patterns' regexes: the result is exactly
    `scan(text, kinds)` with the other kinds' hits left out (which patterns run is still decided by the stem index of
    `kinds`, so nothing that `kinds` would find is lost). `analysis` shares per-text work (skeleton, stems present,
    plain form, payloads) between scans of one text. `reference` runs the original, unshared path (equivalence
    tests and benchmarks compare both; the results are identical)."""
    if reference:
        return _scan_reference(text, kinds, base64_candidates=base64_candidates, base64_max_chars=base64_max_chars,
                               flag_quoted=flag_quoted)
    if not text:
        return EMPTY
    plan = _plan(kinds, only)
    if analysis is None or analysis.text != text:
        analysis = TextAnalysis(text)
    normalized = analysis.normalized
    skeleton = normalized.text
    hits: list[Hit] = []
    found = _admitted(plan, analysis.stems)
    if found:
        preserved = normalized.positions_preserved
        source_text = text if preserved else skeleton
        plain = analysis.plain
        # The same regex finds the same match in the same string: no obfuscation to undo, no second search.
        plain_is_skeleton = plain == skeleton
        judge_quotes = not flag_quoted
        quotes = _Quotes(skeleton) if judge_quotes else None
        for pattern in found:
            regex = pattern.regex
            match = regex.search(skeleton)
            if match is None:
                continue
            obfuscated = False if plain_is_skeleton else regex.search(plain) is None
            hit = _hit_at(pattern, match, source_text, "text", obfuscated, quotes, not preserved)
            hits.append(hit)
            if hit.discussed:
                # A quoted mention must not shadow a real order later in the text (bounded, as the reference).
                count = 1
                for match in regex.finditer(skeleton, match.end()):
                    count += 1
                    hit = _hit_at(pattern, match, source_text, "text", obfuscated, quotes, not preserved)
                    hits.append(hit)
                    if not hit.discussed or count >= _MAX_OCCURRENCES:
                        break
    for source, payload_skeleton, stems in analysis.payloads(base64_candidates, base64_max_chars):
        for pattern in _admitted(plan, stems):
            match = pattern.regex.search(payload_skeleton)
            if match is not None:
                hits.append(_hit_at(pattern, match, payload_skeleton, source, True, None, True))
    if not hits:
        return ScanResult((), normalized.transforms) if normalized.transforms else EMPTY
    return ScanResult(tuple(hits), normalized.transforms)


class TextAnalysis:
    """What every scan of one text computes the same way, computed once: its skeleton, the stems present in it, its
    plain form, and its hidden and base64 payloads (with their skeletons and stems)."""

    __slots__ = ("text", "_normalized", "_plain", "_stems", "_payloads")
    # _stems: (stem form of the skeleton, stems present in it)

    def __init__(self, text: str) -> None:
        self.text = text
        self._normalized: Normalized | None = None
        self._plain: str | None = None
        self._stems: tuple[str, frozenset[str]] | None = None
        self._payloads: dict[tuple[int, int], list[tuple[str, str, tuple[str, frozenset[str]]]]] = {}

    @property
    def normalized(self) -> Normalized:
        if self._normalized is None:
            self._normalized = normalize(self.text)
        return self._normalized

    @property
    def plain(self) -> str:
        if self._plain is None:
            self._plain = plain_form(self.text)
        return self._plain

    @property
    def stems(self) -> tuple[str, frozenset[str]]:
        """The skeleton's stem form and the pattern stems present in it."""
        if self._stems is None:
            self._stems = stems_present(self.normalized.text)
        return self._stems

    def payloads(self, candidates: int, max_chars: int) -> list[tuple[str, str, tuple[str, frozenset[str]]]]:
        """(source, skeleton, stems present) for each hidden or base64 payload, as `_payloads` finds them."""
        found = self._payloads.get((candidates, max_chars))
        if found is None:
            found = []
            for source, payload in _payloads(self.text, self.normalized.hidden, candidates, max_chars):
                skeleton = normalize(payload).text
                found.append((source, skeleton, stems_present(skeleton)))
            self._payloads[(candidates, max_chars)] = found
        return found


def _scan_reference(text: str, kinds: frozenset[Kind], *, base64_candidates: int = 4, base64_max_chars: int = 8192,
                    flag_quoted: bool = False) -> ScanResult:
    """The original scan: every text normalised and stem-checked afresh (see `scan`)."""
    if not text:
        return EMPTY
    prepared = _prepared(kinds)
    normalized = normalize(text)
    hits: list[Hit] = []
    plain: str | None = None
    source_text = text if normalized.positions_preserved else normalized.text
    for pattern, matches in _matches(normalized.text, prepared):
        if plain is None:
            plain = plain_form(text)
        obfuscated = pattern.regex.search(plain) is None
        # A quoted mention must not shadow a real order later in the text: look further (bounded) until an
        # occurrence is not discussion.
        for count, match in enumerate(matches, start=1):
            hit = _hit(pattern, match, source_text, normalized.text, "text", obfuscated,
                       judge_quotes=not flag_quoted, from_skeleton=not normalized.positions_preserved)
            hits.append(hit)
            if not hit.discussed or count >= _MAX_OCCURRENCES:
                break
    for source, payload in _payloads(text, normalized.hidden, base64_candidates, base64_max_chars):
        skeleton = normalize(payload).text
        for pattern, matches in _matches(skeleton, prepared):
            hits.append(_hit(pattern, next(matches), skeleton, skeleton, source, True, judge_quotes=False,
                             from_skeleton=True))
    return ScanResult(tuple(hits), normalized.transforms)


# Letters from most to least frequent in the languages of the pattern set (rough): a stem is filed under its
# rarest character, and a text that lacks that character skips the whole file.
_FREQUENT = " eaitnorslduhcmgpfywbvk.jxqz"


@dataclass(frozen=True, slots=True)
class _Prepared:
    groups: tuple[tuple[str, tuple[tuple[str, tuple[int, ...]], ...]], ...]
    """(rarest character, ((stem, pattern indexes), ...)) for every stem, rarest characters first."""
    patterns: tuple[Pattern, ...]
    by_stem: dict[str, tuple[int, ...]]
    """The same index by stem: the pattern indexes filed under each stem."""


@lru_cache(maxsize=16)
def _prepared(kinds: frozenset[Kind]) -> _Prepared:
    """Stem index for one set of kinds (computed once per kind set).

    A stem that contains another stem is dropped and its patterns filed under the shorter one (which is present
    whenever the longer one is), so fewer stems are checked per text."""
    patterns = tuple(pattern for pattern in PATTERNS if pattern.kind in kinds)
    by_stem: dict[str, set[int]] = {}
    for index, pattern in enumerate(patterns):
        for stem in pattern.stems:
            by_stem.setdefault(stem, set()).add(index)
    for stem in sorted(by_stem, key=len):
        for shorter in [other for other in by_stem if other != stem and other in stem and len(other) < len(stem)]:
            by_stem[shorter] |= by_stem.pop(stem, set())
            break
    groups: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
    for stem, indexes in by_stem.items():
        rarest = max(stem, key=lambda ch: _FREQUENT.find(ch) if ch in _FREQUENT else len(_FREQUENT))
        groups.setdefault(rarest, []).append((stem, tuple(sorted(indexes))))
    ordered = tuple((char, tuple(stems)) for char, stems in sorted(groups.items()))
    return _Prepared(ordered, patterns, {stem: tuple(sorted(indexes)) for stem, indexes in by_stem.items()})


def _matches(skeleton: str, prepared: _Prepared) -> Iterator[tuple[Pattern, Iterator[re.Match[str]]]]:
    """(pattern, its matches from the first one on) for each pattern whose stems are present and that matches."""
    stem_text = stem_form(skeleton)
    present = set(stem_text)
    candidates: set[int] = set()
    for char, stems in prepared.groups:
        if char in present:
            for stem, indexes in stems:
                if stem in stem_text:
                    candidates.update(indexes)
    for index in sorted(candidates):
        pattern = prepared.patterns[index]
        match = pattern.regex.search(skeleton)
        if match is not None:
            yield pattern, itertools.chain((match,), pattern.regex.finditer(skeleton, match.end()))


def _matches_present(skeleton: str, stems: tuple[str, frozenset[str]], prepared: _Prepared,
                     only: frozenset[Kind] | None) -> Iterator[tuple[Pattern, Iterator[re.Match[str]]]]:
    """`_matches`, given `stems_present(skeleton)`, restricted to the kinds `only`. (`scan` now runs `_admitted`, the
    same filter flattened; this generator stays as the specification tests hold `_admitted` to.)

    The candidates are exactly `_matches`'s: a stem of the index is in the text iff it is in `present` (every stem of
    every index is one of the pattern stems `stems_present` looks for). A candidate whose regex provably cannot match
    (a clause of `literals.required_literals` with none of its literals in the text) is not searched: it would
    have yielded nothing."""
    stem_text, present = stems
    candidates = _candidates(prepared.by_stem, present)
    patterns = prepared.patterns
    for index in sorted(candidates):
        pattern = patterns[index]
        if only is not None and pattern.kind not in only:
            continue
        if not admits(_required(pattern), stem_text):
            continue
        match = pattern.regex.search(skeleton)
        if match is not None:
            yield pattern, itertools.chain((match,), pattern.regex.finditer(skeleton, match.end()))


class _Plan:
    """`_prepared(kinds)` restricted to the kinds `only`, ready for `_admitted`: per stem, the indexes of the patterns
    filed under it (other kinds left out), and per index the pattern and its prefilter clauses."""

    __slots__ = ("by_stem", "entries")

    def __init__(self, kinds: frozenset[Kind], only: frozenset[Kind] | None) -> None:
        prepared = _prepared(kinds)
        keep = [only is None or pattern.kind in only for pattern in prepared.patterns]
        self.by_stem: dict[str, tuple[int, ...]] = {}
        for stem, indexes in prepared.by_stem.items():
            kept = tuple(index for index in indexes if keep[index])
            if kept:
                self.by_stem[stem] = kept
        self.entries: tuple[tuple[Pattern, tuple[frozenset[str], ...]], ...] = tuple(
            (pattern, _required(pattern)) for pattern in prepared.patterns)


_PLANS: dict[tuple[frozenset[Kind], frozenset[Kind] | None], _Plan] = {}


def _plan(kinds: frozenset[Kind], only: frozenset[Kind] | None) -> _Plan:
    plan = _PLANS.get((kinds, only))
    if plan is None:
        plan = _PLANS[(kinds, only)] = _Plan(kinds, only)
    return plan


def _candidates(by_stem: dict[str, tuple[int, ...]], present: frozenset[str]) -> set[int]:
    """The indexes of the patterns filed under a stem that is in the text."""
    candidates: set[int] = set()
    for stem in present:
        indexes = by_stem.get(stem)
        if indexes is not None:
            candidates.update(indexes)
    return candidates


def _admitted(plan: _Plan, stems: tuple[str, frozenset[str]]) -> list[Pattern]:
    """The patterns `_matches_present` would search, in the same (index) order: candidates by the stems present,
    restricted to the plan's kinds, less those whose prefilter clauses rule a match out (`literals.admits`)."""
    stem_text, present = stems
    candidates = _candidates(plan.by_stem, present)
    if not candidates:
        return []
    entries = plan.entries
    out: list[Pattern] = []
    for index in sorted(candidates):
        pattern, clauses = entries[index]
        for clause in clauses:
            for literal in clause:
                if literal in stem_text:
                    break
            else:
                break  # no literal of this clause: the regex cannot match
        else:
            out.append(pattern)
    return out


class _Quotes:
    """`_is_discussion` for the hits of one skeleton, with the quoted spans and their verdict computed once."""

    __slots__ = ("skeleton", "_spans", "_quoted_cue")

    def __init__(self, skeleton: str) -> None:
        self.skeleton = skeleton
        self._spans: list[tuple[int, int]] | None = None
        self._quoted_cue: bool | None = None

    def discussed(self, start: int, end: int) -> bool:
        skeleton = self.skeleton
        spans = self._spans
        if spans is None:
            spans = self._spans = [m.span() for m in _QUOTED.finditer(skeleton)] if _maybe_quoted(skeleton) else []
        if spans and any(lo < start and end <= hi for lo, hi in spans):
            if self._quoted_cue is None:
                self._quoted_cue = DISCUSSION_CUES.search(_blank_spans(skeleton, spans)) is not None
            return self._quoted_cue
        if REPORTED_SPEECH.search(skeleton[max(0, start - 80):start]) is not None:
            return DISCUSSION_CUES.search(skeleton[:start] + " " * (end - start) + skeleton[end:]) is not None
        return False


# Every alternative of `_QUOTED` begins with one of these characters: a text without any has no quoted span.
_QUOTE_OPENERS = ('"', "“", "„", "«", "‹", "「", "『", "`", "‘", "'")


def _maybe_quoted(text: str) -> bool:
    for opener in _QUOTE_OPENERS:
        if opener in text:
            return True
    return False


def _hit_at(pattern: Pattern, match: re.Match[str], source_text: str, source: str, obfuscated: bool,
            quotes: _Quotes | None, from_skeleton: bool) -> Hit:
    """`_hit`, with the discussion verdict from `quotes` (None: payload hits and `flag_quoted`, never exempt)."""
    start, end = match.span()
    lo = start - _WINDOW // 2
    if lo < 0:
        lo = 0
    hi = end + _WINDOW // 2
    if hi > len(source_text):
        hi = len(source_text)
    discussed = quotes is not None and quotes.discussed(start, end)
    return Hit(pattern, source, source_text[lo:hi], from_skeleton, start - lo, end - lo, obfuscated, discussed)


@dataclass(frozen=True, slots=True)
class _StemFinder:
    finder: re.Pattern[str] | None
    """Lookahead over a trie of the minimal stems: reports, at each position, the one minimal stem starting there."""
    longer: dict[str, tuple[str, ...]]
    """For a minimal stem, the longer stems that contain it (checked with `in` only when it is present)."""
    always: frozenset[str]
    """Stems present in every text (the empty stem, if some pattern declares it)."""


@lru_cache(maxsize=1)
def _stem_finder() -> _StemFinder:
    """One finder for every stem of every pattern (so one pass serves every kind set).

    Exact, not approximate: no minimal stem contains another, so no two start at the same position (one would be a
    prefix of the other) and the lookahead reports each occurrence of each; a longer stem contains a minimal one and
    is present only where that one is, so it is checked (with `in`) only then."""
    every = {stem for pattern in PATTERNS for stem in pattern.stems}
    always = frozenset(stem for stem in every if not stem)
    every -= always
    minimal = sorted(stem for stem in every if not any(other != stem and other in stem for other in every))
    longer: dict[str, list[str]] = {}
    for stem in sorted(every - set(minimal)):
        guard = min((m for m in minimal if m in stem), key=len)
        longer.setdefault(guard, []).append(stem)
    finder = re.compile(f"(?=({_trie_regex(minimal)}))") if minimal else None
    return _StemFinder(finder, {m: tuple(stems) for m, stems in longer.items()}, always)


def _trie_regex(words: list[str]) -> str:
    """An alternation of `words` (none a prefix of another) factored as a trie: each position tries few branches."""
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})

    def emit(node: dict[str, dict]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items())]
        if len(branches) <= 1:
            return "".join(branches)
        return "(?:" + "|".join(branches) + ")"

    return emit(root)


_PREFILTER_CLAUSES = 3  # clauses checked per pattern, fewest literals first
_PREFILTER_LITERALS = 16  # a clause with more literals costs about as much as the regex search it could save


_REQUIRED: dict[str, tuple[frozenset[str], ...]] = {}  # by pattern id


def _required(pattern: Pattern) -> tuple[frozenset[str], ...]:
    """The cheapest few of the pattern's required-literal clauses (any subset of them is as sound as all)."""
    found = _REQUIRED.get(pattern.id)
    if found is None:
        clauses = sorted(required_literals(pattern.regex), key=len)
        found = tuple(clause for clause in clauses if len(clause) <= _PREFILTER_LITERALS)[:_PREFILTER_CLAUSES]
        _REQUIRED[pattern.id] = found
    return found


def stems_present(skeleton: str) -> tuple[str, frozenset[str]]:
    """`skeleton`'s stem form and the pattern stems (any pattern, any kind) that occur in it."""
    finder = _stem_finder()
    stem_text = stem_form(skeleton)
    if finder.finder is None:
        return stem_text, finder.always
    found = set(finder.finder.findall(stem_text))
    if finder.longer:
        for minimal in list(found):
            for stem in finder.longer.get(minimal, ()):
                if stem in stem_text:
                    found.add(stem)
    return stem_text, (frozenset(found | finder.always) if finder.always else frozenset(found))


def _payloads(text: str, hidden: str, candidates: int, max_chars: int) -> Iterable[tuple[str, str]]:
    if hidden:
        yield "hidden", hidden
    if len(text) >= 16:
        for payload in base64_payloads(text, candidates, max_chars):
            yield "base64", payload


def _hit(pattern: Pattern, match: re.Match[str], source_text: str, skeleton: str, source: str, obfuscated: bool,
         judge_quotes: bool, from_skeleton: bool) -> Hit:
    """A hit with its evidence window; payload hits (hidden, base64) are never exempted as quoted discussion."""
    start, end = match.span()
    lo = max(0, start - _WINDOW // 2)
    hi = min(len(source_text), end + _WINDOW // 2)
    discussed = judge_quotes and _is_discussion(skeleton, start, end)
    return Hit(pattern, source, source_text[lo:hi], from_skeleton, start - lo, end - lo, obfuscated, discussed)


def _is_discussion(skeleton: str, start: int, end: int) -> bool:
    """True when [start, end) is quoted or reported speech, and the text around it talks about attacks."""
    spans = [m.span() for m in _QUOTED.finditer(skeleton)]
    if any(lo < start and end <= hi for lo, hi in spans):
        return DISCUSSION_CUES.search(_blank_spans(skeleton, spans)) is not None
    if REPORTED_SPEECH.search(skeleton[max(0, start - 80):start]) is not None:
        return DISCUSSION_CUES.search(skeleton[:start] + " " * (end - start) + skeleton[end:]) is not None
    return False


def _blank_spans(text: str, spans: list[tuple[int, int]]) -> str:
    parts: list[str] = []
    cursor = 0
    for lo, hi in spans:
        parts.append(text[cursor:lo])
        parts.append(" " * (hi - lo))
        cursor = hi
    parts.append(text[cursor:])
    return "".join(parts)
