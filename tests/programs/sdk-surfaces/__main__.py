"""Reads, from many SDK surfaces, values a real program builds on, and reports what it saw in one ConfigMap.

Each read is one that programs tripped on when the mocks answered only hand-written types: every value must be
known and realistic for the program to carry on, as it would under `pulumi preview` against the real providers.
"""

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

service = k8s.core.v1.Service("web", spec={"type": "LoadBalancer", "ports": [{"port": 443}], "selector": {"app": "web"}})
release = k8s.helm.v3.Release("ingress", chart="ingress-nginx", version="4.11.0",
                              repository_opts={"repo": "https://kubernetes.github.io/ingress-nginx"})
api = aws.apigatewayv2.Api("api", protocol_type="HTTP")
database = gcp.sql.DatabaseInstance("db", database_version="POSTGRES_15", region="europe-west1",
                                    settings={"tier": "db-f1-micro"})
password = random.RandomPassword("admin", length=24)
key = tls.PrivateKey("signing", algorithm="ECDSA", ecdsa_curve="P256")
image = docker.RemoteImage("base", name="nginx:1.27")

ami = aws.ec2.get_ami(most_recent=True, owners=["amazon"], filters=[{"name": "name", "values": ["al2023-ami-*"]}])
vpc = aws.ec2.get_vpc(default=True)
subnets = aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": [vpc.id]}])
credentials = aws.ecr.get_credentials(registry_id="123456789012")
token = aws.ecr.get_authorization_token()
zone = aws.route53.get_zone(name="example.com.")

observed = {
    "dry_run": str(pulumi.runtime.is_dry_run()),
    "service_ip": service.status.load_balancer.ingress[0].ip,
    "release_status": release.status.status,
    "release_namespace": release.status.namespace,
    "execution_arn": api.execution_arn,
    "connection_name": database.connection_name,
    "password_length": password.result.apply(lambda v: str(len(v))),
    "public_key_pem": key.public_key_pem,
    "image_repo_digest": image.repo_digest,
    "ami_id": ami.id,
    "ami_image_id": ami.image_id,
    "vpc_id": vpc.id,
    "vpc_cidr": vpc.cidr_block,
    "subnet_ids": ",".join(subnets.ids),
    "ecr_token": credentials.authorization_token,
    "ecr_endpoint": token.proxy_endpoint,
    "zone_id": zone.zone_id,
    "zone_name": zone.name,
}
k8s.core.v1.ConfigMap("observed", metadata={"name": "observed", "namespace": "default"}, data=observed)
