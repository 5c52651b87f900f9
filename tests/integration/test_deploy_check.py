"""The deployment, checked without an AWS account: the packaged SAM template turned into plain
CloudFormation by aws-sam-translator (what AWS's transform does), then created as a stack in moto's
CloudFormation — dev with every optional switch on (alarm email, archive retention, tracing), prod
with the defaults, both in one account and region, as two installs would be.

Then: the stack and what it wired (each function's environment pointing at this stack's bucket,
queue and configuration set; the SQS trigger on the jobs function's alias; the schedules; the SES
feedback topic feeding its function; the API calling the API function's alias), the archive as a
record (Object Lock retention actually refusing a delete), every alarm created on what exists, and
the policy of each function's role, evaluated on the ARNs moto created: what it needs and nothing
it does not. Also: every metric the code emits is alarmed or drawn, every alarm has its runbook
section, no two installs share a name.

moto does not create some types of ours; tests/support/moto_cloudformation.py creates them through
moto's own APIs (so botocore still validates their properties). Properties moto accepts and ignores
(SnapStart, LoggingConfig, Tracing, DeletionProtectionEnabled, the API stage's tracing) are checked on
the transformed template; AWS's own validation of them is the part no local check replaces.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from moto import mock_aws
from samtranslator.translator.transform import transform

from infra import monitoring
from tests.support import moto_cloudformation
from tests.support.packaging import GROUP, SETTINGS, Packages

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group(GROUP)
REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's default account
ARTIFACTS = "deploy-check-artifacts"
DEV_PARAMETERS = {"AlarmEmail": "ops@deploy-check.net", "ArchiveRetentionDays": "30", "TracingMode": "Active"}
FUNCTIONS = ("api_handler", "process_job", "hourly_reminders", "daily_reconcile", "ses_feedback")


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:  # our functions name their roles; SAM looks up no managed policy
        return {}


def cloudformation(package: Path, stage: str) -> dict[str, Any]:
    """The SAM template as plain CloudFormation, its code where `aws cloudformation package` puts it."""
    sam = json.loads((package / "sam.json").read_text())
    for resource in sam["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://{ARTIFACTS}/{Path(resource['Properties'][key]).name}"
    pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "Stage": stage}
    return transform(sam, pseudo, _NoManagedPolicies())


@dataclass
class Deployed:
    stage: str
    template: dict[str, Any]  # the transformed template
    resources: dict[str, str]  # logical id -> physical id
    skipped: list[str]  # what moto said it could not create

    def physical(self, logical: str) -> str:
        return self.resources[logical]


@pytest.fixture(scope="module")
def deployed(packages: Packages) -> Iterator[dict[str, Deployed]]:
    moto_cloudformation.install()
    templates = {stage: cloudformation(packages(stage), stage) for stage in ("dev", "prod")}
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACTS)
        for stage in templates:
            for archive in packages(stage).glob("*.zip"):  # both stages' zips are the same code
                s3.upload_file(str(archive), ARTIFACTS, archive.name)
        cfn = boto3.client("cloudformation", region_name=REGION)
        out: dict[str, Deployed] = {}
        for stage, template in templates.items():
            parameters = {"Stage": stage, **(DEV_PARAMETERS if stage == "dev" else {})}
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                cfn.create_stack(StackName=f"signbridge-{stage}", TemplateBody=json.dumps(template),
                                 Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                                 Capabilities=["CAPABILITY_IAM"])
            stack = cfn.describe_stacks(StackName=f"signbridge-{stage}")["Stacks"][0]
            assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
            listed = cfn.describe_stack_resources(StackName=f"signbridge-{stage}")["StackResources"]
            # (moto lists a resource its condition left out without a logical id)
            out[stage] = Deployed(stage, template, {r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
                                                    for r in listed if r.get("LogicalResourceId")},
                                  [str(w.message) for w in caught if "not supported by moto" in str(w.message)])
        yield out


@pytest.fixture(scope="module")
def dev(deployed: dict[str, Deployed]) -> Deployed:
    return deployed["dev"]


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


# --- the stacks ------------------------------------------------------------------------------------

def test_both_stacks_create_with_every_resource(deployed: dict[str, Deployed]) -> None:
    for stage, stack in deployed.items():
        assert stack.skipped == [], stack.skipped
        conditional = {"AlarmEmailSubscription", "TracingPolicy"} if stage == "prod" else set()
        assert set(stack.template["Resources"]) - conditional == set(stack.resources), stage
        assert conditional.isdisjoint(stack.resources)


def test_each_function_is_configured_with_this_stacks_resources(dev: Deployed) -> None:
    lam = client("lambda")
    bucket = dev.physical("ArchiveBucket")
    for name in FUNCTIONS:
        config = lam.get_function_configuration(FunctionName=f"signbridge-dev-{name}")
        env = config["Environment"]["Variables"]
        assert env["SIGNBRIDGE_STAGE"] == "dev"
        assert env["SIGNBRIDGE_ARCHIVE_BUCKET"] == bucket and bucket.startswith("signbridge-dev-archivebucket-")
        assert env["SIGNBRIDGE_SES_CONFIGURATION_SET"] == "signbridge-dev"
        assert env["SIGNBRIDGE_JOBS_QUEUE"] == "signbridge-dev-jobs"
        assert {k: env[k] for k in SETTINGS} == SETTINGS
        assert config["Runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert lam.get_function_configuration(FunctionName="signbridge-dev-api_handler")["Timeout"] == 28
    jobs = lam.get_function_configuration(FunctionName="signbridge-dev-process_job")
    visibility = client("sqs").get_queue_attributes(
        QueueUrl=dev.physical("JobsQueue"), AttributeNames=["VisibilityTimeout", "RedrivePolicy"])["Attributes"]
    assert int(visibility["VisibilityTimeout"]) >= 6 * jobs["Timeout"]  # AWS's advice for an SQS trigger
    redrive = json.loads(visibility["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":signbridge-dev-jobs-dlq") and int(redrive["maxReceiveCount"]) == 5


def test_the_jobs_trigger_and_the_api_call_the_snapstart_aliases(dev: Deployed) -> None:
    lam = client("lambda")
    for name in ("api_handler", "process_job"):
        aliases = lam.list_aliases(FunctionName=f"signbridge-dev-{name}")["Aliases"]
        assert [a["Name"] for a in aliases] == ["live"] and aliases[0]["FunctionVersion"] != "$LATEST"
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:signbridge-dev-jobs"
    [mapping] = lam.list_event_source_mappings(EventSourceArn=queue)["EventSourceMappings"]
    # The trigger calls the alias (moto reports the version the alias points to; AWS, the alias).
    [live] = lam.list_aliases(FunctionName="signbridge-dev-process_job")["Aliases"]
    assert mapping["FunctionArn"].rsplit(":", 1)[-1] in ("live", live["FunctionVersion"])
    [esm] = [r for r in dev.template["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert esm["Properties"]["FunctionName"] == {"Ref": "ProcessJobAliaslive"}
    assert mapping["BatchSize"] == 1
    api = client("apigateway")
    [rest] = [a for a in api.get_rest_apis()["items"] if a["id"] == dev.physical("RestAPI")]
    assert rest["name"] == "signbridge-dev"
    alias_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:signbridge-dev-api_handler:live"
    methods = 0
    for resource in api.get_resources(restApiId=rest["id"])["items"]:
        for method in resource.get("resourceMethods", {}):
            integration = api.get_integration(restApiId=rest["id"], resourceId=resource["id"], httpMethod=method)
            assert integration["uri"] == (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
                                          f"{alias_arn}/invocations"), resource["path"]
            methods += 1
    assert methods >= 15
    assert api.get_stage(restApiId=rest["id"], stageName="api")["tracingEnabled"] is True  # dev: TracingMode Active
    functions = {r["Properties"].get("FunctionName", {}).get("Fn::Sub", ""): r["Properties"]
                 for r in dev.template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"}
    for name, props in functions.items():
        snapstart = name.removeprefix("signbridge-${Stage}-") in ("api_handler", "process_job")
        assert ("SnapStart" in props) == snapstart, name  # moto ignores it: the template says it
        if snapstart:
            assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        assert props["TracingConfig"] == {"Mode": {"Ref": "TracingMode"}}
        assert set(props["LoggingConfig"]) == {"LogGroup"}


def test_the_schedules_and_the_ses_feedback_path(dev: Deployed) -> None:
    events = client("events")
    rules = {r["Name"]: r for r in events.list_rules(NamePrefix="signbridge-dev-")["Rules"]}
    assert rules["signbridge-dev-hourly_reminders"]["ScheduleExpression"] == "rate(1 hour)"
    assert rules["signbridge-dev-daily_reconcile"]["ScheduleExpression"] == "cron(30 2 * * ? *)"
    for name in ("hourly_reminders", "daily_reconcile"):
        [target] = events.list_targets_by_rule(Rule=f"signbridge-dev-{name}")["Targets"]
        assert target["Arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:signbridge-dev-{name}"
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:signbridge-dev-ses-feedback"
    endpoints = {s["Endpoint"] for s in client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}
    assert endpoints == {f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:signbridge-dev-ses_feedback"}
    policy = json.loads(client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "ses.amazonaws.com"}]
    described = client("ses").describe_configuration_set(ConfigurationSetName="signbridge-dev",
                                                         ConfigurationSetAttributeNames=["eventDestinations"])
    [destination] = described["EventDestinations"]
    assert sorted(destination["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert destination["SNSDestination"]["TopicARN"] == topic
    alarms = f"arn:aws:sns:{REGION}:{ACCOUNT}:signbridge-dev-alarms"
    emails = client("sns").list_subscriptions_by_topic(TopicArn=alarms)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in emails] == [("email", "ops@deploy-check.net")]
    assert client("sns").list_subscriptions_by_topic(
        TopicArn=alarms.replace("-dev-", "-prod-"))["Subscriptions"] == []  # prod: AlarmEmail left empty


def test_the_archive_keeps_its_record(deployed: dict[str, Deployed]) -> None:
    s3 = client("s3")
    dev_bucket, prod_bucket = deployed["dev"].physical("ArchiveBucket"), deployed["prod"].physical("ArchiveBucket")
    assert s3.get_bucket_versioning(Bucket=dev_bucket)["Status"] == "Enabled"
    lock = s3.get_object_lock_configuration(Bucket=dev_bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert {k: lock["Rule"]["DefaultRetention"][k] for k in ("Mode", "Days")} == {"Mode": "GOVERNANCE", "Days": 30}
    prod_lock = s3.get_object_lock_configuration(Bucket=prod_bucket)["ObjectLockConfiguration"]
    assert prod_lock["ObjectLockEnabled"] == "Enabled"  # on from creation, no default retention (moto: zeros)
    assert not any(prod_lock.get("Rule", {}).get("DefaultRetention", {}).get(k) for k in ("Days", "Years"))
    policy = json.loads(s3.get_bucket_policy(Bucket=dev_bucket)["Policy"])
    [tls] = policy["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert f"arn:aws:s3:::{dev_bucket}/*" in tls["Resource"]
    # Under retention, a signed PDF's version cannot be deleted (only a bypass, which no role has).
    # moto enforces a bucket policy's Deny without its condition, so the TLS-only rule is lifted meanwhile.
    s3.delete_bucket_policy(Bucket=dev_bucket)
    try:
        version = s3.put_object(Bucket=dev_bucket, Key="signed/t/c/e.pdf", Body=b"%PDF-1.7", ChecksumAlgorithm="SHA256")
        with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
            s3.delete_object(Bucket=dev_bucket, Key="signed/t/c/e.pdf", VersionId=version["VersionId"])
    finally:
        s3.put_bucket_policy(Bucket=dev_bucket, Policy=json.dumps(policy))
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=dev_bucket)["Rules"]}
    assert rules["noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 365
    assert all(s3.get_public_access_block(Bucket=dev_bucket)["PublicAccessBlockConfiguration"].values())
    tables = [r for r in deployed["dev"].template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == 6  # contracts, events, keys, reminders, registry, analytics
    for stage in deployed:
        for table in client("dynamodb").list_tables()["TableNames"]:
            if table.startswith(f"signbridge-{stage}-"):
                assert client("dynamodb").describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"]


def test_log_groups_hold_every_function_with_the_retention(deployed: dict[str, Deployed]) -> None:
    for stage in deployed:
        groups = client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/signbridge-{stage}-")["logGroups"]
        assert {g["logGroupName"]: g.get("retentionInDays") for g in groups} == {
            f"/aws/lambda/signbridge-{stage}-{name}": 90 for name in FUNCTIONS}


def test_every_alarm_watches_something_that_exists_and_tells_the_topic(dev: Deployed) -> None:
    alarms = client("cloudwatch").describe_alarms(AlarmNamePrefix="signbridge-dev-")["MetricAlarms"]
    declared = [r for r in dev.template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(alarms) == len(declared) >= 30
    functions = {f["FunctionName"] for f in client("lambda").list_functions()["Functions"]}
    queues = {u.rsplit("/", 1)[-1] for u in client("sqs").list_queues()["QueueUrls"]}
    tables = set(client("dynamodb").list_tables()["TableNames"])
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:signbridge-dev-alarms"
    for alarm in alarms:
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic], alarm["AlarmName"]
        assert re.search(r"Runbook: docs/runbook\.md#[a-z0-9-]+$", alarm["AlarmDescription"]), alarm["AlarmName"]
        stats = [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", []) if "MetricStat" in q]
        dims = alarm.get("Dimensions", []) + [d for metric in stats for d in metric.get("Dimensions", [])]
        for dim in dims:
            known = {"FunctionName": functions, "QueueName": queues, "TableName": tables}[dim["Name"]]
            assert dim["Value"] in known and "-dev-" in dim["Value"], (alarm["AlarmName"], dim)
        for q in alarm.get("Metrics", []):
            if "SELECT" in q.get("Expression", ""):
                assert 'FROM "signbridge/dev"' in q["Expression"]
    for kind in ("operations", "business"):
        body = client("cloudwatch").get_dashboard(DashboardName=f"signbridge-dev-{REGION}-{kind}")["DashboardBody"]
        assert json.loads(body)["widgets"] and "${" not in body  # valid JSON once substituted


# --- least privilege -------------------------------------------------------------------------------

def _statements(function: str) -> list[dict[str, Any]]:
    iam = client("iam")
    role = client("lambda").get_function_configuration(FunctionName=function)["Role"].rsplit("/", 1)[-1]
    documents = [iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
                 for name in iam.list_role_policies(RoleName=role)["PolicyNames"]]
    # moto keeps a document its CloudFormation created as Python's repr of it; the API's are URL-encoded JSON
    documents = [(ast.literal_eval(d) if d.startswith("{'") else json.loads(unquote(d))) if isinstance(d, str) else d
                 for d in documents]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    return [s for d in documents for s in (d["Statement"] if isinstance(d["Statement"], list) else [d["Statement"]])]


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM's answer for one action on one resource (conditions taken as met: they only narrow)."""
    allowed = False
    for s in statements:
        if (any(fnmatchcase(action.lower(), a.lower()) for a in _listed(s["Action"]))
                and any(fnmatchcase(resource, r) for r in _listed(s["Resource"]))):
            if s["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


class Arns:
    def __init__(self, stack: Deployed) -> None:
        self.stage, self.bucket = stack.stage, stack.physical("ArchiveBucket")
        self.key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{stack.physical('TokenCacheKey')}"

    def table(self, name: str, stage: str | None = None) -> str:
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/signbridge-{stage or self.stage}-{name}"

    def queue(self, name: str = "jobs") -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:signbridge-{self.stage}-{name}"

    def object(self, key: str = "signed/acme/c-1/env-1.pdf") -> str:
        return f"arn:aws:s3:::{self.bucket}/{key}"

    def secret(self, name: str) -> str:
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:signbridge/{self.stage}/{name}-AbC123"

    def identity(self, name: str) -> str:
        return f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{name}"

    def log_stream(self, function: str) -> str:
        return (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/signbridge-{self.stage}-{function}"
                ":log-stream:2026/11/30/[$LATEST]abc")


@pytest.fixture(scope="module")
def arns(dev: Deployed) -> Arns:
    return Arns(dev)


def test_every_function_writes_its_own_logs_and_nothing_is_allowed_everywhere(dev: Deployed, arns: Arns) -> None:
    for name in FUNCTIONS:
        statements = _statements(f"signbridge-dev-{name}")
        for other in FUNCTIONS:
            assert allows(statements, "logs:PutLogEvents", arns.log_stream(other)) == (other == name), (name, other)
        assert not allows(statements, "logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:x")
        assert not allows(statements, "cloudwatch:PutMetricData", "*")  # metrics are EMF log lines
        assert not allows(statements, "dynamodb:GetItem", arns.table("contracts", "prod"))  # the other stage
        assert not allows(statements, "dynamodb:DeleteTable", arns.table("contracts"))
        assert not allows(statements, "secretsmanager:PutSecretValue", arns.secret("signing-link-key"))
        assert not allows(statements, "s3:DeleteObjectVersion", arns.object())
        assert not allows(statements, "s3:BypassGovernanceRetention", arns.object())
        assert not allows(statements, "sqs:ReceiveMessage", arns.queue("jobs-dlq"))  # the operator's, via the CLI
        assert not allows(statements, "iam:PassRole", "*")
        # Every Allow names its resources; "*" only for X-Ray (tracing on in dev), which has no resource level.
        for s in statements:
            if s["Effect"] == "Allow" and "*" in _listed(s["Resource"]):
                assert all(a.startswith("xray:") for a in _listed(s["Action"])), (name, s)


def test_the_api_function(arns: Arns) -> None:
    api = _statements("signbridge-dev-api_handler")
    assert allows(api, "sqs:SendMessage", arns.queue())
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        assert not allows(api, action, arns.queue()), action
    assert not allows(api, "sqs:SendMessage", arns.queue("jobs-dlq"))
    assert allows(api, "s3:GetObject", arns.object()) and allows(api, "s3:GetObjectVersion", arns.object())
    assert not allows(api, "s3:PutObject", arns.object())  # only the jobs write the archive,
    # except the files of execution-log entries and the evidence bundles it builds, under their own prefixes
    assert allows(api, "s3:PutObject", arns.object("execution/acme/c-1/ex-1/0-0123456789abcdef"))
    assert allows(api, "s3:PutObject", arns.object("evidence/acme/c-1/3f9a.zip"))
    assert not allows(api, "s3:PutObject", arns.object("signed/acme/c-1/env-1.pdf"))
    assert allows(api, "dynamodb:Query", arns.table("contracts") + "/index/by-envelope")
    assert not allows(api, "dynamodb:Scan", arns.table("registry"))
    assert allows(api, "secretsmanager:GetSecretValue", arns.secret("sources/acme-zoho"))
    assert allows(api, "kms:Decrypt", arns.key)
    assert not allows(api, "kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/another-key")
    assert allows(api, "ses:SendEmail", arns.identity("deploy-check.net"))  # Connect's owner notices
    assert not allows(api, "ses:SendEmail", arns.identity("somebody-else.net"))


def test_the_jobs_function(arns: Arns) -> None:
    jobs = _statements("signbridge-dev-process_job")
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes",
                   "sqs:SendMessage"):
        assert allows(jobs, action, arns.queue()), action
    assert allows(jobs, "sqs:SendMessage", arns.queue("jobs-dlq"))  # the runner dead-letters
    assert allows(jobs, "s3:PutObject", arns.object()) and allows(jobs, "s3:GetObject", arns.object())
    assert not allows(jobs, "s3:PutObject", "arn:aws:s3:::another-bucket/x")
    assert allows(jobs, "ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/signbridge-dev")
    assert not allows(jobs, "dynamodb:Scan", arns.table("contracts"))


