"""Mocks that answer like the clouds would: ids, ARNs and names in their real formats.

Realistic outputs matter: programs build policies and names from ARNs and ids, and the policy pack reads them.
Every value is derived from the resource's name, so two runs of the same program plan the same stack.

Two layers answer. Hand-written answers cover what decides a verdict (availability zones, prefix lists, caller
identity, the GCP formats, EKS/KMS/S3 specifics). Everything else a resource class or an invoke result type
declares is answered from the SDK's own type information (`sdk_types`, `values`), so a program reading any output
(`svc.status.load_balancer.ingress[0].ip`) continues with a plausible, known value even though the run is a
preview. What neither layer can answer is listed in `mock_gaps`, never silently left empty.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pulumi

from . import sdk_types, values

ACCOUNT_ID = values.ACCOUNT_ID
DEFAULT_REGION = "us-east-1"

# EC2-style id prefixes (aws.ec2 and friends); other resources get a uuid-like or name-based id.
_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/defaultRouteTable:DefaultRouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/networkAcl:NetworkAcl": "acl",
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": "acl",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway": "eigw",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": "pcx",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2transitgateway/transitGateway:TransitGateway": "tgw",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": "tgw-attach",
    "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList": "rslvr-fdl",
    "aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup": "rslvr-frg",
    "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation": "rslvr-frgassoc",
    "aws:route53/resolverFirewallConfig:ResolverFirewallConfig": "rslvr-fc",
}

# S3's published prefix list in us-east-1 (pl-63a5400a): the gateway endpoint's destinations.
_S3_PREFIX_LIST = {
    "id": "pl-63a5400a",
    "cidrs": ["3.5.0.0/19", "16.182.0.0/16", "18.34.0.0/19", "18.34.232.0/21", "52.216.0.0/15", "54.231.0.0/16"],
}


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _uuid(seed: str) -> str:
    h = _hex(seed, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class RealisticMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and invokes with cloud-shaped values, and notes invokes it cannot answer."""

    def __init__(self, region: str | None = None) -> None:
        self.region = region or DEFAULT_REGION
        self.unanswered_invokes: list[str] = []
        self.mock_gaps: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.gcp = GcpAnswers()
        self.invoke_handlers: dict[str, Any] = {}
        """Invokes answered by the monitor's expanders (Kubernetes YAML, kustomize, Helm), by token."""

    # ------------------------------------------------------------------------------------------- resources
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        return self.answer_resource(args, remote=False)

    def answer_resource(self, args: pulumi.runtime.MockResourceArgs, remote: bool) -> tuple[str | None, dict]:
        """The id and state of a registration: hand-written answers first, then every declared output the
        program did not give (for custom resources and remote components; a local component's outputs are
        computed by the program itself)."""
        if not args.custom and not remote:
            return None, {}
        if not args.custom:
            known = _awsx_vpc_subnets(args.name, args.inputs) if args.typ == "awsx:ec2:Vpc" else {}
            return None, self._declared(args.typ, args.name, known, outputs_only=False)
        resource_id, state = self._hand_written(args)
        if args.typ.startswith("pulumi:providers:"):
            return resource_id, state
        return resource_id, self._declared(args.typ, args.name, state, outputs_only=True)

    def _declared(self, typ: str, name: str, state: dict[str, Any], outputs_only: bool) -> dict[str, Any]:
        shape = sdk_types.resource_shape(typ)
        if shape is None and typ.startswith("kubernetes:"):
            # A custom resource (CRD kind): the provider reports back the object it was given, nothing more.
            return state
        if shape is None:
            self.gap("output", typ, "no installed Pulumi SDK declares this type: its outputs resolve to nothing")
            return state
        inputs = sdk_types.input_names(typ) if outputs_only else frozenset()
        length = state.get("length")
        context = values.Context(typ, name, self._region_for(typ, state), _gcp_config("project") or GCP_DEFAULT_PROJECT,
                                 length=int(length) if isinstance(length, (int, float)) else None)
        out = dict(state)
        for field, field_shape in shape.fields:
            if field in inputs and field not in out:
                continue
            generated = values.generate(field_shape, context, out.get(field), field)
            if generated is not None:
                out[field] = generated
        return out

    def _region_for(self, typ: str, state: dict[str, Any]) -> str:
        if typ.startswith("gcp:"):
            return str(state.get("region") or _gcp_config("region") or GCP_DEFAULT_REGION)
        return self.region

    def gap(self, kind: str, token: str, detail: str) -> None:
        with self._lock:
            if not any(g["kind"] == kind and g["token"] == token for g in self.mock_gaps):
                self.mock_gaps.append({"kind": kind, "token": token, "detail": detail})

    def _hand_written(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        state: dict[str, Any] = dict(args.inputs)
        if args.typ == "pulumi:providers:gcp":
            return self.gcp.register_provider(args.name, state), state
        if args.typ.startswith("gcp:"):
            resource_id, computed = self.gcp.new_resource(args.typ, args.name, state, args.provider)
            return resource_id, {**state, **computed}
        if args.typ.startswith("pulumi:providers:"):
            return _uuid(args.name), state
        if args.typ.startswith("kubernetes:"):
            return _kubernetes_object(args.typ, args.name, state)
        resource_id = self._resource_id(args.typ, args.name, state)
        state.update(self._computed(args.typ, args.name, resource_id, state))
        return resource_id, state

    def _resource_id(self, typ: str, name: str, state: dict) -> str:
        observability_id = _observability_id(typ, name, state)
        if observability_id is not None:
            return observability_id
        prefix = _ID_PREFIXES.get(typ)
        if prefix:
            return f"{prefix}-{_hex(typ + name, 17)}"
        if typ in ("aws:kms/key:Key",):
            return _uuid(name)
        physical = state.get("name") or state.get("bucket") or state.get("functionName")
        if isinstance(physical, str) and physical:
            return physical
        return f"{name}-{_hex(name, 7)}"

    def _computed(self, typ: str, name: str, resource_id: str, state: dict) -> dict[str, Any]:
        region, account = self.region, ACCOUNT_ID
        module = typ.split(":")[1].split("/")[0] if ":" in typ else ""
        out: dict[str, Any] = {"id": resource_id}
        if typ.startswith("aws:"):
            out["arn"] = f"arn:aws:{module}:{region}:{account}:{typ.split(':')[-1].lower()}/{resource_id}"
            out["tagsAll"] = dict(state.get("tags") or {})
        if "name" not in state and typ.startswith(("aws:iam/", "aws:cloudwatch/logGroup", "aws:lambda/", "aws:sns/", "aws:sqs/")):
            out["name"] = f"{name}-{_hex(name, 7)}"
        physical = state.get("name") or out.get("name") or resource_id
        if typ == "aws:ec2/vpc:Vpc":
            out.update(
                defaultNetworkAclId=f"acl-{_hex(name + 'acl', 17)}",
                defaultRouteTableId=f"rtb-{_hex(name + 'rtb', 17)}",
                defaultSecurityGroupId=f"sg-{_hex(name + 'sg', 17)}",
                mainRouteTableId=f"rtb-{_hex(name + 'rtb', 17)}",
                ownerId=account,
                arn=f"arn:aws:ec2:{region}:{account}:vpc/{resource_id}",
            )
        elif typ == "aws:kms/key:Key":
            out.update(keyId=resource_id, arn=f"arn:aws:kms:{region}:{account}:key/{resource_id}")
        elif typ == "aws:kms/alias:Alias":
            out.update(arn=f"arn:aws:kms:{region}:{account}:{physical}", targetKeyArn=f"arn:aws:kms:{region}:{account}:key/{state.get('targetKeyId')}")
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            out.update(arn=f"arn:aws:logs:{region}:{account}:log-group:{physical}")
        elif typ.startswith("aws:iam/"):
            kind = typ.split(":")[-1].lower()
            out.update(arn=f"arn:aws:iam::{account}:{kind}/{physical}", uniqueId=f"AROA{_hex(name, 17).upper()}")
        elif typ == "aws:s3/bucket:Bucket":
            bucket = state.get("bucket") or f"{name}-{_hex(name, 7)}"
            out.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketRegionalDomainName=f"{bucket}.s3.{region}.amazonaws.com")
        elif typ == "aws:lambda/function:Function":
            out.update(arn=f"arn:aws:lambda:{region}:{account}:function:{physical}", invokeArn=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/arn:aws:lambda:{region}:{account}:function:{physical}/invocations")
        elif typ == "aws:sns/topic:Topic":
            out.update(arn=f"arn:aws:sns:{region}:{account}:{physical}")
        elif typ == "aws:eks/cluster:Cluster":
            out.update(
                arn=f"arn:aws:eks:{region}:{account}:cluster/{physical}",
                endpoint=f"https://{_hex(name, 32).upper()}.gr7.{region}.eks.amazonaws.com",
                certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1PQ0sKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="},
                identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{_hex(name, 32).upper()}"}]}],
                status="ACTIVE",
            )
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            out.update(latestVersion=1, defaultVersion=1, arn=f"arn:aws:ec2:{region}:{account}:launch-template/{resource_id}")
        elif typ == "aws:appsync/graphQLApi:GraphQLApi":
            # A map whose keys AppSync documents (GRAPHQL, REALTIME): no type information can name them.
            host = f"{_hex(name, 26)}.appsync-api.{region}.amazonaws.com"
            out.update(uris={"GRAPHQL": f"https://{host}/graphql", "REALTIME": f"wss://{host.replace('appsync-api', 'appsync-realtime-api')}/graphql"})
        elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            out.update(prefixListId=_S3_PREFIX_LIST["id"] if state.get("vpcEndpointType") == "Gateway" else "")
        out.update(_secrets_and_images_outputs(typ, name, state, region, account))
        out.update(_observability_outputs(typ, name, resource_id, state, region, account))
        return out

    # ------------------------------------------------------------------------------------------- invokes
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        token, given = args.token, dict(args.args)
        if token in self.invoke_handlers:
            return self.invoke_handlers[token](given)
        answer = _INVOKES.get(token)
        if answer is not None:
            return answer(self, given)
        if token in _GCP_INVOKES:
            return _GCP_INVOKES[token](self.gcp, self, given)
        shape = sdk_types.invoke_shape(token)
        if shape is None:
            with self._lock:
                self.unanswered_invokes.append(token)
            self.gap("invoke", token, "no installed Pulumi SDK declares this invoke's result type: answered with nothing")
            return {}
        # The result echoes what the program asked for (`get_vpc(id=...)` answers that id), the rest is generated.
        context = values.Context(token, token.split(":")[-1], self._region_for(token, given),
                                 _gcp_config("project") or GCP_DEFAULT_PROJECT)
        return values.generate(shape, context, {k: v for k, v in given.items() if v is not None})


AWSX_DEFAULT_ZONES = 3
AWSX_DEFAULT_SPECS = ({"type": "Public"}, {"type": "Private"})


def _awsx_vpc_subnets(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """awsx's Vpc makes one subnet per availability zone per subnet spec, so programs index its subnet lists by
    position (`isolated_subnet_ids[3]` in a two-zone VPC with two isolated specs). Answer as many as the component's
    inputs imply (awsx's defaults: three zones, one public and one private spec), each a distinct subnet id."""
    zones = inputs.get("availabilityZoneNames")
    count = len(zones) if isinstance(zones, list) and zones else inputs.get("numberOfAvailabilityZones")
    count = int(count) if isinstance(count, (int, float)) and not isinstance(count, bool) and count > 0 else AWSX_DEFAULT_ZONES
    specs = inputs.get("subnetSpecs")
    specs = [spec for spec in specs if isinstance(spec, dict)] if isinstance(specs, list) and specs else list(AWSX_DEFAULT_SPECS)
    out: dict[str, Any] = {}
    for kind in ("Public", "Private", "Isolated"):
        per_zone = sum(1 for spec in specs if str(spec.get("type", "")).lower() == kind.lower())
        out[f"{kind.lower()}SubnetIds"] = [f"subnet-{_hex(f'{name}-{kind}-{index}', 17)}" for index in range(per_zone * count)]
    return out


def _caller_identity(_mocks: RealisticMocks, _args: dict) -> dict:
    return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/modelfort-deployer", "userId": "AROAMODELFORTDEPLOYER", "id": ACCOUNT_ID}


def _partition(_mocks: RealisticMocks, _args: dict) -> dict:
    return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}


def _region(mocks: RealisticMocks, _args: dict) -> dict:
    return {"name": mocks.region, "region": mocks.region, "id": mocks.region, "endpoint": f"ec2.{mocks.region}.amazonaws.com"}


def _availability_zones(mocks: RealisticMocks, _args: dict) -> dict:
    letters = "abcdef"
    return {
        "names": [f"{mocks.region}{letter}" for letter in letters],
        "zoneIds": [f"use1-az{index + 1}" for index in range(len(letters))],
        "id": mocks.region,
    }


def _managed_prefix_list(mocks: RealisticMocks, args: dict) -> dict:
    name = args.get("name") or f"com.amazonaws.{mocks.region}.s3"
    return {
        "id": _S3_PREFIX_LIST["id"],
        "name": name,
        "addressFamily": "IPv4",
        "entries": [{"cidr": cidr, "description": ""} for cidr in _S3_PREFIX_LIST["cidrs"]],
        "maxEntries": len(_S3_PREFIX_LIST["cidrs"]),
        "ownerId": "AWS",
    }


_INVOKES = {
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:index/getPartition:getPartition": _partition,
    "aws:index/getRegion:getRegion": _region,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:ec2/getManagedPrefixList:getManagedPrefixList": _managed_prefix_list,
}


# ------------------------------------------------------------------------------------------------ Kubernetes
# The Kubernetes provider names an object `<logical name>-<8 characters>` when the program gives no metadata.name,
# and reports the name back in the object's metadata. Without that answer `Namespace(...).metadata.name` resolves to
# nothing under mocks, and every object placed in that namespace would be recorded with no namespace at all, so the
# policy pack would judge it against the wrong (or no) namespace.
# Objects rendered by the provider at deploy time (Helm releases, yaml/v2, kustomize/v2) have no metadata to answer.
_KUBERNETES_WITHOUT_METADATA = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")


def kubernetes_autoname(typ: str, name: str) -> str:
    """The name the provider would give an object without metadata.name (deterministic here, random there)."""
    return f"{name}-{_hex(typ + name, 8)}"


def _kubernetes_object(typ: str, name: str, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if typ.startswith(_KUBERNETES_WITHOUT_METADATA):
        return f"{name}-{_hex(typ + name, 8)}", state
    metadata = dict(state.get("metadata") or {})
    metadata.setdefault("name", kubernetes_autoname(typ, name))
    state["metadata"] = metadata
    namespace = metadata.get("namespace")
    # The provider's id is `namespace/name` for namespaced objects and `name` for cluster-scoped ones.
    resource_id = f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])
    return resource_id, state


