"""The ModelFort program: read and validate the stack's config, then build its zone."""

import pulumi

from components.composer import compose_zone
from components.config import load_stack_config

config = load_stack_config()
zone = compose_zone(config)

pulumi.export("zone", config.zone)
pulumi.export("tier", config.profile.tier)
pulumi.export("vpc_id", zone.network.vpc_id)
pulumi.export("weights_bucket", zone.weights.bucket_name)
pulumi.export("reference_store_bucket", zone.reference_store.bucket_name)
pulumi.export("signing_key_arn", zone.reference_store.signing_key_arn)
