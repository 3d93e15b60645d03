"""Benchmark: `modelfort verify-weights` against raw multi-threaded hashlib and model_signing's own verify.

    python benchmarks/bench_verify_weights.py [--gib 1] [--files 8] [--rounds 3]

Creates a model of `--gib` GiB split over `--files` files in a temporary directory, signs it, and measures in one
run, side by side, each in a fresh child process timed from spawn to exit (interpreter start and imports included,
as an init container pays them):
- ours: `modelfort verify-weights`, the CLI entry point exactly as the console script runs it - signature, pin,
  walk, hash, compare;
- raw: hashlib SHA-256 over the same files, one thread per usable CPU, 1 MiB `readinto`, in a minimal interpreter
  (stdlib only) - the floor for any SHA-256-per-file verifier on this machine;
- model_signing: the library's own `verifying.Config().verify()` with its default threading.

Each child reports its own peak RSS (VmHWM from /proc/self/status, written at exit). Files are read once before
measuring, so every contender hashes from the page cache (this measures hashing, not the disk). Rounds are
interleaved and the median is reported. Linearity: ours is also timed on a quarter of the bytes.

Targets: ours >= 0.9x raw (process start included), peak RSS < 150 MB at 4 GiB, seconds per GB the same at both
sizes. Prints, never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
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
    parser.add_argument("--child", choices=("model_signing",), help=argparse.SUPPRESS)
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


# The child that runs ours: what the `modelfort` console script runs, plus a report of its own peak RSS at exit.
_OURS_CHILD = """
import atexit, os, sys
def _report_peak_rss():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    os.write(int(os.environ["BENCH_PEAK_RSS_FD"]), peak.encode())
atexit.register(_report_peak_rss)
from modelfort.cli import main
sys.argv[0] = "modelfort"
sys.exit(main())
"""

# The floor: a minimal interpreter, stdlib only, one thread per usable CPU, 1 MiB readinto per read.
_RAW_CHILD = """
import concurrent.futures, hashlib, os, sys
def digest(path):
    hasher = hashlib.sha256()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            hasher.update(view[:count])
    return hasher.hexdigest()
with concurrent.futures.ThreadPoolExecutor(max_workers=int(sys.argv[1])) as pool:
    list(pool.map(digest, sys.argv[2:]))
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
os.write(int(os.environ["BENCH_PEAK_RSS_FD"]), peak.encode())
"""


def _measure(mode: str, release: dict) -> dict:
    """Run one measurement in a fresh child, timed from spawn to exit; return its timing and its own peak RSS."""
    if mode == "ours":
        command = [
            sys.executable,
            "-c",
            _OURS_CHILD,
            "verify-weights",
            release["model"],
            "--signature",
            release["signature"],
            "--public-key",
            release["public_key"],
            "--root-digest",
            release["root_digest"],
        ]
    elif mode == "raw":
        from modelfort.runtime.weights.hashing_policy import available_cpus

        paths = sorted(str(path) for path in Path(release["model"]).rglob("*") if path.is_file())
        command = [sys.executable, "-c", _RAW_CHILD, str(available_cpus()), *paths]
    else:
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
    read_end, write_end = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "BENCH_PEAK_RSS_FD": str(write_end)}
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, pass_fds=(write_end,))
    output = child.stdout.read()
    child.stdout.close()
    child.wait()
    wall = time.perf_counter() - started
    os.close(write_end)
    with os.fdopen(read_end, "rb") as peak_pipe:
        peak = peak_pipe.read()
    if child.returncode != 0:
        raise SystemExit(f"{mode} child failed with exit code {child.returncode}: {output!r}")
    result: dict = {"wall_s": wall, "bytes": release["bytes"]}
    if mode == "ours":
        record = json.loads(output)
        if record["outcome"] != "verified":
            raise SystemExit(f"verify-weights did not verify: {record}")
        result.update(seconds=record["duration_s"], peak_rss_mb=int(peak) / 1024)
    elif mode == "raw":
        result.update(seconds=None, peak_rss_mb=int(peak) / 1024)
    else:
        result.update(json.loads(output))
    return result


def _report(results: dict[str, list[dict]], quarter_runs: list[dict], releases: dict) -> None:
    def gbps(run: dict) -> float:
        return run["bytes"] / run["wall_s"] / 1e9

    median = {mode: statistics.median(gbps(run) for run in runs) for mode, runs in results.items()}
    peak = {mode: max(run["peak_rss_mb"] for run in runs) for mode, runs in results.items()}
    wall = {mode: statistics.median(run["wall_s"] for run in runs) for mode, runs in results.items()}
    inner = {
        mode: statistics.median(run["seconds"] for run in runs) if runs[0]["seconds"] is not None else None
        for mode, runs in results.items()
    }
    size = releases["full"]["bytes"]
    print()
    print(f"model: {size / GIB:.2f} GiB ({size / 1e9:.2f} GB), {len(next(iter(results.values())))} rounds, warm cache")
    print("GB/s and wall: the whole child process, spawn to exit; in-process: after imports (ours: its duration_s)")
    print(f"{'measurement':<16}{'GB/s (median)':>15}{'process wall s':>16}{'in-process s':>14}{'peak RSS MB':>14}")
    for mode in MODES:
        inside = f"{inner[mode]:.2f}" if inner[mode] is not None else "-"
        print(f"{mode:<16}{median[mode]:>15.2f}{wall[mode]:>16.2f}{inside:>14}{peak[mode]:>14.1f}")
    print()
    print(f"ours / raw hashlib      : {median['ours'] / median['raw']:.3f}  (process start included; target >= 0.9)")
    print(f"ours / model_signing    : {median['ours'] / median['model_signing']:.3f}")
    print(f"ours peak RSS           : {peak['ours']:.1f} MB  (target < 150 MB at 4 GiB)")
    full_spgb = statistics.median(run["wall_s"] / (run["bytes"] / 1e9) for run in results["ours"])
    quarter_spgb = statistics.median(run["wall_s"] / (run["bytes"] / 1e9) for run in quarter_runs)
    print(
        f"linearity (ours)        : {quarter_spgb:.3f} s/GB at {releases['quarter']['bytes'] / 1e9:.2f} GB, "
        f"{full_spgb:.3f} s/GB at {size / 1e9:.2f} GB  (ratio {full_spgb / quarter_spgb:.3f}; 1.0 = linear; "
        "process start weighs more on the smaller)"
    )


def _has_sha_ni() -> bool:
    try:
        return " sha_ni" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------------- children


def _child(args: argparse.Namespace) -> int:
    seconds = _child_model_signing(args)
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    os.write(int(os.environ["BENCH_PEAK_RSS_FD"]), str(peak_kib).encode())
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kib / 1024}))
    return 0


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
