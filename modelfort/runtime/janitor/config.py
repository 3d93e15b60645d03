"""CredentialJanitor settings, read from the Lambda environment and validated before anything runs.

A typo in a setting must stop the run with a message naming the variable, never fall back to a default: a
janitor that silently ran with ``DRY_RUN`` ignored, or with a zero-day recovery window, would do harm.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# CIS AWS Foundations Benchmark (v1.5 onwards, control 1.12): disable credentials unused for 45 days or more.
DEFAULT_MAX_IDLE_DAYS = 45
# A year: beyond that the control no longer means anything.
MAX_IDLE_DAYS_RANGE = (1, 365)
# The limits DeleteSecret itself accepts; 30 gives owners the longest time to notice and restore.
DEFAULT_RECOVERY_WINDOW_DAYS = 30
RECOVERY_WINDOW_RANGE = (7, 30)

_WHOLE_NUMBER = re.compile(r"[0-9]{1,4}")
_BOOLEANS = {"true": True, "false": False}


class ConfigError(ValueError):
    """A setting is missing its allowed form; the message names the variable and what it accepts."""


@dataclass(frozen=True)
class JanitorConfig:
    """Validated settings. Constructing one directly (as tests do) runs the same range checks."""

    max_idle_days: int = DEFAULT_MAX_IDLE_DAYS
    recovery_window_days: int = DEFAULT_RECOVERY_WINDOW_DAYS
    dry_run: bool = False

    def __post_init__(self) -> None:
        _check_range("MAX_IDLE_DAYS", self.max_idle_days, MAX_IDLE_DAYS_RANGE)
        _check_range("RECOVERY_WINDOW_DAYS", self.recovery_window_days, RECOVERY_WINDOW_RANGE)
        if not isinstance(self.dry_run, bool):
            raise ConfigError("DRY_RUN must be true or false")


def load_config(environ: Mapping[str, str]) -> JanitorConfig:
    """Read MAX_IDLE_DAYS, RECOVERY_WINDOW_DAYS and DRY_RUN. Unset means the default; set-but-empty is an error,
    because it usually means a templating mistake rather than a choice."""
    return JanitorConfig(
        max_idle_days=_whole_number(environ, "MAX_IDLE_DAYS", DEFAULT_MAX_IDLE_DAYS, MAX_IDLE_DAYS_RANGE),
        recovery_window_days=_whole_number(
            environ, "RECOVERY_WINDOW_DAYS", DEFAULT_RECOVERY_WINDOW_DAYS, RECOVERY_WINDOW_RANGE
        ),
        dry_run=_boolean(environ, "DRY_RUN", default=False),
    )


def _whole_number(environ: Mapping[str, str], name: str, default: int, allowed: tuple[int, int]) -> int:
    if name not in environ:
        return default
    raw = environ[name]
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise ConfigError(f"{name} must be a whole number of days from {allowed[0]} to {allowed[1]}; got {raw!r}")
    value = int(raw)
    _check_range(name, value, allowed)
    return value


def _boolean(environ: Mapping[str, str], name: str, default: bool) -> bool:
    if name not in environ:
        return default
    raw = environ[name]
    if raw.lower() not in _BOOLEANS:
        raise ConfigError(f"{name} must be true or false; got {raw!r}")
    return _BOOLEANS[raw.lower()]


def _check_range(name: str, value: object, allowed: tuple[int, int]) -> None:
    low, high = allowed
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number of days from {low} to {high}; got {value!r}")
