"""Runs one Pulumi Python program under mocks, as `pulumi preview` runs it, and records every resource.

It runs in a child process of the gate, inside the program's own interpreter
(`python -m _modelfort_gate_child.program_runner JOB.json RESULT.json`): a program may print, leak global state, or
exit; none of that can reach the gate's own verdict. The result file holds each resource as the engine would send it
to a policy pack (engine property names, secrets and unknowns in their wire encodings, resource references as ids),
plus its parent, provider and dependencies; `mock_gaps` (outputs and invokes nothing could answer) and
`unexpandable` (objects that exist but cannot be computed offline, such as a Helm chart's).

What the engine does and the SDK's mock monitor does not, the monitor here does: it runs resource transforms (the
resource's own, its ancestors', the stack's) and invoke transforms, answers Kubernetes YAML and kustomize decoding,
and expands the provider-side yaml/v2 and kustomize/v2 components into the objects they declare.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import runpy
import sys
import threading
import traceback
from typing import Any

from google.protobuf import json_format

import pulumi
import pulumi.runtime
from pulumi.invoke import InvokeTransformArgs
from pulumi.runtime import rpc
from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from . import kubernetes_expand as k8s
from . import lazy_imports
from .mocks import RealisticMocks

RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d"
STACK_TYPE = "pulumi:pulumi:Stack"


class RecordingMonitor(MockMonitor):
    """A mock monitor that behaves as the engine does towards the program, and keeps what the engine would know."""

    def __init__(self, mocks: RealisticMocks) -> None:
        super().__init__(mocks)
        self.mocks: RealisticMocks = mocks
        self.recorded: list[dict[str, Any]] = []
        self.unexpandable: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._stack_transform_tokens: list[str] = []
        self._inherited: dict[str, list[str]] = {}
        """URN -> the transform callback tokens that apply to its children (its own, then its ancestors')."""
        mocks.invoke_handlers.update({
            k8s.YAML_DECODE: self._yaml_decode,
            k8s.KUSTOMIZE_DIRECTORY: self._kustomize_directory,
            k8s.HELM_TEMPLATE: self._helm_template,
        })

    # ------------------------------------------------------------------------------------------- resources
    def RegisterResource(self, request):  # noqa: N802 (the gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            self._record(urn, request, None)
            return resource_pb2.RegisterResourceResponse(urn=urn)
        _ensure_event_loop()
        own = [c.token for c in request.transforms]
        chain = own + self._inherited.get(request.parent, [])
        with self._lock:
            self._inherited[urn] = chain
        request = self._transformed(request, chain + self._stack_transform_tokens)
        # A provider is handed the referenced resource's id or URN, never a live resource object; rebuilding one
        # here would start a lookup on this worker thread's event loop, which the program's loop cannot await.
        inputs = rpc.deserialize_properties(_struct(_engine_properties(json_format.MessageToDict(request.object))))
        args = MockResourceArgs(typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
                                resource_id=request.importId, custom=request.custom or False)
        resource_id, state = self.mocks.answer_resource(args, remote=bool(request.remote))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, state)
        record = self._record(urn, request, resource_id)
        if request.remote:
            record["expanded"] = self._expand_remote(urn, request, inputs)
        obj = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=obj)

    def RegisterStackTransform(self, request):  # noqa: N802
        with self._lock:
            self._stack_transform_tokens.append(request.token)
        return super().RegisterStackTransform(request)

    def _transformed(self, request, tokens: list[str]):
        """The registration after every transform, in the engine's order: the resource's own, its parents'
        (nearest first), then the stack's. Each sees the previous one's result."""
        if not tokens:
            return request
        properties, options = request.object, resource_pb2.TransformResourceOptions()
        for token in tokens:
            callback = _callback(token)
            if callback is None:
                raise RuntimeError(f"transform callback {token} is not served by this program")
            call = resource_pb2.TransformRequest(type=request.type, name=request.name, custom=request.custom,
                                                 parent=request.parent, properties=properties, options=options)
            response = _sync_await(callback(call.SerializeToString()))
            properties = response.properties
            if response.HasField("options"):
                options = response.options
        changed = resource_pb2.RegisterResourceRequest()
        changed.CopyFrom(request)
        changed.object.CopyFrom(properties)
        return changed

    def _record(self, urn: str, request, resource_id: str | None, properties: dict | None = None) -> dict[str, Any]:
        record = {
            "urn": urn,
            "type": request.type,
            "name": request.name,
            "custom": bool(request.custom),
            "remote": bool(request.remote),
            "parent": request.parent,
            "provider": request.provider,
            "id": resource_id or "",
            "properties": properties if properties is not None else _engine_properties(json_format.MessageToDict(request.object)),
            "dependencies": list(request.dependencies),
            "propertyDependencies": {k: list(v.urns) for k, v in request.propertyDependencies.items()},
            "protect": bool(request.protect),
        }
        with self._lock:
            self.recorded.append(record)
        return record

    def _expand_remote(self, urn: str, request, inputs: dict[str, Any]) -> bool:
        """Provider-side components: register the objects they declare as their children, or say why not.
        True when the component's children were all registered here (the record's `expanded`)."""
        typ = request.type
        if typ == k8s.V2_HELM_CHART:
            self._unexpandable(urn=urn, kind="helm-chart", detail=f"chart {inputs.get('chart')!r}: rendering a Helm chart needs the chart and Helm")
            return False
        if typ not in k8s.V2_YAML_COMPONENTS and typ != k8s.V2_KUSTOMIZE:
            return False
        try:
            objects = k8s.v2_objects(typ, inputs)
        except k8s.Unexpandable as reason:
            self._unexpandable(urn=urn, kind="kustomize" if typ == k8s.V2_KUSTOMIZE else "yaml", detail=str(reason))
            return False
        prefix = inputs.get("resourcePrefix")
        prefix = request.name if prefix is None else str(prefix)
        for obj in objects:
            child = resource_pb2.RegisterResourceRequest(type=k8s.type_token(obj), name=k8s.child_name(prefix, obj),
                                                         parent=urn, custom=True, provider=request.provider)
            child_urn = self.make_urn(urn, child.type, child.name)
            args = MockResourceArgs(typ=child.type, name=child.name, inputs=dict(obj), provider=child.provider,
                                    resource_id="", custom=True)
            resource_id, state = self.mocks.answer_resource(args, remote=False)
            self.resources[child_urn] = MockMonitor.ResourceRegistration(child_urn, resource_id, state)
            self._record(child_urn, child, resource_id, properties=_plain(obj))
        return True

    def _unexpandable(self, **entry: str) -> None:
        with self._lock:
            self.unexpandable.append(entry)

    # ------------------------------------------------------------------------------------------- invokes
    def Invoke(self, request):  # noqa: N802
        if not getattr(self, "_stack_invoke_transforms", None):
            return super().Invoke(request)
        _ensure_event_loop()
        args = rpc.deserialize_properties(request.args)
        for transform in list(getattr(self, "_stack_invoke_transforms", ())):
            result = transform(InvokeTransformArgs(token=request.tok, args=args, opts=pulumi.InvokeOptions()))
            if asyncio.iscoroutine(result):
                result = _sync_await(result)
            if result is not None:
                args = result.args
        changed = resource_pb2.ResourceInvokeRequest()
        changed.CopyFrom(request)
        changed.args.CopyFrom(_sync_await(rpc.serialize_properties(args, {})))
        return super().Invoke(changed)

    def _yaml_decode(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"result": k8s.decode(str(args.get("text") or ""))}

    def _kustomize_directory(self, args: dict[str, Any]) -> dict[str, Any]:
        directory = str(args.get("directory") or "")
        try:
            return {"result": k8s.kustomize_directory(directory)}
        except k8s.Unexpandable as reason:
            self._unexpandable(token=k8s.KUSTOMIZE_DIRECTORY, kind="kustomize", detail=str(reason))
            return {"result": []}

    def _helm_template(self, args: dict[str, Any]) -> dict[str, Any]:
        options = args.get("jsonOpts")
        try:
            chart = json.loads(options).get("chart") if isinstance(options, str) else None
        except ValueError:
            chart = None
        self._unexpandable(token=k8s.HELM_TEMPLATE, kind="helm-template",
                           detail=f"chart {chart!r}: rendering a Helm chart needs the chart and Helm, which an offline run does not have")
        return {"result": []}


