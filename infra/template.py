"""What `chalice package` leaves to us in its SAM template, done in one pass over it (infra/package.py
runs it after the merge of infra/resources.json):

- the Stage parameter defaults to, and only allows, the stage packaged;
- every function: its name (signbridge-<stage>-<function>), its log group with the retention
  parameter (created by the stack, named, so Lambda never makes one without retention), X-Ray by the
  TracingMode parameter, the stage's settings and the stack's resources in its environment (bucket,
  configuration set and queue by reference), its SQS/SNS triggers by reference to the queue and
  topic of this template (so the stack creates them first);
- SnapStart on the functions where a cold start is someone's wait (the API, the jobs), published
  through an alias that API Gateway and the SQS trigger call;
- each function's role: its own policy file from .chalice/ (one per function; a function without
  one makes the build fail), with `${…}` references substituted by CloudFormation, plus writing to
  its own log group, and X-Ray's when tracing is on;
- the alarms and dashboards of infra/monitoring.py.

No ARN is left with a literal partition (`arn:aws:`): the build fails if one is.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from infra import monitoring
from infra.settings import mail_from_identities

# Where a cold start is someone's wait: a CRM or DocuSign holding a webhook, a signer opening a link,
# a job's latency under a burst (each new container of the jobs queue starts cold). The scheduled
# runs start cold once an hour or a day, and nobody waits on them: SnapStart's snapshot and restore
# charges buy nothing there.
SNAPSTART = frozenset({"api_handler", "process_job"})
ALIAS = "live"
UNASSIGNED_SID = "NoPolicyOfItsOwn"  # .chalice/policy-unassigned.json: what a function without its own file gets

# The environment every function gets from the stack (the app's defaults derive the same names from
# the stage, except the bucket's, which CloudFormation generates).
STACK_ENVIRONMENT: dict[str, Any] = {
    "SIGNBRIDGE_ARCHIVE_BUCKET": {"Ref": "ArchiveBucket"},
    "SIGNBRIDGE_SES_CONFIGURATION_SET": {"Ref": "SesConfigurationSet"},
    "SIGNBRIDGE_JOBS_QUEUE": {"Fn::GetAtt": ["JobsQueue", "QueueName"]},
}
_PARTITION_LITERAL = re.compile(r"arn:aws(-[a-z-]+)?:")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(Exception):
    pass


def chalice_name(handler: str) -> str:
    """The Chalice function name behind a SAM function's handler (`app.app` is the API's)."""
    attribute = handler.rsplit(".", 1)[-1]
    return "api_handler" if attribute == "app" else attribute


def functions(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> Chalice function name, for every function in the template."""
    return {logical: chalice_name(res["Properties"]["Handler"])
            for logical, res in template["Resources"].items() if res["Type"] == "AWS::Serverless::Function"}


