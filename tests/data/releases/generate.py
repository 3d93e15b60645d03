"""Regenerate the release-verification fixtures in this directory, byte for byte.

    python tests/data/releases/generate.py            # rewrite the fixtures here
    python tests/data/releases/generate.py --out DIR  # write them elsewhere (the tests compare the two)

What is written, for one release of model 'llama-guard' 3.1.0:
- `model/` and `model-previous/`: two tiny model trees (this release and the one before it);
- `good/`: the release's CycloneDX SBOM, its SLSA v1 provenance (plain statement, and the same statement in a DSSE
  envelope), and its OMS model signature, a real bundle the startup verifier accepts (`signing-key.pub.pem`);
- `tampered/`: one file per way a release can fail to match its pins (see TAMPERED below);
- `manifest.json`: the pins a stack config would record (image, root digest, SHA-256 of every file, the trusted
  builder and the deny list), so tests read the pins instead of recomputing them from the files they check.

Deterministic on purpose: JSON is written with sorted keys, and the signature uses RFC 6979 deterministic ECDSA with
a key derived from a fixed, public seed. That key is a TEST KEY: anyone can rebuild it from this file, so nothing it
signs may ever be trusted outside these tests.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

MODEL, VERSION = "llama-guard", "3.1.0"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelfort/production/model-server"
IMAGE_DIGEST = hashlib.sha256(b"modelfort fixture image model-server 3.1.0").hexdigest()
OTHER_IMAGE_DIGEST = hashlib.sha256(b"modelfort fixture image model-server 3.0.0").hexdigest()
TRUSTED_BUILDER = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0"
UNTRUSTED_BUILDER = "https://ci.internal.example/self-hosted-runner/builds"
# Real compromises: ultralytics 8.3.41 shipped a cryptominer from a poisoned build cache (December 2024);
# torchtriton was the PyTorch-nightly dependency-confusion package (December 2022).
DENIED_PACKAGES = ["pkg:pypi/ultralytics@8.3.41", "pkg:pypi/torchtriton"]
KEY_SEED = b"modelfort release-verification TEST KEY - never trust anything it signs"

COMPONENTS = [
    {"type": "library", "name": "torch", "version": "2.7.1", "purl": "pkg:pypi/torch@2.7.1"},
    {"type": "library", "name": "transformers", "version": "4.53.0", "purl": "pkg:pypi/transformers@4.53.0"},
    {"type": "library", "name": "vllm", "version": "0.9.2", "purl": "pkg:pypi/vllm@0.9.2"},
    {
        "type": "library",
        "name": "openssl",
        "version": "3.0.16-1~deb12u1",
        "purl": "pkg:deb/debian/openssl@3.0.16-1~deb12u1?arch=amd64&distro=debian-12",
    },
]


def dump(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def sbom(components: list[dict], image_digest: str = IMAGE_DIGEST) -> dict:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2030-01-02T03:04:05Z",
            "component": {
                "type": "container",
                "name": REGISTRY,
                "version": f"sha256:{image_digest}",
                "purl": f"pkg:oci/model-server@sha256%3A{image_digest}?repository_url={REGISTRY.rsplit('/', 1)[0]}",
            },
        },
        "components": components,
    }


def provenance(*, subject_digest: str = IMAGE_DIGEST, builder: str | None = TRUSTED_BUILDER,
               predicate_type: str = "https://slsa.dev/provenance/v1") -> dict:
    run_details: dict[str, Any] = {"metadata": {"invocationId": "https://github.com/example/model-server/actions/runs/1/attempts/1"}}
    if builder is not None:
        run_details["builder"] = {"id": builder}
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": REGISTRY, "digest": {"sha256": subject_digest}}],
        "predicateType": predicate_type,
        "predicate": {
            "buildDefinition": {
                "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                "externalParameters": {
                    "workflow": {"ref": "refs/tags/v3.1.0", "repository": "https://github.com/example/model-server", "path": ".github/workflows/release.yml"}
                },
                "resolvedDependencies": [
                    {"uri": "git+https://github.com/example/model-server@refs/tags/v3.1.0", "digest": {"gitCommit": "5f3c0a9d1b2e4c6f8a0b1c2d3e4f5a6b7c8d9e0f"}}
                ],
            },
            "runDetails": run_details,
        },
    }


def dsse(statement: dict, payload_type: str = "application/vnd.in-toto+json") -> dict:
    payload = json.dumps(statement, sort_keys=True).encode()
    return {"payloadType": payload_type, "payload": base64.b64encode(payload).decode(), "signatures": [{"keyid": "", "sig": "bm90LWNoZWNrZWQ="}]}


def write_model(directory: Path, release: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_bytes(dump({"architectures": ["LlamaForCausalLM"], "release": release}))
    # A few KiB of reproducible bytes standing in for weights.
    block, weights = hashlib.sha256(release.encode()).digest(), b""
    while len(weights) < 4096:
        block = hashlib.sha256(block).digest()
        weights += block
    (directory / "model.safetensors").write_bytes(weights)
    (directory / "tokenizer.json").write_bytes(dump({"model": {"type": "BPE"}, "release": release}))


def sign(model_dir: Path) -> tuple[bytes, str, bytes]:
    """Sign with the repository's own signing path (model_signing, strict hashing, startup-verifier self-check),
    with deterministic ECDSA so the bundle is the same on every run."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from model_signing._signing import sign_ec_key

    from modelfort.runtime.weights.signing import LocalKeySigner, sign_model
    from modelfort.runtime.weights.verify import trusted_key_from

    scalar = int.from_bytes(hashlib.sha256(KEY_SEED).digest(), "big") % (2**256 - 2**224 + 2**192 + 2**96 - 1)
    private_key = ec.derive_private_key(scalar, ec.SECP256R1())

    class DeterministicKey:
        """model_signing's EC signer, but with RFC 6979 nonces (the signature is a function of key and message)."""

        def public_key(self):
            return private_key.public_key()

        def sign(self, data: bytes, algorithm: ec.ECDSA) -> bytes:
            return private_key.sign(data, ec.ECDSA(algorithm.algorithm, deterministic_signing=True))

    class DeterministicSigner(sign_ec_key.Signer):
        def __init__(self) -> None:  # the parent loads a key file; we hand it the key directly
            self._private_key = DeterministicKey()

    public_pem = trusted_key_from(private_key.public_key()).pem
    signed = sign_model(model_dir, LocalKeySigner(signer=DeterministicSigner(), public_key_pem=public_pem), max_workers=1)
    return signed.bundle_json, signed.root_digest, public_pem