def _callback(token: str):
    for servicer in _CallbackServicer._servicers:
        callback = servicer._callbacks.get(token)
        if callback is not None:
            return callback
    return None


def _plain(value: Any) -> Any:
    """A decoded YAML object as the engine would carry it: JSON types only (YAML dates and the like as strings)."""
    return json.loads(json.dumps(value, default=str))


def _struct(value: dict[str, Any]):
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _engine_properties(value: Any) -> Any:
    """Resource references become the referenced resource's id (custom) or URN, as engines send them to analyzers;
    secrets, unknowns and assets keep their wire encodings, which the policy SDK decodes."""
    if isinstance(value, dict):
        if value.get(SPECIAL_SIG_KEY) == RESOURCE_REF_SIG:
            return value.get("id") or value.get("urn")
        return {k: _engine_properties(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_engine_properties(v) for v in value]
    return value


async def _run_program(path: str) -> None:
    # The language host runs a program inside the event loop, and SDK calls such as register_invoke_transform
    # rely on that (they wait for pending registrations first): run it the same way.
    runpy.run_path(path, run_name="__main__")
    await pulumi.runtime.stack.wait_for_rpcs()


def run(job: dict[str, Any]) -> dict[str, Any]:
    # The mocks read the SDKs from executor threads while the program uses them from the main one.
    lazy_imports.install()
    program_dir = os.path.abspath(job["program_dir"])
    os.chdir(program_dir)
    sys.path.insert(0, program_dir)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    pulumi.runtime.set_all_config(job["config"], job.get("secret_keys", []))
    mocks = RealisticMocks(region=job.get("region"))
    monitor = RecordingMonitor(mocks)
    # `pulumi preview` is what the gate stands in for: programs see is_dry_run() as they would there.
    pulumi.runtime.set_mocks(mocks, project=job["project"], stack=job["stack"], preview=True, monitor=monitor)

    error: dict[str, Any] | None = None
    try:
        # A program's prints must not be mistaken for the gate's output.
        with contextlib.redirect_stdout(sys.stderr):
            loop.run_until_complete(_run_program(os.path.join(program_dir, job.get("main", "__main__.py"))))
    except BaseException as exc:  # noqa: BLE001 - every failure, SystemExit included, is reported, never swallowed
        error = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
            "exit_code": getattr(exc, "gate_exit_code", None),
        }
    return {
        "resources": monitor.recorded,
        "error": error,
        "unanswered_invokes": sorted(set(mocks.unanswered_invokes)),
        "mock_gaps": list(mocks.mock_gaps),
        "unexpandable": list(monitor.unexpandable),
    }


def main(argv: list[str]) -> int:
    job_path, result_path = argv
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    result = run(job)
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
