"""Start a policy pack the way the Pulumi CLI does, and talk to it over the analyzer gRPC protocol.

The CLI's `pulumi-analyzer-policy-python` shim runs `python -u -m pulumi.policy <engine> <pack-dir>` with the stack's
project, name, dry-run flag and config in the environment; the pack prints its port and serves `Analyzer`. Doing the
same here (with the pack's own interpreter, see environments.py) tests the pack as shipped, including a third party's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, plugin_pb2

from modelfort.gate.environments import pack_interpreter

# Generous on purpose: a pack that imports a large dependency tree on a loaded CI machine can take a minute to print
# its port, and a verdict must never depend on machine load. A pack that is truly stuck still fails, and says so.
STARTUP_TIMEOUT_SECONDS = 180
CALL_TIMEOUT_SECONDS = 180
TRACEBACK_WAIT_SECONDS = 10
# A traceback frame: `  File "/path/to/rules/storage.py", line 12, in bucket_is_private`.
TRACEBACK_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)', re.MULTILINE)
# Frames of the machinery between the gRPC call and the policy: never the policy's own code.
MACHINERY_PATHS = ("/grpc/", "/pulumi_policy/", "/pulumi/", "/concurrent/", "/threading.py", "/asyncio/")
# `python -u -m pulumi.policy`, as the CLI's shim runs it, plus one thing: the gRPC server logs a policy's exception
# with its traceback only to a logger with no handler, so the pack's stderr would say nothing about where it failed.
# A stderr handler on the root logger makes that traceback visible, so a crash report can name the failing code.
PACK_BOOTSTRAP = (
    "import logging, runpy, sys; logging.basicConfig(level=logging.WARNING, stream=sys.stderr); "
    "sys.argv[0] = 'pulumi.policy'; runpy.run_module('pulumi.policy', run_name='__main__', alter_sys=True)"
)
# The pack needs an engine address argument; nothing in a policy run dials it unless a policy logs through the engine.
UNUSED_ENGINE_ADDRESS = "127.0.0.1:0"

ENFORCEMENT_NAMES = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
SEVERITY_NAMES = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "unspecified",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}


class PackError(RuntimeError):
    """The pack failed to start, crashed, or answered a call with an error: the gate cannot judge, so it fails."""


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement: str
    severity: str
    tags: tuple[str, ...]
    remediation: str
    framework_reference: str
    kind: str  # "resource" or "stack"


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    policies: dict[str, PolicyInfo]


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    pack: str
    message: str
    enforcement: str
    severity: str
    urn: str
    stage: str  # "resource" (Analyze) or "stack" (AnalyzeStack)


@dataclass
class PackProcess:
    """A running policy pack. Use as a context manager; the process never outlives the gate."""

    pack_dir: str
    project: str
    stack: str
    config: Mapping[str, str]
    secret_keys: Iterable[str] = ()
    python: str | None = None
    """The pack's interpreter; None: the pack's own environment as environments.pack_interpreter chooses it."""
    _process: subprocess.Popen | None = field(default=None, init=False)
    _channel: grpc.Channel | None = field(default=None, init=False)
    _stderr: list[str] = field(default_factory=list, init=False)
    stub: analyzer_pb2_grpc.AnalyzerStub | None = field(default=None, init=False)

    def __enter__(self) -> "PackProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        if self.python is None:
            self.python = pack_interpreter(self.pack_dir).python
        env = {
            **os.environ,
            "PULUMI_PROJECT": self.project,
            "PULUMI_STACK": self.stack,
            "PULUMI_DRY_RUN": "true",
            "PULUMI_CONFIG": json.dumps(dict(self.config)),
            "PULUMI_CONFIG_SECRET_KEYS": json.dumps(list(self.secret_keys)),
        }
        self._process = subprocess.Popen(
            [self.python, "-u", "-c", PACK_BOOTSTRAP, UNUSED_ENGINE_ADDRESS, self.pack_dir],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def connect(self) -> None:
        """Wait for the port the pack prints, then open the channel. Separate from start() so the gate can run the
        program while the pack starts."""
        assert self._process is not None and self._process.stdout is not None
        port_line: list[str] = []
        reader = threading.Thread(target=lambda: port_line.append(self._process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(STARTUP_TIMEOUT_SECONDS)
        line = port_line[0].strip() if port_line else ""
        if not line.isdigit():
            self._process.kill()
            self._process.wait(5)
            why = (f"it printed {line!r} instead of a port" if port_line else
                   f"it printed no port within {STARTUP_TIMEOUT_SECONDS}s (slow to import, or stuck)")
            raise PackError(f"policy pack {self.pack_dir} did not start with {self.python}: {why}:\n{self.stderr_text()}")
        self._channel = grpc.insecure_channel(f"127.0.0.1:{int(line)}")
        try:
            grpc.channel_ready_future(self._channel).result(timeout=STARTUP_TIMEOUT_SECONDS)
        except grpc.FutureTimeoutError as error:
            raise PackError(
                f"policy pack {self.pack_dir} printed port {line} but its gRPC server was not ready within "
                f"{STARTUP_TIMEOUT_SECONDS}s:\n{self.stderr_text()}"
            ) from error
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def _drain_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self._stderr.append(line)

    def _traceback_since(self, seen: int) -> str:
        """The pack logs the traceback before it answers with the error, so it is already in the pipe; the drain
        thread may still be reading it. Wait for it a bounded while; without it the message still names the resource."""
        deadline = time.monotonic() + TRACEBACK_WAIT_SECONDS
        while time.monotonic() < deadline:
            text = "".join(self._stderr[seen:])
            if "Traceback" in text and TRACEBACK_FRAME.search(text.split("Traceback", 1)[1]) and text.endswith("\n") and \
                    not text.rstrip("\n").splitlines()[-1].startswith(" "):
                return text
            time.sleep(0.05)
        return "".join(self._stderr[seen:])

    def stderr_text(self) -> str:
        return "".join(self._stderr[-200:]).strip()

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)

    # ------------------------------------------------------------------------------------------ protocol
    def _call(self, method: str, request: Any) -> Any:
        assert self.stub is not None, "connect() first"
        try:
            return getattr(self.stub, method)(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            raise PackError(f"policy pack failed in {method}: {error.details()}\n{self.stderr_text()}") from error

    def handshake(self, program_dir: str) -> None:
        """Newer engines handshake first; packs built on SDKs without it answer UNIMPLEMENTED, which the CLI accepts."""
        assert self.stub is not None
        request = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address=UNUSED_ENGINE_ADDRESS, root_directory=program_dir, program_directory=program_dir
        )
        try:
            self.stub.Handshake(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PackError(f"policy pack failed in Handshake: {error.details()}") from error

    def analyzer_info(self) -> PackInfo:
        info = self._call("GetAnalyzerInfo", empty_pb2.Empty())
        policies = {}
        for policy in info.policies:
            policies[policy.name] = PolicyInfo(
                name=policy.name,
                description=policy.description,
                enforcement=ENFORCEMENT_NAMES.get(policy.enforcementLevel, "advisory"),
                severity=SEVERITY_NAMES.get(policy.severity, "unspecified"),
                tags=tuple(policy.tags),
                remediation=policy.remediation_steps,
                framework_reference=policy.framework.reference,
                kind="stack" if policy.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
            )
        return PackInfo(name=info.name, version=info.version, policies=policies)

    def configure(self, info: PackInfo) -> None:
        """Send each policy its own default level, as the CLI does when no policy config file is given."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for policy in info.policies.values():
            level = next(k for k, v in ENFORCEMENT_NAMES.items() if v == policy.enforcement)
            request.policyConfig[policy.name].CopyFrom(analyzer_pb2.PolicyConfig(enforcementLevel=level))
        self._call("Configure", request)

    def configure_stack(self) -> None:
        request = analyzer_pb2.AnalyzerStackConfigureRequest(stack=self.stack, project=self.project, dry_run=True)
        for key, value in self.config.items():
            request.config[key] = value
        request.config_secret_keys.extend(self.secret_keys)
        self._call("ConfigureStack", request)

    def analyze(self, resource: Mapping[str, Any]) -> list[Diagnostic]:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource["type"],
            properties=_struct(resource["properties"]),
            urn=resource["urn"],
            name=resource["name"],
            options=analyzer_pb2.AnalyzerResourceOptions(parent=resource.get("parent", ""), protect=resource.get("protect", False)),
        )
        seen = len(self._stderr)
        try:
            response = self._call("Analyze", request)
        except PackError as error:
            raise PackError(
                f"policy pack crashed analyzing {resource['urn']} (type {resource['type']})"
                f"{policy_hint(self._traceback_since(seen))}: {error}"
            ) from error
        # Resource policies report without a URN; the engine attributes them to the resource analyzed.
        return [_diagnostic(d, "resource", default_urn=resource["urn"]) for d in response.diagnostics]

    def analyze_stack(self, resources: Iterable[Mapping[str, Any]]) -> list[Diagnostic]:
        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in resources:
            entry = request.resources.add(
                type=resource["type"],
                properties=_struct(resource["properties"]),
                urn=resource["urn"],
                name=resource["name"],
                parent=resource.get("parent", ""),
                options=analyzer_pb2.AnalyzerResourceOptions(parent=resource.get("parent", ""), protect=resource.get("protect", False)),
            )
            entry.dependencies.extend(resource.get("dependencies", []))
            for prop, urns in resource.get("propertyDependencies", {}).items():
                entry.propertyDependencies[prop].urns.extend(urns)
        response = self._call("AnalyzeStack", request)
        return [_diagnostic(d, "stack") for d in response.diagnostics]


def policy_hint(traceback_text: str) -> str:
    """The pack SDK's gRPC error says only the exception ("Exception calling application: ..."); it does not name the
    policy. The traceback the pack logs does name the function and file that raised: report the innermost frame that
    is not gRPC or SDK machinery, and say it is taken from the traceback."""
    frames = [m for m in TRACEBACK_FRAME.finditer(traceback_text) if not any(p in m["file"] for p in MACHINERY_PATHS)]
    if not frames:
        return ""
    frame = frames[-1]
    return f"; the pack's traceback ends in {frame['function']}() at {frame['file']}:{frame['line']}"


def _struct(properties: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(dict(properties), struct)
    return struct


def _diagnostic(d: Any, stage: str, default_urn: str = "") -> Diagnostic:
    return Diagnostic(
        policy=d.policyName,
        pack=d.policyPackName,
        message=d.message,
        enforcement=ENFORCEMENT_NAMES.get(d.enforcementLevel, "advisory"),
        severity=SEVERITY_NAMES.get(d.severity, "unspecified"),
        urn=d.urn or default_urn,
        stage=stage,
    )


__all__ = ["Diagnostic", "PackError", "PackInfo", "PackProcess", "PolicyInfo", "plugin_pb2"]
