"""The normaliser: CloudTrail records onto botocore operations, requests and responses."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import botocore.session
import pytest

from pysynth.ingest.calls import NotMappable
from pysynth.ingest.normalize import Normalizer

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "cloudtrail"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures" / "normalize"
ACCOUNT = "111122223333"

MERGED = "invictus_aws_dataset_merged_sorted.json"
PANTHER = "panther_cloudtrail_rule_test_events.json"
TERRAFORM = "invictus_terraform_vpc_iam_ec2_deploy_session.json"
AWSDOCS = "awsdocs_cloudtrail_log_file_examples_extracted.json"


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer()


@pytest.fixture(scope="module")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared CloudTrail data not found at {SHARED_DIR}")
    return SHARED_DIR


def load_records(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    return data["Records"] if isinstance(data, dict) else data


def coverage_files(shared: Path) -> list[str]:
    trailscraper = sorted(path.name for path in shared.glob("trailscraper_*.json"))
    return [MERGED, PANTHER, TERRAFORM, AWSDOCS, *trailscraper]


# -- coverage over real records ------------------------------------------------------------

NOT_PUBLIC_API_SOURCES = {
    "signin.amazonaws.com", "ec2messages.amazonaws.com", "ssmmessages.amazonaws.com",
}
# The SSM agent's own API, called by amazon-ssm-agent and absent from botocore's ssm model:
# UpdateInstanceInformation (named in the brief) and UpdateInstanceAssociationStatus (the same
# kind of call, 7 records in the merged file).
SSM_AGENT_CALLS = {"UpdateInstanceInformation", "UpdateInstanceAssociationStatus"}


def is_genuine_public_write(record: dict) -> bool:
    """A successful write call a client made through the public API."""
    name = record.get("eventName") or ""
    source = record.get("eventSource")
    return (
        not record.get("errorCode")
        and record.get("readOnly") in (None, False, "false")
        and not name.startswith(("Describe", "Get", "List"))
        and record.get("eventType") == "AwsApiCall"
        and (record.get("userIdentity") or {}).get("type") != "AWSService"
        and source not in NOT_PUBLIC_API_SOURCES
        and not (source == "ssm.amazonaws.com" and name in SSM_AGENT_CALLS)
        and not (
            source == "sts.amazonaws.com"
            and (name.startswith("AssumeRole") or name == "GetCallerIdentity")
        )
    )


# Panther's records edited by hand into events that name no operation of their event source's
# service: (file, event source, event name, botocore services that lack the name, reason).
# They must be rejected with that reason and are left out of the coverage denominator.
HAND_EDITED = [
    # S3 event names under EC2's event source.
    (PANTHER, "ec2.amazonaws.com", "DeleteBucketEncryption", ["ec2"],
     'ec2 has no operation "DeleteBucketEncryption"'),
    (PANTHER, "ec2.amazonaws.com", "DeleteBucketReplication", ["ec2"],
     'ec2 has no operation "DeleteBucketReplication"'),
    (PANTHER, "ec2.amazonaws.com", "DeleteBucketPublicAccessBlock", ["ec2"],
     'ec2 has no operation "DeleteBucketPublicAccessBlock"'),
    (PANTHER, "ec2.amazonaws.com", "PutBucketLogging", ["ec2"],
     'ec2 has no operation "PutBucketLogging"'),
    (PANTHER, "ec2.amazonaws.com", "PutBucketVersioning", ["ec2"],
     'ec2 has no operation "PutBucketVersioning"'),
    (PANTHER, "ec2.amazonaws.com", "PutBucketVersioning", ["ec2"],
     'ec2 has no operation "PutBucketVersioning"'),
    # The SSM agent's internal registration call, under EC2's event source.
    (PANTHER, "ec2.amazonaws.com", "RegisterManagedInstance", ["ec2"],
     'ec2 has no operation "RegisterManagedInstance"'),
    # Invented names.
    (PANTHER, "iam.amazonaws.com", "NotCreateUser", ["iam"],
     'iam has no operation "NotCreateUser"'),
    (PANTHER, "iam.amazonaws.com", "PutPolicy", ["iam"],
     'iam has no operation "PutPolicy"'),
    # Other services' operations under CloudTrail's and S3's event sources (EventBridge's
    # DeleteRule, the Account API's EnableRegion, SQS, IAM).
    (PANTHER, "cloudtrail.amazonaws.com", "DeleteRule", ["cloudtrail"],
     'cloudtrail has no operation "DeleteRule"'),
    (PANTHER, "cloudtrail.amazonaws.com", "EnableRegion", ["cloudtrail"],
     'cloudtrail has no operation "EnableRegion"'),
    (PANTHER, "s3.amazonaws.com", "SetQueueAttributes", ["s3", "s3control"],
     's3 has no operation "SetQueueAttributes"'),
    (PANTHER, "s3.amazonaws.com", "CreateServiceLinkedRole", ["s3", "s3control"],
     's3 has no operation "CreateServiceLinkedRole"'),
]

# Genuine public write calls that do not map and validate: (file, source, name, reason).
EXPECTED_EXCEPTIONS = [
    # Macie Classic, retired; botocore no longer ships its model (macie2 is another API).
    (PANTHER, "macie.amazonaws.com", "UpdateMacieSession",
     'unknown service "macie.amazonaws.com"'),
    # Test records trimmed by hand down to a few fields, without an eventSource.
    (PANTHER, None, "CreateAccount", "record has no eventSource"),
    (PANTHER, None, "DeleteObject", "record has no eventSource"),
    # The SAML metadata document was cut to a 44-character stub; the API wants >= 1000.
    (PANTHER, "iam.amazonaws.com", "CreateSAMLProvider",
     "request does not validate: Invalid length for parameter SAMLMetadataDocument, "
     "value: 44, valid min length: 1000"),
    # The client request token was edited to "1111"; the API wants >= 32 characters.
    (PANTHER, "athena.amazonaws.com", "StartQueryExecution",
     "request does not validate: Invalid length for parameter ClientRequestToken, "
     "value: 4, valid min length: 32"),
]


def test_hand_edited_records_name_no_operation_and_are_rejected(shared_dir, normalizer):
    session = botocore.session.get_session()
    found = []
    for record in load_records(shared_dir / PANTHER):
        for file, source, name, services, reason in HAND_EDITED:
            if (record.get("eventSource"), record.get("eventName")) == (source, name):
                for service in services:
                    assert name not in session.get_service_model(service).operation_names
                with pytest.raises(NotMappable) as rejected:
                    normalizer.normalize(record)
                assert str(rejected.value) == reason
                found.append((file, source, name))
                break
    assert Counter(found) == Counter(entry[:3] for entry in HAND_EDITED)


def test_genuine_public_writes_map_and_validate(shared_dir, normalizer):
    hand_edited = Counter(entry[:3] for entry in HAND_EDITED)
    exceptions = []
    figures = []
    mapped_total = considered_total = 0
    for file in coverage_files(shared_dir):
        mapped = considered = 0
        for record in load_records(shared_dir / file):
            if not is_genuine_public_write(record):
                continue
            key = (file, record.get("eventSource"), record.get("eventName"))
            if hand_edited[key]:
                hand_edited[key] -= 1
                continue
            considered += 1
            try:
                normalizer.normalize(record)
            except NotMappable as reason:
                exceptions.append((*key, str(reason)))
            else:
                mapped += 1
        figures.append(f"{file}: {mapped}/{considered}")
        mapped_total += mapped
        considered_total += considered
    report = "\n".join(figures)
    print(f"\n{report}\ntotal: {mapped_total}/{considered_total}")
    assert sorted(exceptions, key=str) == sorted(EXPECTED_EXCEPTIONS, key=str), report
    assert considered_total > 600
    assert mapped_total / considered_total >= 0.99, report


def test_every_shared_record_maps_or_is_rejected_with_a_reason(shared_dir, normalizer):
    for file in coverage_files(shared_dir):
        for record in load_records(shared_dir / file):
            try:
                normalizer.normalize(record)
            except NotMappable as reason:
                assert str(reason) and "\n" not in str(reason)


def test_normalizing_the_merged_file_stays_fast(shared_dir, normalizer):
    """A guard against re-walking the model per record, far above the measured ~0.04 s."""
    records = load_records(shared_dir / MERGED)

    def normalize_all():
        for record in records:
            try:
                normalizer.normalize(record)
            except NotMappable:
                pass

    normalize_all()  # loads and compiles the models it needs
    started = time.perf_counter()
    normalize_all()
    assert time.perf_counter() - started < 1.0


# -- fixtures pinning the tricky shapes ------------------------------------------------------


def fixture_record(name: str) -> dict:
    return json.loads((FIXTURES_DIR / name).read_text())


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=timezone.utc)


def test_lambda_event_name_with_api_version_suffix(normalizer):
    call = normalizer.normalize(fixture_record("lambda_update_function_code.json"))
    assert (call.service, call.operation) == ("lambda", "UpdateFunctionCode")
    assert call.params == {
        "FunctionName": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-api",
        "Publish": True,
        "DryRun": False,
    }
    assert call.hidden == []
    assert "dropped unknown member requestParameters.fullyQualifiedArn" in call.notes
    assert call.response["FunctionName"] == "orders-api"
    assert call.response["TracingConfig"] == {"Mode": "PassThrough"}


@pytest.mark.parametrize(
    ("event_source", "event_name", "expected"),
    [
        ("lambda.amazonaws.com", "CreateFunction20150331", ("lambda", "CreateFunction")),
        ("lambda.amazonaws.com", "AddPermission20150331v2", ("lambda", "AddPermission")),
        ("lambda.amazonaws.com", "DeleteFunction20150331", ("lambda", "DeleteFunction")),
        ("lambda.amazonaws.com", "RemovePermission", ("lambda", "RemovePermission")),
        ("s3.amazonaws.com", "PutBucketPublicAccessBlock", ("s3", "PutPublicAccessBlock")),
        ("s3.amazonaws.com", "GetBucketPublicAccessBlock", ("s3", "GetPublicAccessBlock")),
        ("s3.amazonaws.com", "DeleteBucketPublicAccessBlock", ("s3", "DeletePublicAccessBlock")),
        ("s3.amazonaws.com", "GetBucketObjectLockConfiguration",
         ("s3", "GetObjectLockConfiguration")),
        ("s3.amazonaws.com", "GetAccelerateConfiguration",
         ("s3", "GetBucketAccelerateConfiguration")),
        ("s3.amazonaws.com", "ListAllMyBuckets", ("s3", "ListBuckets")),
        ("s3.amazonaws.com", "PutBucketLifecycle", ("s3", "PutBucketLifecycleConfiguration")),
        ("s3.amazonaws.com", "GetAccountPublicAccessBlock", ("s3control", "GetPublicAccessBlock")),
        ("s3.amazonaws.com", "ListAccessPoints", ("s3control", "ListAccessPoints")),
        ("monitoring.amazonaws.com", "PutMetricAlarm", ("cloudwatch", "PutMetricAlarm")),
        ("ec2-instance-connect.amazonaws.com", "SendSSHPublicKey",
         ("ec2-instance-connect", "SendSSHPublicKey")),
    ],
)
def test_event_names_resolve_to_botocore_operations(normalizer, event_source, event_name, expected):
    assert normalizer.resolve(event_source, event_name) == expected


def test_ec2_create_subnet_unwraps_tag_specification_set(normalizer):
    call = normalizer.normalize(fixture_record("ec2_create_subnet.json"))
    assert (call.service, call.operation) == ("ec2", "CreateSubnet")
    assert call.params == {
        "VpcId": "vpc-0a1b2c3d4e5f60718",
        "CidrBlock": "10.0.128.0/24",
        "AvailabilityZone": "us-east-1a",
        "TagSpecifications": [
            {
                "ResourceType": "subnet",
                "Tags": [
                    {"Key": "Name", "Value": "public-us-east-1a"},
                    {"Key": "team", "Value": "platform"},
                ],
            }
        ],
    }
    assert call.hidden == []
    assert call.notes == []
    subnet = call.response["Subnet"]
    assert subnet["SubnetId"] == "subnet-0123456789abcdef0"
    assert subnet["Tags"] == [
        {"Key": "Name", "Value": "public-us-east-1a"},
        {"Key": "team", "Value": "platform"},
    ]
    assert "Ipv6CidrBlockAssociationSet" not in subnet  # the {} marker
    assert list(call.response) == ["Subnet"]  # requestId dropped


def test_ec2_run_instances_merges_instances_set_and_unwraps_nested_sets(normalizer):
    call = normalizer.normalize(fixture_record("ec2_run_instances.json"))
    assert (call.service, call.operation) == ("ec2", "RunInstances")
    assert call.params == {
        "ImageId": "ami-0abcdef1234567890",
        "MinCount": 1,
        "MaxCount": 1,
        "InstanceType": "t3.micro",
        "Monitoring": {"Enabled": False},
        "DisableApiTermination": False,
        "ClientToken": "D37569A7-CF2F-4BD3-8DDE-F17AB408204D",
        "NetworkInterfaces": [
            {
                "DeviceIndex": 0,
                "SubnetId": "subnet-0123456789abcdef0",
                "AssociatePublicIpAddress": True,
                "Groups": ["sg-0123456789abcdef0"],
            }
        ],
        "IamInstanceProfile": {"Name": "web-instance-profile"},
        "EbsOptimized": False,
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web-1"}]}
        ],
    }
    assert call.hidden == []
    assert call.notes == [
        "sensitive members CloudTrail never logs (the call may have sent them): UserData"
    ]
    instance = call.response["Instances"][0]
    assert instance["InstanceId"] == "i-0123456789abcdef0"
    assert instance["LaunchTime"] == utc(2023, 7, 10, 11, 55, 21)  # epoch milliseconds
    assert instance["SecurityGroups"] == [{"GroupId": "sg-0123456789abcdef0"}]


def test_ec2_authorize_ingress_legacy_top_level_fields(normalizer):
    call = normalizer.normalize(fixture_record("ec2_authorize_security_group_ingress_legacy.json"))
    assert (call.service, call.operation) == ("ec2", "AuthorizeSecurityGroupIngress")
    assert call.params == {
        "GroupId": "sg-0123456789abcdef0",
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "CidrIp": "203.0.113.0/24",
    }
    assert call.hidden == []
    assert call.notes == []
    assert call.response == {"Return": True}


def test_ec2_authorize_ingress_ip_permissions_items(normalizer):
    call = normalizer.normalize(fixture_record("ec2_authorize_security_group_ingress_items.json"))
    assert (call.service, call.operation) == ("ec2", "AuthorizeSecurityGroupIngress")
    assert call.params == {
        "GroupId": "sg-0123456789abcdef0",
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTPS"}],
            }
        ],
    }
    assert call.hidden == []
    assert call.notes == []
    assert call.response["SecurityGroupRules"][0]["SecurityGroupRuleId"] == "sgr-0123456789abcdef0"


def test_ec2_request_logged_inside_its_request_shape(normalizer):
    call = normalizer.normalize(fixture_record("ec2_create_nat_gateway_wrapped.json"))
    assert (call.service, call.operation) == ("ec2", "CreateNatGateway")
    assert call.params == {
        "ConnectivityType": "public",
        "AllocationId": "eipalloc-0123456789abcdef0",
        "SubnetId": "subnet-0123456789abcdef0",
        "ClientToken": "86C58940-D407-4E02-A617-E40168CFDBE2",
        "TagSpecifications": [
            {"ResourceType": "natgateway", "Tags": [{"Key": "managed", "Value": "true"}]}
        ],
    }
    assert call.hidden == []
    assert call.notes == [
        "dropped duplicate member requestParameters.TagSpecification[0].tag",
        "dropped unknown member requestParameters.TagSpecification[0].Tag[0].tag",
    ]
    gateway = call.response["NatGateway"]
    assert gateway["NatGatewayId"] == "nat-0123456789abcdef0"
    assert gateway["NatGatewayAddresses"] == [
        {"AllocationId": "eipalloc-0123456789abcdef0", "IsPrimary": True}
    ]
    assert gateway["CreateTime"] == utc(2023, 7, 10, 11, 55, 14)


def test_scalars_are_coerced_and_unknown_members_noted(normalizer):
    call = normalizer.normalize(fixture_record("ec2_create_volume_coercion.json"))
    assert (call.service, call.operation) == ("ec2", "CreateVolume")
    # CloudTrail logs AvailabilityZone as "zone": CLOUDTRAIL_MEMBER_NAMES knows it.
    assert call.params == {"Size": 8, "Encrypted": True, "VolumeType": "gp3", "AvailabilityZone": "us-east-1a"}
    assert call.hidden == []
    assert call.notes == []
    assert call.response["Size"] == 8
    assert call.response["CreateTime"] == utc(2023, 7, 10, 12, 10, 25)


def test_s3_put_bucket_public_access_block(normalizer):
    call = normalizer.normalize(fixture_record("s3_put_bucket_public_access_block.json"))
    assert (call.service, call.operation) == ("s3", "PutPublicAccessBlock")
    assert call.params == {
        "Bucket": "example-corp-logs",
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": False,
        },
    }
    assert call.hidden == []
    assert call.notes == []
    assert call.response is None


def test_s3_put_bucket_policy_body_becomes_the_policy_string(normalizer):
    record = fixture_record("s3_put_bucket_policy.json")
    call = normalizer.normalize(record)
    assert (call.service, call.operation) == ("s3", "PutBucketPolicy")
    assert call.params == {
        "Bucket": "example-corp-logs",
        "Policy": json.dumps(record["requestParameters"]["bucketPolicy"], separators=(",", ":")),
    }
    assert json.loads(call.params["Policy"]) == record["requestParameters"]["bucketPolicy"]
    assert call.hidden == []
    assert call.notes == []


def test_s3_header_maps_to_its_member(normalizer):
    call = normalizer.normalize(fixture_record("s3_create_bucket.json"))
    assert (call.service, call.operation) == ("s3", "CreateBucket")
    assert call.params == {"Bucket": "example-corp-logs", "ACL": "private"}
    assert call.hidden == []
    assert call.notes == []


def test_iam_create_login_profile_with_hidden_password(normalizer):
    call = normalizer.normalize(fixture_record("iam_create_login_profile_hidden.json"))
    assert (call.service, call.operation) == ("iam", "CreateLoginProfile")
    assert call.params == {"UserName": "bob", "Password": "HIDDEN", "PasswordResetRequired": True}
    assert call.hidden == ["Password"]
    assert call.notes == []
    assert call.response == {
        "LoginProfile": {
            "UserName": "bob",
            "CreateDate": utc(2023, 7, 10, 12, 23, 6),
            "PasswordResetRequired": True,
        }
    }


def test_iam_create_login_profile_with_omitted_password(normalizer):
    """CloudTrail never logs the password. botocore makes Password optional (only AssumeRoot
    sessions omit it) but documents it as required otherwise, so it is hidden, not absent."""
    call = normalizer.normalize(fixture_record("iam_create_login_profile_omitted.json"))
    assert (call.service, call.operation) == ("iam", "CreateLoginProfile")
    assert call.params == {"UserName": "bob", "Password": "HIDDEN", "PasswordResetRequired": False}
    assert call.hidden == ["Password"]
    assert call.notes == []


def test_optional_sensitive_members_the_log_omits_are_noted_not_invented(normalizer):
    record = fixture_record("iam_create_login_profile_omitted.json")
    record.update(eventSource="secretsmanager.amazonaws.com", eventName="CreateSecret",
                  requestParameters={"name": "db-password", "description": "rotated by hand"}, responseElements=None)
    call = normalizer.normalize(record)
    assert call.hidden == []
    assert "SecretString" not in call.params
    assert call.notes == ["sensitive members CloudTrail never logs (the call may have sent them): SecretBinary, SecretString"]


def test_required_member_the_log_omits_gets_a_hidden_placeholder(normalizer):
    call = normalizer.normalize(fixture_record("iam_put_role_policy_omitted_document.json"))
    assert (call.service, call.operation) == ("iam", "PutRolePolicy")
    assert call.params == {
        "RoleName": "deploy-role",
        "PolicyName": "inline-policy",
        "PolicyDocument": "HIDDEN",
    }
    assert call.hidden == ["PolicyDocument"]
    assert call.response is None


def test_hidden_due_to_security_reasons_value(normalizer):
    call = normalizer.normalize(fixture_record("ssm_put_parameter_hidden.json"))
    assert (call.service, call.operation) == ("ssm", "PutParameter")
    assert call.params == {
        "Name": "/app/db/password",
        "Value": "HIDDEN",
        "Type": "SecureString",
        "Overwrite": False,
        "Tags": [{"Key": "team", "Value": "platform"}],
        "Tier": "Standard",
    }
    assert call.hidden == ["Value"]
    assert call.notes == []
    assert call.response == {"Version": 1, "Tier": "Standard"}


def test_hidden_values_inside_lists_are_marked_by_path(normalizer):
    call = normalizer.normalize(fixture_record("rolesanywhere_create_profile_hidden_tags.json"))
    assert (call.service, call.operation) == ("rolesanywhere", "CreateProfile")
    assert call.params["tags"] == [{"key": "HIDDEN", "value": "HIDDEN"}]
    assert call.hidden == ["tags[0].key", "tags[0].value"]
    assert call.response["profile"]["createdAt"] == utc(2023, 7, 10, 12, 27, 13, 431264)


def test_whole_request_parameters_hidden(normalizer):
    record = fixture_record("secretsmanager_create_secret_sensitive_removed.json")
    call = normalizer.normalize(record)
    assert (call.service, call.operation) == ("secretsmanager", "CreateSecret")
    assert call.params == {"Name": "HIDDEN"}
    assert call.hidden == ["Name"]
    assert call.notes == ["requestParameters is hidden by CloudTrail"]
    assert call.response == {
        "ARN": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app-db-AbCdEf"
    }


def test_placeholders_fit_the_shape(normalizer):
    record = {
        "eventSource": "ec2.amazonaws.com",
        "eventName": "CreateNetworkAclEntry",
        "requestParameters": {},
    }
    call = normalizer.normalize(record)
    assert call.params == {
        "NetworkAclId": "HIDDEN",
        "RuleNumber": 0,
        "Protocol": "HIDDEN",
        "RuleAction": "allow",  # the first value of the enum
        "Egress": False,
    }
    assert call.hidden == ["NetworkAclId", "RuleNumber", "Protocol", "RuleAction", "Egress"]
    saml = normalizer.normalize(
        {"eventSource": "iam.amazonaws.com", "eventName": "CreateSAMLProvider"}
    )
    assert len(saml.params["SAMLMetadataDocument"]) == 1000  # the shape's min length
    assert saml.hidden == ["SAMLMetadataDocument", "Name"]


def test_iam_create_user_response_maps_to_user(normalizer):
    call = normalizer.normalize(fixture_record("iam_create_user.json"))
    assert (call.service, call.operation) == ("iam", "CreateUser")
    assert call.params == {
        "Path": "/",
        "UserName": "bob",
        "Tags": [{"Key": "team", "Value": "platform"}],
    }
    assert call.hidden == []
    assert call.response == {
        "User": {
            "Path": "/",
            "UserName": "bob",
            "UserId": "AIDAEXAMPLEUSERID001",
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
            "CreateDate": utc(2023, 7, 10, 12, 23, 5),
            "Tags": [{"Key": "team", "Value": "platform"}],
        }
    }


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("invented_event_name.json", 'iam has no operation "NotCreateUser"'),
        ("s3_event_under_ec2_source.json", 'ec2 has no operation "PutBucketAcl"'),
        ("unknown_event_source.json", 'unknown service "foo.amazonaws.com"'),
    ],
)
def test_records_that_name_no_operation_are_not_mappable(normalizer, fixture, reason):
    with pytest.raises(NotMappable) as rejected:
        normalizer.normalize(fixture_record(fixture))
    assert str(rejected.value) == reason


def test_request_that_does_not_validate_gives_the_first_error_on_one_line(normalizer):
    record = fixture_record("ec2_authorize_security_group_ingress_legacy.json")
    record["requestParameters"]["fromPort"] = "twenty\ntwo"
    with pytest.raises(NotMappable) as rejected:
        normalizer.normalize(record)
    reason = str(rejected.value)
    assert reason.startswith("request does not validate: Invalid type for parameter FromPort")
    assert "\n" not in reason


def test_response_problems_become_notes(normalizer):
    record = fixture_record("iam_create_user.json")
    record["responseElements"]["user"]["createDate"] = "not a date"
    record["responseElements"]["user"]["tags"] = "HIDDEN_DUE_TO_SECURITY_REASONS"
    call = normalizer.normalize(record)
    assert "CreateDate" not in call.response["User"]
    assert "Tags" not in call.response["User"]
    assert call.notes == [
        "dropped responseElements.user.createDate: not a timestamp",
        "responseElements.user.tags is hidden by CloudTrail",
    ]


def test_hostile_strings_pass_through_unchanged(normalizer):
    hostile = {
        "name": "/app/it's \"quoted\"",
        "value": "one\ntwo\r\n$(rm -rf /) `id` ${HOME} \\ \u00e9\u00e8 \u4e2d\u6587 \U0001f600",
        "description": "x" * 100_000,
    }
    record = {
        "eventSource": "ssm.amazonaws.com",
        "eventName": "PutParameter",
        "requestParameters": {**hostile, "type": "String"},
    }
    call = normalizer.normalize(record)
    assert call.params == {
        "Name": hostile["name"],
        "Value": hostile["value"],
        "Description": hostile["description"],
        "Type": "String",
    }
    assert call.hidden == []
    with pytest.raises(NotMappable) as rejected:
        normalizer.normalize({"eventSource": "iam.amazonaws.com", "eventName": 'Evil"\n$(id)'})
    assert str(rejected.value) == 'iam has no operation "Evil\\"\\n$(id)"'


def test_is_read_only_by_operation_name(normalizer):
    assert normalizer.is_read_only("ec2", "DescribeInstances")
    assert normalizer.is_read_only("s3", "HeadObject")
    assert normalizer.is_read_only("iam", "GetUser")
    assert not normalizer.is_read_only("ec2", "RunInstances")
    assert not normalizer.is_read_only("iam", "CreateUser")


def test_member_names_cloudtrail_spells_its_own_way(normalizer):
    record = fixture_record("iam_create_login_profile_omitted.json")
    record.update(eventSource="ec2.amazonaws.com", eventName="CreateVolume",
                  requestParameters={"size": 1, "zone": "eu-west-1a"},
                  responseElements={"volumeId": "vol-0123456789abcdef0", "zone": "eu-west-1a", "size": 1})
    call = normalizer.normalize(record)
    assert call.params == {"Size": 1, "AvailabilityZone": "eu-west-1a"}
    assert call.response["AvailabilityZone"] == "eu-west-1a"
    assert call.notes == []
