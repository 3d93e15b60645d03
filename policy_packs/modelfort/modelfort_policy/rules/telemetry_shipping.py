"""Guard telemetry leaves the node, and only guard telemetry (OB-01, OB-04).

On EKS the shipping agent is the managed add-on `amazon-cloudwatch-observability`, whose Fluent Bit config comes from
its `configurationValues` (the chart's values: `containerLogs.fluentBit.config.extraFiles`, one Fluent Bit file per
key, and `containerLogs.fluentBit.config.service`). This module reads that config as Fluent Bit would and judges:

- **Where it ships.** Every output is `cloudwatch_logs` into a zone's `/modelfort/<zone>/inference-telemetry` (the
  guard's stdout, as raw lines: `log_key log`) or `/modelfort/<zone>/guard-diagnostics` (its stderr) group, never
  creating a group. The chart's own default files (`application-log.conf`, `dataplane-log.conf`, `host-log.conf`)
  must be replaced: Helm merges maps, so a file left out stays in, and the default application file tails every
  container into `/aws/containerinsights/<cluster>/application`, prompts included.
- **What it reads.** Every input tails guard container logs only (`/var/log/containers/*_<ns>_guard-*.log`); the
  records a telemetry output takes pass a grep filter on `stream ^stdout$` and on the schema marker
  (`log ^\\{"schema_version"...`), the records a diagnostics output takes one on `stream ^stderr$`; no other
  filter touches guard records (it could rewrite or re-tag them after the check).
- **Who ships.** The add-on has its own role (`serviceAccountRoleArn`), not the node's.

A config the gate cannot read (computed at deploy time, not JSON, an @INCLUDE of a file it does not hold) is a
violation: an unseen filter is not a filter. A stack-level rule adds that an EKS stack running the guard has the
add-on on its cluster, tailing the guard's namespace and container.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.props import known_copy, referenced
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.rules.eks import CLUSTER
from modelfort_policy.rules.k8s_guard import _pod_containers
from modelfort_policy.rules.kubernetes import Cluster, _known, is_guard_container
from modelfort_policy.tiers import STANDARD

ADDON = "aws:eks/addon:Addon"
ADDON_NAME = "amazon-cloudwatch-observability"
CHART_DEFAULT_FILES = ("application-log.conf", "dataplane-log.conf", "host-log.conf")
TELEMETRY_GROUP = re.compile(r"/modelfort/(?P<zone>[a-z0-9][a-z0-9-]*)/inference-telemetry")
DIAGNOSTICS_GROUP = re.compile(r"/modelfort/(?P<zone>[a-z0-9][a-z0-9-]*)/guard-diagnostics")
GUARD_PATH = re.compile(r"/var/log/containers/\*_(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?)_(?P<container>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-\*\.log")
MARKER_PREFIX = '^\\{"schema_version"'
"""How a schema-marker regex must open: anchored at the line's start, on the key every telemetry event opens with."""
TRUE_WORDS = frozenset({"true", "on", "yes", "1"})
UNSEEN = "is computed at deploy time (unknown at preview), so the gate cannot show what the agent ships"


@dataclass
class Section:
    kind: str
    entries: list[tuple[str, str]]
    where: str

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.entries if k.lower() == key.lower()), None)

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.entries if k.lower() == key.lower()]


@dataclass
class ShippingConfig:
    sections: list[Section] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Section]:
        return [s for s in self.sections if s.kind == kind]


