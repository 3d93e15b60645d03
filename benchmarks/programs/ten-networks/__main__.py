"""Ten production-sized zone networks: about ten times the production stack's resources."""

import pulumi

from components.aws.network import SegmentedNetwork, SegmentedNetworkArgs

copies = int(pulumi.Config().get("copies") or 10)
for index in range(copies):
    SegmentedNetwork(
        f"zone{index}",
        SegmentedNetworkArgs(
            zone="production",
            region="us-east-1",
            cidr_block=f"10.{100 + index}.0.0/16",
            availability_zones=["us-east-1a", "us-east-1b", "us-east-1c"],
            log_retention_days=365,
            interface_services=(
                "ec2", "ecr.api", "ecr.dkr", "sts", "eks", "eks-auth", "elasticloadbalancing", "logs", "kms",
                "secretsmanager", "bedrock-runtime",
            ),
        ),
    )