# ------------------------------------------------------------------------------------------------ secrets and images
# Secrets Manager, ECR and EventBridge report identifiers in their own formats, and programs build policies from
# them: a secret's resource policy names the bootstrap version id, grants name repository ARNs, a schedule's
# permission names the rule's ARN. Without these answers those values resolve to nothing under mocks.


def _secrets_and_images_outputs(typ: str, name: str, state: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    if typ == "aws:secretsmanager/secret:Secret":
        secret_name = state.get("name") or f"{name}-{_hex(name, 7)}"
        # AWS appends a hyphen and six random characters to every secret ARN.
        return {"name": secret_name, "arn": f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_name}-{_hex(typ + name, 6)}"}
    if typ == "aws:secretsmanager/secretVersion:SecretVersion":
        return {"versionId": _uuid(typ + name), "arn": state.get("secretId")}
    if typ == "aws:ecr/repository:Repository":
        repository = state.get("name") or name
        return {
            "arn": f"arn:aws:ecr:{region}:{account}:repository/{repository}",
            "registryId": account,
            "repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{repository}",
        }
    if typ == "aws:cloudwatch/eventRule:EventRule":
        rule = state.get("name") or f"{name}-{_hex(name, 7)}"
        return {"name": rule, "arn": f"arn:aws:events:{region}:{account}:rule/{rule}"}
    if typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
        alarm = state.get("name") or f"{name}-{_hex(name, 7)}"
        return {"name": alarm, "arn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm}"}
    return {}


# ------------------------------------------------------------------------------------------------ Google Cloud
# GCP answers in the formats the provider reports: ids are resource paths (`projects/<p>/global/networks/<n>`), KMS
# keys `projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>`, service accounts `<id>@<p>.iam.gserviceaccount.com`.
# The project and region of a resource come from the resource's own inputs, else from the explicit `gcp` provider it
# was registered with, else from the stack config (`gcp:project`, `gcp:region`), so ids name the project the stack
# really targets. Project numbers are derived from the project id (stable across runs, 12 digits like the real ones).
GCP_DEFAULT_PROJECT = "modelfort-mock"
GCP_DEFAULT_REGION = "us-central1"
RESTRICTED_VIP = "199.36.153.4/30"
# A syntactically valid P-256 SubjectPublicKeyInfo (the NIST P-256 generator point): what a KMS EC_SIGN_P256 key's
# public half looks like to a program that builds an attestor or a verifier from it.
_GCP_P256_PUBLIC_KEY_PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaxfR8uEsQkf4vOblY6RA8ncDfYEt\n"
    "6zOg9KE5RdiYwpZP40Li/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9Q==\n"
    "-----END PUBLIC KEY-----\n"
)
# Collections of the compute API, for ids and self links.
_GCP_GLOBAL_COMPUTE = {
    "gcp:compute/network:Network": "networks",
    "gcp:compute/firewall:Firewall": "firewalls",
    "gcp:compute/route:Route": "routes",
    "gcp:compute/globalAddress:GlobalAddress": "addresses",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": "forwardingRules",
}
_GCP_REGIONAL_COMPUTE = {
    "gcp:compute/subnetwork:Subnetwork": "subnetworks",
    "gcp:compute/router:Router": "routers",
    "gcp:compute/address:Address": "addresses",
    "gcp:compute/forwardingRule:ForwardingRule": "forwardingRules",
}
# Types whose `name` the provider generates when the program gives none (Pulumi auto-naming).
_GCP_AUTONAMED = frozenset({
    *_GCP_GLOBAL_COMPUTE, *_GCP_REGIONAL_COMPUTE,
    "gcp:compute/routerNat:RouterNat", "gcp:compute/networkPeering:NetworkPeering",
    "gcp:dns/managedZone:ManagedZone", "gcp:dns/policy:Policy",
    "gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey", "gcp:storage/bucket:Bucket",
    "gcp:storage/bucketObject:BucketObject", "gcp:pubsub/topic:Topic", "gcp:container/cluster:Cluster",
    "gcp:container/nodePool:NodePool", "gcp:binaryauthorization/attestor:Attestor",
    "gcp:containeranalysis/note:Note", "gcp:cloudfunctionsv2/function:Function", "gcp:logging/projectSink:ProjectSink",
})


