"""The gcp-production zone, built by GcpZone, with the guard's telemetry routing undone one way at a time, chosen by
config `telemetry-mutant:mutation` ("none" for the zone as it is).

GuardTelemetryLog has no switch that turns its routing off, so each mutation is what a program (or a stack transform
someone adds) could do beside the component: disable the sink or the exclusion, point them at another container,
unlock the bucket. Every one must be blocked by the gate. "on-call" is no mutation: it gives the zone on-call
endpoints (the stack config refuses modelfort:onCall on GCP until the zone pages), for the component tests.
"""

import dataclasses

import pulumi
import pulumi.runtime.config as runtime_config

from components.config import parse_stack_config
from components.gcp.zone import GcpZone

SINK = "gcp:logging/projectSink:ProjectSink"
EXCLUSION = "gcp:logging/projectExclusion:ProjectExclusion"
LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
TELEMETRY_SINK, EXCLUSION_NAME, BUCKET = "production-guard-telemetry-sink", "production-guard-telemetry-not-in-default", "production-guard-telemetry-bucket"
# mutation -> (type, resource name, properties it changes)
MUTATIONS = {
    "telemetry-sink-disabled": (SINK, TELEMETRY_SINK, lambda p: {"disabled": True}),
    "telemetry-sink-other-container": (SINK, TELEMETRY_SINK, lambda p: {"filter": p["filter"].replace('"guard"', '"server"')}),
    "telemetry-sink-stderr-only": (SINK, TELEMETRY_SINK, lambda p: {"filter": p["filter"].replace("/logs/stdout", "/logs/stderr")}),
    "telemetry-bucket-unlocked": (LOG_BUCKET, BUCKET, lambda p: {"locked": False}),
    "default-exclusion-disabled": (EXCLUSION, EXCLUSION_NAME, lambda p: {"disabled": True}),
    "default-exclusion-some-lines": (EXCLUSION, EXCLUSION_NAME, lambda p: {"filter": p["filter"] + ' AND jsonPayload.x_outcome="refused"'}),
}
PASSING = ("none", "on-call")
KNOWN = {*MUTATIONS, *PASSING}
ON_CALL = (("email", "secops@example.com"), ("https", "https://pager.example.com/hook"))

mutation = pulumi.Config("telemetry-mutant").require("mutation")
if mutation not in KNOWN:
    raise ValueError(f"telemetry-mutant:mutation: unknown mutation {mutation!r}")

if mutation in MUTATIONS:
    kind, target, change = MUTATIONS[mutation]

    def mutate(args: pulumi.ResourceTransformArgs):
        if args.type_ != kind or args.name != target:
            return None
        props = dict(args.props)
        return pulumi.ResourceTransformResult({**props, **change(props)}, args.opts)

    pulumi.runtime.register_resource_transform(mutate)

# The stack config is a zone's (the tests give gcp-production's), plus this program's key.
raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
config = parse_stack_config({k: v for k, v in raw.items() if not k.startswith("telemetry-mutant:")}, pulumi.get_stack())
if mutation == "on-call":
    config = dataclasses.replace(config, on_call=ON_CALL)
GcpZone(config)