def test_the_scheduled_functions(arns: Arns) -> None:
    hourly = _statements("signbridge-dev-hourly_reminders")
    assert allows(hourly, "dynamodb:Query", arns.table("reminders") + "/index/due")
    assert allows(hourly, "sqs:SendMessage", arns.queue()) and allows(hourly, "ses:SendEmail", arns.identity(
        "contracts@deploy-check.net"))
    for action, resource in (("s3:GetObject", arns.object()), ("secretsmanager:GetSecretValue", arns.secret("x")),
                             ("kms:Decrypt", arns.key), ("sqs:ReceiveMessage", arns.queue())):
        assert not allows(hourly, action, resource), action
    reconcile = _statements("signbridge-dev-daily_reconcile")
    assert allows(reconcile, "dynamodb:Scan", arns.table("registry"))  # the tenants with their own account
    assert not allows(reconcile, "dynamodb:Scan", arns.table("contracts"))
    assert allows(reconcile, "secretsmanager:GetSecretValue", arns.secret("docusign-private-key"))
    assert allows(reconcile, "secretsmanager:GetSecretValue", arns.secret("tenants/acme/docusign"))
    assert not allows(reconcile, "secretsmanager:GetSecretValue", arns.secret("signing-link-key"))
    assert not allows(reconcile, "secretsmanager:GetSecretValue", arns.secret("sources/acme-zoho"))
    assert not allows(reconcile, "s3:GetObject", arns.object())
    feedback = _statements("signbridge-dev-ses_feedback")
    assert allows(feedback, "dynamodb:PutItem", arns.table("keys"))
    assert allows(feedback, "sqs:SendMessage", arns.queue())  # the owner's CRM callback about the bounce
    for action, resource in (("ses:SendEmail", arns.identity("deploy-check.net")),
                             ("secretsmanager:GetSecretValue", arns.secret("x")), ("s3:GetObject", arns.object())):
        assert not allows(feedback, action, resource), action


