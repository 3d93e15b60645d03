"""`modelfort sign` and `modelfort verify-weights`: argparse wiring only.

Handlers import boto3, google-cloud-storage, google-auth (for Cloud KMS) and model_signing lazily, so importing this
module (which `modelfort --help` does) is cheap. The logic lives in `signing.run_sign` and `startup.run_verify_weights`,
which take their AWS, Cloud Storage and Cloud KMS client factories as parameters so tests run them against moto, a
GCS emulator and a Cloud KMS stand-in.

`verify-weights` deliberately has no option that weakens it: no ignore list, no symlink switch, no "warn only".
The only tunables are operational (retry count, thread count) and bounded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from modelfort.runtime.weights import cloud_kms_clients
from modelfort.runtime.weights.aws_clients import DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS_LIMIT
from modelfort.runtime.weights.gcs_clients import RETRY_DEADLINE_S

_THREADS_LIMIT = 256


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sign` and `verify-weights` subcommands; each sets `handler(args) -> exit code`."""
    _register_sign(subparsers)
    _register_verify(subparsers)


def _register_sign(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sign",
        help="sign a model directory (OpenSSF Model Signing bundle) with a local EC key, AWS KMS or Cloud KMS",
        description=(
            "Sign every file of MODEL_DIR (SHA-256, nothing ignored, no symlinks) and write an OpenSSF Model Signing "
            "bundle. Prints the root digest (hex) alone on stdout: pin it in the stack config. "
            "See docs/release-flow.md."
        ),
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", type=Path, help="the model directory to sign")
    parser.add_argument(
        "--signature", required=True, type=Path, metavar="OUT.sig", help="where to write the signature (must not exist)"
    )
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument(
        "--private-key", type=Path, metavar="KEY.pem", help="unencrypted PEM EC private key (P-256/384/521)"
    )
    key.add_argument(
        "--kms-key",
        metavar="KEY",
        help=(
            "a KMS key that never leaves its service: an AWS KMS key (ARN, id or alias; ECC_NIST_P256, SIGN_VERIFY, "
            "ECDSA_SHA_256) or a Cloud KMS key version, "
            "projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N (EC_SIGN_P256_SHA256; name the "
            "version, not just the key)"
        ),
    )
    parser.add_argument(
        "--upload",
        metavar="URI",
        help="also store the signature in the reference store, s3://BUCKET/KEY or gs://BUCKET/NAME (never overwrites)",
    )
    parser.add_argument(
        "--public-key-out", type=Path, metavar="PUB.pem", help="also write the signer's public key (PEM) here"
    )
    parser.add_argument(
        "--max-attempts",
        type=_bounded_int(1, MAX_ATTEMPTS_LIMIT),
        default=DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help=(
            f"AWS attempts per request, with backoff (1-{MAX_ATTEMPTS_LIMIT}; default {DEFAULT_MAX_ATTEMPTS}); "
            f"Cloud Storage requests retry for at most {RETRY_DEADLINE_S:g} s, "
            f"Cloud KMS requests for at most {cloud_kms_clients.RETRY_DEADLINE_S:g} s"
        ),
    )
    parser.set_defaults(handler=_handle_sign)


def _register_verify(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify-weights",
        help="verify model weights against their signature and pinned root digest; fail closed (init container)",
        description=(
            "Verify that MODEL holds exactly the files signed in SIGNATURE, byte for byte, that the signature was made "
            "with PUBLIC_KEY, and that its root digest is the pinned one. MODEL, SIGNATURE and PUBLIC_KEY may be local "
            "paths, s3:// or gs:// locations (an s3:// or gs:// MODEL is a prefix, downloaded into --download-dir). "
            "Writes exactly one JSON line to stdout; exit code 0 only when every check passed."
        ),
        epilog="Each failure has its own exit code and `reason`; see docs/release-flow.md.",
    )
    parser.add_argument("model", metavar="MODEL", help="model directory, s3://BUCKET/PREFIX or gs://BUCKET/PREFIX")
    parser.add_argument(
        "--signature", required=True, metavar="SIG", help="signature: a path, or an s3:// or gs:// object"
    )
    parser.add_argument(
        "--public-key", required=True, metavar="PUB.pem", help="trusted public key: a path, or an s3:// or gs:// object"
    )
    parser.add_argument(
        "--root-digest", required=True, metavar="HEX", help="the pinned root digest (from the stack config)"
    )
    parser.add_argument("--model-version", metavar="VERSION", help="release version, recorded in the log line")
    parser.add_argument(
        "--download-dir",
        metavar="DIR",
        help="empty directory to download an s3:// or gs:// MODEL into (required for one)",
    )
    parser.add_argument(
        "--max-attempts",
        type=_bounded_int(1, MAX_ATTEMPTS_LIMIT),
        default=DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help=(
            f"S3 attempts per request, with backoff (1-{MAX_ATTEMPTS_LIMIT}; default {DEFAULT_MAX_ATTEMPTS}); "
            f"Cloud Storage requests retry for at most {RETRY_DEADLINE_S:g} s"
        ),
    )
    parser.add_argument(
        "--threads",
        type=_bounded_int(1, _THREADS_LIMIT),
        default=None,
        metavar="N",
        help="hashing threads (default: the CPUs this container may use)",
    )
    parser.set_defaults(handler=_handle_verify)


def _handle_sign(args: argparse.Namespace) -> int:
    from modelfort.runtime.weights import gcs_clients
    from modelfort.runtime.weights.aws_clients import client_factory
    from modelfort.runtime.weights.signing import run_sign

    return run_sign(
        model_dir=args.model_dir,
        signature_path=args.signature,
        private_key_path=args.private_key,
        kms_key_id=args.kms_key,
        upload_uri=args.upload,
        public_key_out=args.public_key_out,
        client_factory=client_factory(args.max_attempts),
        gcs_client_factory=gcs_clients.client_factory(),
        cloud_kms_client_factory=cloud_kms_clients.client_factory(),
    )


def _handle_verify(args: argparse.Namespace) -> int:
    from modelfort.runtime.weights import gcs_clients
    from modelfort.runtime.weights.aws_clients import client_factory
    from modelfort.runtime.weights.startup import VerifyRequest, run_verify_weights

    request = VerifyRequest(
        model=args.model,
        signature=args.signature,
        public_key=args.public_key,
        root_digest=args.root_digest,
        model_version=args.model_version,
        download_dir=args.download_dir,
        max_workers=args.threads,
    )
    return run_verify_weights(
        request,
        client_factory=client_factory(args.max_attempts),
        gcs_client_factory=gcs_clients.client_factory(),
    )


def _bounded_int(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse
