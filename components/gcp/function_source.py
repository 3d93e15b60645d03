"""The source archives of the GCP functions. `rotation_function_source`: the rotation function, `modelfort.runtime.rotation_gcp`, the three modules it shares with
the AWS rotation package, and nothing else.

The archive keeps the repository's import paths (`modelfort/runtime/rotation_gcp/...`), so the code that ships is the
code the tests import. Two files differ from the repository on purpose:
- `modelfort/runtime/rotation/__init__.py` is replaced by a docstring: the repository's one imports the AWS entry point
  (boto3), which the function neither needs nor has.
- `main.py` (Cloud Functions' Python entry module) re-exports `entry.handle`.

Before packaging, every shipped module's imports are checked against what the function will have: the shipped modules,
the standard library, and the libraries pinned in its requirements.txt. Anything else would pass every test here and
fail only at the first rotation, so packaging refuses it.

`detection_function_source`: the two telemetry-detection functions (`stage_one`, `stage_two`, one archive, two entry
points) — `modelfort.runtime.detection_stream_gcp` and the pure modules it shares with the AWS stages (detectors,
telemetry schema, `detection_stream.fanout`/`consumer`, `telemetry_watch.handler`), checked the same way.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import pulumi

RUNTIME = "python312"
ENTRY_POINT = "handle"
REQUIREMENTS = (
    "google-cloud-secret-manager==2.32.0",
    "functions-framework==3.10.2",
)
SHARED_ROTATION_MODULES = ("errors.py", "issuers.py", "service_token.py")
ROTATION_INIT_STUB = (
    '"""Shared service-token format, issuers and errors (the AWS entry point is not shipped to Google Cloud)."""\n'
)
MAIN = (
    '"""Cloud Functions entry module: the rotation handler lives in modelfort.runtime.rotation_gcp.entry."""\n\n'
    "from modelfort.runtime.rotation_gcp.entry import handle\n\n"
    '__all__ = ["handle"]\n'
)
# Imports the function may make beyond the standard library: shipped code, and the pinned client library.
_ALLOWED_PREFIXES = (
    "modelfort.runtime.rotation_gcp",
    "modelfort.runtime.rotation.errors",
    "modelfort.runtime.rotation.issuers",
    "modelfort.runtime.rotation.service_token",
    "google.cloud.secretmanager",
)


DETECTION_ENTRY_POINTS = ("stage_one", "stage_two")
DETECTION_REQUIREMENTS = (
    "google-cloud-storage==3.17.1",
    "google-auth==2.63.0",
    "requests==2.34.2",
    "functions-framework==3.10.2",
)
DETECTION_MAIN = (
    '"""Cloud Functions entry module: the detection stages live in modelfort.runtime.detection_stream_gcp.entry."""\n\n'
    "from modelfort.runtime.detection_stream_gcp.entry import stage_one, stage_two\n\n"
    '__all__ = ["stage_one", "stage_two"]\n'
)
DETECTION_PACKAGES = ("detection_stream_gcp", "detectors")
DETECTION_MODULES = ("telemetry.py", "detection_stream/__init__.py", "detection_stream/fanout.py",
                     "detection_stream/consumer.py", "telemetry_watch/__init__.py", "telemetry_watch/handler.py")
DETECTION_EXCLUDED = ("detectors/cli.py",)
"""The detectors' command line is for analysts, not the function."""
AWS_ENTRY_POINTS = ("lambda_handler",)
"""The shared AWS stage modules import boto3 inside their Lambda entry function only; the detection functions never
call it, so imports inside a function of this name are not checked (anywhere else boto3 is still refused)."""
_DETECTION_ALLOWED_PREFIXES = (
    "modelfort.runtime.detection_stream_gcp",
    "modelfort.runtime.detection_stream",
    "modelfort.runtime.detectors",
    "modelfort.runtime.telemetry",
    "modelfort.runtime.telemetry_watch",
    "google.cloud.storage",
    "google.api_core",
    "google.auth",
)


class FunctionSourceError(ValueError):
    """The rotation function cannot ship as a self-contained archive; the message names the file and the import."""