def test_tracing_permissions_follow_the_switch(deployed: dict[str, Deployed]) -> None:
    for stage, on in (("dev", True), ("prod", False)):
        statements = _statements(f"signbridge-{stage}-process_job")
        assert allows(statements, "xray:PutTraceSegments", "*") is on, stage


# --- monitoring and runbook ------------------------------------------------------------------------

def emitted_metrics() -> dict[str, list[str]]:
    """Every metric name a `count(...)` call in chalicelib can emit, with where."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            if not ((isinstance(func, ast.Name) and func.id == "count")
                    or (isinstance(func, ast.Attribute) and func.attr == "count"
                        and isinstance(func.value, ast.Name) and func.value.id == "observability")):
                continue
            names = [n.value for n in ast.walk(node.args[0])
                     if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            assert names, f"{path}:{node.lineno}: a metric name must be a literal the infra can read"
            for name in names:
                found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def watched_metrics(template: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The app metrics the template's alarms query, and those its dashboards draw."""
    pattern = re.compile(r'SELECT SUM\((\w+)\) FROM "signbridge/\$\{Stage\}"')
    alarmed, drawn = set(), set()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            alarmed |= {m for text in _strings(resource["Properties"]) for m in pattern.findall(text)}
        elif resource["Type"] == "AWS::CloudWatch::Dashboard":
            body = json.loads(resource["Properties"]["DashboardBody"]["Fn::Sub"])
            drawn |= {m for text in _strings(body) for m in pattern.findall(text)}
    return alarmed, drawn


