"""ModelPerimeter: a VPC Service Controls perimeter around the zone's project (WP-02, WP-03, NB-03).

Inside the perimeter, the restricted services (Cloud Storage, KMS, Secret Manager, Artifact Registry, ...) accept
requests only from inside it: stolen credentials used from anywhere else get nothing, and nothing inside can copy
weights to a bucket in another project. VPCs inside may call only the restricted services (through the restricted VIP
the zone's network already uses).

A perimeter belongs to the organization's access policy (`accessPolicies/<number>`), which a project-level stack
cannot create. Until the stack names it, the zone uses `ACCESS_POLICY_PLACEHOLDER`, which Google rejects: the deploy
fails closed rather than running the zone without its perimeter (docs/gcp.md, "VPC Service Controls").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.gcp.common import child_options

ACCESS_POLICY_PLACEHOLDER = "accessPolicies/SET_MODELFORT_ACCESS_POLICY"
"""Not a valid policy name on purpose (they are numeric): see the module docstring."""
_ACCESS_POLICY = re.compile(r"^accessPolicies/[0-9]+$")
RESTRICTED_SERVICES = (
    # Where the zone keeps weights, signatures, keys, secrets and images (the policy pack requires these four at least).
    "storage.googleapis.com",
    "cloudkms.googleapis.com",
    "secretmanager.googleapis.com",
    "artifactregistry.googleapis.com",
    # What reads or moves them.
    "containerregistry.googleapis.com",
    "container.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "binaryauthorization.googleapis.com",
    "containeranalysis.googleapis.com",
    "iamcredentials.googleapis.com",
    "sts.googleapis.com",
    "modelarmor.googleapis.com",
    "aiplatform.googleapis.com",
)


@dataclass(frozen=True, kw_only=True)
class ModelPerimeterArgs:
    zone: str
    project_number: pulumi.Input[str]
    """The zone project's number (perimeters list projects by number)."""
    access_policy: str = ACCESS_POLICY_PLACEHOLDER
    """The organization's access policy, `accessPolicies/<number>`. Defaults to ACCESS_POLICY_PLACEHOLDER, which
    fails the deploy until it is set."""
    extra_restricted_services: Sequence[str] = ()
    """Services restricted beyond RESTRICTED_SERVICES, which always are. Defaults to none."""
    dry_run: bool = False
    """Escape hatch (weakens WP-02, WP-03): only log what the perimeter would block (a dry-run spec, nothing
    enforced). Defaults to False; at the critical tier a policy blocks it unless waived."""

    def __post_init__(self) -> None:
        if self.access_policy != ACCESS_POLICY_PLACEHOLDER and not _ACCESS_POLICY.match(self.access_policy):
            raise ValueError(f"ModelPerimeterArgs.access_policy: {self.access_policy!r} must look like accessPolicies/123456789")
        for service in self.extra_restricted_services:
            if not service.endswith(".googleapis.com"):
                raise ValueError(f"ModelPerimeterArgs.extra_restricted_services: {service!r} is not a Google API service name")


class ModelPerimeter(pulumi.ComponentResource):
    CONTROLS = ("WP-02", "WP-03", "NB-03")
    perimeter_name: pulumi.Output[str]

    def __init__(self, name: str, args: ModelPerimeterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:ModelPerimeter", name, None, opts)
        child = child_options(self, opts)
        if args.access_policy == ACCESS_POLICY_PLACEHOLDER:
            pulumi.log.warn(
                f"ModelPerimeter {name}: no access policy given; the deploy will fail until the stack sets it "
                "(see docs/gcp.md, VPC Service Controls)", resource=self,
            )
        config = {
            "resources": [pulumi.Output.concat("projects/", args.project_number)],
            "restricted_services": list(dict.fromkeys((*RESTRICTED_SERVICES, *args.extra_restricted_services))),
            "vpc_accessible_services": {"enable_restriction": True, "allowed_services": ["RESTRICTED-SERVICES"]},
        }
        perimeter = gcp.accesscontextmanager.ServicePerimeter(
            f"{name}-perimeter",
            parent=args.access_policy,
            name=f"{args.access_policy}/servicePerimeters/modelfort_{args.zone.replace('-', '_')}",
            title=f"modelfort_{args.zone.replace('-', '_')}",
            description=f"ModelFort zone {args.zone}: weights, keys and secrets reachable only from inside",
            perimeter_type="PERIMETER_TYPE_REGULAR",
            status=None if args.dry_run else config,
            spec=config if args.dry_run else None,
            use_explicit_dry_run_spec=args.dry_run,
            opts=child,
        )
        self.perimeter_name = perimeter.name
        self.register_outputs({"perimeter_name": self.perimeter_name})
