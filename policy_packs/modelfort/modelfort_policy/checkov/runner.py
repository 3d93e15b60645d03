"""Run checkov in the pack's own process: its terraform_plan runner on the converted plan, its kubernetes runner on
the stack's Kubernetes objects as manifests.

checkov takes about a second to import. The pack starts while the program runs, so the import starts in a background
thread when the pack module loads and is usually done before the first AnalyzeStack. checkov lives only in the pack's
own virtualenv (its pins would fight the program's and the project's); a pack environment without it is a clear error
naming the fix, never a silent pass.
"""

from __future__ import annotations

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
            from checkov.kubernetes.runner import Runner as KubernetesRunner
            from checkov.runner_filter import RunnerFilter
            from checkov.terraform.checks.utils.base_cloudsplaining_iam_scanner import BaseTerraformCloudsplainingIAMScanner
            from checkov.terraform.plan_runner import Runner as PlanRunner

            self._modules = {"plan": PlanRunner, "kubernetes": KubernetesRunner, "filter": RunnerFilter,
                             "iam_scanner": BaseTerraformCloudsplainingIAMScanner}
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


def run_manifests(manifests: Sequence[Mapping[str, Any]], checks: Sequence[str] | None) -> list[CheckFailure]:
    """checkov's kubernetes checks on the stack's Kubernetes objects, written out as one manifest file each."""
    if not manifests:
        return []
    modules = _IMPORTER.get()
    with _RUN_LOCK, tempfile.TemporaryDirectory(prefix="modelfort-checkov-k8s-") as scratch:
        files = []
        for index, manifest in enumerate(manifests):
            path = os.path.join(scratch, f"object-{index}.yaml")
            with open(path, "w", encoding="utf-8") as handle:
                yaml.safe_dump(dict(manifest), handle, sort_keys=False)
            files.append(path)
        runner_filter = modules["filter"](framework=["kubernetes"], checks=list(checks) if checks else None)
        return _failures(modules["kubernetes"]().run(root_folder=None, files=files, runner_filter=runner_filter))
