"""A pack that crashes when a resource is analyzed: the gate must fail (exit 3), never pass."""

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def explode(args, report_violation):
    raise RuntimeError("policy bug")


PolicyPack(name="crashing", policies=[ResourceValidationPolicy(name="explodes", description="always crashes", validate=explode, enforcement_level=EnforcementLevel.MANDATORY)])
