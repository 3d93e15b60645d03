"""Package one of ModelFort's runtime packages (`modelfort/runtime/<name>/`) as a Lambda deployment archive.

The archive holds that package and nothing else, at the root of the zip (`rotation/handler.py`, ...), so the
handler is `<name>.handler.lambda_handler`, exactly as the runtime packages document. Nothing else from the
repository ships: a function that needs only boto3 must not carry the gate, the components or the policy pack.

Before packaging, every module's imports are checked against what the Lambda runtime will have: the package itself,
the Python standard library, and the boto3/botocore the python3.12 runtime provides. An import of anything else
(say `modelfort.gate`, or a third-party library that is installed here but not in Lambda) would pass every test on a
workstation and fail only when Secrets Manager first invokes the function, so packaging refuses it instead.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

RUNTIME_PACKAGE_ROOT = "modelfort.runtime"
LAMBDA_RUNTIME = "python3.12"
"""The runtime our packages are written and tested for (they use 3.11+ syntax such as `datetime.UTC`)."""
RUNTIME_PROVIDED_MODULES = frozenset({"boto3", "botocore"})
"""Third-party modules the Lambda Python runtime ships; anything else would have to be bundled."""
EXCLUDED_DIRS = frozenset({"__pycache__"})
# Only source ships: compiled bytecode is interpreter-specific and would be stale the moment a file changes.
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


class LambdaPackageError(ValueError):
    """A runtime package cannot ship as a self-contained Lambda zip; the message names the file and the import."""


@dataclass(frozen=True)
class LambdaPackage:
    name: str
    """The package's directory name at the root of the zip, e.g. `rotation`."""
    handler: str
    """The Lambda handler setting, e.g. `rotation.handler.lambda_handler`."""
    files: tuple[str, ...]
    """Every path in the archive, sorted (for tests and reviewers)."""
    sha256: str
    """One digest over every file's path and content: changes whenever the shipped code does."""
    archive: pulumi.AssetArchive


def runtime_package_dir(name: str) -> Path:
    """The directory of `modelfort.runtime.<name>`, found through the import system (works from a checkout or an
    installed wheel)."""
    if not name.isidentifier():
        raise LambdaPackageError(f"runtime package name {name!r} is not a Python identifier")
    spec = importlib.util.find_spec(f"{RUNTIME_PACKAGE_ROOT}.{name}")
    if spec is None or not spec.submodule_search_locations:
        raise LambdaPackageError(f"{RUNTIME_PACKAGE_ROOT}.{name} is not an importable package")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def package_runtime(name: str) -> LambdaPackage:
    """Build the archive for `modelfort.runtime.<name>`; raises LambdaPackageError if it is not self-contained."""
    directory = runtime_package_dir(name)
    if not (directory / "handler.py").is_file():
        raise LambdaPackageError(f"{directory}: a Lambda package needs handler.py with lambda_handler")
    sources = _package_files(directory)
    for path in sources:
        if path.suffix == ".py":
            check_imports(path, directory, name)
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {}
    digest = hashlib.sha256()
    for path in sources:
        archive_path = f"{name}/{path.relative_to(directory).as_posix()}"
        assets[archive_path] = pulumi.FileAsset(str(path))
        digest.update(archive_path.encode() + b"\0" + path.read_bytes() + b"\0")
    return LambdaPackage(
        name=name,
        handler=f"{name}.handler.lambda_handler",
        files=tuple(sorted(assets)),
        sha256=digest.hexdigest(),
        archive=pulumi.AssetArchive(assets),
    )


def package_runtime_bundle(entry: str, dependencies: Sequence[str], handler: str = "handler") -> LambdaPackage:
    """Build an archive for `modelfort.runtime.<entry>` that also ships the runtime modules it imports
    (`dependencies`: package or module names under modelfort.runtime), laid out under their full module paths so
    their absolute imports (`from modelfort.runtime.telemetry import ...`) resolve in Lambda. Everything shipped is
    checked like a single package: only the bundle itself, the standard library and boto3 may be imported.
    `handler` names the module of `entry` whose `lambda_handler` Lambda calls (one archive may serve several
    functions, each with its own handler module)."""
    root = runtime_package_dir(entry).parent  # .../modelfort/runtime
    repo_root = root.parent.parent
    allowed = {f"{RUNTIME_PACKAGE_ROOT}.{name}" for name in (entry, *dependencies)}
    sources: list[Path] = [root.parent / "__init__.py", root / "__init__.py"]
    for name in (entry, *dependencies):
        module_file = root / f"{name}.py"
        sources.extend([module_file] if module_file.is_file() else _package_files(runtime_package_dir(name)))
    for path in sources:
        if path.suffix == ".py":
            _check_bundle_imports(path, allowed)
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {}
    digest = hashlib.sha256()
    for path in sources:
        archive_path = path.relative_to(repo_root).as_posix()
        assets[archive_path] = pulumi.FileAsset(str(path))
        digest.update(archive_path.encode() + b"\0" + path.read_bytes() + b"\0")
    return LambdaPackage(
        name=entry,
        handler=f"{RUNTIME_PACKAGE_ROOT}.{entry}.{handler}.lambda_handler",
        files=tuple(sorted(assets)),
        sha256=digest.hexdigest(),
        archive=pulumi.AssetArchive(assets),
    )


