"""The ModelFort program: read and validate the stack's config, then build its zone."""

import pulumi

from components.composer import compose_zone
from components.config import load_stack_config

config = load_stack_config()
zone = compose_zone(config)

pulumi.export("zone", config.zone)
pulumi.export("tier", config.profile.tier)
for key, value in zone.exports.items():
    pulumi.export(key, value)
