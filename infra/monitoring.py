"""The stage's alarms and its two dashboards (operations, business), generated into the packaged
template from what it holds: every function, table and queue gets its alarms without a line here.

The app's own metrics are EMF lines in the namespace `signbridge/<stage>` (chalicelib/core/
observability.py), each with whatever dimensions its call site names. Alarms and widgets read them
with a Metrics Insights query, `SELECT SUM(Name) FROM "signbridge/<stage>"`, which adds up every
dimension value: a dimension added or dropped in the code never leaves an alarm watching nothing.

Every metric the code emits is behind an alarm or on a dashboard, and every alarm names its section
of docs/runbook.md (tests/integration/test_deploy_check.py holds both to it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

APP_NAMESPACE = "signbridge/${Stage}"
RUNBOOK = "docs/runbook.md"
NAME = "signbridge-${Stage}-"


@dataclass(frozen=True)
class AppAlarm:
    """An alarm on one of the app's metrics: its sum over `period` seconds above `threshold`."""

    name: str  # the alarm is signbridge-<stage>-<name>
    metric: str
    runbook: str  # the section of docs/runbook.md
    what: str
    threshold: float = 0
    period: int = 300


APP_ALARMS = (
    AppAlarm("jobs-dead-lettered", "JobsDeadLettered", "dead-letters",
             "A job (send, archive, void, enrich, callback, write-back) spent its attempts and went to the "
             "dead-letter queue."),
    AppAlarm("jobs-failing", "JobsFailed", "jobs-failing",
             "A job raised an unexpected exception (a bug): SQS redelivers it, then dead-letters it."),
    AppAlarm("jobs-not-configured", "JobsRefusedNotConfigured", "not-configured",
             "Jobs or scheduled runs refused to work: a required setting is missing in the deployed stage."),
    AppAlarm("api-not-configured", "RequestsRefusedNotConfigured", "not-configured",
             "The API answered 503 not_configured: a required setting is missing in the deployed stage."),
    AppAlarm("api-internal-errors", "ApiInternalErrors", "api-internal-errors",
             "The API answered 500: an unexpected exception in a route (deliberate 503s are not counted)."),
    AppAlarm("reminders-failed", "RemindersFailed", "reminders-failed",
             "Reminder emails failed to send."),
    AppAlarm("intake-rejected", "IntakeRejected", "intake-rejected",
             "Five or more CRM events in an hour were rejected as invalid contracts.", threshold=4, period=3600),
    AppAlarm("crm-write-back-refused", "CrmWriteBackRefused", "crm-write-back-refused",
             "A CRM refused a write-back for our data (not the credential, not an outage)."),
    AppAlarm("secrets-ignored", "SecretsIgnored", "secrets-ignored",
             "A stored secret could not serve as one (too short, wrong shape) and was ignored."),
    AppAlarm("ses-feedback-malformed", "SesFeedbackMalformed", "ses-feedback-dropped",
             "An SES bounce or complaint notification could not be read: its addresses were not suppressed."),
    AppAlarm("ses-feedback-unattributed", "SesFeedbackUnattributed", "ses-feedback-dropped",
             "An SES bounce or complaint named no tenant of ours: its addresses were not suppressed."),
)

