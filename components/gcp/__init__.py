"""ModelFort components for Google Cloud: the same zone as on AWS, built from GCP's own controls.

SegmentedNetwork (VPC, restricted Google APIs, DNS), GpuCluster and GpuNodePool (private GKE), WeightsBucket and
ModelReferenceStore (Cloud Storage with CMEK; locked signatures), SecretRotation and RotatedSecret (Secret Manager),
ImageTrust (Artifact Registry and Binary Authorization), EvidenceLog (locked log bucket), ModelGuardrails (Model Armor),
ModelPerimeter (VPC Service Controls), GuardTelemetryLog (the guards' telemetry in locked storage, its write-failure
alert), TelemetryWatch (partitioned detection on Pub/Sub with per-caller state in Cloud Storage), and GcpZone, which
composes them for a stack.
"""

from components.gcp.evidence import EvidenceLog, EvidenceLogArgs
from components.gcp.gke_cluster import GpuCluster, GpuClusterArgs
from components.gcp.gke_node_pool import GpuNodePool, GpuNodePoolArgs
from components.gcp.model_armor import ModelGuardrails, ModelGuardrailsArgs
from components.gcp.network import SegmentedNetwork, SegmentedNetworkArgs
from components.gcp.perimeter import ModelPerimeter, ModelPerimeterArgs
from components.gcp.reference_store import ModelReferenceStore, ModelReferenceStoreArgs
from components.gcp.secrets import RotatedSecret, RotatedSecretArgs, SecretRotation, SecretRotationArgs
from components.gcp.supply_chain import ImageTrust, ImageTrustArgs
from components.gcp.telemetry_routing import GuardTelemetryLog, GuardTelemetryLogArgs
from components.gcp.telemetry_watch import TelemetryWatch, TelemetryWatchArgs
from components.gcp.weights import WeightsBucket, WeightsBucketArgs
from components.gcp.zone import GcpZone

__all__ = [
    "EvidenceLog", "EvidenceLogArgs", "GcpZone", "GpuCluster", "GpuClusterArgs", "GpuNodePool", "GpuNodePoolArgs",
    "ImageTrust", "ImageTrustArgs", "ModelGuardrails", "ModelGuardrailsArgs", "ModelPerimeter", "ModelPerimeterArgs",
    "ModelReferenceStore", "ModelReferenceStoreArgs", "RotatedSecret", "RotatedSecretArgs", "SecretRotation",
    "SecretRotationArgs", "SegmentedNetwork", "SegmentedNetworkArgs", "GuardTelemetryLog", "GuardTelemetryLogArgs",
    "TelemetryWatch", "TelemetryWatchArgs", "WeightsBucket", "WeightsBucketArgs",
]
