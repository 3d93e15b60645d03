"""How a zone puts its Kubernetes layer on the cluster it built (EKS or GKE): one provider per cluster."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s


def cluster_options(name: str, kubeconfig: pulumi.Input[str], *, parent: pulumi.Resource,
                    after: Sequence[pulumi.Resource]) -> pulumi.ResourceOptions:
    """Resource options that place objects on the cluster `kubeconfig` reaches.

    Server-side apply, so fields other field managers own (the cloud's add-ons, admission defaults) are neither
    clobbered nor fought over; and the provider waits for `after` (the GPU nodes), so nothing is scheduled onto a
    cluster that cannot run it yet.
    """
    provider = k8s.Provider(f"{name}-k8s", kubeconfig=kubeconfig, enable_server_side_apply=True,
                            opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)))
    return pulumi.ResourceOptions(parent=parent, providers={"kubernetes": provider})
