"""The production network with one hardening default turned off, chosen by config `mutant:mutation`.

Every mutation must be blocked by the gate: a hardening knob that no policy catches is a bug.
"""

import dataclasses
import json

import pulumi
import pulumi_aws as aws

from components.aws.access_logs import AccessLogBucket, AccessLogBucketArgs
from components.aws.gpu_cluster import GpuCluster, GpuClusterArgs
from components.aws.gpu_node_pool import GpuNodePool, GpuNodePoolArgs
from components.aws.network import SegmentedNetwork, SegmentedNetworkArgs
from components.aws.reference_store import ModelReferenceStore, ModelReferenceStoreArgs
from components.aws.telemetry_shipping import (
    ADDON_NAME,
    ADDON_VERSION,
    TELEMETRY_FILE,
    TelemetryShipping,
    TelemetryShippingArgs,
    addon_configuration,
)
from components.aws.weights import WeightsBucket, WeightsBucketArgs

BASE = SegmentedNetworkArgs(
    zone="production",
    region="us-east-1",
    cidr_block="10.30.0.0/16",
    availability_zones=["us-east-1a", "us-east-1b", "us-east-1c"],
    log_retention_days=365,
    key_rotation_days=365,
)

# Escape hatches and knobs of the component itself.
ARG_MUTATIONS = {
    "none": {},
    "dns-fail-open": {"allow_dns_firewall_fail_open": True},
    "no-flow-logs": {"enable_flow_logs": False},
    "egress-allowlist": {"egress_allowlist_cidrs": ["198.51.100.0/24"]},
    "extra-dns-domain": {"dns_allowed_domains": ["huggingface.co"]},
    "endpoint-admits-other-zone": {"endpoint_allowed_cidrs": ["10.40.0.0/16"]},
    "short-log-retention": {"log_retention_days": 30},
    "slow-key-rotation": {"key_rotation_days": 730},
}

WEIGHTS_MUTATIONS = {
    "weights-outside-endpoint": {"allow_access_outside_vpc_endpoint": True},
    "weights-slow-key-rotation": {"key_rotation_days": 730},
}
REFERENCE_MUTATIONS = {
    "short-signature-retention": {"retention_days": 30},
    "reference-slow-key-rotation": {"key_rotation_days": 730},
}
LOG_MUTATIONS = {"short-access-log-retention": {"retention_days": 7}}
CLUSTER_MUTATIONS = {
    "public-cluster-endpoint": {"allow_public_endpoint": True},
    "creator-admin": {"grant_creator_admin": True},
    "short-control-plane-logs": {"log_retention_days": 30},
    "cluster-slow-key-rotation": {"key_rotation_days": 730},
}
NODE_MUTATIONS = {"imds-hop-limit-2": {"imds_hop_limit": 2}}
SHIPPING_MUTATIONS = {"shipping-short-log-retention": {"log_retention_days": 30}}
KNOWN = {*ARG_MUTATIONS, *WEIGHTS_MUTATIONS, *REFERENCE_MUTATIONS, *LOG_MUTATIONS, *CLUSTER_MUTATIONS, *NODE_MUTATIONS,
         *SHIPPING_MUTATIONS}

mutation = pulumi.Config().require("mutation")
args = dataclasses.replace(BASE, **ARG_MUTATIONS.get(mutation, {}))
network = SegmentedNetwork("prod-network", args)
logs = AccessLogBucket(
    "prod-access-logs",
    dataclasses.replace(AccessLogBucketArgs(zone="production", retention_days=365), **LOG_MUTATIONS.get(mutation, {})),
)
weights = WeightsBucket(
    "prod-weights",
    dataclasses.replace(
        WeightsBucketArgs(zone="production", region="us-east-1", s3_endpoint_id=network.s3_endpoint_id, access_log_bucket=logs.bucket_name),
        **WEIGHTS_MUTATIONS.get(mutation, {}),
    ),
)
reference = ModelReferenceStore(
    "prod-reference-store",
    dataclasses.replace(
        ModelReferenceStoreArgs(zone="production", region="us-east-1", retention_days=365, access_log_bucket=logs.bucket_name),
        **REFERENCE_MUTATIONS.get(mutation, {}),
    ),
)