def finish(template: dict[str, Any], stage: str, settings: dict[str, str]) -> dict[str, Any]:
    out = copy.deepcopy(template)
    resources: dict[str, Any] = out["Resources"]
    stage_param = out["Parameters"]["Stage"]
    stage_param["Default"] = stage
    stage_param["AllowedValues"] = [stage]
    named = _physical_names(resources, stage)
    tables = {logical: res["Properties"]["TableName"]["Fn::Sub"].removeprefix("signbridge-${Stage}-")
              for logical, res in resources.items() if res["Type"] == "AWS::DynamoDB::Table"}
    fns = functions(out)
    mail_address, mail_domain = mail_from_identities(settings.get("SIGNBRIDGE_MAIL_FROM", ""))
    policy_variables = {"MailFromAddress": mail_address, "MailFromDomain": mail_domain}

    roles = [_finish_function(resources, logical, name, settings, named, set(tables)) for logical, name in fns.items()]
    # Writing traces, only while tracing is on (X-Ray takes no resource-level permissions).
    resources["TracingPolicy"] = {"Type": "AWS::IAM::Policy", "Condition": "TracingActive", "Properties": {
        "PolicyName": "xray-traces", "Roles": [{"Ref": role} for role in roles],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Sid": "Traces", "Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*"}]}}}

    for logical, res in resources.items():
        if res["Type"] == "AWS::IAM::Role":
            for policy in res["Properties"].get("Policies", []):
                if isinstance(policy, dict) and "PolicyDocument" in policy:
                    policy["PolicyDocument"] = _substituted(policy["PolicyDocument"], policy_variables, logical)
        if res["Type"] == "AWS::Serverless::LayerVersion":
            # A new layer version makes the SnapStart functions publish a new version too.
            res["Properties"]["PublishLambdaVersion"] = True

    _finish_api(resources, fns)
    generated = monitoring.resources(monitoring.Inventory(functions=fns, tables=tables))
    clash = sorted(set(generated) & set(resources))
    if clash:
        raise TemplateError(f"monitoring resources clash with the template's: {clash}")
    resources.update(generated)
    out.setdefault("Outputs", {}).update({
        "OperationsDashboardName": {"Value": {"Ref": "OperationsDashboard"}},
        "BusinessDashboardName": {"Value": {"Ref": "BusinessDashboard"}},
        **{f"{logical}FunctionName": {"Value": {"Ref": logical}} for logical in fns if logical != "APIHandler"},
    })
    literal = sorted(set(_literal_arns(out)))
    if literal:
        raise TemplateError("ARNs with a literal partition (write arn:${AWS::Partition}:…): " + ", ".join(literal))
    return out


def _finish_function(resources: dict[str, Any], logical: str, name: str, settings: dict[str, str],
                     named: dict[Any, Any], tables: set[str]) -> str:
    """One function made ready for its stage; returns its role's logical id."""
    function = resources[logical]
    props = function["Properties"]
    props["FunctionName"] = {"Fn::Sub": f"signbridge-${{Stage}}-{name}"}
    props.setdefault("Environment", {}).setdefault("Variables", {}).update({**settings, **STACK_ENVIRONMENT})
    props["Tracing"] = {"Ref": "TracingMode"}
    log_group = f"{logical}LogGroup"
    # Deleted with the stack (explicitly): a retained group would block the next stack's own.
    resources[log_group] = {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete",
                            "UpdateReplacePolicy": "Delete", "Properties": {
                                "LogGroupName": {"Fn::Sub": f"/aws/lambda/signbridge-${{Stage}}-{name}"},
                                "RetentionInDays": {"Ref": "LogRetentionDays"}}}
    props["LoggingConfig"] = {"LogGroup": {"Ref": log_group}}
    if name in SNAPSTART:
        props["SnapStart"] = {"ApplyOn": "PublishedVersions"}
        props["AutoPublishAlias"] = ALIAS
        # A new version (and snapshot) whenever any property changes, not only the code: a
        # settings or parameter change would otherwise never reach the alias.
        props["AutoPublishAliasAllProperties"] = True
    for event in props.get("Events", {}).values():
        _wire_event(name, event, named)
    function["DependsOn"] = sorted(set(function.get("DependsOn", [])) | tables | {"TokenCacheKeyAlias"})
    role = _role_of(function, resources, logical)
    _complete_role(resources[role], name, log_group)
    return role


def _literal_arns(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for value in node.values():
            found += _literal_arns(value)
    elif isinstance(node, list):
        for value in node:
            found += _literal_arns(value)
    elif isinstance(node, str) and _PARTITION_LITERAL.search(node):
        found.append(node)
    return found


def _physical_names(resources: dict[str, Any], stage: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(type, physical name for this stage) -> (logical id, its Arn attribute or '') for the queues and
    topics a trigger may name."""
    names: dict[tuple[str, str], tuple[str, str]] = {}
    for logical, res in resources.items():
        prop = {"AWS::SQS::Queue": "QueueName", "AWS::SNS::Topic": "TopicName"}.get(res["Type"])
        value = res.get("Properties", {}).get(prop) if prop else None
        if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            names[(res["Type"], value["Fn::Sub"].replace("${Stage}", stage))] = (logical, res["Type"])
    return names


def _arn_name(value: Any) -> str | None:
    text = value.get("Fn::Sub") if isinstance(value, dict) else value
    return text.rsplit(":", 1)[-1] if isinstance(text, str) else None


def _wire_event(function: str, event: dict[str, Any], named: dict[Any, Any]) -> None:
    kind, props = event["Type"], event["Properties"]
    if kind == "SQS":
        found = named.get(("AWS::SQS::Queue", _arn_name(props["Queue"])))
        if not found:
            raise TemplateError(f"{function} reads a queue this template does not create: {props['Queue']}")
        props["Queue"] = {"Fn::GetAtt": [found[0], "Arn"]}
    elif kind == "SNS":
        found = named.get(("AWS::SNS::Topic", _arn_name(props["Topic"])))
        if not found:
            raise TemplateError(f"{function} subscribes to a topic this template does not create: {props['Topic']}")
        props["Topic"] = {"Ref": found[0]}  # the topic exists before its subscription
    elif kind == "Schedule":
        props["Name"] = {"Fn::Sub": f"signbridge-${{Stage}}-{function}"}


def _role_of(function: dict[str, Any], resources: dict[str, Any], logical: str) -> str:
    role = function["Properties"].get("Role")
    if not (isinstance(role, dict) and "Fn::GetAtt" in role and role["Fn::GetAtt"][0] in resources):
        raise TemplateError(f"{logical} has no role of this template's")
    return str(role["Fn::GetAtt"][0])


def _complete_role(role: dict[str, Any], function: str, log_group: str) -> None:
    policies = role["Properties"]["Policies"]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    if any(s.get("Sid") == UNASSIGNED_SID for s in statements):
        raise TemplateError(
            f"function {function} has no policy of its own: add .chalice/policy-{function}.json and "
            f'"lambda_functions": {{"{function}": {{"iam_policy_file": "policy-{function}.json"}}}} '
            "to .chalice/config.json")
    policies[0]["PolicyDocument"]["Statement"].append({
        "Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        # Its streams, spelt out (GetAtt Arn ends in ":*" on AWS; spelt out, it reads the same everywhere).
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                                f"${{{log_group}}}:*"}})


def _substituted(node: Any, variables: dict[str, str], where: str) -> Any:
    """Every string of a policy document that names `${…}` becomes an Fn::Sub (with the package-time
    variables it uses); the rest is left as it is."""
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)).startswith(("Fn::", "Ref")):
            return node
        return {key: _substituted(value, variables, where) for key, value in node.items()}
    if isinstance(node, list):
        return [_substituted(value, variables, where) for value in node]
    if isinstance(node, str) and "${" in node:
        used = {name: variables[name] for name in _SUB_VARIABLE.findall(node) if name in variables}
        empty = sorted(name for name, value in used.items() if not value)
        if empty:
            raise TemplateError(f"{where}: the policy needs {', '.join(empty)} (from SIGNBRIDGE_MAIL_FROM)")
        return {"Fn::Sub": [node, used]} if used else {"Fn::Sub": node}
    return node


def _finish_api(resources: dict[str, Any], fns: dict[str, str]) -> None:
    api = resources.get("RestAPI")
    if api is None:
        return
    props = api["Properties"]
    props["Name"] = {"Fn::Sub": "signbridge-${Stage}"}
    props["TracingEnabled"] = {"Fn::If": ["TracingActive", True, False]}
    body = props["DefinitionBody"]
    body["info"]["title"] = {"Fn::Sub": "signbridge-${Stage}"}
    handler = next((logical for logical, name in fns.items() if name == "api_handler"), None)
    if handler is None or fns[handler] not in SNAPSTART:
        return
    # API Gateway calls the alias ($LATEST never runs from a snapshot): the function's ARN qualified
    # by the alias' name is the alias' ARN (and linters know the Arn attribute, not SAM's `.Alias`).
    text = json.dumps(body).replace(f"${{{handler}.Arn}}", f"${{{handler}.Arn}}:{ALIAS}")
    props["DefinitionBody"] = json.loads(text)
    for res in resources.values():
        if res["Type"] == "AWS::Lambda::Permission" and res["Properties"].get("FunctionName") == {"Ref": handler}:
            res["Properties"]["FunctionName"] = {"Ref": f"{handler}.Alias"}
