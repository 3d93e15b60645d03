"""Run checkov in the pack's own process: its terraform_plan runner on the converted plan, its kubernetes runner on
the stack's Kubernetes objects as manifests.

checkov takes about a second to import. The pack starts while the program runs, so the import starts in a background
thread when the pack module loads and is usually done before the first AnalyzeStack. checkov lives only in the pack's
own virtualenv (its pins would fight the program's and the project's); a pack environment without it is a clear error
naming the fix, never a silent pass.
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

IMPORT_TIMEOUT_SECONDS = 300
INSTALL_HINT = (
    "checkov is not installed in the policy pack's environment: the pack's requirements.txt pins it "
    "(checkov==3.3.30); recreate the pack's virtualenv from policy_packs/modelfort/requirements.txt"
)


class CheckovUnavailable(RuntimeError):
    """checkov could not be imported in the pack's environment."""


@dataclass(frozen=True)
class CheckFailure:
    check_id: str
    title: str
    address: str
    """Terraform address (aws_instance.web) or, for Kubernetes, the manifest's Kind.namespace.name."""
    guideline: str | None = None
    document: int | None = None
    """For Kubernetes: the position of the manifest (in the list handed to run_manifests) the failure is on."""


class _Importer:
    """Imports checkov once, in the background, and hands out its runner classes."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._modules: dict[str, Any] = {}
        self._error: BaseException | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._import, name="checkov-import", daemon=True)
                self._thread.start()

    def _import(self) -> None:
        try:
            # checkov logs to the root logger at import; the pack's stderr is the analyzer's, keep it quiet.
            os.environ.setdefault("LOG_LEVEL", "ERROR")
            from checkov.common.models.enums import ParallelizationType
            from checkov.common.parallelizer.parallel_runner import parallel_runner
            from checkov.kubernetes.checks.resource.registry import registry as kubernetes_registry
            from checkov.kubernetes.runner import Runner as KubernetesRunner
            from checkov.runner_filter import RunnerFilter
            from checkov.terraform.checks.utils.base_cloudsplaining_iam_scanner import BaseTerraformCloudsplainingIAMScanner
            from checkov.terraform.plan_runner import Runner as PlanRunner

            # checkov parses manifest files in forked worker processes by default; forking the pack (an analyzer
            # serving gRPC from threads) is unsafe and, for a stack's few objects, slower than parsing in place.
            parallel_runner.type = ParallelizationType.NONE
            # checkov's import leaves some 270,000 long-lived objects, and every full collection would walk them again
            # while the SDK rebuilds the stack's resources for each stack policy, which allocates heavily: on the
            # production stack that was a third of the policies' time. Nothing imported is ever freed, so the
            # collector is told to leave it alone.
            gc.freeze()
            self._modules = {"plan": PlanRunner, "kubernetes": KubernetesRunner, "filter": RunnerFilter,
                             "iam_scanner": BaseTerraformCloudsplainingIAMScanner,
                             "kubernetes_registry": kubernetes_registry}
        except BaseException as error:  # noqa: BLE001 — any import failure is reported, whatever its kind
            self._error = error

    def get(self) -> Mapping[str, Any]:
        self.start()
        assert self._thread is not None
        self._thread.join(IMPORT_TIMEOUT_SECONDS)
        if self._thread.is_alive():
            raise CheckovUnavailable(f"importing checkov took longer than {IMPORT_TIMEOUT_SECONDS}s")
        if self._error is not None:
            raise CheckovUnavailable(f"{INSTALL_HINT} ({type(self._error).__name__}: {self._error})")
        return self._modules


_IMPORTER = _Importer()
# checkov's runners keep state in module-level registries; one run at a time.
_RUN_LOCK = threading.Lock()


def start_import() -> None:
    _IMPORTER.start()


def ensure_available() -> None:
    _IMPORTER.get()


def _failures(report: Any) -> list[CheckFailure]:
    reports = report if isinstance(report, list) else [report]
    return [
        CheckFailure(record.check_id, record.check_name, record.resource, getattr(record, "guideline", None))
        for item in reports
        for record in item.failed_checks
    ]


def run_plan(plan: Mapping[str, Any], checks: Sequence[str] | None) -> list[CheckFailure]:
    """checkov's terraform_plan checks on one plan document; `checks=None` runs every check checkov has."""
    if not plan["planned_values"]["root_module"]["resources"]:
        return []
    modules = _IMPORTER.get()
    with _RUN_LOCK, tempfile.TemporaryDirectory(prefix="modelfort-checkov-") as scratch:
        path = os.path.join(scratch, "plan.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(plan, handle)
        # checkov caches parsed IAM policy documents process-wide by file and resource name, as if a process ran once;
        # the pack judges many stacks in one process (and same-named resources recur), so the cache must start empty.
        modules["iam_scanner"].policy_document_cache.clear()
        runner_filter = modules["filter"](framework=["terraform_plan"], checks=list(checks) if checks else None,
                                          download_external_modules=False)
        return _failures(modules["plan"]().run(root_folder=None, files=[path], runner_filter=runner_filter))


@dataclass(frozen=True)
class CheckError:
    """A kubernetes check that raised on an object instead of judging it (checkov then aborts the whole run)."""

    check_id: str
    document: int
    error: str


def run_manifests(manifests: Sequence[Mapping[str, Any]],
                  checks: Sequence[str]) -> tuple[list[CheckFailure], list[CheckError]]:
    """checkov's kubernetes checks on the stack's Kubernetes objects, written out as one manifest file each (the file
    a failure is reported in says which object it is on, whatever resource ID checkov gives it).

    A check that meets a shape it does not expect (a required field left out because it was unknown, or missing from
    the program) raises, and checkov's kubernetes runner lets that end the run. Then the objects are judged one by
    one, and the one that raised check by check, so a single bad object costs only that check's verdict on it.
    """
    if not manifests or not checks:
        return [], []
    modules = _IMPORTER.get()
    with _RUN_LOCK, tempfile.TemporaryDirectory(prefix="modelfort-checkov-k8s-") as scratch:
        files = []
        for index, manifest in enumerate(manifests):
            path = os.path.join(scratch, f"object-{index}.yaml")
            with open(path, "w", encoding="utf-8") as handle:
                yaml.safe_dump(dict(manifest), handle, sort_keys=False)
            files.append(path)
        try:
            return _judge_manifests(modules, files, checks), []
        except Exception:  # noqa: BLE001 — any check's crash; judged again in smaller pieces below
            pass
        failures: list[CheckFailure] = []
        errors: list[CheckError] = []
        for path in files:
            try:
                failures += _judge_manifests(modules, [path], checks)
                continue
            except Exception:  # noqa: BLE001
                pass
            for check_id in checks:
                try:
                    failures += _judge_manifests(modules, [path], [check_id])
                except Exception as error:  # noqa: BLE001
                    errors.append(CheckError(check_id, files.index(path), f"{type(error).__name__}: {error}"))
        return failures, errors


def _judge_manifests(modules: Mapping[str, Any], files: Sequence[str], checks: Sequence[str]) -> list[CheckFailure]:
    position = {os.path.realpath(path): int(os.path.basename(path)[len("object-"):-len(".yaml")]) for path in files}
    runner_filter = modules["filter"](framework=["kubernetes"], checks=list(checks))
    report = modules["kubernetes"]().run(root_folder=None, files=list(files), runner_filter=runner_filter)
    reports = report if isinstance(report, list) else [report]
    return [
        CheckFailure(record.check_id, record.check_name, record.resource, getattr(record, "guideline", None),
                     position.get(os.path.realpath(record.file_abs_path)))
        for item in reports
        for record in item.failed_checks
    ]


def kubernetes_kinds(checks: Sequence[str]) -> dict[str, frozenset[str]]:
    """check ID → the kinds of object checkov's kubernetes check judges (its supported entities)."""
    registry = _IMPORTER.get()["kubernetes_registry"]
    wanted = set(checks)
    kinds: dict[str, set[str]] = {}
    for kind, registered in registry.checks.items():
        for check in registered:
            if check.id in wanted:
                kinds.setdefault(check.id, set()).add(kind)
    return {check_id: frozenset(found) for check_id, found in kinds.items()}
