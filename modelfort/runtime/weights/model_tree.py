"""Walk a model directory without following links, and refuse anything but regular files and directories.

The library also refuses symlinks, but only while hashing and with a generic `ValueError`; walking first gives each
problem its own reason, lists every offender at once, and lets the verifier compare the set of files with the
signed manifest before spending minutes hashing gigabytes.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from modelfort.runtime.weights.reasons import Reason, WeightsError

# Enough offenders to act on; a directory with thousands of them is summarised by the count.
MAX_LISTED = 20


@dataclass(frozen=True)
class ModelTree:
    """The regular files of a model directory (POSIX paths relative to it, sorted) and their total size.

    `sizes` are the files' sizes when walked, in the order of `files` (they only order the hashing work).
    """

    files: tuple[str, ...]
    total_bytes: int
    sizes: tuple[int, ...] = ()


def scan_model_tree(model_dir: Path) -> ModelTree:
    """List every regular file under `model_dir`; raise if the tree holds a symlink or a special file.

    Uses `lstat` semantics throughout (`os.scandir` entries with `follow_symlinks=False`), so a link is reported as
    a link wherever it points, including a link to a directory (which a plain `os.walk` would list but not enter).
    """
    _check_root(model_dir)
    files: list[tuple[str, int]] = []
    symlinks: list[str] = []
    specials: list[str] = []
    pending = [(model_dir, "")]
    while pending:
        directory, prefix = pending.pop()
        for entry in _scandir(directory):
            relative = f"{prefix}{entry.name}"
            if entry.is_symlink():
                symlinks.append(relative)
            elif entry.is_dir(follow_symlinks=False):
                pending.append((Path(entry.path), f"{relative}/"))
            elif entry.is_file(follow_symlinks=False):
                files.append((relative, entry.stat(follow_symlinks=False).st_size))
            else:
                specials.append(relative)
    if symlinks:
        raise _offenders(Reason.SYMLINK_PRESENT, "symbolic link(s) in the model directory", symlinks)
    if specials:
        raise _offenders(Reason.SPECIAL_FILE_PRESENT, "FIFO, socket or device file(s) in the model directory", specials)
    files.sort()
    return ModelTree(
        files=tuple(name for name, _ in files),
        total_bytes=sum(size for _, size in files),
        sizes=tuple(size for _, size in files),
    )


def _check_root(model_dir: Path) -> None:
    """The model directory itself must be a real directory: a link there could be re-pointed after verification."""
    try:
        mode = os.lstat(model_dir).st_mode
    except OSError as error:
        raise WeightsError(
            Reason.MODEL_DIR_INVALID, f"cannot read model directory {str(model_dir)!r}: {error.strerror}"
        ) from error
    if stat.S_ISLNK(mode):
        raise WeightsError(
            Reason.SYMLINK_PRESENT, f"the model directory {str(model_dir)!r} is itself a symbolic link", paths=["."]
        )
    if not stat.S_ISDIR(mode):
        raise WeightsError(Reason.MODEL_DIR_INVALID, f"{str(model_dir)!r} is not a directory")


def _scandir(directory: Path) -> list[os.DirEntry]:
    """Read one directory, turning an unreadable one into a clear failure instead of silently skipping it."""
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except OSError as error:
        raise WeightsError(Reason.MODEL_DIR_INVALID, f"cannot list {str(directory)!r}: {error.strerror}") from error


def _offenders(reason: Reason, what: str, paths: list[str]) -> WeightsError:
    ordered = sorted(paths)
    shown = ", ".join(ordered[:MAX_LISTED])
    more = f" and {len(ordered) - MAX_LISTED} more" if len(ordered) > MAX_LISTED else ""
    return WeightsError(reason, f"{len(ordered)} {what}: {shown}{more}", paths=ordered[:MAX_LISTED], count=len(ordered))
