"""The converter from engine-shaped resources to a Terraform plan document, as pure functions (no checkov)."""

from __future__ import annotations

import pytest

from modelfort_policy.checkov.convert import StackInput, convert, convert_object, load_mapping, terraform_address_names

INSTANCE = "aws:ec2/instance:Instance"


def _values(conversion, address):
    for resource in conversion.plan["planned_values"]["root_module"]["resources"]:
        if resource["address"] == address:
            return resource["values"]
    raise AssertionError(f"{address} not in the plan: {list(conversion.urn_by_address)}")


def _expressions(conversion, address):
    for resource in conversion.plan["configuration"]["root_module"]["resources"]:
        if resource["address"] == address:
            return resource["expressions"]
    raise AssertionError(address)


@pytest.mark.control("ST-07")
def test_type_tokens_become_terraform_types():
    mapping = load_mapping()
    assert mapping[INSTANCE]["terraform"] == "aws_instance"
    assert mapping["aws:rds/instance:Instance"]["terraform"] == "aws_db_instance"
    assert mapping["aws:lb/loadBalancer:LoadBalancer"]["terraform"] == "aws_lb"
    assert mapping["aws:sagemaker/endpointConfiguration:EndpointConfiguration"]["terraform"] == "aws_sagemaker_endpoint_configuration"
    # GCP types come from the provider's published bridge metadata, not from a guess.
    assert mapping["gcp:compute/instance:Instance"]["terraform"] == "google_compute_instance"
    assert mapping["gcp:cloudrun/iamMember:IamMember"]["terraform"] == "google_cloud_run_service_iam_member"
    assert mapping["gcp:sql/databaseInstance:DatabaseInstance"]["terraform"] == "google_sql_database_instance"


@pytest.mark.control("ST-07")
def test_engine_names_become_terraform_attribute_names():
    conversion = convert([StackInput(INSTANCE, "web", "urn:web", {
        "instanceType": "t3.micro", "vpcSecurityGroupIds": ["sg-1"], "associatePublicIpAddress": False})])
    values = _values(conversion, "aws_instance.web")
    assert values == {"instance_type": "t3.micro", "vpc_security_group_ids": ["sg-1"], "associate_public_ip_address": False}


@pytest.mark.control("ST-07")
def test_flattened_block_becomes_a_one_element_list_and_lists_of_blocks_take_the_singular_name():
    conversion = convert([StackInput(INSTANCE, "web", "urn:web", {
        "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
        "ebsBlockDevices": [{"deviceName": "/dev/sdb", "encrypted": True}],
    })])
    values = _values(conversion, "aws_instance.web")
    assert values["metadata_options"] == [{"http_tokens": "required", "http_put_response_hop_limit": 1}]
    # The bridge pluralised the Terraform block (ebs_block_device → ebsBlockDevices); the plan uses Terraform's name.
    assert values["ebs_block_device"] == [{"device_name": "/dev/sdb", "encrypted": True}]


@pytest.mark.control("ST-07")
def test_gcp_block_names_follow_the_published_bridge_metadata():
    conversion = convert([StackInput("gcp:compute/instance:Instance", "vm", "urn:vm", {
        "networkInterfaces": [{"network": "default", "accessConfigs": [{}]}],
        "serviceAccount": {"email": "default", "scopes": ["cloud-platform"]},
        "labels": {"zone": "production"},
    })])
    values = _values(conversion, "google_compute_instance.vm")
    assert values["network_interface"] == [{"network": "default", "access_config": [{}]}]
    assert values["service_account"] == [{"email": "default", "scopes": ["cloud-platform"]}]
    assert "also" not in str(load_mapping()["gcp:compute/instance:Instance"]["properties"]["networkInterfaces"])


@pytest.mark.control("ST-07")
def test_maps_stay_maps():
    conversion = convert([StackInput(INSTANCE, "web", "urn:web", {"tags": {"modelfort:zone": "production", "Name": "web"}})])
    assert _values(conversion, "aws_instance.web")["tags"] == {"modelfort:zone": "production", "Name": "web"}


@pytest.mark.control("ST-07")
def test_values_from_other_resources_become_references():
    bucket = StackInput("aws:s3/bucket:Bucket", "weights", "urn:bucket", {"bucket": "weights-1"})
    block = StackInput("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "weights-pab", "urn:pab",
                       {"bucket": "weights-1", "blockPublicAcls": True}, {"bucket": ["urn:bucket"]})
    sg = StackInput("aws:ec2/securityGroup:SecurityGroup", "web-sg", "urn:sg", {"vpcId": "vpc-1"})
    instance = StackInput(INSTANCE, "web", "urn:web", {"vpcSecurityGroupIds": ["sg-1"]}, {"vpcSecurityGroupIds": ["urn:sg"]})
    conversion = convert([bucket, block, sg, instance])
    assert _values(conversion, "aws_s3_bucket_public_access_block.weights-pab")["bucket"] == "aws_s3_bucket.weights.id"
    assert _expressions(conversion, "aws_s3_bucket_public_access_block.weights-pab")["bucket"] == {
        "references": ["aws_s3_bucket.weights.id", "aws_s3_bucket.weights"]}
    assert _values(conversion, "aws_instance.web")["vpc_security_group_ids"] == ["aws_security_group.web-sg.id"]
    # A literal without a dependency stays the literal.
    assert _values(conversion, "aws_s3_bucket.weights")["bucket"] == "weights-1"


@pytest.mark.control("ST-07")
def test_addresses_are_terraform_safe_unique_and_map_back_to_urns():
    resources = [StackInput(INSTANCE, "web/a.b", "urn:1", {}), StackInput(INSTANCE, "web/a.b", "urn:2", {}),
                 StackInput(INSTANCE, "9lives", "urn:3", {}), StackInput("random:index/id:Id", "x", "urn:4", {})]
    addresses = terraform_address_names(resources, load_mapping())
    assert addresses == {"urn:1": "aws_instance.web_a_b", "urn:2": "aws_instance.web_a_b_2", "urn:3": "aws_instance.r_9lives"}
    conversion = convert(resources)
    assert conversion.urn_by_address == {v: k for k, v in addresses.items()}


@pytest.mark.control("ST-07")
def test_aws_and_gcp_types_without_a_mapping_are_reported_not_dropped_silently():
    conversion = convert([StackInput("aws:made/up:Thing", "t", "urn:t", {}), StackInput("kubernetes:core/v1:Pod", "p", "urn:p", {})])
    assert conversion.unmapped_types == {"aws:made/up:Thing"}
    assert conversion.plan["planned_values"]["root_module"]["resources"] == []


@pytest.mark.control("ST-07")
def test_unknown_property_keeps_a_mechanical_name():
    assert convert_object({"someNewSetting": {"innerValue": 1}}, {}) == {"some_new_setting": {"innerValue": 1}}


def test_every_duplicated_rule_named_in_the_curated_table_exists():
    from modelfort_policy.checkov.curated import load_table
    from modelfort_policy.rules import ALL_RULES

    names = {rule.name for rule in ALL_RULES}
    unknown = {check.check_id: check.duplicates for check in load_table().checks if check.duplicates and check.duplicates not in names}
    assert not unknown, f"curated.yaml names rules the pack does not have: {unknown}"