# Metrics shown, not alarmed: (title, [(metric, label)]) per widget.
BUSINESS_WIDGETS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Contracts", (("WebhooksAccepted", "received"), ("EnvelopesSent", "sent for signature"),
                   ("ContractsCompleted", "completed"), ("IntakeRejected", "rejected as invalid"))),
    ("Reminders", (("RemindersSent", "sent"), ("RemindersFailed", "failed"))),
    ("Emails", (("EmailsSuppressed", "recipients left out (suppressed)"),
                ("EmailAddressesSuppressed", "addresses suppressed (bounce, complaint)"))),
    ("The CRMs", (("CallbacksFailed", "callback deliveries failing"), ("CrmWrittenBack", "written back"),
                  ("CrmWriteBackRefused", "write-backs refused"))),
)
OPERATIONS_APP_WIDGETS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("API (the app's view)", (("ApiInternalErrors", "500 (unexpected)"),
                              ("RequestsDeferred", "503 retry_later (deliberate)"),
                              ("RequestsRefusedNotConfigured", "503 not_configured"),
                              ("WebhooksAccepted", "webhooks accepted"), ("WebhooksRefused", "webhooks refused"),
                              ("IntakeEnrichmentRequested", "webhooks needing a CRM read"))),
    ("Jobs", (("JobsFailed", "failed (bug)"), ("JobsDeadLettered", "dead-lettered"),
              ("JobsRefusedNotConfigured", "refused: not configured"),
              ("JobsRateLimited", "waiting for DocuSign's budget"),
              ("DocuSignRateLimited", "DocuSign calls held back"), ("ReminderPagesQueued", "reminder pages queued"))),
    ("Secrets", (("SecretsIgnored", "stored secrets ignored"),)),
    ("SES feedback", (("EmailAddressesSuppressed", "addresses suppressed"),
                      ("SesFeedbackMalformed", "notifications unreadable"),
                      ("SesFeedbackUnattributed", "notifications naming no tenant"),
                      ("EmailsSuppressed", "recipients left out"))),
)
# Drawn on a dashboard before the code emits them (none now; kept for the next new metric).
PENDING_METRICS: frozenset[str] = frozenset()


def query(metric: str, where: str = "") -> str:
    return f'SELECT SUM({metric}) FROM "{APP_NAMESPACE}"' + (f" WHERE {where}" if where else "")


def _alarm(name: str, what: str, runbook: str, **metric: Any) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": {"Fn::Sub": NAME + name},
        "AlarmDescription": f"{what} Runbook: {RUNBOOK}#{runbook}",
        "ActionsEnabled": True,
        "AlarmActions": [{"Ref": "AlarmTopic"}],
        "OKActions": [{"Ref": "AlarmTopic"}],
        "TreatMissingData": "notBreaching",
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        **metric,
    }}


def _stat(namespace: str, metric: str, dimensions: dict[str, Any], statistic: str, period: int, threshold: float,
          operator: str = "GreaterThanThreshold") -> dict[str, Any]:
    return {"Namespace": namespace, "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Statistic": statistic, "Period": period, "Threshold": threshold, "ComparisonOperator": operator}


def app_alarm(alarm: AppAlarm) -> dict[str, Any]:
    return _alarm(alarm.name, alarm.what, alarm.runbook,
                  Metrics=[{"Id": "q", "Expression": {"Fn::Sub": query(alarm.metric)}, "Period": alarm.period,
                            "ReturnData": True}],
                  Threshold=alarm.threshold, ComparisonOperator="GreaterThanThreshold")


@dataclass(frozen=True)
class Inventory:
    """What the template holds that the monitoring watches."""

    functions: dict[str, str]  # logical id -> Chalice function name (the deployed one is signbridge-<stage>-<name>)
    tables: dict[str, str]  # logical id -> table name suffix (signbridge-<stage>-<suffix>)


def function_name(name: str) -> str:
    return NAME + name