def test_every_metric_the_code_emits_is_alarmed_or_on_a_dashboard(dev: Deployed) -> None:
    emitted = emitted_metrics()
    assert {"JobsDeadLettered", "RemindersFailed", "IntakeRejected", "SecretsIgnored"} <= set(emitted)
    alarmed, drawn = watched_metrics(dev.template)
    unwatched = {name: where for name, where in emitted.items() if name not in alarmed | drawn}
    assert unwatched == {}, f"add these to infra/monitoring.py (an alarm or a widget): {unwatched}"
    # And nothing is watched that the code does not emit (a renamed metric leaves a dead alarm), but
    # the metrics the app is about to count (monitoring.PENDING_METRICS).
    assert (alarmed | drawn) - set(emitted) <= monitoring.PENDING_METRICS, (alarmed | drawn) - set(emitted)


def test_the_app_counts_in_the_stages_namespace(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.core import observability
    from chalicelib.core.config import reset_settings

    monkeypatch.setenv("SIGNBRIDGE_STAGE", "prod")
    reset_settings()
    try:
        capsys.readouterr()
        observability.count("RemindersFailed", 2)
        [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    finally:
        reset_settings()
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "signbridge/prod"  # what the alarms' queries read (monitoring.APP_NAMESPACE)
    value = line["RemindersFailed"]
    assert (value[0] if isinstance(value, list) else value) == 2


def runbook_sections() -> set[str]:
    text = (ROOT / "docs" / "runbook.md").read_text()
    return {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#{2,4} (.+)$", text, re.MULTILINE)}


def test_every_alarm_has_its_runbook_section_and_every_alarm_section_an_alarm(dev: Deployed) -> None:
    sections = runbook_sections()
    anchors = {}
    for logical, resource in dev.template["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            description = resource["Properties"]["AlarmDescription"]
            [anchor] = re.findall(r"Runbook: docs/runbook\.md#([a-z0-9-]+)$", description)
            anchors[logical] = anchor
    missing = {logical: anchor for logical, anchor in anchors.items() if anchor not in sections}
    assert missing == {}, f"write these sections of docs/runbook.md: {missing}"
    text = (ROOT / "docs" / "runbook.md").read_text()
    alarm_part = text.split("\n## Alarms", 1)[1].split("\n## ", 1)[0]
    alarm_sections = {h.strip() for h in re.findall(r"^### (.+)$", alarm_part, re.MULTILINE)}
    assert alarm_sections == set(anchors.values()), alarm_sections ^ set(anchors.values())
    for anchor in anchors.values():  # each says what to run, with the admin CLI or the console
        section = alarm_part.split(f"### {anchor}\n", 1)[1].split("\n### ", 1)[0]
        assert "What it means" in section and "Look at" in section and "Do" in section, anchor


# --- two installs ----------------------------------------------------------------------------------

NAMED = {"AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName", "AWS::SNS::Topic": "TopicName",
         "AWS::S3::Bucket": "BucketName", "AWS::CloudWatch::Alarm": "AlarmName",
         "AWS::CloudWatch::Dashboard": "DashboardName", "AWS::Logs::LogGroup": "LogGroupName",
         "AWS::Lambda::Function": "FunctionName", "AWS::IAM::Role": "RoleName", "AWS::KMS::Alias": "AliasName",
         "AWS::Lambda::LayerVersion": "LayerName", "AWS::ApiGateway::RestApi": "Name", "AWS::Events::Rule": "Name",
         "AWS::SES::ConfigurationSet": "Name"}
# Names that are one per account whatever the region: the bucket's is one per partition.
GLOBAL = {"AWS::S3::Bucket", "AWS::IAM::Role", "AWS::CloudWatch::Dashboard"}


def physical_names(template: dict[str, Any], stage: str) -> dict[tuple[str, str], str | None]:
    names: dict[tuple[str, str], str | None] = {}
    for logical, resource in template["Resources"].items():
        prop = NAMED.get(resource["Type"])
        if prop is None:
            continue
        value = resource.get("Properties", {}).get(prop)
        if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            value = value["Fn::Sub"].replace("${Stage}", stage)
        assert value is None or isinstance(value, str), (logical, value)
        names[(resource["Type"], logical)] = value
    return names


def test_two_installs_share_no_name(deployed: dict[str, Deployed]) -> None:
    named = {stage: physical_names(stack.template, stage) for stage, stack in deployed.items()}
    for stage, names in named.items():
        for (kind, logical), name in names.items():
            if name is None:  # generated by CloudFormation: unique by construction
                assert kind in ("AWS::S3::Bucket", "AWS::IAM::Role"), (logical, kind)
                continue
            assert f"signbridge-{stage}" in name, (logical, name)  # the stage in every name
            if kind in GLOBAL:  # the same stage in another region must not collide either
                assert "${AWS::Region}" in name, (logical, name)
    dev_names = {(k, n) for (k, _), n in named["dev"].items() if n}
    prod_names = {(k, n) for (k, _), n in named["prod"].items() if n}
    assert dev_names and dev_names.isdisjoint(prod_names), dev_names & prod_names
    # And the two stacks did coexist in one account and region (the fixture created both).
    assert deployed["dev"].physical("ArchiveBucket") != deployed["prod"].physical("ArchiveBucket")


def test_the_transformed_template_passes_cfn_lint_with_informational_checks(dev: Deployed, tmp_path: Path) -> None:
    path = tmp_path / "cloudformation.json"
    path.write_text(json.dumps(dev.template))
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), "-c", "I", "--", str(path)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
