"""Reads a remote component's outputs, as programs using awsx.ec2.Vpc or eks.Cluster do."""

import json

import pulumi
import pulumi_kubernetes as k8s

import fakenet

vpc = fakenet.Vpc("network", cidr_block="10.40.0.0/16")
k8s.core.v1.ConfigMap("observed", metadata={"name": "observed", "namespace": "default"}, data={
    "vpc_id": vpc.vpc_id,
    "public_subnets": vpc.public_subnet_ids.apply(",".join),
    "private_subnets": vpc.private_subnet_ids.apply(",".join),
    "kubeconfig_server": vpc.kubeconfig.apply(lambda k: k["clusters"][0]["cluster"]["server"]),
    "dry_run": str(pulumi.runtime.is_dry_run()),
})
