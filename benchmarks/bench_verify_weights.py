"""Benchmark: `modelfort verify-weights` against raw multi-threaded hashlib and model_signing's own verify.

    python benchmarks/bench_verify_weights.py [--gib 1] [--files 8] [--rounds 3]

Creates a model of `--gib` GiB split over `--files` files in a temporary directory, signs it, and measures in one
run, side by side:
- ours: `modelfort verify-weights` (the CLI entry point, in-process in a child) - signature, pin, walk, hash, compare;
- raw: hashlib SHA-256 over the same files, one thread per usable CPU, 1 MiB `readinto` - the floor for any
  SHA-256-per-file verifier on this machine;
- model_signing: the library's own `verifying.Config().verify()` with its default threading.

Each measurement runs in its own child process, which reports its own peak RSS (VmHWM from /proc/self/status). Files are
read once before measuring, so every contender hashes from the page cache (this measures hashing, not the disk).
Rounds are interleaved and the median is reported. Linearity: ours is also timed on a quarter of the bytes.

Targets: ours >= 0.9x raw, peak RSS < 150 MB at 4 GiB, seconds per GB the same at both sizes. Prints, never asserts.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

GIB = 1 << 30
CHUNK = 1 << 20
MODES = ("ours", "raw", "model_signing")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=1.0, help="model size in GiB (default 1; try 4)")
    parser.add_argument("--files", type=int, default=8, help="number of weight files (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per measurement (default 3)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--signature", help=argparse.SUPPRESS)
    parser.add_argument("--public-key", help=argparse.SUPPRESS)
    parser.add_argument("--root-digest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args)
    return _parent(args)


# ---------------------------------------------------------------------------------------------------- parent


def _parent(args: argparse.Namespace) -> int:
    from modelfort.runtime.weights.hashing_policy import available_cpus

    total = int(args.gib * GIB)
    with tempfile.TemporaryDirectory(prefix="bench-verify-weights-") as scratch:
        root = Path(scratch)
        print(
            f"machine: {os.cpu_count()} CPUs ({available_cpus()} usable), SHA extensions: {_has_sha_ni()}, "
            f"Python {sys.version.split()[0]}"
        )
        print(f"creating {total / GIB:.2f} GiB in {args.files} files under {root} ...", flush=True)
        full = _make_model(root / "model", total, args.files)
        quarter = _hardlink_subset(full, root / "quarter", max(1, args.files // 4))
        releases = {name: _sign(model, root, name) for name, model in (("full", full), ("quarter", quarter))}
        _warm_cache(full)

        results: dict[str, list[dict]] = {mode: [] for mode in MODES}
        quarter_runs: list[dict] = []
        for _ in range(args.rounds):
            for mode in MODES:
                results[mode].append(_measure(mode, releases["full"]))
            quarter_runs.append(_measure("ours", releases["quarter"]))

    _report(results, quarter_runs, releases)
    return 0


def _make_model(directory: Path, total: int, files: int) -> Path:
    directory.mkdir()
    block = bytearray(os.urandom(64 << 20))
    per_file = total // files
    for index in range(files):
        block[:8] = index.to_bytes(8, "little")  # no two files identical
        with open(directory / f"model-{index + 1:05d}-of-{files:05d}.safetensors", "wb") as handle:
            remaining = per_file
            while remaining:
                piece = memoryview(block)[: min(remaining, len(block))]
                handle.write(piece)
                remaining -= len(piece)
    (directory / "config.json").write_text('{"architectures": ["BenchForCausalLM"]}\n')
    return directory


def _hardlink_subset(source: Path, directory: Path, count: int) -> Path:
    """A second model holding a quarter of the weight files (hard links: no extra disk, regular files)."""
    directory.mkdir()
    for path in sorted(source.glob("*.safetensors"))[:count]:
        os.link(path, directory / path.name)
    return directory


def _sign(model: Path, root: Path, name: str) -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from modelfort.runtime.weights.signing import local_key_signer, sign_model

    key = ec.generate_private_key(ec.SECP256R1())
    private_path, public_path = root / f"{name}.pem", root / f"{name}.pub.pem"
    private_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public_path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signed = sign_model(model, local_key_signer(private_path))
    signature = root / f"{name}.sig"
    signature.write_bytes(signed.bundle_json)
    return {
        "model": str(model),
        "signature": str(signature),
        "public_key": str(public_path),
        "root_digest": signed.root_digest,
        "bytes": signed.total_bytes,
    }


def _warm_cache(model: Path) -> None:
    for path in model.iterdir():
        with open(path, "rb", buffering=0) as handle:
            buffer = bytearray(CHUNK)
            while handle.readinto(buffer):
                pass


def _measure(mode: str, release: dict) -> dict:
    """Run one measurement in a child; return its timing and its own peak RSS."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--model",
        release["model"],
        "--signature",
        release["signature"],
        "--public-key",
        release["public_key"],
        "--root-digest",
        release["root_digest"],
    ]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    output = child.stdout.read()
    child.stdout.close()
    child.wait()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{mode} child failed with exit code {child.returncode}: {output!r}")
    result = json.loads(output)
    result.update(wall_s=wall, bytes=release["bytes"])
    return result