def gcp_project_number(project: str) -> str:
    """A 12-digit project number, stable for a project id (real numbers are assigned by Google)."""
    return str(int(_hex("project-number:" + project, 12), 16) % 10**12).rjust(12, "1")


def _gcp_config(key: str) -> str | None:
    try:
        value = pulumi.Config("gcp").get(key)
    except Exception:  # noqa: BLE001 - outside a Pulumi run there is no config: fall back to the defaults
        return None
    return value or None


class GcpAnswers:
    """The GCP side of `RealisticMocks`: remembers explicit providers, answers registrations and invokes."""

    def __init__(self) -> None:
        self._providers: dict[str, tuple[str | None, str | None]] = {}
        self._lock = threading.Lock()

    def register_provider(self, name: str, state: dict[str, Any]) -> str:
        provider_id = _uuid(name)
        with self._lock:
            self._providers[provider_id] = (state.get("project"), state.get("region"))
        return provider_id

    def context(self, provider_ref: str | None, state: dict[str, Any]) -> tuple[str, str]:
        provider_project, provider_region = (None, None)
        if provider_ref:
            with self._lock:
                provider_project, provider_region = self._providers.get(provider_ref.rsplit("::", 1)[-1], (None, None))
        project = state.get("project") or provider_project or _gcp_config("project") or GCP_DEFAULT_PROJECT
        region = state.get("region") or provider_region or _gcp_config("region") or GCP_DEFAULT_REGION
        return str(project), str(region)

    def new_resource(self, typ: str, name: str, state: dict[str, Any], provider_ref: str | None) -> tuple[str, dict[str, Any]]:
        project, region = self.context(provider_ref, state)
        out: dict[str, Any] = {}
        if "name" not in state and typ in _GCP_AUTONAMED:
            out["name"] = f"{name}-{_hex(typ + name, 7)}"
        physical = str(state.get("name") or out.get("name") or name)
        location = str(state.get("location") or region)
        number = gcp_project_number(project)
        resource_id = f"projects/{project}/{typ.split(':')[1].split('/')[0]}/{physical}"

        if typ in _GCP_GLOBAL_COMPUTE:
            resource_id = f"projects/{project}/global/{_GCP_GLOBAL_COMPUTE[typ]}/{physical}"
            out["selfLink"] = f"https://www.googleapis.com/compute/v1/{resource_id}"
        elif typ in _GCP_REGIONAL_COMPUTE:
            resource_id = f"projects/{project}/regions/{region}/{_GCP_REGIONAL_COMPUTE[typ]}/{physical}"
            out["selfLink"] = f"https://www.googleapis.com/compute/v1/{resource_id}"
        if typ == "gcp:compute/network:Network":
            out.update(numericId=str(int(_hex(resource_id, 12), 16)), networkId=str(int(_hex(resource_id, 8), 16)))
        elif typ == "gcp:compute/subnetwork:Subnetwork":
            cidr = state.get("ipCidrRange")
            out.update(gatewayAddress=_first_host(cidr), subnetworkId=int(_hex(resource_id, 8), 16))
        elif typ == "gcp:compute/globalAddress:GlobalAddress":
            out.setdefault("address", state.get("address") or "10.255.255.254")
        elif typ == "gcp:compute/routerNat:RouterNat":
            resource_id = f"{project}/{region}/{_last(state.get('router'))}/{physical}"
        elif typ == "gcp:compute/networkPeering:NetworkPeering":
            resource_id = f"{_last(state.get('network'))}/{physical}"
        elif typ == "gcp:dns/managedZone:ManagedZone":
            resource_id = f"projects/{project}/managedZones/{physical}"
            out.update(managedZoneId=int(_hex(resource_id, 8), 16),
                       nameServers=["ns-gcp-private.googledomains.com."] if state.get("visibility") == "private" else
                       [f"ns-cloud-a{i}.googledomains.com." for i in range(1, 5)])
        elif typ == "gcp:dns/recordSet:RecordSet":
            resource_id = f"projects/{project}/managedZones/{_last(state.get('managedZone'))}/rrsets/{state.get('name')}/{state.get('type')}"
        elif typ == "gcp:dns/policy:Policy":
            resource_id = f"projects/{project}/policies/{physical}"
        elif typ == "gcp:dns/responsePolicy:ResponsePolicy":
            resource_id = f"projects/{project}/responsePolicies/{state.get('responsePolicyName') or physical}"
        elif typ == "gcp:kms/keyRing:KeyRing":
            resource_id = f"projects/{project}/locations/{location}/keyRings/{physical}"
        elif typ == "gcp:kms/cryptoKey:CryptoKey":
            resource_id = f"{state.get('keyRing')}/cryptoKeys/{physical}"
            out["primaries"] = [{"name": f"{resource_id}/cryptoKeyVersions/1", "state": "ENABLED"}]
        elif typ == "gcp:storage/bucket:Bucket":
            resource_id = physical
            out.update(url=f"gs://{physical}", selfLink=f"https://www.googleapis.com/storage/v1/b/{physical}",
                       projectNumber=number)
        elif typ == "gcp:storage/bucketObject:BucketObject":
            resource_id = f"{state.get('bucket')}-{physical}"
            out.update(generation=1, mediaLink=f"https://storage.googleapis.com/download/storage/v1/b/{state.get('bucket')}/o/{physical}?alt=media",
                       selfLink=f"https://www.googleapis.com/storage/v1/b/{state.get('bucket')}/o/{physical}")
        elif typ == "gcp:serviceaccount/account:Account":
            email = f"{state.get('accountId') or physical}@{project}.iam.gserviceaccount.com"
            resource_id = f"projects/{project}/serviceAccounts/{email}"
            out.update(email=email, member=f"serviceAccount:{email}", name=resource_id,
                       uniqueId=str(int(_hex(email, 14), 16))[:21])
        elif typ == "gcp:projects/serviceIdentity:ServiceIdentity":
            service = str(state.get("service", "")).split(".")[0]
            email = f"service-{number}@gcp-sa-{service}.iam.gserviceaccount.com"
            resource_id = f"projects/{project}/services/{state.get('service')}"
            out.update(email=email, member=f"serviceAccount:{email}")
        elif typ == "gcp:projects/service:Service":
            resource_id = f"{project}/{state.get('service')}"
        elif typ == "gcp:container/cluster:Cluster":
            resource_id = f"projects/{project}/locations/{location}/clusters/{physical}"
            private = dict(state.get("privateClusterConfig") or {})
            master = state.get("privateClusterConfig", {}).get("masterIpv4CidrBlock") if isinstance(state.get("privateClusterConfig"), dict) else None
            endpoint = _first_host(master, offset=2) or "172.16.0.2"
            private.update(privateEndpoint=endpoint, peeringName=f"gke-n{_hex(resource_id, 17)}-peer")
            out.update(
                endpoint=endpoint,
                privateClusterConfig=private,
                masterAuth={**dict(state.get("masterAuth") or {}),
                            "clusterCaCertificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1PQ0sKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="},
                selfLink=f"https://container.googleapis.com/v1/{resource_id}",
                labelFingerprint=_hex(resource_id, 8),
                operation="",
            )
        elif typ == "gcp:container/nodePool:NodePool":
            resource_id = f"projects/{project}/locations/{location}/clusters/{_last(state.get('cluster'))}/nodePools/{physical}"
            out.update(instanceGroupUrls=[], managedInstanceGroupUrls=[])
        elif typ == "gcp:secretmanager/secret:Secret":
            resource_id = f"projects/{project}/secrets/{state.get('secretId')}"
            out["name"] = f"projects/{number}/secrets/{state.get('secretId')}"
        elif typ == "gcp:pubsub/topic:Topic":
            resource_id = f"projects/{project}/topics/{physical}"
        elif typ == "gcp:artifactregistry/repository:Repository":
            repository = state.get("repositoryId") or physical
            resource_id = f"projects/{project}/locations/{location}/repositories/{repository}"
            out.update(name=repository, registryUri=f"{location}-docker.pkg.dev/{project}/{repository}")
        elif typ == "gcp:binaryauthorization/attestor:Attestor":
            resource_id = f"projects/{project}/attestors/{physical}"
        elif typ == "gcp:binaryauthorization/policy:Policy":
            resource_id = f"projects/{project}"
        elif typ == "gcp:containeranalysis/note:Note":
            resource_id = f"projects/{project}/notes/{physical}"
        elif typ == "gcp:logging/projectBucketConfig:ProjectBucketConfig":
            resource_id = f"projects/{project}/locations/{location}/buckets/{state.get('bucketId')}"
            out.update(name=resource_id, lifecycleState="ACTIVE")
        elif typ == "gcp:logging/projectSink:ProjectSink":
            resource_id = f"projects/{project}/sinks/{physical}"
            out["writerIdentity"] = f"serviceAccount:service-{number}@gcp-sa-logging.iam.gserviceaccount.com"
        elif typ == "gcp:modelarmor/template:Template":
            resource_id = f"projects/{project}/locations/{location}/templates/{state.get('templateId')}"
            out["name"] = resource_id
        elif typ == "gcp:modelarmor/floorsetting:Floorsetting":
            resource_id = f"{state.get('parent')}/locations/{location}/floorSetting"
            out["name"] = resource_id
        elif typ == "gcp:accesscontextmanager/servicePerimeter:ServicePerimeter":
            resource_id = str(state.get("name") or f"{state.get('parent')}/servicePerimeters/{name}")
        elif typ == "gcp:cloudfunctionsv2/function:Function":
            resource_id = f"projects/{project}/locations/{location}/functions/{physical}"
            service = dict(state.get("serviceConfig") or {})
            service.update(service=f"projects/{project}/locations/{location}/services/{physical}",
                           uri=f"https://{physical}-{_hex(resource_id, 10)}-uc.a.run.app")
            out.update(serviceConfig=service, url=f"https://{location}-{project}.cloudfunctions.net/{physical}", state="ACTIVE")
        elif typ.endswith(("IAMMember:IAMMember", "IamMember:IamMember", "IAMMember", "IamMember")):
            target = next((state[k] for k in ("cryptoKeyId", "bucket", "secretId", "topic", "serviceAccountId", "repository", "name", "project")
                           if k in state), project)
            resource_id = f"{target}/{state.get('role')}/{state.get('member')}"
        elif typ == "gcp:projects/iAMAuditConfig:IAMAuditConfig":
            resource_id = f"{project}/audit_config/{state.get('service')}"
        out["id"] = resource_id
        return resource_id, out

    # ------------------------------------------------------------------------------------------- invokes
    def project(self, mocks: "RealisticMocks", args: dict) -> dict:
        project = args.get("projectId") or _gcp_config("project") or GCP_DEFAULT_PROJECT
        return {"projectId": project, "number": gcp_project_number(project), "name": project, "id": f"projects/{project}",
                "orgId": "123456789012", "labels": {}, "effectiveLabels": {}, "autoCreateNetwork": True}

    def zones(self, mocks: "RealisticMocks", args: dict) -> dict:
        region = args.get("region") or _gcp_config("region") or GCP_DEFAULT_REGION
        project = args.get("project") or _gcp_config("project") or GCP_DEFAULT_PROJECT
        return {"names": [f"{region}-{letter}" for letter in "abcf"], "region": region, "project": project, "id": project}

    def storage_agent(self, mocks: "RealisticMocks", args: dict) -> dict:
        project = args.get("project") or _gcp_config("project") or GCP_DEFAULT_PROJECT
        email = f"service-{gcp_project_number(project)}@gs-project-accounts.iam.gserviceaccount.com"
        return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": project, "id": email}

    def logging_cmek(self, mocks: "RealisticMocks", args: dict) -> dict:
        project = args.get("project") or _gcp_config("project") or GCP_DEFAULT_PROJECT
        number = gcp_project_number(project)
        return {"serviceAccountId": f"service-{number}@gcp-sa-logging.iam.gserviceaccount.com", "project": project,
                "name": f"projects/{project}/cmekSettings", "id": f"projects/{project}/cmekSettings"}

    def key_version(self, mocks: "RealisticMocks", args: dict) -> dict:
        key = args.get("cryptoKey") or ""
        version = int(args.get("version") or 1)
        return {"cryptoKey": key, "version": version, "name": f"{key}/cryptoKeyVersions/{version}",
                "id": f"//cloudkms.googleapis.com/v1/{key}/cryptoKeyVersions/{version}", "state": "ENABLED",
                "algorithm": "EC_SIGN_P256_SHA256", "protectionLevel": "SOFTWARE",
                "publicKeys": [{"algorithm": "EC_SIGN_P256_SHA256", "pem": _GCP_P256_PUBLIC_KEY_PEM}]}


