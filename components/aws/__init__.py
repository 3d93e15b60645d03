"""ModelFort components for AWS."""

from components.aws.network import SegmentedNetwork, SegmentedNetworkArgs
from components.aws.zone import AwsZone

__all__ = ["AwsZone", "SegmentedNetwork", "SegmentedNetworkArgs"]
