"""Release verification at deployment time: the program refuses to register any workload unless every model release
in the stack config matches the artifacts it names (ST-01..04, ST-06, ST-07, DP-08).

Each release (`modelfort:models[i]`, and its canary) pins, in reviewed stack config, the serving image by digest,
the weights' root digest, and the SHA-256 of its SBOM and SLSA provenance (and, optionally, of its model signature
bundle). Before anything is deployed this module re-reads those files from the project and checks, for each release:

- every artifact's SHA-256 equals the recorded one (the bytes verified are the bytes that were reviewed);
- the provenance is an in-toto statement of SLSA provenance v1 whose subjects include the image digest, built by a
  builder on the stack's trusted list;
- the SBOM is CycloneDX, lists components, names no denied package (known-compromised releases such as
  `pkg:pypi/ultralytics@8.3.41`), and if it names the image it describes, that image is this digest;
- the model signature bundle (an OMS/Sigstore bundle: DSSE envelope, in-toto statement) signs the pinned root digest,
  so a signature of another (older) release cannot stand in for this one.

Every problem of every release is collected, then one `ReleaseVerificationError` lists them all, each naming the
model, the config key, what was expected and what was found. Nothing here decides by default: a missing SBOM or
provenance, an unreadable file or an absent field is a refusal, not a skip.

What this does not do, on purpose: check cryptographic signatures (this module is standard library only, like the
rest of the program's decision logic). The signature over the image is verified at admission by Kyverno against
the zone's KMS key (components/k8s/image_admission.py), the model signature at pod start by the weight verifier
(modelfort/runtime/weights), and the provenance's own signature belongs in the build pipeline (slsa-verifier) before
its digest is pinned. What this module proves is that the reviewed pins, the artifacts and the image all agree.

Exit code: a refused release is the gate doing its job, like a mandatory policy violation, not a config typo or a
crash, so `ReleaseVerificationError.gate_exit_code` is 1 ("blocked"); the gate shows the message as the reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONTROLS = ("ST-01", "ST-02", "ST-03", "ST-04", "ST-06", "ST-07", "DP-08")
"""What this module re-verifies at deployment time (see the docstring for the limits on ST-04 and ST-06)."""

SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
OMS_PREDICATE_TYPE = "https://model_signing/signature/v1.0"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT_TYPES = ("https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1")
SIGSTORE_BUNDLE_MEDIA_TYPE_PREFIX = "application/vnd.dev.sigstore.bundle"
CYCLONEDX_SPEC_VERSIONS = ("1.4", "1.5", "1.6", "1.7")
MAX_ARTIFACT_BYTES = 64 << 20
"""Far beyond any real SBOM or provenance; stops a hostile file from exhausting the deploying machine."""

HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
IMAGE_DIGEST = re.compile(r"@sha256:(?P<digest>[0-9a-f]{64})$")
PURL = re.compile(r"^pkg:(?P<type>[A-Za-z][A-Za-z0-9.+-]*)/(?P<path>[^@?#]+)(?:@(?P<version>[^?#]+))?(?:\?[^#]*)?(?:#.*)?$")


class ReleaseVerificationError(Exception):
    """At least one release does not match its artifacts; `problems` lists each mismatch."""

    # The offline gate reports a program exception carrying this attribute with that exit code: 1 means "blocked",
    # the same verdict as a mandatory policy violation (see the module docstring).
    gate_exit_code = 1

    def __init__(self, problems: Sequence[ReleaseProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"release verification refused {len(self.problems)} mismatch(es) (ST-07, fail closed):\n{lines}")


@dataclass(frozen=True)
class ReleaseProblem:
    release: str
    """`model 'name' version 'x'` (or its canary)."""
    where: str
    """The config key the problem belongs to, e.g. modelfort:models[0].provenance."""
    what: str
    expected: str
    found: str

    def __str__(self) -> str:
        return f"{self.release} ({self.where}): {self.what}: expected {self.expected}; found {self.found}"


@dataclass(frozen=True)
class Artifact:
    path: str
    """Relative to the project directory."""
    sha256: str


@dataclass(frozen=True)
class ReleaseRecord:
    """One release as the stack config pins it; built from a ModelRelease (or its canary) by `release_records`."""

    model: str
    version: str
    image: str
    root_digest: str
    where: str
    """Config key of the release, e.g. modelfort:models[0] or modelfort:models[0].canary."""
    sbom: Artifact | None = None
    provenance: Artifact | None = None
    signature: Artifact | None = None

    @property
    def label(self) -> str:
        return f"model {self.model!r} version {self.version!r}"


@dataclass(frozen=True)
class VerifiedRelease:
    model: str
    version: str
    image_digest: str
    root_digest: str
    builder_id: str
    sbom_components: int


@dataclass(frozen=True)
class SupplyChainPolicy:
    """What the stack trusts (proposed config: `modelfort:supplyChain: {trustedBuilders, deniedPackages}`)."""

    trusted_builders: tuple[str, ...]
    """SLSA builder ids accepted, compared exactly (a builder id names the workflow and its ref, e.g.
    https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0)."""
    denied_packages: tuple[str, ...] = ()
    """Package URLs refused in any SBOM: `pkg:type/[namespace/]name` (every version) or `...@version` (that one)."""
    _denied: tuple[tuple[str, str, str | None], ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if isinstance(self.trusted_builders, str) or not self.trusted_builders:
            raise ValueError("SupplyChainPolicy.trusted_builders: name at least one trusted builder id (nothing is trusted by default)")
        for builder in self.trusted_builders:
            if not isinstance(builder, str) or "://" not in builder or builder != builder.strip():
                raise ValueError(f"SupplyChainPolicy.trusted_builders: {builder!r} is not a builder id URI")
        if isinstance(self.denied_packages, str):
            raise ValueError("SupplyChainPolicy.denied_packages: give a list of package URLs, not one string")
        denied = []
        for entry in self.denied_packages:
            parsed = _parse_purl(entry) if isinstance(entry, str) else None
            if parsed is None or "?" in entry or "#" in entry:
                raise ValueError(
                    f"SupplyChainPolicy.denied_packages: {entry!r} is not a package URL pkg:type/[namespace/]name[@version] "
                    "(no qualifiers; percent-encode '@' in a namespace as %40, e.g. pkg:npm/%40scope/name)"
                )
            denied.append(parsed)
        object.__setattr__(self, "_denied", tuple(denied))

    def denied_match(self, component: Mapping[str, Any]) -> str | None:
        """The deny-list entry that matches a CycloneDX component, if any. Components without a purl are matched by
        name and version across ecosystems: a false match refuses a release, a missed one ships a compromised one."""
        purl = component.get("purl")
        parsed = _parse_purl(purl) if isinstance(purl, str) else None
        for entry, (kind, name, version) in zip(self.denied_packages, self._denied):
            if parsed is not None:
                if parsed[0] != kind or _normalise(kind, parsed[1]) != _normalise(kind, name):
                    continue
                if version is None or parsed[2] == version:
                    return entry
            else:
                names = {str(component.get("name", ""))}
                if component.get("group"):
                    names.add(f"{component['group']}/{component.get('name', '')}")
                if _normalise(kind, name) in {_normalise(kind, n) for n in names} and (
                    version is None or str(component.get("version", "")) == version
                ):
                    return entry
        return None


def release_records(models: Sequence[Any]) -> list[ReleaseRecord]:
    """Turn `StackConfig.models` (components.config.ModelRelease) into records, the canary as a release of its own.

    `signature` is read when the config schema carries it (`modelfort:models[i].signature: {path, sha256}`); a
    canary's artifacts likewise (`canary.sbom`, `canary.provenance`, `canary.signature`). A canary without its own
    SBOM and provenance is refused: its image is a different build and nothing else vouches for it.
    """
    records = []
    for index, model in enumerate(models):
        where = f"modelfort:models[{index}]"
        records.append(_record(model.name, model, where))
        if getattr(model, "canary", None) is not None:
            records.append(_record(f"{model.name} (canary)", model.canary, f"{where}.canary"))
    return records


def _record(model_name: str, release: Any, where: str) -> ReleaseRecord:
    return ReleaseRecord(
        model=model_name,
        version=release.version,
        image=release.image,
        root_digest=release.root_digest,
        where=where,
        sbom=_artifact(getattr(release, "sbom", None)),
        provenance=_artifact(getattr(release, "provenance", None)),
        signature=_artifact(getattr(release, "signature", None)),
    )


def _artifact(value: Any) -> Artifact | None:
    if value is None:
        return None
    if isinstance(value, Artifact):
        return value
    return Artifact(path=str(value.get("path", "")), sha256=str(value.get("sha256", "")))


def verify_releases(models: Sequence[Any], *, project_dir: str | os.PathLike[str], policy: SupplyChainPolicy) -> list[VerifiedRelease]:
    """Verify every release of the stack (call before any workload is registered). Raises ReleaseVerificationError
    listing every problem of every release; returns what was verified otherwise."""
    return verify_records(release_records(models), project_dir=project_dir, policy=policy)


def verify_records(records: Iterable[ReleaseRecord], *, project_dir: str | os.PathLike[str], policy: SupplyChainPolicy) -> list[VerifiedRelease]:
    problems: list[ReleaseProblem] = []
    verified: list[VerifiedRelease] = []
    root = Path(project_dir).resolve()
    for record in records:
        checker = _Checker(record, root, policy)
        result = checker.run()
        problems.extend(checker.problems)
        if result is not None:
            verified.append(result)
    if problems:
        raise ReleaseVerificationError(problems)
    return verified


# ------------------------------------------------------------------------------------------------ one release
class _Checker:
    def __init__(self, record: ReleaseRecord, root: Path, policy: SupplyChainPolicy) -> None:
        self.record = record
        self.root = root
        self.policy = policy
        self.problems: list[ReleaseProblem] = []

    def problem(self, where: str, what: str, expected: str, found: str) -> None:
        self.problems.append(ReleaseProblem(self.record.label, where, what, expected, found))

    def run(self) -> VerifiedRelease | None:
        record = self.record
        image_digest = self._image_digest()
        if not HEX_DIGEST.match(record.root_digest or ""):
            self.problem(f"{record.where}.rootDigest", "pinned root digest", "64 lowercase hex characters", repr(record.root_digest))
        builder = self._provenance(image_digest)
        components = self._sbom(image_digest)
        self._signature()
        if self.problems:
            return None
        assert image_digest is not None and builder is not None and components is not None
        return VerifiedRelease(record.model, record.version, image_digest, record.root_digest, builder, components)

    def _image_digest(self) -> str | None:
        match = IMAGE_DIGEST.search(self.record.image or "")
        if not match:
            self.problem(f"{self.record.where}.image", "image reference", "an image pinned by digest (…@sha256:<64 hex>)", repr(self.record.image))
            return None
        return match["digest"]

    # ---------------------------------------------------------------------------------------- provenance
    def _provenance(self, image_digest: str | None) -> str | None:
        where = f"{self.record.where}.provenance"
        statement = self._statement(self.record.provenance, where, "SLSA provenance", required=True)
        if statement is None:
            return None
        if statement.get("predicateType") != SLSA_PROVENANCE_V1:
            self.problem(where, "predicateType", SLSA_PROVENANCE_V1, repr(statement.get("predicateType")))
            return None
        subjects = _subject_digests(statement)
        if not subjects:
            self.problem(where, "subject", "at least one subject with digest.sha256", "none")
        elif image_digest is not None and image_digest not in subjects:
            self.problem(where, "subject digest (the image this provenance is about)", f"sha256:{image_digest}",
                         ", ".join(f"sha256:{d}" for d in sorted(subjects)))
        predicate = statement.get("predicate")
        predicate = predicate if isinstance(predicate, Mapping) else {}
        build_type = _dig(predicate, "buildDefinition", "buildType")
        if not isinstance(build_type, str) or not build_type:
            self.problem(where, "predicate.buildDefinition.buildType", "a build type URI", repr(build_type))
        builder = _dig(predicate, "runDetails", "builder", "id")
        if not isinstance(builder, str) or not builder:
            self.problem(where, "predicate.runDetails.builder.id", "a builder id", repr(builder))
            return None
        if builder not in self.policy.trusted_builders:
            self.problem(where, "builder (predicate.runDetails.builder.id)", "one of the trusted builders " + ", ".join(self.policy.trusted_builders), builder)
            return None
        return builder

    # ---------------------------------------------------------------------------------------------- SBOM
    def _sbom(self, image_digest: str | None) -> int | None:
        where = f"{self.record.where}.sbom"
        document = self._json_artifact(self.record.sbom, where, "SBOM", required=True)
        if document is None:
            return None
        if document.get("bomFormat") != "CycloneDX":
            self.problem(where, "bomFormat", "CycloneDX", repr(document.get("bomFormat")))
            return None
        if document.get("specVersion") not in CYCLONEDX_SPEC_VERSIONS:
            self.problem(where, "specVersion", " or ".join(CYCLONEDX_SPEC_VERSIONS), repr(document.get("specVersion")))
        components = list(_components(document.get("components")))
        if not components:
            self.problem(where, "components", "the image's packages", "an SBOM that lists none")
            return None
        for component in components:
            entry = self.policy.denied_match(component)
            if entry is not None:
                self.problem(where, "denied package (supply-chain deny list)", f"no package matching {entry}",
                             component.get("purl") or f"{component.get('name')}@{component.get('version')}")
        described = _dig(document, "metadata", "component")
        if isinstance(described, Mapping) and image_digest is not None:
            described_digest = _oci_purl_digest(described.get("purl"))
            if described_digest is not None and described_digest != image_digest:
                self.problem(where, "metadata.component (the image this SBOM describes)", f"sha256:{image_digest}", f"sha256:{described_digest}")
        return len(components)

    # -------------------------------------------------------------------------------------- signature
    def _signature(self) -> None:
        if self.record.signature is None:
            return  # Optional at deployment time: the weight verifier checks the signature itself at pod start.
        where = f"{self.record.where}.signature"
        document = self._json_artifact(self.record.signature, where, "model signature", required=True)
        if document is None:
            return
        media_type = document.get("mediaType")
        if not isinstance(media_type, str) or not media_type.startswith(SIGSTORE_BUNDLE_MEDIA_TYPE_PREFIX):
            self.problem(where, "mediaType", f"a Sigstore bundle ({SIGSTORE_BUNDLE_MEDIA_TYPE_PREFIX}…)", repr(media_type))
            return
        statement = self._from_envelope(document.get("dsseEnvelope"), where)
        if statement is None:
            return
        if statement.get("predicateType") != OMS_PREDICATE_TYPE:
            self.problem(where, "predicateType", OMS_PREDICATE_TYPE, repr(statement.get("predicateType")))
            return
        subjects = statement.get("subject")
        if not isinstance(subjects, list) or len(subjects) != 1:
            self.problem(where, "subject", "exactly one subject (the model's root digest)",
                         f"{len(subjects) if isinstance(subjects, list) else 0} subjects")
            return
        signed = _dig(subjects[0], "digest", "sha256")
        if not isinstance(signed, str) or signed.lower() != (self.record.root_digest or "").lower():
            self.problem(where, "signed root digest (subject[0].digest.sha256)", f"the pinned rootDigest {self.record.root_digest}", repr(signed))

    # ------------------------------------------------------------------------------------------ reading
    def _statement(self, artifact: Artifact | None, where: str, what: str, *, required: bool) -> dict | None:
        document = self._json_artifact(artifact, where, what, required=required)
        if document is None:
            return None
        if "dsseEnvelope" in document:  # a Sigstore bundle (cosign attest --bundle, GitHub attestations)
            return self._from_envelope(document["dsseEnvelope"], where)
        if "payloadType" in document or "payload" in document:  # a bare DSSE envelope (slsa-github-generator)
            return self._from_envelope(document, where)
        return self._check_statement_type(document, where)

    def _from_envelope(self, envelope: Any, where: str) -> dict | None:
        if not isinstance(envelope, Mapping):
            self.problem(where, "dsseEnvelope", "a DSSE envelope object", type(envelope).__name__)
            return None
        if envelope.get("payloadType") != IN_TOTO_PAYLOAD_TYPE:
            self.problem(where, "DSSE payloadType", IN_TOTO_PAYLOAD_TYPE, repr(envelope.get("payloadType")))
            return None
        try:
            payload = base64.b64decode(str(envelope.get("payload", "")), validate=True)
            statement = _loads(payload)
        except (binascii.Error, ValueError) as error:
            self.problem(where, "DSSE payload", "base64 of an in-toto statement (JSON)", f"unreadable ({error})")
            return None
        return self._check_statement_type(statement, where)

    def _check_statement_type(self, statement: Any, where: str) -> dict | None:
        if not isinstance(statement, dict):
            self.problem(where, "statement", "a JSON object", type(statement).__name__)
            return None
        if statement.get("_type") not in IN_TOTO_STATEMENT_TYPES:
            self.problem(where, "statement _type", " or ".join(IN_TOTO_STATEMENT_TYPES), repr(statement.get("_type")))
            return None
        return statement

    def _json_artifact(self, artifact: Artifact | None, where: str, what: str, *, required: bool) -> dict | None:
        data = self._read(artifact, where, what, required=required)
        if data is None:
            return None
        try:
            document = _loads(data)
        except ValueError as error:
            self.problem(where, f"{what} content", "a JSON document", f"unreadable ({error})")
            return None
        if not isinstance(document, dict):
            self.problem(where, f"{what} content", "a JSON object", type(document).__name__)
            return None
        return document

    def _read(self, artifact: Artifact | None, where: str, what: str, *, required: bool) -> bytes | None:
        if artifact is None:
            if required:
                self.problem(where, what, f"{{path, sha256}} of the release's {what}", "nothing recorded")
            return None
        if not HEX_DIGEST.match(artifact.sha256):
            self.problem(f"{where}.sha256", "recorded digest", "64 lowercase hex characters", repr(artifact.sha256))
            return None
        path = self._resolve(artifact.path, where)
        if path is None:
            return None
        try:
            size = path.stat().st_size
            if not path.is_file():
                self.problem(f"{where}.path", what, "a regular file", f"{artifact.path} is not one")
                return None
            if size > MAX_ARTIFACT_BYTES:
                self.problem(f"{where}.path", f"{what} size", f"at most {MAX_ARTIFACT_BYTES} bytes", f"{size} bytes")
                return None
            data = path.read_bytes()
        except FileNotFoundError:
            self.problem(f"{where}.path", what, f"a file at {artifact.path} (relative to the project)", "no such file")
            return None
        except OSError as error:
            self.problem(f"{where}.path", what, f"a readable file at {artifact.path}", error.strerror or type(error).__name__)
            return None
        actual = hashlib.sha256(data).hexdigest()
        if actual != artifact.sha256:
            # The bytes are not the reviewed ones: nothing in them is worth reading.
            self.problem(f"{where}.sha256", f"SHA-256 of {artifact.path}", artifact.sha256, actual)
            return None
        return data

    def _resolve(self, relative: str, where: str) -> Path | None:
        if not relative or os.path.isabs(relative) or "\\" in relative:
            self.problem(f"{where}.path", "artifact path", "a path relative to the project directory", repr(relative))
            return None
        path = (self.root / relative).resolve()
        # Resolved first, so neither `..` nor a symlink can make the gate read (and vouch for) a file outside the project.
        if not path.is_relative_to(self.root):
            self.problem(f"{where}.path", "artifact path", f"a file inside the project directory {self.root}", f"{relative} resolves to {path}")
            return None
        return path


# ------------------------------------------------------------------------------------------------ helpers
def _loads(data: bytes) -> Any:
    """JSON with duplicate keys refused: two parsers that keep different duplicates would verify one document and
    deploy another."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"duplicate key(s) {', '.join(repeated)}")
        return dict(pairs)

    return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _subject_digests(statement: Mapping[str, Any]) -> set[str]:
    subjects = statement.get("subject")
    found = set()
    for subject in subjects if isinstance(subjects, list) else []:
        digest = _dig(subject, "digest", "sha256")
        if isinstance(digest, str) and HEX_DIGEST.match(digest.lower()):
            found.add(digest.lower())
    return found


def _components(value: Any) -> Iterator[Mapping[str, Any]]:
    """Every component, nested ones included (CycloneDX allows components inside components)."""
    for component in value if isinstance(value, list) else []:
        if isinstance(component, Mapping):
            yield component
            yield from _components(component.get("components"))


def _parse_purl(text: str) -> tuple[str, str, str | None] | None:
    match = PURL.match(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    path = "/".join(urllib.parse.unquote(part) for part in match["path"].strip("/").split("/") if part)
    if not path:
        return None
    version = urllib.parse.unquote(match["version"]) if match["version"] else None
    return match["type"].lower(), path, version


def _normalise(kind: str, name: str) -> str:
    name = name.lower()
    if kind == "pypi":
        # PEP 503: runs of -, _ and . are the same; the purl spec applies the same rule to pypi names.
        name = re.sub(r"[-_.]+", "-", name)
    return name


def _oci_purl_digest(purl: Any) -> str | None:
    parsed = _parse_purl(purl) if isinstance(purl, str) else None
    if parsed is None or parsed[0] != "oci" or not parsed[2]:
        return None
    version = parsed[2].lower()
    return version.removeprefix("sha256:") if version.startswith("sha256:") else None