def resources(inventory: Inventory) -> dict[str, dict[str, Any]]:
    """Every alarm and both dashboards, by logical id."""
    out: dict[str, dict[str, Any]] = {}
    for alarm in APP_ALARMS:
        out[_logical(alarm.name) + "Alarm"] = app_alarm(alarm)
    for logical, name in inventory.functions.items():
        dims = {"FunctionName": {"Ref": logical}}
        out[f"{logical}ErrorsAlarm"] = _alarm(
            f"{name}-errors", f"The {name} function failed (an exception, a timeout or running out of memory).",
            "lambda-errors", **_stat("AWS/Lambda", "Errors", dims, "Sum", 300, 0))
        out[f"{logical}ThrottlesAlarm"] = _alarm(
            f"{name}-throttles", f"Invocations of the {name} function were throttled (concurrency limit).",
            "lambda-throttles", **_stat("AWS/Lambda", "Throttles", dims, "Sum", 300, 0))
    for logical, suffix in inventory.tables.items():
        table = {"Ref": logical}
        out[f"{logical}ThrottlesAlarm"] = _alarm(
            f"dynamodb-throttles-{suffix}", f"DynamoDB throttled requests to the {suffix} table.", "dynamodb-throttles",
            Metrics=[
                {"Id": "reads", "ReturnData": False, "MetricStat": {"Metric": {
                    "Namespace": "AWS/DynamoDB", "MetricName": "ReadThrottleEvents",
                    "Dimensions": [{"Name": "TableName", "Value": table}]}, "Period": 300, "Stat": "Sum"}},
                {"Id": "writes", "ReturnData": False, "MetricStat": {"Metric": {
                    "Namespace": "AWS/DynamoDB", "MetricName": "WriteThrottleEvents",
                    "Dimensions": [{"Name": "TableName", "Value": table}]}, "Period": 300, "Stat": "Sum"}},
                {"Id": "throttles", "Expression": "FILL(reads, 0) + FILL(writes, 0)", "Label": "throttle events",
                 "ReturnData": True},
            ], Threshold=0, ComparisonOperator="GreaterThanThreshold")
    dlq = {"QueueName": {"Fn::GetAtt": ["JobsDeadLetterQueue", "QueueName"]}}
    out["DeadLetterAlarm"] = _alarm(
        "dead-letters", "Messages wait in the jobs dead-letter queue.", "dead-letters",
        **_stat("AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq, "Maximum", 300, 0))
    out["DeadLetterAgeAlarm"] = _alarm(
        "dead-letters-ageing", "A dead letter is older than 3 days: SQS deletes it at 14.", "dead-letters-ageing",
        **_stat("AWS/SQS", "ApproximateAgeOfOldestMessage", dlq, "Maximum", 900, 3 * 86400))
    out["JobsBacklogAlarm"] = _alarm(
        "jobs-backlog", "A job has waited in the jobs queue for more than 15 minutes.", "jobs-backlog",
        **_stat("AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": {"Fn::GetAtt": ["JobsQueue", "QueueName"]}},
                "Maximum", 300, 900))
    # SES reputation is the account's (every stage in it shares it); 5% bounces and 0.1% complaints
    # are where SES starts reviewing an account.
    out["SesBounceRateAlarm"] = _alarm(
        "ses-bounce-rate", "The account's SES bounce rate reached 5%.", "ses-bounce-rate",
        **_stat("AWS/SES", "Reputation.BounceRate", {}, "Maximum", 3600, 0.05, "GreaterThanOrEqualToThreshold"))
    out["SesComplaintRateAlarm"] = _alarm(
        "ses-complaint-rate", "The account's SES complaint rate reached 0.1%.", "ses-complaint-rate",
        **_stat("AWS/SES", "Reputation.ComplaintRate", {}, "Maximum", 3600, 0.001, "GreaterThanOrEqualToThreshold"))
    for resource in out.values():
        if not resource["Properties"].get("Dimensions", True):
            del resource["Properties"]["Dimensions"]
    alarm_names = sorted(r["Properties"]["AlarmName"]["Fn::Sub"] for r in out.values())
    out["OperationsDashboard"] = _dashboard("operations", _operations_body(inventory, alarm_names))
    out["BusinessDashboard"] = _dashboard("business", _business_body())
    return out


def _logical(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


# --- dashboards ----------------------------------------------------------------------------------

def _dashboard(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    # Dashboard names are global in the account: the region keeps two regions' installs apart.
    return {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": {"Fn::Sub": NAME + "${AWS::Region}-" + kind},
        "DashboardBody": {"Fn::Sub": json.dumps(body, ensure_ascii=False, separators=(",", ":"))}}}


def _graph(title: str, metrics: list[Any], *, stat: str = "Sum", period: int = 300, width: int = 12,
           view: str = "timeSeries") -> dict[str, Any]:
    return {"type": "metric", "width": width, "height": 6, "properties": {
        "title": title, "region": "${AWS::Region}", "view": view, "stat": stat, "period": period,
        "metrics": metrics, **({"setPeriodToTimeRange": True} if view == "singleValue" else {})}}


def _app_metrics(items: tuple[tuple[str, str], ...], where: dict[str, str] | None = None) -> list[Any]:
    return [[{"expression": query(metric, (where or {}).get(metric, "")), "label": label, "id": f"q{i}"}]
            for i, (metric, label) in enumerate(items, 1)]


def _text(markdown: str) -> dict[str, Any]:
    return {"type": "text", "width": 24, "height": 2, "properties": {"markdown": markdown}}


def _business_body() -> dict[str, Any]:
    widgets: list[dict[str, Any]] = [_text(
        "## signbridge ${Stage}: contracts, reminders, CRMs\nCounts per day; the operations dashboard "
        "(`signbridge-${Stage}-${AWS::Region}-operations`) has the technical view and every alarm.")]
    for title, items in BUSINESS_WIDGETS:
        widgets.append(_graph(f"{title}: in the time range", _app_metrics(items), view="singleValue", width=8,
                              period=86400))
    for title, items in BUSINESS_WIDGETS:
        widgets.append(_graph(f"{title} per day", _app_metrics(items), period=86400, width=8))
    widgets.append(_graph("Dead-lettered callbacks (the CRM did not take them for 3 days)",
                          _app_metrics((("JobsDeadLettered", "callbacks dead-lettered"),),
                                       {"JobsDeadLettered": "job = 'callback'"}), period=86400, width=24))
    return {"widgets": widgets}


def _operations_body(inventory: Inventory, alarm_names: list[str]) -> dict[str, Any]:
    region = "${AWS::Region}"
    alarms = [f"arn:${{AWS::Partition}}:cloudwatch:{region}:${{AWS::AccountId}}:alarm:{name}" for name in alarm_names]
    fns = [function_name(name) for name in inventory.functions.values()]
    tables = [NAME + suffix for suffix in inventory.tables.values()]
    jobs, dlq = NAME + "jobs", NAME + "jobs-dlq"
    api = ["ApiName", NAME.rstrip("-"), "Stage", "api"]
    widgets: list[dict[str, Any]] = [
        {"type": "alarm", "width": 24, "height": 4, "properties": {"title": "Alarms", "alarms": alarms}},
        _graph("Function errors", [["AWS/Lambda", "Errors", "FunctionName", f] for f in fns]),
        _graph("Function throttles", [["AWS/Lambda", "Throttles", "FunctionName", f] for f in fns]),
        _graph("Function duration (p95, ms)", [["AWS/Lambda", "Duration", "FunctionName", f] for f in fns], stat="p95"),
        _graph("Function invocations", [["AWS/Lambda", "Invocations", "FunctionName", f] for f in fns]),
        _graph("API Gateway", [["AWS/ApiGateway", "Count", *api], ["AWS/ApiGateway", "4XXError", *api],
                               ["AWS/ApiGateway", "5XXError", *api]]),
        _graph("API latency (p95, ms)", [["AWS/ApiGateway", "Latency", *api],
                                         ["AWS/ApiGateway", "IntegrationLatency", *api]], stat="p95"),
        _graph("Jobs queue", [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", jobs],
                              ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", jobs]], stat="Maximum"),
        _graph("Dead-letter queue", [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq],
                                     ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", dlq]], stat="Maximum"),
        _graph("DynamoDB throttle events", [["AWS/DynamoDB", m, "TableName", t]
                                            for t in tables for m in ("ReadThrottleEvents", "WriteThrottleEvents")]),
        _graph("DynamoDB consumed capacity", [["AWS/DynamoDB", m, "TableName", t] for t in tables
                                              for m in ("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits")]),
        _graph("SES (the account)", [["AWS/SES", "Send"], ["AWS/SES", "Bounce"], ["AWS/SES", "Complaint"]]),
        _graph("SES reputation (the account)", [["AWS/SES", "Reputation.BounceRate"],
                                                ["AWS/SES", "Reputation.ComplaintRate"]], stat="Maximum", period=3600),
    ]
    for title, items in OPERATIONS_APP_WIDGETS:
        widgets.append(_graph(title, _app_metrics(items)))
    return {"widgets": widgets}