def generate(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as scratch:
        # The model trees are signed from a scratch copy named like the release, then copied: the OMS subject name
        # is the directory name, and it must not depend on where the generator writes.
        release_dir, previous_dir = Path(scratch, "model"), Path(scratch, "model-previous")
        write_model(release_dir, VERSION)
        write_model(previous_dir, "3.0.0")
        bundle, root_digest, public_pem = sign(release_dir)
        previous_bundle, previous_root, _ = sign(previous_dir)
        for directory in (release_dir, previous_dir):
            for path in sorted(directory.iterdir()):
                files[f"{directory.name}/{path.name}"] = path.read_bytes()

    good_sbom = sbom(COMPONENTS)
    good_provenance = provenance()
    files.update({
        "signing-key.pub.pem": public_pem,
        "good/sbom.cdx.json": dump(good_sbom),
        "good/provenance.intoto.json": dump(good_provenance),
        "good/provenance.dsse.json": dump(dsse(good_provenance)),
        "good/model.sig": bundle,
    })

    edited = json.loads(json.dumps(good_sbom))
    edited["components"][0]["version"] = "2.7.0"
    nested = json.loads(json.dumps(good_sbom))
    nested["components"][2]["components"] = [{"type": "library", "name": "ultralytics", "version": "8.3.41", "purl": "pkg:pypi/Ultralytics@8.3.41"}]
    signed_bundle = json.loads(bundle)
    slsa_bundle = {**signed_bundle, "dsseEnvelope": {**signed_bundle["dsseEnvelope"],
                                                      "payload": base64.b64encode(json.dumps(good_provenance).encode()).decode()}}
    files.update({
        "tampered/sbom-edited.cdx.json": dump(edited),
        "tampered/sbom-denied-package.cdx.json": dump(sbom([*COMPONENTS, {"type": "library", "name": "torchtriton", "version": "3.0.0+45fff310c8", "purl": "pkg:pypi/torchtriton@3.0.0%2B45fff310c8"}])),
        "tampered/sbom-denied-nested.cdx.json": dump(nested),
        "tampered/sbom-denied-no-purl.cdx.json": dump(sbom([*COMPONENTS, {"type": "library", "name": "ultralytics", "version": "8.3.41"}])),
        "tampered/sbom-other-image.cdx.json": dump(sbom(COMPONENTS, OTHER_IMAGE_DIGEST)),
        "tampered/sbom-empty.cdx.json": dump(sbom([])),
        "tampered/sbom-spdx.json": dump({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": []}),
        # Written by hand: a JSON library would merge the duplicate keys before anyone could see them.
        "tampered/sbom-duplicate-keys.cdx.json": dump(good_sbom)[:-2] + b',\n  "components": []\n}\n',
        "tampered/provenance-other-image.intoto.json": dump(provenance(subject_digest=OTHER_IMAGE_DIGEST)),
        "tampered/provenance-untrusted-builder.intoto.json": dump(provenance(builder=UNTRUSTED_BUILDER)),
        "tampered/provenance-no-builder.intoto.json": dump(provenance(builder=None)),
        "tampered/provenance-slsa-v02.intoto.json": dump(provenance(predicate_type="https://slsa.dev/provenance/v0.2")),
        "tampered/provenance-wrong-payload-type.dsse.json": dump(dsse(good_provenance, payload_type="text/plain")),
        "tampered/provenance-bad-base64.dsse.json": dump({**dsse(good_provenance), "payload": "not base64!"}),
        "tampered/model-previous.sig": previous_bundle,
        "tampered/signature-not-oms.sig": dump(slsa_bundle),
    })

    for relative, data in sorted(files.items()):
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    manifest = {
        "model": MODEL,
        "version": VERSION,
        "image": f"{REGISTRY}@sha256:{IMAGE_DIGEST}",
        "rootDigest": root_digest,
        "previousRootDigest": previous_root,
        "trustedBuilders": [TRUSTED_BUILDER],
        "deniedPackages": DENIED_PACKAGES,
        "sha256": {relative: hashlib.sha256(data).hexdigest() for relative, data in sorted(files.items())},
    }
    (out / "manifest.json").write_bytes(dump(manifest))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the fixtures (default: this directory)")
    args = parser.parse_args(argv)
    manifest = generate(args.out)
    print(f"wrote {len(manifest['sha256']) + 1} files to {args.out}; root digest {manifest['rootDigest']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
