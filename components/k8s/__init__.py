"""ModelFort components for Kubernetes: hardened namespaces, the hardened GPU runtime, and model serving."""

from components.k8s.gpu_runtime import GpuRuntime, GpuRuntimeArgs
from components.k8s.namespace import HardenedNamespace, HardenedNamespaceArgs, IngressSource, NamespaceQuota
from components.k8s.serving import EksPlatform, GkePlatform, ModelServing, ModelServingArgs, SecretFile, split_replicas

__all__ = [
    "EksPlatform",
    "GkePlatform",
    "GpuRuntime",
    "GpuRuntimeArgs",
    "HardenedNamespace",
    "HardenedNamespaceArgs",
    "IngressSource",
    "ModelServing",
    "ModelServingArgs",
    "NamespaceQuota",
    "SecretFile",
    "split_replicas",
]
