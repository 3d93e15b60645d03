"""The one hashing policy used to sign and to verify: SHA-256 per file, nothing ignored, no symlinks.

Why this must be explicit on both sides:
- `model_signing` ignores `.git`, `.gitattributes`, `.github` and `.gitignore` by default, and its verifier adds
  every `ignore_paths` entry recorded in the signature to the ignore list. Either would let content that nobody
  signed sit next to the weights (a `.git/hooks` script, a tokenizer override), so we ignore nothing.
- Guessing the configuration from the signature (the library's default) lets the signer pick BLAKE2/shards, which
  changes what a digest means; we accept exactly one serialization.
- Symlinks can point outside the model directory, so a signed name could resolve to unsigned content.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from modelfort.runtime.weights.reasons import Reason, WeightsError

# The only `predicate.serialization` a signature may carry (as the library writes it when nothing is ignored).
STRICT_SERIALIZATION: dict[str, Any] = {"method": "files", "hash_type": "sha256", "allow_symlinks": False}

# model_signing hashes files in 1 MiB reads; measured fastest here (the buffer stays in L2 cache while hashed).
HASH_CHUNK_BYTES = 1 << 20

_CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cpus(cpu_max_file: Path = _CGROUP_V2_CPU_MAX) -> int:
    """How many CPUs this process may really use: affinity, capped by a cgroup v2 CPU quota.

    Hashing is CPU-bound (hashlib releases the GIL), so one thread per usable CPU is fastest; more threads only add
    contention (measured ~7% slower with the library's default of cpu_count + 4 on 2 cores). In a container the
    quota, not the host's core count, is what is usable.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota(cpu_max_file)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def _cgroup_cpu_quota(cpu_max_file: Path) -> float | None:
    """The cgroup v2 CPU limit in CPUs (e.g. `200000 100000` -> 2.0), or None when unlimited or unknown."""
    try:
        fields = cpu_max_file.read_text(encoding="ascii").split()
    except OSError:
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    return quota / period if period > 0 else None


def strict_hashing_config(max_workers: int | None = None):
    """A `model_signing.hashing.Config` that hashes every regular file with SHA-256 and refuses symlinks.

    `max_workers` defaults to `available_cpus()`.
    """
    from model_signing import hashing

    return (
        hashing.Config()
        .use_file_serialization(
            hashing_algorithm="sha256",
            chunk_size=HASH_CHUNK_BYTES,
            max_workers=max_workers or available_cpus(),
            allow_symlinks=False,
        )
        .set_ignored_paths(paths=[], ignore_git_paths=False)
        .set_allow_symlinks(False)
    )


def hash_model_dir(model_dir: Path, max_workers: int | None = None) -> Any:
    """Hash `model_dir` with the strict policy; returns the library's `Manifest`.

    Callers walk the tree first (`model_tree.scan_model_tree`), so a failure here means the directory changed or
    became unreadable in between; it is reported as such rather than as a bare `ValueError` from the library.
    """
    try:
        return strict_hashing_config(max_workers).hash(model_dir)
    except (OSError, ValueError) as error:
        raise WeightsError(
            Reason.MODEL_DIR_INVALID,
            f"model directory changed or became unreadable while hashing: {type(error).__name__}: {error}",
        ) from error
