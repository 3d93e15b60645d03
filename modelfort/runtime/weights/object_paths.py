"""The store-neutral half of downloading a model prefix: object names to safe local paths, and the download directory.

S3 and Cloud Storage differ in how objects are listed and fetched, but not in what an object name may do to the
local disk: nothing outside the download directory, nothing aliased, nothing half-written. Both stores call these
functions with their own reason (`s3_unsafe_key` or `gcs_unsafe_name`) and noun ("object key" or "object name"), so
the rules are written once and the log line still says which store the offending name came from.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modelfort.runtime.weights.model_tree import MAX_LISTED
from modelfort.runtime.weights.reasons import Reason, WeightsError

# Linux refuses longer path components; refusing them here gives a precise reason instead of an OSError.
MAX_COMPONENT_BYTES = 255


@dataclass(frozen=True)
class ListedObject:
    """One object under a model prefix, with the local relative path (POSIX) it will be written to."""

    name: str
    relative_path: str
    size: int


def as_prefix(name: str) -> str:
    """`models/llama/v3` -> `models/llama/v3/`: without the slash, the prefix would also match `v30/...`."""
    return name if not name or name.endswith("/") else f"{name}/"


def safe_relative_path(name: str, prefix: str, *, unsafe: Reason, noun: str) -> str:
    """The local path (relative, POSIX) for object `name`, or a failure if the name could escape or alias a path.

    Names are attacker-influenced input: `..`, empty or `.` segments, a leading slash, a trailing slash (a "folder"
    marker, which would become a directory the signature never mentions) or NUL are all refused rather than
    normalised, because normalising is how two names end up on one path.
    """
    relative = name[len(prefix) :]
    segments = relative.split("/")
    problem = None
    if not name.startswith(prefix):
        problem = "is not under the model prefix"
    elif not relative:
        problem = "is the prefix itself"
    elif "\x00" in relative:
        problem = "contains NUL"
    elif any(segment in ("", ".", "..") for segment in segments):
        problem = "has an empty, '.' or '..' path segment (or a leading/trailing slash)"
    elif any(len(segment.encode("utf-8")) > MAX_COMPONENT_BYTES for segment in segments):
        problem = f"has a path segment longer than {MAX_COMPONENT_BYTES} bytes"
    if problem:
        raise WeightsError(unsafe, f"{noun} {name!r} {problem}", key=name)
    return relative


def refuse_file_directory_clashes(objects: Sequence[ListedObject], *, unsafe: Reason, noun: str) -> None:
    """`a` and `a/b` cannot both be written; refuse up front instead of failing halfway through a download."""
    files = {item.relative_path for item in objects}
    directories = {
        "/".join(item.relative_path.split("/")[:depth])
        for item in objects
        for depth in range(1, item.relative_path.count("/") + 1)
    }
    clashes = sorted(files & directories)
    if clashes:
        raise WeightsError(
            unsafe, f"{noun}(s) used both as a file and as a directory: {', '.join(clashes[:MAX_LISTED])}"
        )


def local_target(download_dir: Path, item: ListedObject) -> Path:
    """Where `item` is written, with its parent directories created (the path was checked by `safe_relative_path`)."""
    target = download_dir.joinpath(*item.relative_path.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def prepare_download_dir(download_dir: Path) -> Path:
    """Create the download directory, or accept an existing one only if it is a real, empty directory.

    Empty matters: a leftover file would either be overwritten silently or, worse, be verified as part of a model
    it never belonged to. The caller clears the directory after a failed run, so a retry starts empty again.
    """
    try:
        mode = os.lstat(download_dir).st_mode
    except FileNotFoundError:
        try:
            download_dir.mkdir(parents=True, mode=0o750)
        except OSError as error:
            raise WeightsError(
                Reason.DOWNLOAD_DIR_INVALID, f"cannot create {str(download_dir)!r}: {error.strerror}"
            ) from error
        return download_dir
    except OSError as error:
        raise WeightsError(
            Reason.DOWNLOAD_DIR_INVALID, f"cannot read {str(download_dir)!r}: {error.strerror}"
        ) from error
    if not stat.S_ISDIR(mode):
        raise WeightsError(Reason.DOWNLOAD_DIR_INVALID, f"{str(download_dir)!r} is not a directory (or is a symlink)")
    if any(download_dir.iterdir()):
        raise WeightsError(
            Reason.DOWNLOAD_DIR_INVALID,
            f"{str(download_dir)!r} is not empty; the verifier only downloads into an empty directory",
        )
    return download_dir


def clear_directory(directory: Path) -> None:
    """Delete everything inside `directory` (not the directory itself, which may be a mounted volume)."""
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
