"""Metrics are CloudWatch EMF lines on stdout: what the alarms and the dashboard read. Log lines carry
the correlation keys of the request or job they belong to, and only while it runs."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from chalicelib.core.config import reset_settings
from chalicelib.core.observability import NAMESPACE, add_log_keys, count, current_log_keys, log_context


def emf(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return line


def test_count_writes_one_emf_line_with_namespace_metric_and_dimensions(capsys: pytest.CaptureFixture[str]) -> None:
    count("JobsDeadLettered", job="send")
    line = emf(capsys)
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == f"{NAMESPACE}/local" == "signbridge/local"  # tests run the local stage
    assert directive["Metrics"] == [{"Name": "JobsDeadLettered", "Unit": "Count"}]
    assert directive["Dimensions"] == [["job"]]
    assert line["JobsDeadLettered"] == [1.0] or line["JobsDeadLettered"] == 1.0
    assert line["job"] == "send"


def test_the_stage_is_the_namespace_so_dev_and_prod_never_mix(capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    namespaces = []
    for stage in ("dev", "prod"):
        monkeypatch.setenv("SIGNBRIDGE_STAGE", stage)
        reset_settings()
        count("EnvelopesSent")
        namespaces.append(emf(capsys)["_aws"]["CloudWatchMetrics"][0]["Namespace"])
    reset_settings()
    assert namespaces == ["signbridge/dev", "signbridge/prod"]


def test_exactly_the_named_dimensions_even_with_a_powertools_service_name(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # .chalice/config.json sets POWERTOOLS_SERVICE_NAME in Lambda: no `service` dimension may appear
    # there that the alarms (built from the call sites) do not name.
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "signbridge")
    count("ApiInternalErrors", metadata={"route": "get_contract"})
    line = emf(capsys)
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]
    assert "service" not in line
    assert line["route"] == "get_contract"  # metadata: in the line, not a dimension


def test_log_context_adds_keys_and_restores_what_was_there() -> None:
    assert current_log_keys() == {}
    with log_context(request_id="r-1", job=None, contract_id=""):
        assert current_log_keys() == {"request_id": "r-1"}  # None and "" are left out
        with log_context(job="send", contract_id="ctr_1"):
            add_log_keys(envelope_id="env-1")
            assert current_log_keys() == {"request_id": "r-1", "job": "send", "contract_id": "ctr_1",
                                          "envelope_id": "env-1"}
        assert current_log_keys() == {"request_id": "r-1"}
    assert current_log_keys() == {}


def test_keys_leave_even_when_the_work_raises() -> None:
    with pytest.raises(RuntimeError), log_context(job="send"):
        add_log_keys(contract_id="ctr_1")
        raise RuntimeError("boom")
    assert current_log_keys() == {}


def test_add_log_keys_outside_a_context_adds_nothing() -> None:
    # It would otherwise stay on every later line of the warm Lambda.
    add_log_keys(contract_id="ctr_1")
    assert current_log_keys() == {}


def test_threads_do_not_see_each_others_keys() -> None:
    seen: dict[str, dict[str, Any]] = {}
    inside = threading.Barrier(2)

    def work(name: str) -> None:
        with log_context(request_id=name):
            inside.wait(timeout=5)
            seen[name] = current_log_keys()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": {"request_id": "a"}, "b": {"request_id": "b"}}