_GCP_INVOKES = {
    "gcp:organizations/getProject:getProject": GcpAnswers.project,
    "gcp:compute/getZones:getZones": GcpAnswers.zones,
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": GcpAnswers.storage_agent,
    "gcp:logging/getProjectCmekSettings:getProjectCmekSettings": GcpAnswers.logging_cmek,
    "gcp:kms/getKMSCryptoKeyVersion:getKMSCryptoKeyVersion": GcpAnswers.key_version,
}


def _last(value: Any) -> str:
    return str(value or "").rstrip("/").rsplit("/", 1)[-1]


def _first_host(cidr: Any, offset: int = 1) -> str | None:
    import ipaddress

    try:
        network = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return None
    return str(network.network_address + offset)


# ------------------------------------------------------------------------------------------------ endpoints, evidence, guardrails
# API Gateway, WAF, CloudTrail, Route 53 Resolver query logging, Bedrock guardrails and load balancers report ids and
# ARNs in their own formats, and programs build on them: a stage's ARN is what WAF associates with, a Lambda
# authorizer's permission names the API's execution ARN, a guardrail version pins the guardrail's ARN.
_OBSERVABILITY_IDS = {
    "aws:apigateway/restApi:RestApi": 10,
    "aws:apigateway/apiKey:ApiKey": 10,
    "aws:apigateway/resource:Resource": 6,
    "aws:apigateway/authorizer:Authorizer": 6,
    "aws:apigateway/deployment:Deployment": 6,
    "aws:apigateway/usagePlan:UsagePlan": 6,
    "aws:apigateway/vpcLink:VpcLink": 6,
    "aws:apigateway/requestValidator:RequestValidator": 6,
    "aws:bedrock/guardrail:Guardrail": 12,
}


