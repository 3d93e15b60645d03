"""SHA-256 of every file of a walked model tree, on worker threads that start at once.

`verify-weights` starts hashing before the signature is checked, so the seconds spent importing and running the
signature library overlap with the minutes spent hashing. Nothing here decides trust: the digests are only compared
with the signed ones after the signature is authenticated and pinned (`verify.verify_model_tree`).

Only stdlib modules imported when this module is (hashlib, os, stat, threading) are used on the worker threads: the
verifying thread may be importing model_signing meanwhile, and a worker that needed the import lock would wait for
it. The digests equal the library's file serialization (SHA-256 of each file's bytes, in `HASH_CHUNK_BYTES` reads),
so a signature made by `modelfort sign` (which hashes with the library) compares byte for byte.

A file is opened without following a link (`O_NOFOLLOW`) and must still be a regular file (`fstat`): the tree was
walked first, and a file swapped for a link or a FIFO in between is refused, not followed or waited on.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path

from modelfort.runtime.weights.hashing_policy import HASH_CHUNK_BYTES
from modelfort.runtime.weights.reasons import Reason, WeightsError

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class TreeHashing:
    """Hash `files` (POSIX paths relative to `model_dir`) with `workers` threads; `result()` waits for the digests.

    `sizes` (the files' sizes, in the same order) only orders the work, largest first, so the threads finish
    together. Always end with `result()` or `stop()`: both wait for every worker, so no thread outlives the run.
    """

    def __init__(self, model_dir: Path, files: Sequence[str], *, workers: int, sizes: Sequence[int] = ()) -> None:
        self._model_dir = str(model_dir)
        order = sorted(range(len(files)), key=lambda index: -sizes[index]) if len(sizes) == len(files) else None
        self._queue = [files[index] for index in order] if order is not None else list(files)
        self._queue.reverse()  # popped from the end
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._digests: dict[str, str] = {}
        self._failures: list[tuple[str, BaseException]] = []
        self._threads = [
            threading.Thread(target=self._work, name=f"modelfort-hash-{index}", daemon=True)
            for index in range(max(1, min(workers, len(files))))
        ]
        self._started = False

    def start(self) -> TreeHashing:
        self._started = True
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop after each worker's current read (nothing is hashed further), and wait for every worker."""
        self._cancelled.set()
        self._join()

    def result(self) -> dict[str, str]:
        """Every file's SHA-256 (hex); a file that could not be hashed is `MODEL_DIR_INVALID`."""
        if not self._started:
            self.start()
        self._join()
        if self._failures:
            path, error = min(self._failures, key=lambda failure: failure[0])
            if not isinstance(error, OSError):
                raise error
            raise WeightsError(
                Reason.MODEL_DIR_INVALID,
                f"model directory changed or became unreadable while hashing: {path}: "
                f"{error.strerror or type(error).__name__}",
            ) from error
        if self._cancelled.is_set():
            raise RuntimeError("hashing was stopped before it finished")
        return dict(self._digests)

    def _join(self) -> None:
        if self._started:
            for thread in self._threads:
                thread.join()

    def _next(self) -> str | None:
        with self._lock:
            if self._cancelled.is_set() or self._failures or not self._queue:
                return None
            return self._queue.pop()

    def _work(self) -> None:
        buffer = bytearray(HASH_CHUNK_BYTES)
        view = memoryview(buffer)
        while (relative := self._next()) is not None:
            try:
                digest = self._hash_file(relative, buffer, view)
            except BaseException as error:  # recorded, re-raised by result(): a worker never dies silently
                with self._lock:
                    self._failures.append((relative, error))
                return
            if digest is not None:
                with self._lock:
                    self._digests[relative] = digest

    def _hash_file(self, relative: str, buffer: bytearray, view: memoryview) -> str | None:
        descriptor = os.open(os.path.join(self._model_dir, relative), _OPEN_FLAGS)
        with open(descriptor, "rb", buffering=0) as handle:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise OSError(errno.EINVAL, "no longer a regular file")
            hasher = hashlib.sha256()
            while count := handle.readinto(buffer):
                if self._cancelled.is_set():
                    return None
                hasher.update(view[:count])
        return hasher.hexdigest()
