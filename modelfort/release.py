"""Release operations on a stack's pinned models, for the CI templates: promote a canary (DP-11) or roll back (DP-12).

Both edit `stacks/Pulumi.<stack>.yaml` in place, keeping its comments, and change nothing else; the result then goes
through the gate, a `pulumi preview --policy-pack` and an approved `pulumi up` like any other change.

- `promote-canary`: the canary's version, image and root digest become the release; the canary block is removed.
- `rollback`: if a canary runs, remove it (traffic returns to the pinned release at once); otherwise restore the
  model's previous pinned release from git history, the last one that differs from today's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

MODELS_KEY = "modelfort:models"
RELEASE_FIELDS = ("version", "image", "rootDigest")


class ReleaseError(Exception):
    """The requested release operation does not apply to this stack (no such model, no canary, no history)."""


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def _model(document: Any, model: str) -> Any:
    models = (document.get("config") or {}).get(MODELS_KEY) or []
    for entry in models:
        if entry.get("name") == model:
            return entry
    raise ReleaseError(f"{MODELS_KEY} has no model named {model!r}")


def promote_canary(text: str, model: str) -> str:
    document = _yaml().load(text)
    entry = _model(document, model)
    canary = entry.get("canary")
    if not canary:
        raise ReleaseError(f"model {model!r} has no canary to promote")
    for field in RELEASE_FIELDS:
        entry[field] = canary[field]
    del entry["canary"]
    return _dump(document)


def rollback(text: str, model: str, history: list[str]) -> str:
    """`history` holds earlier versions of the stack file, newest first."""
    document = _yaml().load(text)
    entry = _model(document, model)
    if entry.get("canary"):
        del entry["canary"]
        return _dump(document)
    current = tuple(entry.get(f) for f in RELEASE_FIELDS)
    for old_text in history:
        try:
            old = _model(_yaml().load(old_text), model)
        except ReleaseError:
            continue
        previous = tuple(old.get(f) for f in RELEASE_FIELDS)
        if previous != current and all(previous):
            for field, value in zip(RELEASE_FIELDS, previous):
                entry[field] = value
            return _dump(document)
    raise ReleaseError(f"no earlier release of {model!r} in this stack's history to roll back to")


def _dump(document: Any) -> str:
    out = StringIO()
    _yaml().dump(document, out)
    return out.getvalue()


def git_history(path: Path, limit: int = 50) -> list[str]:
    """Earlier committed versions of `path`, newest first (the working copy excluded)."""
    commits = subprocess.run(
        ["git", "log", f"-{limit}", "--format=%H", "--", path.name], cwd=path.parent, capture_output=True, text=True, check=True
    ).stdout.split()
    texts = []
    for commit in commits:
        shown = subprocess.run(["git", "show", f"{commit}:./{path.name}"], cwd=path.parent, capture_output=True, text=True)
        if shown.returncode == 0:
            texts.append(shown.stdout)
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelfort.release", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("promote-canary", "rollback"))
    parser.add_argument("--stack", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--stacks-dir", default="stacks")
    args = parser.parse_args(argv)
    path = Path(args.stacks_dir) / f"Pulumi.{args.stack}.yaml"
    if not path.is_file():
        print(f"modelfort release: {path} does not exist", file=sys.stderr)
        return 2
    try:
        text = path.read_text()
        if args.action == "promote-canary":
            updated = promote_canary(text, args.model)
        else:
            updated = rollback(text, args.model, git_history(path))
    except ReleaseError as error:
        print(f"modelfort release: {error}", file=sys.stderr)
        return 1
    path.write_text(updated)
    print(f"{args.action}: {args.model} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