def _observability_id(typ: str, name: str, state: dict[str, Any]) -> str | None:
    length = _OBSERVABILITY_IDS.get(typ)
    if length is not None:
        return _hex(typ + name, length)
    if typ == "aws:apigateway/stage:Stage":
        return f"ags-{state.get('restApi')}-{state.get('stageName')}"
    if typ == "aws:wafv2/webAcl:WebAcl":
        return _uuid(typ + name)
    if typ == "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig":
        return f"rslvr-rqlc-{_hex(typ + name, 17)}"
    if typ == "aws:route53/resolverQueryLogConfigAssociation:ResolverQueryLogConfigAssociation":
        return f"rslvr-qlcassoc-{_hex(typ + name, 17)}"
    return None


def _observability_outputs(typ: str, name: str, resource_id: str, state: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    if typ == "aws:apigateway/restApi:RestApi":
        return {
            "rootResourceId": _hex(typ + name + "root", 10),
            "arn": f"arn:aws:apigateway:{region}::/restapis/{resource_id}",
            "executionArn": f"arn:aws:execute-api:{region}:{account}:{resource_id}",
        }
    if typ == "aws:apigateway/stage:Stage":
        api, stage = state.get("restApi"), state.get("stageName")
        return {
            "arn": f"arn:aws:apigateway:{region}::/restapis/{api}/stages/{stage}",
            "invokeUrl": f"https://{api}.execute-api.{region}.amazonaws.com/{stage}",
            "executionArn": f"arn:aws:execute-api:{region}:{account}:{api}/{stage}",
        }
    if typ == "aws:apigateway/apiKey:ApiKey":
        return {"arn": f"arn:aws:apigateway:{region}::/apikeys/{resource_id}", "value": _hex(typ + name + "value", 40)}
    if typ == "aws:apigateway/usagePlan:UsagePlan":
        return {"arn": f"arn:aws:apigateway:{region}::/usageplans/{resource_id}"}
    if typ == "aws:wafv2/webAcl:WebAcl":
        acl = state.get("name") or name
        return {"arn": f"arn:aws:wafv2:{region}:{account}:regional/webacl/{acl}/{resource_id}", "capacity": 1000,
                "lockToken": _uuid(typ + name + "lock")}
    if typ == "aws:bedrock/guardrail:Guardrail":
        return {"guardrailId": resource_id, "guardrailArn": f"arn:aws:bedrock:{region}:{account}:guardrail/{resource_id}",
                "version": "DRAFT", "status": "READY"}
    if typ == "aws:bedrock/guardrailVersion:GuardrailVersion":
        return {"version": "1"}
    if typ == "aws:cloudtrail/trail:Trail":
        trail = state.get("name") or name
        return {"arn": f"arn:aws:cloudtrail:{region}:{account}:trail/{trail}", "homeRegion": region}
    if typ == "aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig":
        return {"arn": f"arn:aws:route53resolver:{region}:{account}:resolver-query-log-config/{resource_id}", "ownerId": account,
                "shareStatus": "NOT_SHARED"}
    if typ == "aws:lb/loadBalancer:LoadBalancer":
        balancer = state.get("name") or f"{name}-{_hex(name, 7)}"
        kind = "net" if state.get("loadBalancerType") == "network" else "app"
        return {"arn": f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/{kind}/{balancer}/{_hex(typ + name, 16)}",
                "dnsName": f"{balancer}-{_hex(typ + name, 10)}.elb.{region}.amazonaws.com", "name": balancer}
    return {}
