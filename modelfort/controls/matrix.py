"""The coverage matrix, computed from the code: which components implement each control, which policies enforce
it, which tests prove it. Nothing here is maintained by hand except the catalog's wording and rationales.

- Components: classes in the `components` package that declare `CONTROLS` (their Pulumi type token is read from the
  `super().__init__("modelfort:...")` call, so a planned stack can be matched against them).
- Runtime: modules and packages under `modelfort.runtime` that declare a module-level `CONTROLS`.
- Policies: the ModelFort pack's rules (`Rule.controls`), plus the pack's own waiver policy.
- Tests: every `@pytest.mark.control("ID", ...)` in `tests/`, found by reading the test sources (no test is run).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from modelfort.controls.catalog import BY_ID, CATALOG, Control

REPO = Path(__file__).resolve().parents[2]
TYPE_TOKEN = re.compile(r'super\(\).__init__\(\s*"(modelfort:[a-z0-9]+:[A-Za-z0-9]+)"')


@dataclass(frozen=True)
class Implementation:
    name: str
    module: str
    type_token: str | None = None


@dataclass
class Coverage:
    control: Control
    components: list[Implementation] = field(default_factory=list)
    runtime: list[Implementation] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        """Proven by a test, and realised by code (component, runtime, policy) or honestly explained."""
        realised = bool(self.components or self.runtime or self.policies or self.control.rationale)
        return bool(self.tests) and realised


def component_implementations() -> dict[str, list[Implementation]]:
    import pulumi

    found: dict[str, list[Implementation]] = defaultdict(list)
    for module in _walk("components"):
        classes = [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                   if cls.__module__ == module.__name__ and cls.__dict__.get("CONTROLS")]
        if not classes:
            # A module of plain functions (release verification, say) declares its controls at module level.
            for control in module.__dict__.get("CONTROLS", ()) or ():
                found[control].append(Implementation(module.__name__.rsplit(".", 1)[-1], module.__name__))
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, pulumi.ComponentResource):
                continue
            controls = cls.__dict__.get("CONTROLS")
            if not controls:
                continue
            token = TYPE_TOKEN.search(inspect.getsource(cls))
            for control in controls:
                found[control].append(Implementation(cls.__name__, module.__name__, token.group(1) if token else None))
    return found


def runtime_implementations() -> dict[str, list[Implementation]]:
    found: dict[str, list[Implementation]] = defaultdict(list)
    for module in _walk("modelfort.runtime"):
        for control in module.__dict__.get("CONTROLS", ()) or ():
            found[control].append(Implementation(module.__name__.rsplit(".", 1)[-1], module.__name__))
    return found


def policy_enforcements() -> dict[str, list[str]]:
    from modelfort_policy.pack import WAIVERS_VALID_POLICY
    from modelfort_policy.rules import ALL_RULES

    found: dict[str, list[str]] = defaultdict(list)
    for rule in ALL_RULES:
        for control in rule.controls:
            found[control].append(rule.name)
    found["DP-07"].append(WAIVERS_VALID_POLICY)
    return found


def proving_tests(tests_dir: Path = REPO / "tests") -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(tests_dir.rglob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        relative = path.relative_to(REPO).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for control in _control_marks(node.decorator_list):
                found[control].append(f"{relative}::{node.name}")
    return found


def _control_marks(decorators: list[ast.expr]) -> list[str]:
    ids: list[str] = []
    for decorator in decorators:
        call = decorator if isinstance(decorator, ast.Call) else None
        if call is None or not isinstance(call.func, ast.Attribute) or call.func.attr != "control":
            continue
        ids.extend(arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    return ids


def _walk(package_name: str):
    package = importlib.import_module(package_name)
    yield package
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
        if info.name.endswith(".__main__"):
            continue  # a command's entry point runs when imported; its package holds the CONTROLS
        yield importlib.import_module(info.name)


def compute() -> list[Coverage]:
    components, runtime = component_implementations(), runtime_implementations()
    policies, tests = policy_enforcements(), proving_tests()
    unknown = sorted((set(components) | set(runtime) | set(policies) | set(tests)) - set(BY_ID))
    if unknown:
        raise ValueError(f"code refers to control IDs that are not in the catalog: {', '.join(unknown)}")
    return [
        Coverage(
            control=control,
            components=components.get(control.id, []),
            runtime=runtime.get(control.id, []),
            policies=sorted(set(policies.get(control.id, []))),
            tests=sorted(set(tests.get(control.id, []))),
        )
        for control in CATALOG
    ]
