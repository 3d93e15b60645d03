"""Secrets rules (SC-01..05): secrets live in Secrets Manager under a customer key, rotate at least as often as the tier
requires from inside the zone, only named readers may read them, idle credentials are revoked for real, and no
credential sits in plain text in stack config or a function's environment.

Judged on raw resources, so programs that do not use RotatedSecret / CredentialJanitor are held to the same bar.
Rotation and janitor functions are recognised by what they do, not by our names: a rotation function is one a
SecretRotation or a Secrets Manager invoke permission points at; a janitor runs `janitor.handler.lambda_handler` or
carries the tag `modelfort:function=credential-janitor`.

No message ever contains a credential: findings name the config key or variable and the kind of credential only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.conditions import is_anyone, narrows_principal
from modelfort_policy.credentials import credential_kind, json_value, leaves
from modelfort_policy.props import as_int, as_list, refers_to
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.tiers import STANDARD

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
STACK = "pulumi:pulumi:Stack"

AWS_MANAGED_SECRETS_KEY = "alias/aws/secretsmanager"
FUNCTION_TAG = "modelfort:function"
ROTATION_FUNCTION, JANITOR_FUNCTION = "secret-rotation", "credential-janitor"
JANITOR_HANDLER = "janitor.handler.lambda_handler"
JANITOR_MAX_IDLE_DAYS = 45
"""CIS AWS Foundations Benchmark 1.12: credentials unused for 45 days or more are disabled."""
JANITOR_MAX_INTERVAL_HOURS = 24
SECRETS_MANAGER_PRINCIPAL = "secretsmanager.amazonaws.com"
READ_ACTIONS = ("secretsmanager:getsecretvalue", "secretsmanager:*", "secretsmanager:get*", "*")


# ------------------------------------------------------------------------------------------------ helpers
def _get(props: Any, key: str, unknown: Any = None) -> Any:
    """A property, or `unknown` when its value is computed at deploy time (a reference to a resource being created)."""
    try:
        return props.get(key)
    except UnknownValueError:
        return unknown


class _Unknown:
    """Marks a value that will exist but is not known at preview (e.g. the ARN of a key being created)."""

    def __bool__(self) -> bool:
        return True


UNKNOWN = _Unknown()


def _tags(resource: Resource) -> Mapping[str, Any]:
    tags = _get(resource.props, "tags") or {}
    return tags if hasattr(tags, "get") else {}


def _statements(document: Any) -> list[Mapping[str, Any]] | None:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return None
    if not hasattr(document, "get"):
        return None
    return [s for s in as_list(document.get("Statement")) if hasattr(s, "get")]


def _env(resource: Resource) -> Mapping[str, Any]:
    environment = _get(resource.props, "environment") or {}
    variables = _get(environment, "variables") if hasattr(environment, "get") else None
    return variables if hasattr(variables, "items") else {}


# ------------------------------------------------------------------------------------------------ SC-03
def check_secret_customer_key(resource: Resource, _ctx: Context) -> Iterable[str]:
    key = _get(resource.props, "kmsKeyId", UNKNOWN)
    if not key:
        yield f"secret '{resource.name}' is encrypted with the AWS-managed key aws/secretsmanager; use a customer-managed key (kms_key_id)."
    elif isinstance(key, str) and key.lower().endswith(AWS_MANAGED_SECRETS_KEY):
        yield f"secret '{resource.name}' names the AWS-managed key {AWS_MANAGED_SECRETS_KEY}; use a customer-managed key."


def check_secret_recoverable(resource: Resource, _ctx: Context) -> Iterable[str]:
    window = as_int(_get(resource.props, "recoveryWindowInDays"))
    if window == 0:
        yield f"secret '{resource.name}' is deleted at once when removed (recovery_window_in_days=0); keep a 7-30 day window."


def check_secret_policy_not_public(resource: Resource, _ctx: Context) -> Iterable[str]:
    document = _get(resource.props, "policy")
    if document is None or isinstance(document, _Unknown):
        return
    statements = _statements(document)
    if statements is None:
        yield f"'{resource.name}': the secret's policy cannot be read as a policy document."
        return
    for statement in statements:
        if statement.get("Effect") != "Allow" or not is_anyone(statement.get("Principal")):
            continue
        actions = [str(a).lower() for a in as_list(statement.get("Action"))]
        if not any(action in READ_ACTIONS for action in actions):
            continue
        if not narrows_principal(statement.get("Condition")):
            yield f"'{resource.name}' lets anyone read the secret (Allow {', '.join(map(str, as_list(statement.get('Action'))))} to Principal *)."


# ------------------------------------------------------------------------------------------------ SC-04
_RATE = re.compile(r"^rate\((?P<count>[1-9][0-9]*) (?P<unit>hours?|days?)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


def schedule_interval_days(expression: str) -> float | None:
    """Longest gap between two runs of a schedule, in days; None when it cannot be told (a policy then refuses it:
    a schedule nobody can read is not evidence of rotation). Handles rate(N hours|days) and the cron forms that
    repeat daily, weekly (day-of-week lists) or monthly (day-of-month lists up to the 28th)."""
    rate = _RATE.match(expression.strip())
    if rate:
        count = int(rate["count"])
        return count / 24 if rate["unit"].startswith("hour") else float(count)
    cron = _CRON.match(expression.strip())
    if not cron:
        return None
    fields = cron["fields"].split()
    if len(fields) != 6:
        return None
    _minute, _hour, dom, month, dow, year = fields
    if month != "*" or year not in ("*", "?"):
        return None
    if dom in ("*", "?") and dow in ("*", "?"):
        return 1.0
    if dom == "?" and dow != "?":
        days = _cron_list(dow, _WEEKDAYS, 1, 7)
        return _max_cyclic_gap(days, 7) if days else None
    if dow == "?" and dom != "*":
        # Days 29-31 are skipped in short months, so only 1-28 are bounded; every month holds those, and the longest
        # wrap-around gap is the one through a 31-day month.
        days = _cron_list(dom, {}, 1, 28)
        return _max_cyclic_gap(days, 31) if days else None
    return None


def _cron_list(field: str, names: Mapping[str, int], low: int, high: int) -> list[int] | None:
    values: set[int] = set()
    for part in field.upper().split(","):
        bounds = part.split("-")
        try:
            numbers = [names[b] if b in names else int(b) for b in bounds]
        except ValueError:
            return None  # steps (/), L, W, # and the like: not evaluated here
        if len(numbers) == 1:
            numbers = numbers * 2
        if len(numbers) != 2 or not low <= numbers[0] <= numbers[1] <= high:
            return None
        values.update(range(numbers[0], numbers[1] + 1))
    return sorted(values)


def _max_cyclic_gap(days: list[int], period: int) -> float:
    gaps = [b - a for a, b in zip(days, days[1:])] + [period - days[-1] + days[0]]
    return float(max(gaps))


def check_secret_rotation(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
    limit = ctx.tier.max_secret_rotation_days
    rotations = [r for r in resources if r.resource_type == SECRET_ROTATION]
    for secret in (r for r in resources if r.resource_type == SECRET):
        mine = [rotation for rotation in rotations if refers_to(rotation, "secretId", secret)]
        if not mine:
            yield Finding(f"secret '{secret.name}' is never rotated; rotate it at least every {limit} days (the {ctx.tier.name} tier).", secret.urn)
        for rotation in mine:
            yield from _rotation_findings(secret, rotation, limit, ctx)


def _rotation_findings(secret: StackResource, rotation: StackResource, limit: int, ctx: Context) -> Iterator[Finding]:
    if _get(rotation.props, "rotationEnabled") is False:
        yield Finding(f"rotation of secret '{secret.name}' is switched off (rotation_enabled=False).", rotation.urn)
        return
    rules = _get(rotation.props, "rotationRules") or {}
    days = as_int(_get(rules, "automaticallyAfterDays")) if hasattr(rules, "get") else None
    expression = _get(rules, "scheduleExpression") if hasattr(rules, "get") else None
    if days is not None:
        interval: float | None = float(days)
        described = f"every {days} days"
    elif isinstance(expression, str):
        interval = schedule_interval_days(expression)
        described = f"on schedule {expression!r}"
        if interval is None:
            yield Finding(
                f"rotation of secret '{secret.name}' uses schedule {expression!r}, which the pack cannot bound; use "
                "automatically_after_days or rate(N days).",
                rotation.urn,
            )
            return
    else:
        yield Finding(f"rotation of secret '{secret.name}' has no schedule (rotation_rules.automatically_after_days).", rotation.urn)
        return
    if interval > limit:
        yield Finding(
            f"secret '{secret.name}' rotates {described}; the {ctx.tier.name} tier requires at least every {limit} days.",
            rotation.urn,
        )


def _rotation_functions(resources: Sequence[StackResource]) -> list[StackResource]:
    functions = [r for r in resources if r.resource_type == FUNCTION]
    found: dict[str, StackResource] = {}
    for resource in resources:
        if resource.resource_type == SECRET_ROTATION:
            prop = "rotationLambdaArn"
        elif resource.resource_type == PERMISSION and _get(resource.props, "principal") == SECRETS_MANAGER_PRINCIPAL:
            prop = "function"
        else:
            continue
        for function in functions:
            if refers_to(resource, prop, function) or _literal_function_match(resource, prop, function):
                found[function.urn] = function
    for function in functions:
        if _tags(function).get(FUNCTION_TAG) == ROTATION_FUNCTION:
            found[function.urn] = function
    return list(found.values())


def _literal_function_match(resource: StackResource, prop: str, function: StackResource) -> bool:
    value = _get(resource.props, prop)
    name = _get(function.props, "name")
    return isinstance(value, str) and isinstance(name, str) and (value == name or value.endswith(f":function:{name}"))


def check_rotation_function_in_vpc(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    for function in _rotation_functions(resources):
        vpc = _get(function.props, "vpcConfig", UNKNOWN)
        if isinstance(vpc, _Unknown):
            continue
        subnets = _get(vpc, "subnetIds", UNKNOWN) if hasattr(vpc, "get") else None
        groups = _get(vpc, "securityGroupIds", UNKNOWN) if hasattr(vpc, "get") else None
        if not subnets or not groups:
            yield Finding(
                f"rotation function '{function.name}' runs outside the zone's VPC; give it the isolated subnets and the "
                "workload security group (vpc_config) so it reaches Secrets Manager through the zone's endpoint.",
                function.urn,
            )


# ------------------------------------------------------------------------------------------------ SC-05
def _is_janitor(resource: Resource) -> bool:
    return _get(resource.props, "handler") == JANITOR_HANDLER or _tags(resource).get(FUNCTION_TAG) == JANITOR_FUNCTION


def check_janitor_enforcing(resource: Resource, _ctx: Context) -> Iterable[str]:
    if not _is_janitor(resource):
        return
    env = _env(resource)
    dry_run = _get(env, "DRY_RUN", UNKNOWN)
    if isinstance(dry_run, _Unknown):
        yield f"credential janitor '{resource.name}': DRY_RUN is computed at deploy time; set it to the literal 'false'."
    elif dry_run is not None and str(dry_run).lower() != "false":
        yield f"credential janitor '{resource.name}' runs in dry-run mode (DRY_RUN={str(dry_run)!r}): it revokes nothing."
    idle = _get(env, "MAX_IDLE_DAYS", UNKNOWN)
    if isinstance(idle, _Unknown):
        yield f"credential janitor '{resource.name}': MAX_IDLE_DAYS is computed at deploy time; set a literal number of days."
    elif idle is not None:
        days = int(idle) if str(idle).isdigit() else None
        if days is None or days > JANITOR_MAX_IDLE_DAYS:
            yield (
                f"credential janitor '{resource.name}' revokes credentials only after MAX_IDLE_DAYS={str(idle)!r}; "
                f"at most {JANITOR_MAX_IDLE_DAYS} (CIS 1.12)."
            )


def _janitor_interval_hours(expression: str) -> float | None:
    days = schedule_interval_days(expression)
    return None if days is None else days * 24


def check_janitor_scheduled(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    rules = [r for r in resources if r.resource_type == EVENT_RULE]
    targets = [r for r in resources if r.resource_type == EVENT_TARGET]
    for function in (r for r in resources if r.resource_type == FUNCTION and _is_janitor(r)):
        schedules = []
        for target in targets:
            if not (refers_to(target, "arn", function) or _literal_function_match(target, "arn", function)):
                continue
            for rule in rules:
                if refers_to(target, "rule", rule) or _same_name(_get(target.props, "rule"), rule):
                    schedules.append(rule)
        runs = []
        for rule in schedules:
            expression = _get(rule.props, "scheduleExpression")
            enabled = _get(rule.props, "state", "ENABLED") != "DISABLED" and _get(rule.props, "isEnabled") is not False
            hours = _janitor_interval_hours(expression) if isinstance(expression, str) else None
            if enabled and hours is not None and hours <= JANITOR_MAX_INTERVAL_HOURS:
                runs.append(rule)
        if not runs:
            yield Finding(
                f"credential janitor '{function.name}' is not run at least daily by an enabled EventBridge schedule "
                "(rate(1 day) or more often); idle credentials would stay active.",
                function.urn,
            )


def _same_name(value: Any, rule: StackResource) -> bool:
    name = _get(rule.props, "name")
    return isinstance(value, str) and isinstance(name, str) and value == name


# ------------------------------------------------------------------------------------------------ SC-01, SC-02
def config_credential_findings(config: Mapping[str, str], secret_keys: Iterable[str] = ()) -> list[str]:
    """Every plaintext credential in stack config, by key path. Values set with `pulumi config set --secret` are
    encrypted in the stack file and skipped (keep them few: RotatedSecret is where credentials belong)."""
    secret = set(secret_keys)
    findings = []
    for key in sorted(config):
        if key in secret:
            continue
        for path, leaf in leaves(key, json_value(config[key])):
            kind = credential_kind(path, leaf)
            if kind:
                findings.append(
                    f"stack config '{path}' holds {kind} in plain text; keep it in a RotatedSecret (or at least "
                    "`pulumi config set --secret`) and rotate it, since it is now in the repository's history."
                )
    return findings


def read_stack_config() -> tuple[dict[str, str], list[str]]:
    """The stack config the engine handed the pack (PULUMI_CONFIG) and which keys are secrets."""
    import pulumi.runtime.config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}, list(runtime_config.get_config_secret_keys_env())


def check_config_credentials(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    config, secret_keys = read_stack_config()
    stack = next((r for r in resources if r.resource_type == STACK), None)
    urn = stack.urn if stack is not None else ""
    for message in config_credential_findings(config, secret_keys):
        yield Finding(message, urn)


def check_function_env_credentials(resource: Resource, _ctx: Context) -> Iterable[str]:
    env = _env(resource)
    for name in sorted(str(key) for key in env.keys()):
        kind = credential_kind(name, _get(env, name))
        if kind:
            yield (
                f"function '{resource.name}' sets environment variable {name} to {kind}; read it from Secrets Manager "
                "at run time instead (environment variables show in the console, the API and crash dumps)."
            )


# ------------------------------------------------------------------------------------------------ rules
RULES = (
    Rule(
        name="secret-customer-key",
        description="Secrets Manager secrets are encrypted with a customer-managed KMS key.",
        severity="high",
        controls=("SC-03",),
        remediation="Use RotatedSecret, or set kms_key_id on aws.secretsmanager.Secret to a rotated customer-managed key.",
        mandatory_from=STANDARD,
        resource_types=frozenset({SECRET}),
        resource_check=check_secret_customer_key,
    ),
    Rule(
        name="secret-recoverable-deletion",
        description="Deleting a secret leaves a recovery window (it is never removed at once).",
        severity="medium",
        controls=("SC-03", "SC-05"),
        remediation="Leave recovery_window_in_days unset (30) or set 7-30; never 0.",
        mandatory_from=STANDARD,
        resource_types=frozenset({SECRET}),
        resource_check=check_secret_recoverable,
    ),
    Rule(
        name="secret-policy-not-public",
        description="No secret policy lets anyone read the secret.",
        severity="critical",
        controls=("SC-03",),
        remediation="Grant reads to named roles (RotatedSecret reader_role_arns + grant_read); keep block_public_policy=True.",
        mandatory_from=STANDARD,
        resource_types=frozenset({SECRET_POLICY, SECRET}),
        resource_check=check_secret_policy_not_public,
    ),
    Rule(
        name="secret-rotation-within-tier",
        description="Every secret rotates automatically, at least as often as the zone's tier requires.",
        severity="high",
        controls=("SC-04",),
        remediation="Use RotatedSecret with the zone's rotation_days, or add aws.secretsmanager.SecretRotation with "
        "rotation_rules.automatically_after_days within the tier's maximum.",
        mandatory_from=STANDARD,
        stack_check=check_secret_rotation,
    ),
    Rule(
        name="rotation-function-in-vpc",
        description="Secret rotation functions run in the zone's VPC, not on the public Lambda network.",
        severity="high",
        controls=("SC-04", "NB-09"),
        remediation="Give the function vpc_config with the zone's isolated subnets and workload security group.",
        mandatory_from=STANDARD,
        stack_check=check_rotation_function_in_vpc,
    ),
    Rule(
        name="credential-janitor-enforcing",
        description="The credential janitor revokes (not just reports) credentials idle for at most 45 days.",
        severity="high",
        controls=("SC-05",),
        remediation="Keep CredentialJanitor's dry_run=False and max_idle_days <= 45, or waive a dry run for a short observation period.",
        mandatory_from=STANDARD,
        resource_types=frozenset({FUNCTION}),
        resource_check=check_janitor_enforcing,
    ),
    Rule(
        name="credential-janitor-scheduled",
        description="The credential janitor runs at least daily from an enabled EventBridge schedule.",
        severity="medium",
        controls=("SC-05",),
        remediation="Use CredentialJanitor (rate(1 day)), or target the function from an EventRule with a daily or more frequent schedule.",
        mandatory_from=STANDARD,
        stack_check=check_janitor_scheduled,
    ),
    Rule(
        name="no-credentials-in-stack-config",
        description="Stack config holds no plaintext credential (access keys, private keys, tokens, secret-like values).",
        severity="critical",
        controls=("SC-01", "SC-03"),
        remediation="Remove the value, rotate the credential (it is in version control), and keep it in a RotatedSecret.",
        mandatory_from=STANDARD,
        stack_check=check_config_credentials,
    ),
    Rule(
        name="no-credentials-in-function-env",
        description="No Lambda function carries a credential in its environment variables.",
        severity="critical",
        controls=("SC-02", "SC-01"),
        remediation="Store the credential in Secrets Manager and read it at run time with the function's role (RotatedSecret.grant_read).",
        mandatory_from=STANDARD,
        resource_types=frozenset({FUNCTION}),
        resource_check=check_function_env_credentials,
    ),
)