cluster = GpuCluster(
    "prod-gpu",
    dataclasses.replace(
        GpuClusterArgs(zone="production", region="us-east-1", vpc_id=network.vpc_id, subnet_ids=network.subnet_ids,
                       vpc_cidr="10.30.0.0/16", log_retention_days=365),
        **CLUSTER_MUTATIONS.get(mutation, {}),
    ),
)
GpuNodePool(
    "prod-gpu-nodes",
    dataclasses.replace(
        GpuNodePoolArgs(zone="production", cluster_name=cluster.cluster_name, subnet_ids=network.subnet_ids,
                        node_security_group_id=cluster.node_security_group_id, kms_key_arn=cluster.kms_key_arn),
        **NODE_MUTATIONS.get(mutation, {}),
    ),
)

# The guard's telemetry shipped off the nodes (the zone's evidence store and on-call topic are given by ARN here).
TELEMETRY_GROUP = "/modelfort/production/inference-telemetry"
TelemetryShipping(
    "prod-telemetry-shipping",
    dataclasses.replace(
        TelemetryShippingArgs(
            zone="production", region="us-east-1", cluster_name=cluster.cluster_name,
            oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer,
            telemetry_log_group_name=TELEMETRY_GROUP,
            telemetry_log_group_arn=f"arn:aws:logs:us-east-1:123456789012:log-group:{TELEMETRY_GROUP}",
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000000",
            alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:modelfort-production-security-alerts",
            log_retention_days=365,
        ),
        **SHIPPING_MUTATIONS.get(mutation, {}),
    ),
)

# A serving role that may read one model's weights, as ModelServing will grant it.
serving_role = aws.iam.Role(
    "serving-role",
    assume_role_policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}',
)
weights.grant_read("serving", serving_role, "models/llama-guard/v3")

# What a program could add beside the component (the pack judges programs, not just components).
if mutation == "internet-gateway":
    igw = aws.ec2.InternetGateway("igw", vpc_id=network.vpc_id)
    aws.ec2.Route("default-route", route_table_id=network.route_table_id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id)
elif mutation == "open-security-group":
    aws.ec2.SecurityGroup("open-sg", vpc_id=network.vpc_id, egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}])
elif mutation == "open-egress-rule-v6":
    aws.vpc.SecurityGroupEgressRule("open-v6", security_group_id=network.workload_security_group_id, cidr_ipv6="::/0", ip_protocol="-1")
elif mutation == "open-nacl-rule":
    aws.ec2.NetworkAclRule("open-nacl", network_acl_id="acl-12345678", rule_number=50, egress=True, protocol="-1", rule_action="allow", cidr_block="0.0.0.0/0")
elif mutation == "public-subnet":
    aws.ec2.Subnet("public", vpc_id=network.vpc_id, cidr_block="10.30.250.0/24", map_public_ip_on_launch=True)
elif mutation == "peering":
    aws.ec2.VpcPeeringConnection("to-testing", vpc_id=network.vpc_id, peer_vpc_id="vpc-0123456789abcdef0")
elif mutation == "transit-gateway":
    aws.ec2transitgateway.VpcAttachment("tgw", vpc_id=network.vpc_id, subnet_ids=network.subnet_ids, transit_gateway_id="tgw-0123456789abcdef0")
elif mutation == "bare-vpc":
    aws.ec2.Vpc("shadow-vpc", cidr_block="10.31.0.0/16")
elif mutation == "endpoint-without-private-dns":
    aws.ec2.VpcEndpoint("sagemaker", vpc_id=network.vpc_id, service_name="com.amazonaws.us-east-1.sagemaker.runtime", vpc_endpoint_type="Interface", private_dns_enabled=False, security_group_ids=[network.endpoint_security_group_id])
elif mutation == "website":
    aws.s3.BucketWebsiteConfiguration("weights-site", bucket=weights.bucket_name, index_document={"suffix": "index.html"})
