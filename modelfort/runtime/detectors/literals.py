"""Literals a regex cannot match without: a sound prefilter that skips a regex search that cannot succeed.

`required_literals(regex)` reads the compiled pattern's syntax tree and returns clauses: every string the regex
matches (anywhere in a text) contains, for each clause, at least one of its literals. The literals are in stem form
(`l` written as `i`, as `patterns.stem_form` writes texts), so they are checked against the stem form of the text
the regex runs on. Derivation rules, each sound on its own:

- a run of literal characters (and small classes such as `[il]`) is a finite set of exact strings;
- a concatenation keeps the exact strings of each maximal run of such parts as a clause, plus its parts' clauses;
- an alternation gives one clause: the union of one clause (or exact set) per branch, or nothing if a branch
  requires nothing;
- a repeat with a minimum of one or more keeps its body's clauses; `x?` is x's exact strings or the empty one; any
  other repeat with a minimum of zero requires nothing (and ends the run of exact strings around it);
- anchors and lookarounds match no characters and require nothing; anything else (`.`, `\\w`, negated classes,
  back references, case-insensitive parts) requires nothing.

Requiring less than a regex needs is always sound (it only makes the prefilter admit more), so every rule errs that
way. Tests check the clauses against strings generated from each regex and against every corpus positive.
"""

from __future__ import annotations

import re
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_p  # type: ignore[attr-defined]

_MAX_EXACT = 64  # exact strings kept per run before the run is cut into a clause
_MAX_CLASS = 4  # a class of up to this many characters is a set of exact one-character strings


def _stem_char(code: int) -> str:
    char = chr(code)
    return "i" if char == "l" else char


class _Info:
    __slots__ = ("exact", "clauses")

    def __init__(self, exact: frozenset[str] | None, clauses: tuple[frozenset[str], ...] = ()) -> None:
        self.exact = exact
        """Every string this part can match, when finitely many and few (None otherwise)."""
        self.clauses = clauses

    def as_clauses(self) -> tuple[frozenset[str], ...]:
        if self.exact is not None:
            return () if "" in self.exact else (self.exact,)
        return self.clauses


_ANYTHING = _Info(None)
_EMPTY = _Info(frozenset({""}))


def required_literals(regex: re.Pattern[str]) -> tuple[frozenset[str], ...]:
    """Clauses of literals (stem form) that every match of `regex` contains, one literal of each (see the module)."""
    if regex.flags & re.IGNORECASE or not isinstance(regex.pattern, str):
        return ()
    clauses = _sequence(sre_p.parse(regex.pattern, regex.flags)).as_clauses()
    return tuple(dict.fromkeys(clause for clause in clauses if clause and "" not in clause))


def _sequence(items) -> _Info:  # noqa: ANN001 - sre_parse.SubPattern or a list of its items
    clauses: list[frozenset[str]] = []
    current = frozenset({""})  # exact strings of the run of exact parts so far
    whole = True  # every part so far was exact and kept in `current`: the sequence matches only `current`
    for op, av in items:
        info = _item(op, av)
        if info.exact is not None and len(current) * len(info.exact) <= _MAX_EXACT:
            current = frozenset(a + b for a in current for b in info.exact)
            continue
        whole = False
        if "" not in current:
            clauses.append(current)
        if info.exact is not None:
            current = info.exact
        else:
            clauses.extend(info.clauses)
            current = frozenset({""})
    if whole:
        return _Info(current)
    if "" not in current:
        clauses.append(current)
    return _Info(None, tuple(clauses))


def _item(op, av) -> _Info:  # noqa: ANN001, C901, PLR0911 - one case per node type
    if op is sre_c.LITERAL:
        return _Info(frozenset({_stem_char(av)}))
    if op is sre_c.IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is sre_c.LITERAL:
                chars.add(_stem_char(value))
            elif kind is sre_c.RANGE and value[1] - value[0] < _MAX_CLASS:
                chars.update(_stem_char(code) for code in range(value[0], value[1] + 1))
            else:  # NEGATE, CATEGORY, wide ranges: too many characters (or unknown)
                return _ANYTHING
        return _Info(frozenset(chars)) if 0 < len(chars) <= _MAX_CLASS else _ANYTHING
    if op is sre_c.SUBPATTERN:
        _group, add_flags, _del_flags, body = av
        if add_flags & re.IGNORECASE:
            return _ANYTHING
        return _sequence(body)
    if op is sre_c.BRANCH:
        _, branches = av
        infos = [_sequence(branch) for branch in branches]
        if all(info.exact is not None for info in infos):
            union = frozenset().union(*(info.exact for info in infos))  # type: ignore[misc]
            if len(union) <= _MAX_EXACT:
                return _Info(union)
        merged: set[str] = set()
        for info in infos:
            options = info.as_clauses()
            if not options:
                return _ANYTHING  # this branch requires nothing
            merged |= min(options, key=lambda clause: (len(clause), -min(map(len, clause))))
        return _Info(None, (frozenset(merged),))
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
        low, high, body = av
        info = _sequence(body)
        if low == 0:
            if high == 1 and info.exact is not None:
                return _Info(info.exact | {""})
            return _ANYTHING  # any number of repeats, none included: matches strings of unknown content
        if low == high == 1:
            return info
        return _Info(None, info.as_clauses())
    if op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
        return _EMPTY
    if op is getattr(sre_c, "ATOMIC_GROUP", None):
        return _sequence(av)
    return _ANYTHING


def admits(clauses: tuple[frozenset[str], ...], stem_text: str) -> bool:
    """False only when some clause has none of its literals in `stem_text`: then the regex cannot match."""
    for clause in clauses:
        for literal in clause:
            if literal in stem_text:
                break
        else:
            return False
    return True