def parse_fluent_bit(text: str, where: str, files: Mapping[str, str], config: ShippingConfig, depth: int = 0) -> None:
    """Fluent Bit's classic format: `[KIND]` headers, `key value` lines, `#` comments, `@SET` and `@INCLUDE`."""
    current: Section | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("@INCLUDE"):
            name = line.split(None, 1)[1].strip() if len(line.split(None, 1)) > 1 else ""
            if name in files and depth < 4:
                parse_fluent_bit(files[name], name, files, config, depth + 1)
            elif name not in files:
                config.problems.append(f"{where} includes '{name}', a file the gate does not hold, so cannot judge")
            continue
        if line.upper().startswith("@SET"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = Section(line[1:-1].strip().upper(), [], where)
            config.sections.append(current)
            continue
        if current is None:
            config.problems.append(f"{where} has a setting outside any section: {line[:60]!r}")
            continue
        key, _, value = line.partition(" ")
        current.entries.append((key.strip(), value.strip()))


def read_config(values: Any) -> ShippingConfig:
    """The agent's Fluent Bit config from configurationValues (already parsed JSON)."""
    config = ShippingConfig()
    container_logs = values.get("containerLogs") if isinstance(values, Mapping) else None
    container_logs = container_logs if isinstance(container_logs, Mapping) else {}
    if container_logs.get("enabled") is False:
        config.problems.append("containerLogs.enabled is false: the agent ships no guard telemetry at all")
        return config
    fluent = container_logs.get("fluentBit") if isinstance(container_logs.get("fluentBit"), Mapping) else {}
    chart = fluent.get("config") if isinstance(fluent.get("config"), Mapping) else {}
    files = chart.get("extraFiles") if isinstance(chart.get("extraFiles"), Mapping) else {}
    files = {str(k): v for k, v in files.items()}
    for name in CHART_DEFAULT_FILES:
        if name not in files:
            config.problems.append(f"containerLogs.fluentBit.config.extraFiles does not replace the chart's '{name}', so "
                                   "its default stays in (the default application file ships every container's logs, "
                                   "prompts in the guard's included, to /aws/containerinsights/<cluster>/application)")
    for name, text in files.items():
        if not isinstance(text, str):
            config.problems.append(f"extraFiles '{name}' is not a Fluent Bit file (a string)")
            continue
        parse_fluent_bit(text, name, {k: v for k, v in files.items() if isinstance(v, str)}, config)
    service = chart.get("service")
    if isinstance(service, str):
        parse_fluent_bit(service, "service", {}, config)
    return config


def _match_regex(pattern: str) -> re.Pattern[str]:
    """A Fluent Bit `Match` pattern: `*` is the only wildcard."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _applies(section: Section, tag: str) -> bool:
    match, match_regex = section.get("Match"), section.get("Match_Regex")
    if match is not None and _match_regex(match).fullmatch(tag):
        return True
    if match_regex is not None:
        try:
            return re.search(match_regex, tag) is not None
        except re.error:
            return True  # unreadable: assume it applies
    return False


def _sample_tag(section: Section) -> str:
    """The tag tail gives a record: its `Tag` with `*` replaced by the file's path ('/' as '.')."""
    tag = section.get("Tag") or "tail.0"
    return tag.replace("*", "var.log.containers.pod_ns_guard-0123abcd.log")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_WORDS


def _grep_rules(section: Section) -> list[tuple[str, str]]:
    rules = []
    for value in section.all("Regex"):
        key, _, regex = value.partition(" ")
        rules.append((key.strip(), regex.strip()))
    return rules


def _input_problems(section: Section) -> Iterable[str]:
    name = (section.get("Name") or "").lower()
    if name != "tail":
        yield f"input '{section.get('Name')}' in {section.where} reads more than the guard's container logs (only tail inputs on them)"
        return
    paths = [p.strip() for p in (section.get("Path") or "").split(",") if p.strip()]
    wide = [p for p in paths if not GUARD_PATH.fullmatch(p) or GUARD_PATH.fullmatch(p).group("container") != "guard"]
    if not paths or wide:
        yield (f"tail input '{section.get('Tag')}' in {section.where} reads {', '.join(wide) or 'no path'}: only the guard "
               "containers' logs (/var/log/containers/*_<namespace>_guard-*.log) may be tailed")


def _records_filtered(config: ShippingConfig, source: Section, stream: str, marker: bool) -> list[str]:
    """What is wrong with the records of `source` before an output takes them: a grep on the stream (and marker)."""
    tag = _sample_tag(source)
    filters = [f for f in config.of("FILTER") if _applies(f, tag)]
    problems = [f"filter '{f.get('Name')}' in {f.where} also acts on guard records (it may rewrite or re-tag them after "
                "the check): only grep filters may" for f in filters if (f.get("Name") or "").lower() != "grep"]
    greps = [f for f in filters if (f.get("Name") or "").lower() == "grep"]
    problems += [f"grep filter in {f.where} joins its rules with Logical_Op {f.get('Logical_Op')}: each rule must hold"
                 for f in greps if (f.get("Logical_Op") or "and").strip().lower() != "and"]
    rules = [rule for f in greps for rule in _grep_rules(f)]
    if ("stream", f"^{stream}$") not in rules:
        problems.append(f"records of input '{source.get('Tag')}' are not kept to {stream} (grep `Regex stream ^{stream}$`)")
    if marker and not any(key == "log" and regex.startswith(MARKER_PREFIX) for key, regex in rules):
        problems.append(f"records of input '{source.get('Tag')}' are not kept to telemetry lines (grep `Regex log "
                        f"{MARKER_PREFIX}...`): every other stdout line of the guard would be shipped as telemetry")
    return problems


def _output_problems(config: ShippingConfig, output: Section, ctx: Context) -> Iterable[str]:
    name = (output.get("Name") or "").lower()
    where = f"output '{output.get('Name')}' in {output.where}"
    if name != "cloudwatch_logs":
        yield f"{where} ships guard logs somewhere other than the zone's CloudWatch log groups"
        return
    group = output.get("log_group_name") or ""
    telemetry, diagnostics = TELEMETRY_GROUP.fullmatch(group), DIAGNOSTICS_GROUP.fullmatch(group)
    found = telemetry or diagnostics
    if found is None:
        yield (f"{where} ships to '{group or output.get('log_group_template') or 'no group'}', not a zone's "
               "/modelfort/<zone>/inference-telemetry or /modelfort/<zone>/guard-diagnostics group")
        return
    if ctx.zone is not None and found.group("zone") != ctx.zone:
        yield f"{where} ships to '{group}', a group of zone '{found.group('zone')}', not of this zone ('{ctx.zone}')"
    if _truthy(output.get("auto_create_group")):
        yield f"{where} may create its log group (auto_create_group): a typo would ship evidence to an unencrypted, unretained group"
    if telemetry and output.get("log_key") != "log":
        yield f"{where} ships records wrapped in the agent's own JSON: set `log_key log` so the group holds the guard's events"
    sources = [i for i in config.of("INPUT") if _applies(output, _sample_tag(i))]
    if not sources:
        yield f"{where} takes no input's records"
    for source in sources:
        yield from _records_filtered(config, source, "stdout" if telemetry else "stderr", marker=bool(telemetry))


def check_telemetry_shipped(resource: Resource, ctx: Context) -> Iterable[str]:
    seen: set[str] = set()
    for message in _shipping_problems(resource, ctx):
        if message not in seen:  # a filter that acts on several outputs' records is one problem
            seen.add(message)
            yield message


def _shipping_problems(resource: Resource, ctx: Context) -> Iterable[str]:
    props = resource.props
    try:
        name = props.get("addonName")
    except UnknownValueError:
        yield f"add-on '{resource.name}': its name {UNSEEN}."
        return
    if name != ADDON_NAME:
        return
    where = f"add-on '{resource.name}' ({ADDON_NAME})"
    try:
        role = props.get("serviceAccountRoleArn")
    except UnknownValueError:
        role = "computed"  # a role computed at deploy time is still the add-on's own role
    if not role:
        yield (f"{where} has no serviceAccountRoleArn: the agent would ship with the node's role, which every pod on "
               "the node can use.")
    try:
        raw = props.get("configurationValues")
    except UnknownValueError:
        yield f"{where}: configurationValues {UNSEEN}."
        return
    if not raw:
        yield (f"{where} runs the chart's default config: every container's logs, the guard's prompts included, go to "
               "/aws/containerinsights/<cluster>/application, and no telemetry reaches the zone's telemetry group.")
        return
    try:
        values = json.loads(raw) if isinstance(raw, str) else known_copy(raw)
    except ValueError:
        yield f"{where}: configurationValues is not JSON, so the gate cannot show what the agent ships."
        return
    config = read_config(values)
    for problem in config.problems:
        yield f"{where}: {problem}."
    for section in config.of("INPUT"):
        for problem in _input_problems(section):
            yield f"{where}: {problem}."
    outputs = config.of("OUTPUT")
    for output in outputs:
        for problem in _output_problems(config, output, ctx):
            yield f"{where}: {problem}."
    if not any(TELEMETRY_GROUP.fullmatch(o.get("log_group_name") or "") for o in outputs) and not config.problems:
        yield f"{where} ships nothing to a /modelfort/<zone>/inference-telemetry group: guard telemetry never leaves the node."


# ---------------------------------------------------------------------------------------------------- whole stack
def _telemetry_paths(addon: StackResource) -> list[tuple[str, list[str]]] | None:
    """(Path, Exclude_Path globs) of the tail inputs feeding a telemetry output; None when the config is unreadable."""
    try:
        raw = addon.props.get("configurationValues")
        values = json.loads(raw) if isinstance(raw, str) else None
    except (UnknownValueError, ValueError):
        return None
    if not isinstance(values, Mapping):
        return None
    config = read_config(values)
    outputs = [o for o in config.of("OUTPUT") if TELEMETRY_GROUP.fullmatch(o.get("log_group_name") or "")]
    found = []
    for source in config.of("INPUT"):
        if any(_applies(o, _sample_tag(source)) for o in outputs):
            excludes = [p.strip() for p in (source.get("Exclude_Path") or "").split(",") if p.strip()]
            found += [(p.strip(), excludes) for p in (source.get("Path") or "").split(",") if p.strip()]
    return found


def _guards(cluster: Cluster) -> list[tuple[StackResource, str | None, str | None]]:
    """(workload, namespace, guard container name) for each pod that runs the guard; unknown parts are None."""
    found = []
    for workload in cluster.workloads:
        try:
            guards = [c for c in _pod_containers(workload.template.spec) if is_guard_container(c)]
        except UnknownValueError:
            found.append((workload.resource, None, None))
            continue
        for guard in guards:
            name = _known(lambda g=guard: g.get("name"))
            found.append((workload.resource, workload.namespace, name if isinstance(name, str) else None))
    return found


def _on_cluster(addon: StackResource, cluster: StackResource) -> bool:
    if any(dep.urn == cluster.urn for dep in referenced(addon, "clusterName")):
        return True
    name, cluster_name = _known(lambda: addon.props.get("clusterName")), _known(lambda: cluster.props.get("name"))
    return isinstance(name, str) and name == cluster_name


def check_guard_telemetry_leaves_the_node(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    clusters = [r for r in resources if r.resource_type == CLUSTER]
    if not clusters:
        return
    guards = _guards(Cluster(resources))
    if not guards:
        return
    addons = [r for r in resources if r.resource_type == ADDON and _known(lambda r=r: r.props.get("addonName")) == ADDON_NAME]
    # Which cluster a pod runs on is the Kubernetes provider's business, which the gate does not follow: every EKS
    # cluster of a stack that runs the guard needs the add-on.
    for cluster in clusters:
        mine = [a for a in addons if _on_cluster(a, cluster)]
        if not mine:
            yield Finding(f"EKS cluster '{cluster.name}' runs the inference guard ({len(guards)} pod template(s)) and has no "
                          f"{ADDON_NAME} add-on: telemetry would never leave the node (no evidence, no detectors).",
                          cluster.urn)
            continue
        tailed = [paths for paths in map(_telemetry_paths, mine) if paths is not None]
        if not tailed:
            continue  # eks-telemetry-shipped-guard-only reports an unreadable config
        globs = [entry for paths in tailed for entry in paths]
        for workload, namespace, container in guards:
            if namespace is None or container is None:
                yield Finding(f"{workload.resource_type.rsplit(':', 1)[-1]} '{workload.name}': its namespace or guard "
                              f"container name {UNSEEN.replace('agent ships', 'agent tails it')}.", workload.urn)
                continue
            sample = f"/var/log/containers/pod-0_{namespace}_{container}-0123456789abcdef.log"
            if not any(fnmatchcase(sample, path) and not any(fnmatchcase(sample, ex) for ex in excludes) for path, excludes in globs):
                yield Finding(f"{workload.resource_type.rsplit(':', 1)[-1]} '{workload.name}': the {ADDON_NAME} add-on does "
                              f"not tail container '{container}' in namespace '{namespace}': its telemetry would never "
                              "leave the node.", workload.urn)


RULES = (
    Rule(
        name="eks-telemetry-shipped-guard-only",
        description="The EKS add-on amazon-cloudwatch-observability, when present, ships the guard's telemetry lines "
        "(stdout lines with the schema marker) to the zone's inference-telemetry group and its stderr to the zone's "
        "guard-diagnostics group, nothing else anywhere, with a role of its own; the chart's default files are replaced.",
        severity="high",
        controls=("OB-01", "OB-04", "OB-02"),
        remediation="Use TelemetryShipping, or give the add-on a serviceAccountRoleArn and configurationValues whose "
        "containerLogs.fluentBit.config.extraFiles replace application-log.conf, dataplane-log.conf and host-log.conf "
        "and tail only /var/log/containers/*_<namespace>_guard-*.log, grep `stream ^stdout$` and "
        "`log ^\\{\"schema_version\":`, into /modelfort/<zone>/inference-telemetry with log_key log.",
        mandatory_from=STANDARD,
        resource_types=frozenset({ADDON}),
        resource_check=check_telemetry_shipped,
    ),
    Rule(
        name="eks-guard-telemetry-leaves-the-node",
        description="A stack that runs the inference guard on an EKS cluster installs the amazon-cloudwatch-observability "
        "add-on on that cluster, tailing the guard container of each guard pod's namespace.",
        severity="high",
        controls=("OB-01",),
        remediation="Add TelemetryShipping for the cluster (AwsZone does), with the namespace and guard container name "
        "of the model pods.",
        mandatory_from=STANDARD,
        stack_check=check_guard_telemetry_leaves_the_node,
    ),
)
