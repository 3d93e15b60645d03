"""Readers shared by the Google Cloud rules: durations, resource references, labels. Missing means absent, never secure.

GCP resources refer to each other by id, self link or bare name (`projects/p/global/networks/n`,
`https://www.googleapis.com/compute/v1/projects/p/global/networks/n`, `n`). During a real preview the id of a new
resource is unknown, so a reference is first matched through the engine's property dependencies and only then by
comparing known literal values.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.props import as_int, as_list, as_mappings, referenced
from modelfort_policy.rule import StackResource

NETWORK = "gcp:compute/network:Network"
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"
ROUTE = "gcp:compute/route:Route"
GLOBAL_ADDRESS = "gcp:compute/globalAddress:GlobalAddress"
BUCKET = "gcp:storage/bucket:Bucket"
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
DATA_CLASS_LABEL = "modelfort-data-class"
WEIGHTS, SIGNATURES = "model-weights", "model-signatures"
RESTRICTED_VIP = ipaddress.ip_network("199.36.153.4/30")
SECONDS_PER_DAY = 86_400
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)s\s*$")


def of_type(resources: Sequence[StackResource], *types: str) -> list[StackResource]:
    return [r for r in resources if r.resource_type in types]


def seconds(value: Any) -> int | None:
    """A duration as GCP writes it ('7776000s'), or a plain number of seconds (as a string or a number)."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return int(float(match.group(1)))
        return int(value) if value.strip().isdigit() else None
    return as_int(value)


def days_text(value_seconds: int) -> str:
    days = value_seconds / SECONDS_PER_DAY
    return f"{days:g} days"


def label(resource: Any, key: str) -> str | None:
    labels = resource.props.get("labels") or {}
    value = labels.get(key) if hasattr(labels, "get") else None
    return value if isinstance(value, str) else None


def data_class(bucket: Any) -> str | None:
    return label(bucket, DATA_CLASS_LABEL)


def is_set(mapping: Any, key: str) -> bool:
    """Whether `mapping[key]` has a value. A value unknown during preview is computed from another resource (a key's
    id, a service account's email), so it will have one: unknown counts as set, never as a reason to fail."""
    if not hasattr(mapping, "get"):
        return False
    try:
        return bool(mapping.get(key))
    except UnknownValueError:
        return True


def known(read: Callable[[], Any]) -> Any:
    """`read()`, or None when it touches a value unknown during preview ("cannot tell" is never a match)."""
    try:
        return read()
    except UnknownValueError:
        return None


def _literal_names(resource: StackResource) -> set[str]:
    """The ways a program may name `resource` literally: its id, self link and name (when known)."""
    names: set[str] = set()
    for key in ("id", "selfLink", "name"):
        value = _known(resource.props, key)
        if isinstance(value, str) and value:
            names.add(value)
    return names


def _known(props: Any, key: str) -> Any:
    return known(lambda: props.get(key))


def same_resource(value: Any, target: StackResource) -> bool:
    """Does a literal reference (id, self link or bare name) name `target`?"""
    if not isinstance(value, str) or not value:
        return False
    names = _literal_names(target)
    if value in names:
        return True
    tail = value.rstrip("/").rsplit("/", 1)[-1]
    return any(name.rstrip("/").rsplit("/", 1)[-1] == tail for name in names if "/" in value or "/" in name)


def points_to(
    resource: StackResource, prop: str, target: StackResource, literals: Callable[[], Iterable[Any]] | None = None
) -> bool:
    """`resource.prop` was computed from `target` (property dependency), or names it literally. `literals` reads the
    literal references inside `prop` when they are nested (e.g. networks[].networkUrl); it is only called when no
    dependency matched, and a value unknown during preview is no match."""
    if any(dep.urn == target.urn for dep in referenced(resource, prop)):
        return True
    values = known(lambda: list(literals())) if literals is not None else [_known(resource.props, prop)]
    return any(same_resource(value, target) for value in values or [])


def default_pool_node_config(props: Any) -> Any:
    """The node config a GKE cluster's default pool runs with: None when the pool is removed and none was given,
    "missing" when the pool stays without one (Google's defaults: the Compute Engine default service account)."""
    config = props.get("nodeConfig")
    if config is None and props.get("removeDefaultNodePool") is True:
        return None
    return config if config is not None else "missing"


def node_config_problems(config: Any, where: str) -> list[str]:
    """What a GKE node configuration (a cluster's default pool or a node pool) lacks."""
    if not hasattr(config, "get"):
        return [f"{where} has no node_config: its nodes would run as the Compute Engine default service account "
                "without secure boot"]
    problems = []
    shielded = config.get("shieldedInstanceConfig") or {}
    if shielded.get("enableSecureBoot") is not True:
        problems.append(f"{where} must enable secure boot (shielded_instance_config.enable_secure_boot)")
    if shielded.get("enableIntegrityMonitoring") is False:
        problems.append(f"{where} turns integrity monitoring off")
    mode = (config.get("workloadMetadataConfig") or {}).get("mode")
    if mode != "GKE_METADATA":
        problems.append(f"{where} exposes node metadata to pods (workload_metadata_config.mode is {mode or 'unset'}, not GKE_METADATA)")
    account = known(lambda: config.get("serviceAccount"))
    if not is_set(config, "serviceAccount") or (isinstance(account, str) and (
            account == "default" or account.endswith("-compute@developer.gserviceaccount.com"))):
        problems.append(f"{where} runs as the Compute Engine default service account (Editor on the project); use a "
                        "least-privilege one")
    image = config.get("imageType")
    if image is not None and not str(image).upper().startswith("COS"):
        problems.append(f"{where} uses image {image!r}; model nodes run Container-Optimized OS (minimal, read-only root)")
    if not is_set(config, "bootDiskKmsKey"):
        problems.append(f"{where} must encrypt boot disks with a customer-managed key (boot_disk_kms_key)")
    return problems


def accelerators(config: Any) -> list[Any]:
    return as_mappings(config.get("guestAccelerators")) if hasattr(config, "get") else []


def strings(value: Any) -> list[str]:
    return [str(item) for item in as_list(value)]
