"""Read a Pulumi project and one stack's config the way the Pulumi CLI would, without the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

# Secrets cannot be decrypted offline (no passphrase or KMS). Policies see this marker, still flagged as secret.
SECRET_PLACEHOLDER = "[secret: not decrypted by the offline gate]"


class UsageError(Exception):
    """Bad invocation or unreadable project/stack files: exit code 2."""


@dataclass(frozen=True)
class Project:
    directory: str
    name: str
    main: str
    """The program file the Python runtime runs (Pulumi.yaml `main`, defaulting to __main__.py)."""
    stack_config_dir: str
    runtime: Any = "python"
    """Pulumi.yaml `runtime` as written (a name, or a mapping with options); environments.py interprets it."""


@dataclass(frozen=True)
class StackFile:
    stack: str
    path: str | None
    """None when the stack has no config file: the program is judged with empty config (strictest tier)."""
    config: dict[str, str] = field(default_factory=dict)
    secret_keys: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)
    """The decoded YAML values, keyed like `config` (for reports that show waivers and zone)."""


def read_project(program_dir: str) -> Project:
    directory = os.path.abspath(program_dir)
    path = os.path.join(directory, "Pulumi.yaml")
    if not os.path.isfile(path):
        raise UsageError(f"{program_dir}: no Pulumi.yaml here; give the directory of a Pulumi Python program")
    document = _load_yaml(path)
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError(f"{path}: 'name' is required")
    runtime = document.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise UsageError(f"{path}: runtime is {runtime_name!r}; the offline gate runs Python programs only")
    main = document.get("main") or "."
    main_path = os.path.join(directory, main)
    if os.path.isdir(main_path):
        main_path = os.path.join(main_path, "__main__.py")
    if not os.path.isfile(main_path):
        raise UsageError(f"{path}: the program's entry point {os.path.relpath(main_path, directory)} does not exist")
    stack_dir = document.get("stackConfigDir") or "."
    return Project(directory, name, os.path.relpath(main_path, directory), os.path.join(directory, stack_dir), runtime)


def read_stack(project: Project, stack: str) -> StackFile:
    path = os.path.join(project.stack_config_dir, f"Pulumi.{stack}.yaml")
    if not os.path.isfile(path):
        return StackFile(stack=stack, path=None)
    document = _load_yaml(path)
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise UsageError(f"{path}: 'config' must be a mapping of keys to values")
    flat: dict[str, str] = {}
    raw: dict[str, Any] = {}
    secret_keys: list[str] = []
    for key, value in config.items():
        full_key = key if ":" in str(key) else f"{project.name}:{key}"
        value, is_secret = _mask_secrets(value)
        raw[full_key] = value
        flat[full_key] = _config_string(value)
        if is_secret:
            secret_keys.append(full_key)
    return StackFile(stack=stack, path=path, config=flat, secret_keys=tuple(secret_keys), raw=raw)


def _load_yaml(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"{path}: cannot read it as YAML ({error})") from error
    if not isinstance(document, dict):
        raise UsageError(f"{path}: must be a YAML mapping")
    return document


def _mask_secrets(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        found = False
        masked = {}
        for k, v in value.items():
            masked[k], secret = _mask_secrets(v)
            found = found or secret
        return masked, found
    if isinstance(value, list):
        items = [_mask_secrets(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _config_string(value: Any) -> str:
    """Pulumi passes config to programs as strings: scalars as text, objects and lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, default=_json_default)


def _json_default(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot represent {type(value).__name__} in config")
