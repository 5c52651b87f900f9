"""moto's CloudFormation, taught the resource types of our template it does not create.

moto (5.2) creates most of the stack through its own services, but skips (with a warning) CloudWatch
alarms, SNS subscriptions and topic policies, S3 bucket policies, Lambda aliases, SES configuration
sets and their event destinations and API Gateway stages; its RestApi ignores an OpenAPI body (and
refuses Swagger 2.0, Chalice's), its Lambda version has no `Version` attribute, and its bucket
takes only encryption and tags (no versioning, Object Lock, lifecycle, public access block). Each model here
creates its resource with moto's own API (through boto3, so botocore validates the properties as
AWS would take them), from the properties CloudFormation resolved. What none of this checks: that
AWS accepts a property moto ignores (SnapStart, LoggingConfig, Tracing, DeletionProtectionEnabled
are asserted on the template instead).

`install()` registers the models (moto's model map is built from CloudFormationModel subclasses).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from moto.apigateway.models import RestAPI
from moto.awslambda.models import LambdaVersion, lambda_backends
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.s3.models import FakeBucket, s3_backends
from moto.utilities.utils import get_partition

TAUGHT = ("AWS::CloudWatch::Alarm", "AWS::Lambda::Alias", "AWS::SES::ConfigurationSet",
          "AWS::SES::ConfigurationSetEventDestination", "AWS::SNS::Subscription", "AWS::SNS::TopicPolicy",
          "AWS::S3::BucketPolicy", "AWS::ApiGateway::Stage")


def _client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


class _ViaApi:
    """A resource created by one API call; Ref gives `physical_resource_id`. (Each model below names
    CloudFormationModel as a direct base too: moto's model map lists its direct subclasses only.)"""

    def __init__(self, physical_id: str, attributes: dict[str, str] | None = None) -> None:
        self.physical_resource_id = physical_id
        self._attributes = attributes or {}

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self._attributes[attribute_name]

    @classmethod
    def update_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def delete_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> None:
        pass

    def is_created(self) -> bool:
        return True


class Alarm(_ViaApi, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Alarm:
        props = dict(cloudformation_json["Properties"])
        _client("cloudwatch", region_name).put_metric_alarm(**props)
        arn = f"arn:aws:cloudwatch:{region_name}:{account_id}:alarm:{props['AlarmName']}"
        return cls(props["AlarmName"], {"Arn": arn})


class Alias(_ViaApi, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Alias"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Alias:
        props = cloudformation_json["Properties"]
        alias = _client("lambda", region_name).create_alias(
            FunctionName=props["FunctionName"], Name=props["Name"], FunctionVersion=str(props["FunctionVersion"]))
        return cls(alias["AliasArn"])


class Version(LambdaVersion, CloudFormationModel):
    """moto's, with the attribute SAM's alias reads and the version's ARN as its Ref."""

    physical_resource_id = ""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Version:
        function_name = cloudformation_json["Properties"]["FunctionName"]
        published = lambda_backends[account_id][region_name].publish_version(function_name)
        assert published is not None, function_name
        version = cls({"Version": published.version})
        version.physical_resource_id = published.function_arn
        return version

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Version":
            return str(self.version)
        raise NotImplementedError(attribute_name)


class ConfigurationSet(_ViaApi, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::ConfigurationSet"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> ConfigurationSet:
        props = cloudformation_json["Properties"]
        _client("sesv2", region_name).create_configuration_set(
            ConfigurationSetName=props["Name"], ReputationOptions=props.get("ReputationOptions", {}),
            SendingOptions=props.get("SendingOptions", {}))
        return cls(props["Name"])


class ConfigurationSetEventDestination(_ViaApi, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::ConfigurationSetEventDestination"

    @classmethod
    def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
            **kwargs: Any) -> ConfigurationSetEventDestination:
        props = cloudformation_json["Properties"]
        destination = dict(props["EventDestination"])
        if "SnsDestination" in destination:  # the SES v1 API's spelling
            destination["SNSDestination"] = {"TopicARN": destination.pop("SnsDestination")["TopicARN"]}
        _client("ses", region_name).create_configuration_set_event_destination(
            ConfigurationSetName=props["ConfigurationSetName"], EventDestination=destination)
        return cls(destination["Name"])


class Subscription(_ViaApi, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Subscription:
        props = cloudformation_json["Properties"]
        found = _client("sns", region_name).subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"])
        return cls(found["SubscriptionArn"])


class TopicPolicy(_ViaApi, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> TopicPolicy:
        props = cloudformation_json["Properties"]
        for topic in props["Topics"]:
            _client("sns", region_name).set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"]))
        return cls(resource_name)


class BucketPolicy(_ViaApi, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> BucketPolicy:
        props = cloudformation_json["Properties"]
        _client("s3", region_name).put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
        return cls(props["Bucket"])


class Stage(_ViaApi, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Stage"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Stage:
        props = cloudformation_json["Properties"]
        deployment = props["DeploymentId"]  # moto's Deployment has no physical id: Ref gives the object
        _client("apigateway", region_name).create_stage(
            restApiId=props["RestApiId"], stageName=props["StageName"],
            deploymentId=getattr(deployment, "id", deployment),
            tracingEnabled=bool(props.get("TracingEnabled", False)))
        return cls(props["StageName"])


class SwaggerRestApi(RestAPI, CloudFormationModel):
    """moto's RestApi, plus the methods and integrations of a Swagger 2.0 body (what Chalice writes)."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> RestAPI:
        api = RestAPI.create_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name)
        body = cloudformation_json["Properties"].get("Body")
        if body:
            _import_paths(_client("apigateway", region_name), api.id, body)
        return api


class RecordBucket(FakeBucket, CloudFormationModel):
    """moto's bucket, created with every property of ours: Object Lock (at creation, as S3 requires),
    versioning, default retention, lifecycle, public access block, ownership, encryption."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> FakeBucket:
        props = cloudformation_json.get("Properties", {})
        name = props.get("BucketName", resource_name)
        s3 = _client("s3", region_name)
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=bool(props.get("ObjectLockEnabled")))
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
        if "ObjectLockConfiguration" in props:
            lock = json.loads(json.dumps(props["ObjectLockConfiguration"]))
            retention = lock.get("Rule", {}).get("DefaultRetention", {})
            if "Days" in retention:  # a Number parameter arrives as text; CloudFormation converts it
                retention["Days"] = int(retention["Days"])
            s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=lock)
        if "BucketEncryption" in props:
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]]})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(Bucket=name,
                                       PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
        if "OwnershipControls" in props:
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
        if "LifecycleConfiguration" in props:
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={
                "Rules": [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]})
        if "Tags" in props:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": props["Tags"]})
        return s3_backends[account_id][get_partition(region_name)].get_bucket(name)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's spelling of a lifecycle rule, in the API's."""
    out: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "NoncurrentVersionTransitions" in rule:
        out["NoncurrentVersionTransitions"] = [
            {"StorageClass": t["StorageClass"], "NoncurrentDays": t["TransitionInDays"]}
            for t in rule["NoncurrentVersionTransitions"]]
    for key in ("NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"):
        if key in rule:
            out[key] = rule[key]
    return out


def _import_paths(client: Any, api_id: str, body: dict[str, Any]) -> None:
    ids = {"/": next(r["id"] for r in client.get_resources(restApiId=api_id)["items"] if r["path"] == "/")}
    for path in sorted(body.get("paths", {})):
        parent = "/"
        for part in [p for p in path.split("/") if p]:
            here = parent.rstrip("/") + "/" + part
            if here not in ids:
                ids[here] = client.create_resource(restApiId=api_id, parentId=ids[parent], pathPart=part)["id"]
            parent = here
        for method, spec in body["paths"][path].items():
            if method.startswith("x-"):
                continue
            integration = spec["x-amazon-apigateway-integration"]
            client.put_method(restApiId=api_id, resourceId=ids[parent], httpMethod=method.upper(),
                              authorizationType="NONE")
            client.put_integration(restApiId=api_id, resourceId=ids[parent], httpMethod=method.upper(),
                                   type=integration["type"].upper(), integrationHttpMethod=integration["httpMethod"],
                                   uri=integration["uri"])


def install() -> None:
    """Makes moto's CloudFormation create the types above (idempotent)."""
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    taught = parsing.get_model_map()
    assert all(t in taught for t in TAUGHT), [t for t in TAUGHT if t not in taught]
    assert taught["AWS::ApiGateway::RestApi"] is SwaggerRestApi
    assert taught["AWS::Lambda::Version"] is Version
    assert taught["AWS::S3::Bucket"] is RecordBucket
