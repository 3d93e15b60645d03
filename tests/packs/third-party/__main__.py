from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy


def vpc_cidr_is_small(args, report_violation):
    if args.resource_type == "aws:ec2/vpc:Vpc" and args.props.get("cidrBlock", "").endswith("/8"):
        report_violation("VPC is too large")


def at_most_two_vpcs(args, report_violation):
    if sum(1 for r in args.resources if r.resource_type == "aws:ec2/vpc:Vpc") > 2:
        report_violation("too many VPCs")


PolicyPack(
    name="acme-network",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(name="vpc-size", description="VPCs are at most /16", validate=vpc_cidr_is_small),
        StackValidationPolicy(name="vpc-count", description="At most two VPCs", validate=at_most_two_vpcs, enforcement_level=EnforcementLevel.ADVISORY),
    ],
)
