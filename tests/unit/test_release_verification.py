"""Release verification against the fixtures in tests/data/releases (written by its generate.py): the good release
passes, and each tampered artifact is refused with a message that names the model, the config key, what was expected
and what was found."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.config import CanaryRelease, ModelRelease, parse_stack_config
from components.releases import (
    Artifact,
    ReleaseRecord,
    ReleaseVerificationError,
    SupplyChainPolicy,
    verify_records,
    verify_releases,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "releases"
MANIFEST = json.loads((DATA / "manifest.json").read_text())
POLICY = SupplyChainPolicy(trusted_builders=tuple(MANIFEST["trustedBuilders"]), denied_packages=tuple(MANIFEST["deniedPackages"]))


def pin(path: str) -> Artifact:
    """The artifact as the release pipeline recorded it: its path and the SHA-256 of the committed file."""
    return Artifact(path=path, sha256=MANIFEST["sha256"][path])


def good_record(**changes) -> ReleaseRecord:
    record = ReleaseRecord(
        model=MANIFEST["model"],
        version=MANIFEST["version"],
        image=MANIFEST["image"],
        root_digest=MANIFEST["rootDigest"],
        where="modelfort:models[0]",
        sbom=pin("good/sbom.cdx.json"),
        provenance=pin("good/provenance.intoto.json"),
        signature=pin("good/model.sig"),
    )
    return dataclasses.replace(record, **changes)


def refusal(record: ReleaseRecord, policy: SupplyChainPolicy = POLICY, project_dir: Path = DATA) -> ReleaseVerificationError:
    with pytest.raises(ReleaseVerificationError) as raised:
        verify_records([record], project_dir=project_dir, policy=policy)
    return raised.value


@pytest.mark.control("ST-01", "ST-02", "ST-03", "ST-05")
def test_the_good_release_is_verified():
    (verified,) = verify_records([good_record()], project_dir=DATA, policy=POLICY)
    assert verified.image_digest == MANIFEST["image"].rsplit(":", 1)[1]
    assert verified.root_digest == MANIFEST["rootDigest"]
    assert verified.builder_id == MANIFEST["trustedBuilders"][0]
    assert verified.sbom_components == 4


@pytest.mark.control("ST-03")
def test_provenance_in_a_dsse_envelope_is_read_like_a_plain_statement():
    verify_records([good_record(provenance=pin("good/provenance.dsse.json"))], project_dir=DATA, policy=POLICY)


@pytest.mark.control("ST-01")
def test_the_fixture_signature_is_a_real_bundle_the_startup_verifier_accepts():
    # So the deployment-time check is exercised on exactly what the pod-start verifier trusts.
    from modelfort.runtime.weights.verify import authenticate_signature

    signed = authenticate_signature(DATA / "good/model.sig", DATA / "signing-key.pub.pem", MANIFEST["rootDigest"])
    assert signed.root_digest == MANIFEST["rootDigest"]


# mutation of the good record -> (config key, words the problem must contain)
TAMPERED = {
    "sbom-edited-after-pinning": (
        {"sbom": Artifact("tampered/sbom-edited.cdx.json", MANIFEST["sha256"]["good/sbom.cdx.json"])},
        "modelfort:models[0].sbom.sha256", [MANIFEST["sha256"]["good/sbom.cdx.json"], MANIFEST["sha256"]["tampered/sbom-edited.cdx.json"]],
    ),
    "sbom-denied-package": ({"sbom": pin("tampered/sbom-denied-package.cdx.json")}, "modelfort:models[0].sbom", ["pkg:pypi/torchtriton", "denied package"]),
    "sbom-denied-nested-component": ({"sbom": pin("tampered/sbom-denied-nested.cdx.json")}, "modelfort:models[0].sbom", ["pkg:pypi/ultralytics@8.3.41", "pkg:pypi/Ultralytics@8.3.41"]),
    "sbom-denied-package-without-purl": ({"sbom": pin("tampered/sbom-denied-no-purl.cdx.json")}, "modelfort:models[0].sbom", ["ultralytics@8.3.41"]),
    "sbom-of-another-image": ({"sbom": pin("tampered/sbom-other-image.cdx.json")}, "modelfort:models[0].sbom", ["metadata.component", MANIFEST["image"].rsplit(":", 1)[1]]),
    "sbom-without-components": ({"sbom": pin("tampered/sbom-empty.cdx.json")}, "modelfort:models[0].sbom", ["components"]),
    "sbom-not-cyclonedx": ({"sbom": pin("tampered/sbom-spdx.json")}, "modelfort:models[0].sbom", ["bomFormat", "CycloneDX"]),
    "sbom-with-duplicate-keys": ({"sbom": pin("tampered/sbom-duplicate-keys.cdx.json")}, "modelfort:models[0].sbom", ["duplicate key(s) components"]),
    "provenance-of-another-image": (
        {"provenance": pin("tampered/provenance-other-image.intoto.json")}, "modelfort:models[0].provenance", ["subject digest", MANIFEST["image"].rsplit(":", 1)[1]],
    ),
    "provenance-from-an-untrusted-builder": (
        {"provenance": pin("tampered/provenance-untrusted-builder.intoto.json")}, "modelfort:models[0].provenance", ["https://ci.internal.example/self-hosted-runner/builds", "trusted builders"],
    ),
    "provenance-without-builder": ({"provenance": pin("tampered/provenance-no-builder.intoto.json")}, "modelfort:models[0].provenance", ["runDetails.builder.id"]),
    "provenance-slsa-v0.2": ({"provenance": pin("tampered/provenance-slsa-v02.intoto.json")}, "modelfort:models[0].provenance", ["https://slsa.dev/provenance/v1", "v0.2"]),
    "provenance-envelope-of-another-type": ({"provenance": pin("tampered/provenance-wrong-payload-type.dsse.json")}, "modelfort:models[0].provenance", ["payloadType", "text/plain"]),
    "provenance-envelope-not-base64": ({"provenance": pin("tampered/provenance-bad-base64.dsse.json")}, "modelfort:models[0].provenance", ["DSSE payload"]),
    "provenance-file-missing": ({"provenance": Artifact("good/missing.intoto.json", "0" * 64)}, "modelfort:models[0].provenance.path", ["no such file"]),
    "signature-of-the-previous-release": (
        {"signature": pin("tampered/model-previous.sig")}, "modelfort:models[0].signature", [MANIFEST["previousRootDigest"], MANIFEST["rootDigest"]],
    ),
    "signature-bundle-not-oms": ({"signature": pin("tampered/signature-not-oms.sig")}, "modelfort:models[0].signature", ["https://model_signing/signature/v1.0"]),
    "root-digest-pinned-to-another-release": (
        {"root_digest": MANIFEST["previousRootDigest"]}, "modelfort:models[0].signature", [MANIFEST["rootDigest"], MANIFEST["previousRootDigest"]],
    ),
    "image-pinned-by-tag": ({"image": MANIFEST["image"].split("@")[0] + ":3.1.0"}, "modelfort:models[0].image", ["pinned by digest"]),
    "no-sbom-recorded": ({"sbom": None}, "modelfort:models[0].sbom", ["nothing recorded"]),
    "no-provenance-recorded": ({"provenance": None}, "modelfort:models[0].provenance", ["nothing recorded"]),
    "path-outside-the-project": ({"sbom": Artifact("../../../pyproject.toml", "0" * 64)}, "modelfort:models[0].sbom.path", ["inside the project directory"]),
    "absolute-path": ({"sbom": Artifact(str(DATA / "good/sbom.cdx.json"), MANIFEST["sha256"]["good/sbom.cdx.json"])}, "modelfort:models[0].sbom.path", ["relative to the project"]),
}


@pytest.mark.control("ST-01", "ST-02", "ST-03", "ST-04", "ST-06", "ST-07")
@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_each_tampered_artifact_is_refused_with_a_message_naming_the_mismatch(case):
    changes, where, words = TAMPERED[case]
    error = refusal(good_record(**changes))
    assert error.gate_exit_code == 1
    messages = [str(problem) for problem in error.problems]
    assert any(problem.where == where for problem in error.problems), messages
    (message,) = [m for m, p in zip(messages, error.problems) if p.where == where]
    assert message.startswith(f"model 'llama-guard' version '3.1.0' ({where}):")
    for word in words:
        assert word in message, message
    assert "expected" in message and "found" in message
    assert str(error).count("\n  - ") == len(error.problems)


@pytest.mark.control("ST-07")
def test_every_problem_of_every_release_is_reported_at_once():
    broken = good_record(sbom=pin("tampered/sbom-denied-package.cdx.json"), provenance=pin("tampered/provenance-other-image.intoto.json"))
    other = dataclasses.replace(good_record(), model="other", where="modelfort:models[1]", signature=pin("tampered/model-previous.sig"))
    with pytest.raises(ReleaseVerificationError) as raised:
        verify_records([broken, good_record(), other], project_dir=DATA, policy=POLICY)
    assert {(p.release, p.where) for p in raised.value.problems} == {
        ("model 'llama-guard' version '3.1.0'", "modelfort:models[0].sbom"),
        ("model 'llama-guard' version '3.1.0'", "modelfort:models[0].provenance"),
        ("model 'other' version '3.1.0'", "modelfort:models[1].signature"),
    }


@pytest.mark.control("ST-02", "DP-02", "DP-03")
def test_the_deny_list_matches_any_version_when_none_is_given_and_exactly_one_when_it_is():
    only_older = SupplyChainPolicy(trusted_builders=POLICY.trusted_builders, denied_packages=("pkg:pypi/ultralytics@8.3.40", "pkg:pypi/torchtriton@1.0.0"))
    verify_records([good_record(sbom=pin("tampered/sbom-denied-nested.cdx.json"))], project_dir=DATA, policy=only_older)
    verify_records([good_record(sbom=pin("tampered/sbom-denied-package.cdx.json"))], project_dir=DATA, policy=only_older)
    any_version = SupplyChainPolicy(trusted_builders=POLICY.trusted_builders, denied_packages=("pkg:pypi/ultralytics",))
    with pytest.raises(ReleaseVerificationError, match="no package matching pkg:pypi/ultralytics;"):
        verify_records([good_record(sbom=pin("tampered/sbom-denied-nested.cdx.json"))], project_dir=DATA, policy=any_version)


@pytest.mark.control("ST-02")
@pytest.mark.parametrize(
    "component,entry,denied",
    [
        # PEP 503: pip treats these spellings as one package, so the deny list must too.
        ({"purl": "pkg:pypi/Typing_Extensions@4.12.2"}, "pkg:pypi/typing-extensions", True),
        ({"purl": "pkg:pypi/typing.extensions@4.12.2"}, "pkg:pypi/typing-extensions@4.12.2", True),
        ({"purl": "pkg:pypi/typing-extensions@4.12.1"}, "pkg:pypi/typing-extensions@4.12.2", False),
        # Another ecosystem's package of the same name is a different package when both sides say so.
        ({"purl": "pkg:npm/event-stream@3.3.6"}, "pkg:pypi/event-stream@3.3.6", False),
        ({"purl": "pkg:npm/%40ctrl/tinycolor@4.1.1"}, "pkg:npm/%40ctrl/tinycolor@4.1.1", True),
        # Without a purl there is no ecosystem to tell them apart: refuse on name and version.
        ({"name": "event-stream", "version": "3.3.6"}, "pkg:npm/event-stream@3.3.6", True),
        ({"group": "@ctrl", "name": "tinycolor", "version": "4.1.1"}, "pkg:npm/%40ctrl/tinycolor@4.1.1", True),
        ({"name": "event-stream", "version": "4.0.1"}, "pkg:npm/event-stream@3.3.6", False),
    ],
)
def test_deny_list_matching(component, entry, denied):
    policy = SupplyChainPolicy(trusted_builders=POLICY.trusted_builders, denied_packages=(entry,))
    assert (policy.denied_match(component) == entry) is denied


@pytest.mark.control("ST-03")
def test_an_empty_trust_list_trusts_nothing_and_bad_entries_are_refused():
    with pytest.raises(ValueError, match="trusted_builders: name at least one"):
        SupplyChainPolicy(trusted_builders=())
    with pytest.raises(ValueError, match="is not a builder id URI"):
        SupplyChainPolicy(trusted_builders=("github-actions",))
    with pytest.raises(ValueError, match="denied_packages: 'ultralytics' is not a package URL"):
        SupplyChainPolicy(trusted_builders=POLICY.trusted_builders, denied_packages=("ultralytics",))
    with pytest.raises(ValueError, match="percent-encode"):
        SupplyChainPolicy(trusted_builders=POLICY.trusted_builders, denied_packages=("pkg:npm/@ctrl/tinycolor@4.1.1",))
    with pytest.raises(ValueError, match="not one string"):
        SupplyChainPolicy(trusted_builders=POLICY.trusted_builders, denied_packages="pkg:pypi/x")  # type: ignore[arg-type]


@pytest.mark.control("ST-07")
def test_a_symlink_cannot_point_the_check_at_a_file_outside_the_project(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(DATA, project)
    outside = tmp_path / "outside.cdx.json"
    shutil.copy(DATA / "good/sbom.cdx.json", outside)
    os.symlink(outside, project / "good/linked.cdx.json")
    error = refusal(good_record(sbom=Artifact("good/linked.cdx.json", MANIFEST["sha256"]["good/sbom.cdx.json"])), project_dir=project)
    assert [p.where for p in error.problems] == ["modelfort:models[0].sbom.path"]


@pytest.mark.control("ST-01", "DP-08")
def test_stack_config_releases_are_verified_with_their_canary():
    release = ModelRelease(
        name="llama-guard", version="3.1.0", image=MANIFEST["image"], root_digest=MANIFEST["rootDigest"],
        sbom={"path": "good/sbom.cdx.json", "sha256": MANIFEST["sha256"]["good/sbom.cdx.json"]},
        provenance={"path": "good/provenance.intoto.json", "sha256": MANIFEST["sha256"]["good/provenance.intoto.json"]},
    )
    (verified,) = verify_releases([release], project_dir=DATA, policy=POLICY)
    assert verified.model == "llama-guard"
    # A canary is another build: without its own SBOM and provenance nothing vouches for its image.
    canary = CanaryRelease(version="3.2.0", image=MANIFEST["image"], root_digest=MANIFEST["previousRootDigest"], percent=10)
    with pytest.raises(ReleaseVerificationError) as raised:
        verify_releases([dataclasses.replace(release, canary=canary)], project_dir=DATA, policy=POLICY)
    assert {p.where for p in raised.value.problems} == {"modelfort:models[0].canary.sbom", "modelfort:models[0].canary.provenance"}
    assert all(p.release == "model 'llama-guard (canary)' version '3.2.0'" for p in raised.value.problems)


def test_releases_parsed_from_stack_config_carry_their_artifact_pins():
    config = parse_stack_config(
        {
            "aws:region": "us-east-1",
            "modelfort:cloud": "aws",
            "modelfort:zone": "production",
            "modelfort:network": json.dumps({"cidr": "10.30.0.0/16"}),
            "modelfort:verifierImage": MANIFEST["image"].replace("model-server", "weights-verifier"),
            "modelfort:supplyChain": json.dumps({"trustedBuilders": list(POLICY.trusted_builders)}),
            "modelfort:endpoint": json.dumps({"hostname": "models.production.internal.example.com",
                                              "guardCertificate": "modelfort-guard-tls",
                                              "clients": {"app": {"rateLimit": 1, "burstLimit": 2, "dailyQuota": 10}}}),
            "modelfort:models": json.dumps([{
                "name": "llama-guard", "version": "3.1.0", "image": MANIFEST["image"], "rootDigest": MANIFEST["rootDigest"],
                "sbom": {"path": "good/sbom.cdx.json", "sha256": MANIFEST["sha256"]["good/sbom.cdx.json"]},
                "provenance": {"path": "good/provenance.intoto.json", "sha256": MANIFEST["sha256"]["tampered/provenance-other-image.intoto.json"]},
            }]),
        },
        "production",
    )
    with pytest.raises(ReleaseVerificationError) as raised:
        verify_releases(config.models, project_dir=DATA, policy=POLICY)
    assert [p.where for p in raised.value.problems] == ["modelfort:models[0].provenance.sha256"]


def test_the_committed_fixtures_are_exactly_what_the_generator_writes(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(DATA / "generate.py"), "--out", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    generated = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(DATA).as_posix(): p.read_bytes()
        for p in DATA.rglob("*")
        if p.is_file() and p.name != "generate.py" and "__pycache__" not in p.parts
    }
    assert generated.keys() == committed.keys()
    assert [name for name in generated if generated[name] != committed[name]] == []