elif mutation == "public-acl":
    aws.s3.BucketAcl("weights-acl", bucket=weights.bucket_name, acl="public-read")
elif mutation == "public-bucket-policy":
    aws.s3.BucketPolicy("open-policy", bucket=logs.bucket_name, policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}')
elif mutation == "unprotected-bucket":
    aws.s3.Bucket("scratch")
elif mutation == "weights-bucket-bare":
    aws.s3.Bucket("side-weights", tags={"modelfort:data-class": "model-weights"})
elif mutation == "ssh-node-group":
    aws.eks.NodeGroup("ssh-nodes", cluster_name=cluster.cluster_name, node_role_arn="arn:aws:iam::123456789012:role/n", subnet_ids=network.subnet_ids,
                      scaling_config={"min_size": 1, "max_size": 1, "desired_size": 1}, remote_access={"ec2_ssh_key": "ops"})
elif mutation == "untainted-gpu-nodes":
    aws.eks.NodeGroup("bare-gpu-nodes", cluster_name=cluster.cluster_name, node_role_arn="arn:aws:iam::123456789012:role/n", subnet_ids=network.subnet_ids,
                      ami_type="AL2023_x86_64_NVIDIA", scaling_config={"min_size": 1, "max_size": 1, "desired_size": 1})
elif mutation == "imdsv1-template":
    aws.ec2.LaunchTemplate("legacy-template", metadata_options={"http_tokens": "optional"})
elif mutation == "unencrypted-log-group":
    aws.cloudwatch.LogGroup("app-logs", retention_in_days=365)
elif mutation == "open-s3-endpoint":
    aws.ec2.VpcEndpoint("side-door", vpc_id=network.vpc_id, service_name="com.amazonaws.us-east-1.s3",
                        route_table_ids=[network.route_table_id])
elif mutation == "unencrypted-detection-stream":
    aws.kinesis.Stream("caller-events", stream_mode_details={"stream_mode": "ON_DEMAND"})
elif mutation == "aws-managed-stream-key":
    aws.kinesis.Stream("caller-events-managed", encryption_type="KMS", kms_key_id="alias/aws/kinesis",
                       stream_mode_details={"stream_mode": "ON_DEMAND"})
elif mutation == "unencrypted-state-table":
    aws.dynamodb.Table("caller-state", hash_key="caller", attributes=[{"name": "caller", "type": "S"}],
                       billing_mode="PAY_PER_REQUEST")
elif mutation == "aws-managed-state-key":
    aws.dynamodb.Table("caller-state-managed", hash_key="caller", attributes=[{"name": "caller", "type": "S"}],
                       billing_mode="PAY_PER_REQUEST", server_side_encryption={"enabled": True})
elif mutation == "telemetry-default-agent":
    # The log agent with the chart's defaults: every container's stdout, prompts included, to Container Insights.
    aws.eks.Addon("cloudwatch-agent", cluster_name=cluster.cluster_name, addon_name=ADDON_NAME,
                  service_account_role_arn=serving_role.arn)
elif mutation == "telemetry-ships-every-container":
    values = addon_configuration(region="us-east-1", namespace="models", container="guard", telemetry_group=TELEMETRY_GROUP,
                                 diagnostics_group="/modelfort/production/guard-diagnostics")
    files = values["containerLogs"]["fluentBit"]["config"]["extraFiles"]
    lines = [line for line in files[TELEMETRY_FILE].splitlines() if not line.strip().startswith(("Regex", "Exclude_Path"))]
    files[TELEMETRY_FILE] = "\n".join(lines).replace("*_models_guard-*.log", "*.log") + "\n"
    aws.eks.Addon("every-container-agent", cluster_name=cluster.cluster_name, addon_name=ADDON_NAME, addon_version=ADDON_VERSION,
                  service_account_role_arn=serving_role.arn, configuration_values=json.dumps(values))
elif mutation not in KNOWN:
    raise ValueError(f"mutant:mutation: unknown mutation {mutation!r}")
