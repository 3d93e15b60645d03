"""The one credential detector of the pack: every rule that looks for a secret in plain text asks it.

It answers two questions. `credential_kind(name, value)`: does this value (under this key or variable name) look like
a credential? It does when it has a well-known credential shape (the families secret scanners look for), or when a
secret-like name (whole words: `DB_PASSWORD`, `apiKey`, not `tokenizer`) holds a long, random-looking value that
does not name where a secret is kept (an ARN, a Secret Manager path, a template reference). `text_credentials(text)`:
which credentials does a script or file (user data, a startup script, a ConfigMap file) hold, found by shape
anywhere and by `NAME=value` / `NAME: value` assignments.

Only the kind is ever reported, never the value: a report must not leak the credential it found.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

CREDENTIAL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Slack webhook URL", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+")),
    ("an Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("an OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    ("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("a Stripe secret key", re.compile(r"\b[rs]k_live_[A-Za-z0-9]{20,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("an npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}")),
    ("a ModelFort service token", re.compile(r"\bmf_(?:agent|tool|client)_[A-Za-z0-9_-]{43,}")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("a URL with an embedded password", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)),
)
# Whole words of a key or variable name (camelCase, snake_case, kebab-case, dotted), so `tokenizer` or `author` are
# not mistaken for `token` or `auth`.
SECRETISH_WORDS = frozenset({
    "password", "passwd", "passphrase", "pwd", "secret", "secrets", "token", "tokens", "credential", "credentials",
    "auth", "bearer", "dsn", "apikey", "privatekey", "accesskey", "signingkey", "webhook",
})
SECRETISH_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("signing", "key"), ("client", "secret")})
# A value that names where a secret is kept is the right practice, not a leak.
REFERENCE = re.compile(r"^(arn:aws[a-z-]*:|alias/|\{\{resolve:|projects/[^/]+/secrets/|https?://[^@\s]*$|vault:|/|\$\{)", re.IGNORECASE)
MIN_SECRET_LENGTH = 12
MIN_ENTROPY_BITS = 3.0


def credential_kind(name: str, value: Any) -> str | None:
    """What kind of credential `value` looks like, or None. Only the kind is ever reported, never the value."""
    if not isinstance(value, str) or not value:
        return None
    for kind, pattern in CREDENTIAL_PATTERNS:
        if pattern.search(value):
            return kind
    if _secretish(name) and _looks_random(value):
        return "a high-entropy value under a secret-like name"
    return None


def _secretish(name: str) -> bool:
    leaf = re.split(r"[.:/\[\]]", name.rstrip("]"))[-1] or name
    words = [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", leaf)]
    return bool(SECRETISH_WORDS.intersection(words)) or any(pair in SECRETISH_PAIRS for pair in zip(words, words[1:]))


def _looks_random(value: str) -> bool:
    if len(value) < MIN_SECRET_LENGTH or any(c.isspace() for c in value) or REFERENCE.match(value):
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= MIN_ENTROPY_BITS



# `NAME=value`, `export NAME="value"`, `NAME: value` (shell, env files, YAML, properties files), one per line.
ASSIGNMENT = re.compile(r"""(?m)^[ \t]*(?:export[ \t]+|set[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*[=:][ \t]*["']?([^"'\s#]+)""")
MAX_TEXT = 256 * 1024
"""Longer texts are scanned up to here: user data is at most 16 KB, a ConfigMap at most 1 MiB."""


def text_credentials(text: str) -> list[str]:
    """The kinds of credential a free text holds (each kind once, in the order found)."""
    text = text[:MAX_TEXT]
    kinds: list[str] = []
    for kind, pattern in CREDENTIAL_PATTERNS:
        if pattern.search(text) and kind not in kinds:
            kinds.append(kind)
    for match in ASSIGNMENT.finditer(text):
        kind = credential_kind(match.group(1), match.group(2))
        if kind and kind not in kinds:
            kinds.append(kind)
    return kinds


def decoded_base64(value: str) -> str | None:
    """User data arrives base64-encoded in some shapes (launch templates, `user_data_base64`)."""
    try:
        return base64.b64decode(value.strip(), validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None


def json_value(value: Any) -> Any:
    """A JSON document given as a string (ECS and Batch container definitions) as data; anything else unchanged."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def leaves(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    """Every scalar of a nested value with its dotted path (`values.auth.password`, `env[0]`)."""
    if isinstance(value, Mapping):
        for key in value:
            yield from leaves(f"{path}.{key}" if path else str(key), value[key])
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from leaves(f"{path}[{index}]", item)
    else:
        yield path, value
