"""Model services are never exposed through an Ingress or a Gateway API route (NB-05, NB-09, NB-03).

A model is reached only through the authenticated private endpoint (the gateway in front of ModelServing). An
Ingress or an HTTPRoute/GRPCRoute/TLSRoute/TCPRoute pointed at the model's Service skips that gateway: no
authentication, no rate limit, no request-size limit. A model service is a Service that selects model pods: its
selector names the model label (ModelServing's does), or it selects the pods of a workload that carries it.

Backends are matched to Services by property dependency (works while names are unknown at preview) or by name. A
backend whose name is not known yet cannot be proven harmless, so it is judged as a model service (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.pod_specs import pod_templates
from modelfort_policy.props import as_mappings, referenced
from modelfort_policy.rule import Context, Finding, Rule, StackResource
from modelfort_policy.tiers import STANDARD

SERVICE = "kubernetes:core/v1:Service"
INGRESS_TYPES = frozenset({"kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:networking.k8s.io/v1beta1:Ingress",
                           "kubernetes:extensions/v1beta1:Ingress"})
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute")
MODEL_LABEL = "modelfort.io/model"


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(resource: StackResource) -> Any:
    try:
        return _map(resource.props.get("metadata")).get("name")
    except UnknownValueError:
        return None


def is_route(resource_type: str) -> bool:
    """Gateway API routes of any version (v1, v1beta1, v1alpha2), as typed resources or generic CustomResources."""
    return resource_type.startswith("kubernetes:gateway.networking.k8s.io/") and resource_type.rsplit(":", 1)[-1] in ROUTE_KINDS


def _read(read: Any) -> Any:
    """A value that may be unknown during a real preview: unknown is None, which the caller treats as suspect."""
    try:
        return read()
    except UnknownValueError:
        return None


def _backends(resource: StackResource) -> list[Any]:
    spec = _map(_read(lambda: resource.props.get("spec")))
    if resource.resource_type in INGRESS_TYPES:
        backends = [_read(lambda: spec.get("defaultBackend") or spec.get("backend"))]
        for rule in as_mappings(_read(lambda: spec.get("rules"))):
            paths = as_mappings(_read(lambda r=rule: _map(r.get("http")).get("paths")))
            backends += [_read(lambda p=p: p.get("backend")) for p in paths]
        return [(b, lambda b=b: _map(b.get("service")).get("name") or b.get("serviceName")) for b in backends]
    refs = [ref for rule in as_mappings(_read(lambda: spec.get("rules"))) for ref in as_mappings(_read(lambda r=rule: r.get("backendRefs")))]
    return [(ref, lambda ref=ref: ref.get("name")) for ref in refs if _read(lambda ref=ref: ref.get("kind", "Service")) in ("Service", None)]


def backend_names(resource: StackResource) -> list[Any]:
    """The Service names an Ingress or route sends traffic to (None where a name is not known yet)."""
    names = []
    for backend, name in _backends(resource):
        if backend is None:
            continue  # no backend at this place (an Ingress without a default backend)
        names.append(_read(name))
    return names


def _model_pod_labels(resources: Sequence[StackResource]) -> list[Mapping[str, Any]]:
    return [_map(t.metadata.get("labels")) for r in resources for t in pod_templates(r.resource_type, r.props)
            if MODEL_LABEL in _map(t.metadata.get("labels"))]


def is_model_service(service: StackResource, model_pods: list[Mapping[str, Any]]) -> bool:
    selector = _map(_map(service.props.get("spec")).get("selector"))
    if MODEL_LABEL in selector:
        return True
    return bool(selector) and any(all(labels.get(k) == v for k, v in selector.items()) for labels in model_pods)


def check_model_not_exposed(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    model_pods = _model_pod_labels(resources)
    models = [s for s in resources if s.resource_type == SERVICE and is_model_service(s, model_pods)]
    by_name = {n: s for s in models if isinstance(n := _name(s), str)}
    model_urns = {s.urn for s in models}
    for route in resources:
        if route.resource_type not in INGRESS_TYPES and not is_route(route.resource_type):
            continue
        kind = route.resource_type.rsplit(":", 1)[-1]
        via_dependency = [d for d in referenced(route, "spec") if d.urn in model_urns]
        if via_dependency:
            yield Finding(f"{kind} '{route.name}' exposes model Service '{via_dependency[0].name}' around the "
                          "authenticated private endpoint.", route.urn)
            continue
        for name in backend_names(route):
            if not isinstance(name, str):
                yield Finding(f"{kind} '{route.name}' sends traffic to a Service whose name is not known: it cannot be "
                              "shown not to be a model service.", route.urn)
            elif name in by_name:
                yield Finding(f"{kind} '{route.name}' exposes model Service '{name}' around the authenticated private "
                              "endpoint.", route.urn)


RULES = (
    Rule(
        name="k8s-model-service-not-exposed",
        description="No Ingress or Gateway API route sends traffic to a model Service (models are reached through the "
        "authenticated private endpoint only).",
        severity="critical",
        controls=("NB-05", "NB-09", "NB-03"),
        remediation="Remove the Ingress or route; publish the model through ModelServing's private endpoint and the "
        "authenticated gateway.",
        mandatory_from=STANDARD,
        stack_check=check_model_not_exposed,
    ),
)