def _report(results: dict[str, list[dict]], quarter_runs: list[dict], releases: dict) -> None:
    def gbps(run: dict) -> float:
        return run["bytes"] / run["seconds"] / 1e9

    median = {mode: statistics.median(gbps(run) for run in runs) for mode, runs in results.items()}
    peak = {mode: max(run["peak_rss_mb"] for run in runs) for mode, runs in results.items()}
    wall = {mode: statistics.median(run["wall_s"] for run in runs) for mode, runs in results.items()}
    size = releases["full"]["bytes"]
    print()
    print(f"model: {size / GIB:.2f} GiB ({size / 1e9:.2f} GB), {len(next(iter(results.values())))} rounds, warm cache")
    print(f"{'measurement':<16}{'GB/s (median)':>15}{'process wall s':>16}{'peak RSS MB':>14}")
    for mode in MODES:
        print(f"{mode:<16}{median[mode]:>15.2f}{wall[mode]:>16.2f}{peak[mode]:>14.1f}")
    print()
    print(f"ours / raw hashlib      : {median['ours'] / median['raw']:.3f}  (target >= 0.9)")
    print(f"ours / model_signing    : {median['ours'] / median['model_signing']:.3f}")
    print(f"ours peak RSS           : {peak['ours']:.1f} MB  (target < 150 MB at 4 GiB)")
    full_spgb = statistics.median(run["seconds"] / (run["bytes"] / 1e9) for run in results["ours"])
    quarter_spgb = statistics.median(run["seconds"] / (run["bytes"] / 1e9) for run in quarter_runs)
    print(
        f"linearity (ours)        : {quarter_spgb:.3f} s/GB at {releases['quarter']['bytes'] / 1e9:.2f} GB, "
        f"{full_spgb:.3f} s/GB at {size / 1e9:.2f} GB  (ratio {full_spgb / quarter_spgb:.3f}; 1.0 = linear)"
    )


def _has_sha_ni() -> bool:
    try:
        return " sha_ni" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------------- children


def _child(args: argparse.Namespace) -> int:
    measure = {"ours": _child_ours, "raw": _child_raw, "model_signing": _child_model_signing}[args.child]
    seconds = measure(args)
    print(json.dumps({"seconds": seconds, "peak_rss_mb": _own_peak_rss_mb()}))
    return 0


def _own_peak_rss_mb() -> float:
    """This process's high-water RSS (VmHWM), which exec resets.

    `ru_maxrss` from `wait4` would be simpler, but on Linux it keeps the high-water mark of the forked copy of the
    parent from before exec, so every child would report the parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_ours(args: argparse.Namespace) -> float:
    # Imports first, so the timing is the verification itself (the JSON log line reports the same span).
    from modelfort import cli
    from modelfort.runtime.weights import startup  # noqa: F401 - pre-import what the handler imports lazily

    argv = [
        "verify-weights",
        args.model,
        "--signature",
        args.signature,
        "--public-key",
        args.public_key,
        "--root-digest",
        args.root_digest,
    ]
    log = io.StringIO()
    started = time.perf_counter()
    with redirect_stdout(log):
        exit_code = cli.main(argv)
    seconds = time.perf_counter() - started
    if exit_code != 0:
        raise SystemExit(f"verify-weights failed: {log.getvalue()}")
    return seconds


def _child_raw(args: argparse.Namespace) -> float:
    from modelfort.runtime.weights.hashing_policy import available_cpus

    paths = sorted(str(path) for path in Path(args.model).rglob("*") if path.is_file())

    def digest(path: str) -> str:
        hasher = hashlib.sha256()
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        with open(path, "rb", buffering=0) as handle:
            while count := handle.readinto(buffer):
                hasher.update(view[:count])
        return hasher.hexdigest()

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=available_cpus()) as pool:
        list(pool.map(digest, paths))
    return time.perf_counter() - started


def _child_model_signing(args: argparse.Namespace) -> float:
    from model_signing import hashing, verifying

    config = (
        verifying.Config()
        .use_elliptic_key_verifier(public_key=args.public_key)
        .set_hashing_config(
            hashing.Config()
            .use_file_serialization(hashing_algorithm="sha256")
            .set_ignored_paths(paths=[], ignore_git_paths=False)
        )
    )
    started = time.perf_counter()
    config.verify(args.model, args.signature)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