@dataclass(frozen=True)
class FunctionSource:
    files: tuple[str, ...]
    """Every path in the archive, sorted."""
    sha256: str
    """One digest over every path and content: the object name changes (and the function redeploys) when the code does."""
    archive: pulumi.AssetArchive
    contents: dict[str, bytes]
    """Path to bytes, for tests that unpack and import the archive."""


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FunctionSourceError(f"{module} is not an importable package")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def rotation_function_source() -> FunctionSource:
    runtime = _package_dir("modelfort.runtime")
    modelfort = runtime.parent
    contents: dict[str, bytes] = {
        "main.py": MAIN.encode(),
        "requirements.txt": ("\n".join(REQUIREMENTS) + "\n").encode(),
        "modelfort/__init__.py": (modelfort / "__init__.py").read_bytes(),
        "modelfort/runtime/__init__.py": (runtime / "__init__.py").read_bytes(),
        "modelfort/runtime/rotation/__init__.py": ROTATION_INIT_STUB.encode(),
    }
    for module in SHARED_ROTATION_MODULES:
        contents[f"modelfort/runtime/rotation/{module}"] = (runtime / "rotation" / module).read_bytes()
    for path in sorted((runtime / "rotation_gcp").glob("*.py")):
        contents[f"modelfort/runtime/rotation_gcp/{path.name}"] = path.read_bytes()
    return _archive(contents, _ALLOWED_PREFIXES, "the rotation function")


def detection_function_source() -> FunctionSource:
    runtime = _package_dir("modelfort.runtime")
    modelfort = runtime.parent
    contents: dict[str, bytes] = {
        "main.py": DETECTION_MAIN.encode(),
        "requirements.txt": ("\n".join(DETECTION_REQUIREMENTS) + "\n").encode(),
        "modelfort/__init__.py": (modelfort / "__init__.py").read_bytes(),
        "modelfort/runtime/__init__.py": (runtime / "__init__.py").read_bytes(),
    }
    for module in DETECTION_MODULES:
        contents[f"modelfort/runtime/{module}"] = (runtime / module).read_bytes()
    for package in DETECTION_PACKAGES:
        for path in sorted((runtime / package).glob("*.py")):
            if f"{package}/{path.name}" not in DETECTION_EXCLUDED:
                contents[f"modelfort/runtime/{package}/{path.name}"] = path.read_bytes()
    return _archive(contents, _DETECTION_ALLOWED_PREFIXES, "the detection functions", AWS_ENTRY_POINTS)


def _archive(contents: dict[str, bytes], allowed: tuple[str, ...], what: str,
             unchecked_functions: tuple[str, ...] = ()) -> FunctionSource:
    for archive_path, data in contents.items():
        if archive_path.endswith(".py"):
            check_imports(archive_path, data, allowed, what, unchecked_functions)
    digest = hashlib.sha256()
    for archive_path in sorted(contents):
        digest.update(archive_path.encode() + b"\0" + contents[archive_path] + b"\0")
    archive = pulumi.AssetArchive({path: pulumi.StringAsset(data.decode("utf-8")) for path, data in sorted(contents.items())})
    return FunctionSource(files=tuple(sorted(contents)), sha256=digest.hexdigest(), archive=archive, contents=contents)


def check_imports(archive_path: str, source: bytes, allowed: tuple[str, ...] = _ALLOWED_PREFIXES,
                  what: str = "the rotation function", unchecked_functions: tuple[str, ...] = ()) -> None:
    tree = ast.parse(source.decode("utf-8"), filename=archive_path)
    skipped = {id(inner) for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in unchecked_functions
               for inner in ast.walk(node)}
    package = archive_path.rsplit("/", 1)[0].replace("/", ".") if "/" in archive_path else ""
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            candidates = [[alias.name] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - (node.level - 1)], *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            # `from google.cloud import secretmanager` imports google.cloud.secretmanager: either spelling may match.
            candidates = [[base, f"{base}.{alias.name}"] for alias in node.names]
        else:
            continue
        for spellings in candidates:
            module = spellings[0]
            if module.split(".")[0] in sys.stdlib_module_names or module == "__future__":
                continue
            if not any(_allowed(spelling, allowed) for spelling in spellings):
                raise FunctionSourceError(
                    f"{archive_path}:{node.lineno}: imports {module!r}, which {what} neither ships nor "
                    "installs (allowed: the standard library, " + ", ".join(allowed) + ")"
                )


def _allowed(module: str, allowed: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in allowed)