def _check_bundle_imports(path: Path, allowed: set[str]) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
        for module in names:
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in RUNTIME_PROVIDED_MODULES or module in ("modelfort", RUNTIME_PACKAGE_ROOT):
                continue
            if any(module == a or module.startswith(f"{a}.") for a in allowed):
                continue
            raise LambdaPackageError(
                f"{path}:{node.lineno}: imports {module!r}, which this bundle does not ship (it ships "
                f"{', '.join(sorted(allowed))}, the standard library and boto3)"
            )


def _package_files(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        for sub in dirs:
            if Path(root, sub).is_symlink():
                # A link could pull files from outside the package into the zip, or dangle in Lambda.
                raise LambdaPackageError(f"{Path(root, sub)}: only regular directories may ship (no links)")
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS)
        for file_name in sorted(files):
            path = Path(root, file_name)
            if path.suffix in EXCLUDED_SUFFIXES:
                continue
            if path.is_symlink() or not path.is_file():
                raise LambdaPackageError(f"{path}: only regular files may ship in a Lambda package (no links)")
            found.append(path)
    return found


def check_imports(path: Path, package_dir: Path, package_name: str) -> None:
    """Refuse any import the Lambda runtime could not satisfy from the zip, the standard library or boto3."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    depth = len(path.relative_to(package_dir).parts) - 1  # 0 for modules at the package's top level
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                _check_absolute(alias.name, path, node.lineno, package_name)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                _check_absolute(node.module or "", path, node.lineno, package_name)
            elif node.level > depth + 1:
                # `from .. import x` at the package's top level reaches into modelfort.runtime, which is not shipped.
                raise LambdaPackageError(
                    f"{path}:{node.lineno}: relative import of level {node.level} leaves the {package_name} package, "
                    "which ships alone"
                )


def _check_absolute(module: str, path: Path, line: int, package_name: str) -> None:
    top = module.split(".")[0]
    if top == package_name or top in sys.stdlib_module_names or top in RUNTIME_PROVIDED_MODULES:
        return
    raise LambdaPackageError(
        f"{path}:{line}: imports {module!r}, which the {LAMBDA_RUNTIME} Lambda runtime does not provide and the "
        f"{package_name} zip does not contain (allowed: the package itself, the standard library, "
        f"{', '.join(sorted(RUNTIME_PROVIDED_MODULES))})"
    )


# ------------------------------------------------------------------------------------ around a packaged function
# What every ModelFort runtime function gets, so the rotation function and the janitor cannot drift apart: its own
# encrypted log group kept for the tier, an execution role only Lambda can assume, and an alarm on its errors.

CLOUDWATCH_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
"""The only values CloudWatch Logs accepts for retention_in_days (anything else fails at `pulumi up`)."""


def check_log_retention(days: int, where: str) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days not in CLOUDWATCH_RETENTION_DAYS:
        raise ValueError(
            f"{where}: {days!r} is not a CloudWatch Logs retention (one of {', '.join(map(str, sorted(CLOUDWATCH_RETENTION_DAYS)))})"
        )


def function_log_group_name(zone: str, function: str) -> str:
    """Under the zone's `/modelfort/<zone>/` prefix (which zone log keys admit), not `/aws/lambda/<name>`: the
    function is pointed at it explicitly, so no log group is ever created implicitly without encryption or expiry."""
    return f"/modelfort/{zone}/lambda/{function}"


def lambda_trust_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def logs_key_statement(account: str, partition: str, region: str, log_group_name: str) -> dict[str, Any]:
    """Lets CloudWatch Logs use a key for one log group only (the encryption context names the group)."""
    return {
        "Sid": "CloudWatchLogsOfThisFunctionOnly",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {
            "ArnEquals": {
                "kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account}:log-group:{log_group_name}"
            }
        },
    }


def function_log_group_and_role(
    log_group_resource: str,
    role_resource: str,
    log_group_name: str,
    kms_key_arn: pulumi.Input[str],
    retention_days: int,
    role_description: str,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[pulumi.CustomResource, pulumi.CustomResource]:
    """A function's own encrypted log group, kept for the tier, and an execution role only Lambda can assume, with
    sessions of at most an hour. Permissions are the caller's to attach: they differ for every function."""
    import pulumi_aws as aws

    log_group = aws.cloudwatch.LogGroup(
        log_group_resource, name=log_group_name, kms_key_id=kms_key_arn, retention_in_days=retention_days,
        tags=dict(tags), opts=opts,
    )
    role = aws.iam.Role(
        role_resource, description=role_description, assume_role_policy=lambda_trust_policy(), max_session_duration=3600,
        tags=dict(tags), opts=opts,
    )
    return log_group, role


def write_logs_statement(log_group_arn: str) -> dict[str, Any]:
    # The group exists already (we create it), so no logs:CreateLogGroup: the function cannot make itself another.
    return {
        "Sid": "WriteOwnLogGroupOnly",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{log_group_arn}:*",
    }


def errors_alarm(
    name: str,
    function: pulumi.Resource,
    function_name: pulumi.Input[str],
    description: str,
    alarm_actions: Sequence[pulumi.Input[str]],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> pulumi.CustomResource:
    """Any error in a five-minute window raises the alarm: a credential function that fails is a security event
    (a secret no longer rotates, idle keys stay active), not noise to average away."""
    import pulumi_aws as aws

    return aws.cloudwatch.MetricAlarm(
        name,
        alarm_description=description,
        namespace="AWS/Lambda",
        metric_name="Errors",
        dimensions={"FunctionName": function_name},
        statistic="Sum",
        period=300,
        evaluation_periods=1,
        threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        # No invocations is normal between runs, not a failure.
        treat_missing_data="notBreaching",
        alarm_actions=list(alarm_actions),
        tags=dict(tags),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[function])),
    )
