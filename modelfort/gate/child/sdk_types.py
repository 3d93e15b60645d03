"""The shapes of resources and invoke results, learnt from the provider SDKs the program itself imports.

Every generated Pulumi Python SDK registers its modules with the runtime (`_utilities.register` calls
`pulumi.runtime.register_resource_module(pkg, mod, Module({"fqn": ..., "classes": {token: class name}}))`) and
declares each output as a `@pulumi.getter` property whose return annotation names its type, nested objects being
`@pulumi.output_type` classes. So a type token such as `kubernetes:core/v1:Service` names its Python class without
a hand-written table, for every SDK installed. Only modules the program itself imported are read (nothing is
imported here: see `_loaded`), and each class's shape is computed once.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import functools
import sys
import threading
import time
import typing
from typing import Any

import pulumi
from pulumi import _types as pulumi_types
from pulumi.runtime import rpc

# Recursive schemas (Kubernetes' JSONSchemaProps) would never end: nested objects deeper than this are left out.
MAX_DEPTH = 8
# How long to wait for the program's thread to finish importing an SDK module before reading its annotations.
IMPORT_WAIT_SECONDS = 30.0

_lock = threading.RLock()


@dataclasses.dataclass(frozen=True)
class Shape:
    """A declared type: `kind` is one of str, int, float, bool, any, list, map, object."""

    kind: str
    item: "Shape | None" = None
    fields: tuple[tuple[str, "Shape"], ...] = ()
    """For objects: (engine property name, shape) in declaration order."""
    choices: tuple[str, ...] = ()
    """For string enums: the values the SDK accepts (a generated name would fail the SDK's own enum check)."""


STR, INT, FLOAT, BOOL, ANY = Shape("str"), Shape("int"), Shape("float"), Shape("bool"), Shape("any")


def _split(token: str) -> tuple[str, str, str] | None:
    parts = token.split(":")
    if len(parts) != 3:
        return None
    return parts[0], parts[1], parts[2]


@functools.lru_cache(maxsize=None)
def _package_fqn(pkg: str) -> str | None:
    """The Python package of a Pulumi package: from its registered provider, else from any registered module."""
    with _lock:
        for package in rpc._RESOURCE_PACKAGES.get(pkg, []):
            info = getattr(package, "pkg_info", None)
            if isinstance(info, dict) and info.get("fqn"):
                return str(info["fqn"]).split(".")[0]
        for key, modules in rpc._RESOURCE_MODULES.items():
            if key.startswith(pkg + ":"):
                for module in modules:
                    info = getattr(module, "mod_info", None)
                    if isinstance(info, dict) and info.get("fqn"):
                        return str(info["fqn"]).split(".")[0]
    return None


@functools.lru_cache(maxsize=None)
def _module_fqns(pkg: str) -> dict[str, str]:
    """Pulumi module namespace (`ec2`, `core/v1`) -> Python module, from the package's registrations."""
    found: dict[str, str] = {}
    with _lock:
        for key, modules in rpc._RESOURCE_MODULES.items():
            if not key.startswith(pkg + ":"):
                continue
            mod = key[len(pkg) + 1:]
            for module in modules:
                info = getattr(module, "mod_info", None)
                if isinstance(info, dict) and info.get("fqn"):
                    found.setdefault(mod, info["fqn"])
                    # `ec2/vpc` lives in `pulumi_aws.ec2`: the namespace without the file part maps there too.
                    if "/" in mod:
                        found.setdefault(mod.rsplit("/", 1)[0], info["fqn"])
    return found


def _loaded(fqn: str) -> Any | None:
    """A module the program has already imported, once its import has finished.

    The mocks answer on the SDK's worker threads while the program keeps importing on its own thread. Importing
    from here could hand the program a half-initialised module (Python breaks an import-lock cycle between two
    threads that way), so nothing is imported here: the program imported every class it registers or calls. And an
    SDK package still being imported elsewhere is waited for, so its annotations resolve completely."""
    module = sys.modules.get(fqn)
    if module is None:
        return None
    root = fqn.split(".")[0] + "."
    deadline = time.monotonic() + IMPORT_WAIT_SECONDS
    while time.monotonic() < deadline:
        busy = [name for name, m in list(sys.modules.items())
                if (name == root[:-1] or name.startswith(root)) and getattr(getattr(m, "__spec__", None), "_initializing", False)]
        if not busy:
            return module
        time.sleep(0.01)
    raise TimeoutError(f"{fqn}: the program's import of {root[:-1]} did not finish within {IMPORT_WAIT_SECONDS:.0f}s")


def _python_module(pkg: str, mod: str) -> Any | None:
    fqn = _module_fqns(pkg).get(mod)
    if fqn is None and "/" in mod:
        fqn = _module_fqns(pkg).get(mod.rsplit("/", 1)[0])
    if fqn is None:
        # No registration names the namespace (a package of invokes only): generated SDKs put `ec2/getAmi` in
        # `<root>.ec2` and `index/...` in the root package.
        root = _package_fqn(pkg) or f"pulumi_{pkg.replace('-', '_')}"
        namespace = mod.split("/")[0]
        fqn = root if namespace in ("index", "") else f"{root}.{namespace.replace('-', '_')}"
    return _loaded(fqn)


@functools.lru_cache(maxsize=None)
def resource_class(token: str) -> type | None:
    """The SDK class registered for a resource type token, or None when no installed SDK declares it."""
    parts = _split(token)
    if parts is None:
        return None
    pkg, mod, name = parts
    if pkg == "pulumi" and mod == "providers":
        root = _package_fqn(name)
        module = _loaded(root) if root else None
        return getattr(module, "Provider", None) if module else None
    with _lock:
        registered = list(rpc._RESOURCE_MODULES.get(f"{pkg}:{mod}", []))
    for module in registered:
        info = getattr(module, "mod_info", None)
        if isinstance(info, dict) and token in info.get("classes", {}):
            return getattr(_loaded(info["fqn"]), info["classes"][token], None)
    module = _python_module(pkg, mod)
    candidate = getattr(module, name, None) if module is not None else None
    return candidate if isinstance(candidate, type) and issubclass(candidate, pulumi.Resource) else None


@functools.lru_cache(maxsize=None)
def invoke_result_class(token: str) -> type | None:
    """The `@pulumi.output_type` result class of an invoke token such as `aws:ec2/getAmi:getAmi`."""
    parts = _split(token)
    if parts is None:
        return None
    pkg, mod, function = parts
    module = _python_module(pkg, mod)
    if module is None:
        return None
    candidate = getattr(module, function[:1].upper() + function[1:] + "Result", None)
    return candidate if isinstance(candidate, type) and pulumi_types.is_output_type(candidate) else None


def resource_shape(token: str) -> Shape | None:
    cls = resource_class(token)
    return _class_shape(cls, resource=True) if cls is not None else None


def invoke_shape(token: str) -> Shape | None:
    cls = invoke_result_class(token)
    return _class_shape(cls, resource=False) if cls is not None else None


@functools.lru_cache(maxsize=None)
def _class_shape(cls: type, resource: bool) -> Shape:
    with _lock:
        return _object_shape(cls, (), resource)


def _object_shape(cls: type, path: tuple[type, ...], resource: bool = False) -> Shape:
    if cls in path or len(path) >= MAX_DEPTH:
        return Shape("object")
    try:
        types = pulumi_types.resource_types(cls) if resource else pulumi_types.output_type_types(cls)
    except Exception:  # noqa: BLE001 - an annotation an SDK cannot resolve leaves that class without a shape
        return Shape("object")
    fields = []
    for pulumi_name, typ in types.items():
        if pulumi_name in ("urn", "id") and resource:
            continue
        fields.append((pulumi_name, _shape(typ, path + (cls,))))
    return Shape("object", fields=tuple(fields))


def _shape(typ: Any, path: tuple[type, ...]) -> Shape:
    typ = pulumi_types.unwrap_type(typ)
    origin = typing.get_origin(typ)
    if origin is typing.Union:
        members = [arg for arg in typing.get_args(typ) if arg is not type(None)]
        return _shape(members[0], path) if members else ANY
    if origin in (list, typing.List, collections.abc.Sequence, tuple):  # noqa: UP006 - generated SDKs use typing.List
        args = typing.get_args(typ)
        return Shape("list", item=_shape(args[0], path) if args else ANY)
    if origin in (dict, typing.Dict, collections.abc.Mapping):  # noqa: UP006
        args = typing.get_args(typ)
        return Shape("map", item=_shape(args[1], path) if len(args) == 2 else ANY)
    if typ is str:
        return STR
    if typ is bool:
        return BOOL
    if typ is int:
        return INT
    if typ is float:
        return FLOAT
    if isinstance(typ, type) and pulumi_types.is_output_type(typ):
        return _object_shape(typ, path)
    if isinstance(typ, type) and issubclass(typ, str):  # string enums
        choices = tuple(str(member.value) for member in typ) if issubclass(typ, enum.Enum) else ()
        return Shape("str", choices=choices) if choices else STR
    return ANY


@functools.lru_cache(maxsize=None)
def input_names(token: str) -> frozenset[str]:
    """The engine names of the properties a resource takes as inputs (the rest of its properties are outputs only).

    Generated classes take their inputs as keyword parameters of `_internal_init` (custom resources) or `__init__`
    (components); the class's own getters translate them to engine names."""
    import inspect

    cls = resource_class(token)
    if cls is None:
        return frozenset()
    init = getattr(cls, "_internal_init", None) or cls.__init__
    try:
        parameters = inspect.signature(init).parameters
    except (TypeError, ValueError):
        return frozenset()
    try:
        translate = pulumi_types.resource_py_to_pulumi_names(cls)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the Python names
        translate = {}
    skip = {"self", "resource_name", "opts", "args", "__props__", "__self__"}
    return frozenset(translate.get(p, p) for p in parameters if p not in skip)
