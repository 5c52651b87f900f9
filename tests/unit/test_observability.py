"""Metrics are CloudWatch EMF lines on stdout: what the alarms and the dashboard read."""

from __future__ import annotations

import json

import pytest

from chalicelib.core.observability import NAMESPACE, count


def test_count_writes_one_emf_line_with_namespace_metric_and_dimensions(capsys: pytest.CaptureFixture[str]) -> None:
    count("JobsDeadLettered", job="send")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == NAMESPACE == "signbridge"
    assert directive["Metrics"] == [{"Name": "JobsDeadLettered", "Unit": "Count"}]
    assert ["job"] in directive["Dimensions"] or any("job" in d for d in directive["Dimensions"])
    assert line["JobsDeadLettered"] == [1.0] or line["JobsDeadLettered"] == 1.0
    assert line["job"] == "send"
