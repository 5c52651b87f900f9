"""The deployable package (`python -m infra.package`): the templates reach the zip and a contract
renders from the extracted zip alone; every module ships with bytecode of the runtime's Python; the
build refuses a stage whose required settings are missing or placeholders and builds it once they
are set; the finished SAM template names every function for its stage, gives each its own policy,
log group and tracing switch, and SnapStart where it helps; cfn-lint finds nothing, informational
checks included. The deployment itself (the stack created, wired and least-privileged) is
tests/integration/test_deploy_check.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infra import settings as stage_settings
from infra.package import PackageError, check_python
from infra.template import SNAPSTART, TemplateError, finish
from tests.support.packaging import GROUP, SETTINGS, Packages, run_package, settings_file

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group(GROUP)
LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.fixture(scope="module")
def package(packages: Packages) -> Path:
    return packages("dev")


def sam(package: Path) -> dict[str, Any]:
    return json.loads((package / "sam.json").read_text())


def test_the_zip_holds_every_contract_template(package: Path) -> None:
    app_zip = zipfile.ZipFile(package / "deployment.zip").namelist()
    assert "app.py" in app_zip and "chalicelib/rendering/render.py" in app_zip
    # vendor/templates ships with the code, or in the shared layer under site-packages.
    names = {n.split("site-packages/", 1)[-1] for z in package.glob("*.zip") for n in zipfile.ZipFile(z).namelist()}
    for contract_type in ("sales", "service", "partner", "supplier"):
        for locale in ("zh-CN", "en"):
            assert f"templates/contracts/{contract_type}.{locale}.html.j2" in names
    assert "templates/contracts/_base.html.j2" in names
    assert any(n.startswith("templates/emails/") for n in names)
    assert any(n.startswith("templates/pages/") for n in names)


def test_a_contract_renders_from_the_extracted_zip(package: Path, tmp_path: Path) -> None:
    root = tmp_path / "task"
    for archive in package.glob("*.zip"):  # the app and, with automatic_layer, its dependency layer
        zipfile.ZipFile(archive).extractall(root)
    site = root / "python" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    contract = json.loads((ROOT / "devstack" / "samples" / "sales.json").read_text())["contract"]
    code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(root)!r}, {str(site)!r}]\n"
        "from chalicelib.rendering.render import render_contract\n"
        "import chalicelib.rendering.environment as env\n"
        f"doc = render_contract(json.loads({json.dumps(contract, ensure_ascii=False)!r}))\n"
        "print(env.TEMPLATES_DIR)\n"
        "print(doc.template_version)\n"
        "print('壹拾贰万捌仟元整' in doc.html, 'HT-2026-0117' in doc.html)\n"
    )
    # -I: isolated, so nothing comes from this checkout or the venv's site-packages.
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, check=True)
    templates_dir, version, checks = result.stdout.strip().splitlines()
    # In the app zip, or in the dependency layer when automatic_layer is on: either way, extracted.
    assert templates_dir in (str(root / "templates"), str(site / "templates"))
    assert version.startswith("sales.zh-CN@")
    assert checks == "True True"


def test_every_module_ships_with_unchecked_hash_bytecode(package: Path) -> None:
    import importlib.util

    for archive in package.glob("*.zip"):
        zipped = zipfile.ZipFile(archive)  # opened once: the zip holds thousands of modules
        names = set(zipped.namelist())
        sources = [n for n in names if n.endswith(".py")]
        assert sources
        missing = []
        for source in sources:
            cached = importlib.util.cache_from_source(source)
            if cached not in names:
                missing.append(source)
                continue
            with zipped.open(cached) as member:
                header = member.read(8)
            assert header[:4] == importlib.util.MAGIC_NUMBER, cached  # this Python's bytecode
            # PEP 552 flags: bit 0 hash-based, bit 1 check the source. Unchecked: 0b01 — Lambda never
            # recompiles (zip extraction loses mtimes, and /var/task is read-only).
            assert int.from_bytes(header[4:8], "little") == 0b01, cached
        assert missing == [], missing[:5]


# --- the runtime -----------------------------------------------------------------------------------

def test_the_runtime_is_the_packaging_python_and_snapstart_capable(package: Path) -> None:
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    resources = sam(package)["Resources"]
    functions = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions and {f["Properties"]["Runtime"] for f in functions} == {runtime}
    assert resources["ManagedLayer"]["Properties"]["CompatibleRuntimes"] == [runtime]
    assert sys.version_info >= (3, 12)


def test_an_older_python_is_refused_before_anything_is_built() -> None:
    with pytest.raises(PackageError, match=r"python3\.11.*3\.12\+"):
        check_python((3, 11))
    check_python((3, 12))
    check_python((3, 13))


# --- failing closed on settings --------------------------------------------------------------------

def test_prod_as_committed_is_refused_naming_each_setting(tmp_path: Path) -> None:
    result = run_package("prod", tmp_path / "out", None)
    assert result.returncode == 2, result.stdout + result.stderr
    for name in ("SIGNBRIDGE_PUBLIC_BASE_URL", "SIGNBRIDGE_MAIL_FROM", "DOCUSIGN_INTEGRATION_KEY", "DOCUSIGN_USER_ID"):
        assert re.search(rf"^  {name}: .*placeholder", result.stderr, re.MULTILINE), (name, result.stderr)
    assert "refusing to package stage 'prod'" in result.stderr
    assert not (tmp_path / "out").exists()  # refused before Chalice ran


def test_a_settings_file_fills_in_and_still_fails_on_what_it_leaves_wrong(tmp_path: Path) -> None:
    values = {**SETTINGS, "SIGNBRIDGE_PUBLIC_BASE_URL": "http://127.0.0.1:8000", "DOCUSIGN_USER_ID": "not-a-guid"}
    del values["SIGNBRIDGE_MAIL_FROM"]
    result = run_package("prod", tmp_path / "out", settings_file(tmp_path, "prod", values))
    assert result.returncode == 2
    named = set(re.findall(r"^  ([A-Z_]+): ", result.stderr, re.MULTILINE))
    # MAIL_FROM falls back to config.json's placeholder; the integration key came from the file.
    assert named == {"SIGNBRIDGE_PUBLIC_BASE_URL", "DOCUSIGN_USER_ID", "SIGNBRIDGE_MAIL_FROM"}, result.stderr


def test_a_settings_file_for_another_stage_or_with_other_variables_is_refused(tmp_path: Path) -> None:
    wrong_stage = run_package("prod", tmp_path / "a", settings_file(tmp_path, "dev"))
    assert wrong_stage.returncode == 2 and "is for stage 'dev', not 'prod'" in wrong_stage.stderr
    path = tmp_path / "extra.json"
    path.write_text(json.dumps({"stage": "prod", "environment_variables": {**SETTINGS, "AWS_ENDPOINT_URL": "x"}}))
    extra = run_package("prod", tmp_path / "b", path)
    assert extra.returncode == 2 and "AWS_ENDPOINT_URL: not a setting" in extra.stderr


@pytest.mark.parametrize(("name", "value", "why"), [
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "https://localhost/x", "placeholder"),
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "https://10.0.0.8", "placeholder"),
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "https://sign.acme.test", "placeholder"),
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "http://sign.acme-corp.net", "not an https URL"),
    ("SIGNBRIDGE_MAIL_FROM", "Contracts <contracts@mail.example.org>", "placeholder"),
    ("SIGNBRIDGE_MAIL_FROM", "contracts", "not an email address"),
    ("DOCUSIGN_INTEGRATION_KEY", "00000000-0000-0000-0000-000000000000", "all-zero"),
    ("DOCUSIGN_OAUTH_BASE", "https://account-d.docusign.com", "is not one of https://account.docusign.com"),
    ("DOCUSIGN_ACCOUNT_ID", "12345", "not a GUID"),
])
def test_each_kind_of_placeholder_is_caught(name: str, value: str, why: str) -> None:
    values = {**SETTINGS, "DOCUSIGN_OAUTH_BASE": "https://account.docusign.com", name: value}
    assert why in stage_settings.problems("prod", values)[name]


def test_the_real_looking_settings_pass_and_dev_may_use_the_demo_host() -> None:
    assert stage_settings.problems("prod", {**SETTINGS, "DOCUSIGN_OAUTH_BASE": "https://account.docusign.com"}) == {}
    assert stage_settings.problems("dev", {**SETTINGS, "DOCUSIGN_OAUTH_BASE": "https://account-d.docusign.com"}) == {}
    assert set(stage_settings.problems("prod", {})) == set(stage_settings.REQUIRED)


def test_with_the_settings_prod_builds_for_prod_only(packages: Packages) -> None:
    template = sam(packages("prod"))
    assert template["Parameters"]["Stage"]["Default"] == "prod"
    assert template["Parameters"]["Stage"]["AllowedValues"] == ["prod"]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            env = resource["Properties"]["Environment"]["Variables"]
            assert env["SIGNBRIDGE_STAGE"] == "prod"
            assert env["DOCUSIGN_OAUTH_BASE"] == "https://account.docusign.com"
            assert {k: env[k] for k in SETTINGS} == SETTINGS


# --- the finished template -------------------------------------------------------------------------

def test_every_function_is_named_logged_traced_and_configured_for_its_stage(package: Path) -> None:
    template = sam(package)
    resources = template["Resources"]
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert {"APIHandler", "ProcessJob", "HourlyReminders", "DailyReconcile"} <= set(functions)
    for logical, function in functions.items():
        props = function["Properties"]
        name = props["FunctionName"]["Fn::Sub"]
        assert re.fullmatch(r"signbridge-\$\{Stage\}-[a-z_]+", name), name
        group = resources[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"] == {"LogGroupName": {"Fn::Sub": f"/aws/lambda/{name}"},
                                       "RetentionInDays": {"Ref": "LogRetentionDays"}}
        assert props["Tracing"] == {"Ref": "TracingMode"}
        env = props["Environment"]["Variables"]
        assert env["SIGNBRIDGE_ARCHIVE_BUCKET"] == {"Ref": "ArchiveBucket"}
        assert env["SIGNBRIDGE_SES_CONFIGURATION_SET"] == {"Ref": "SesConfigurationSet"}
        assert env["SIGNBRIDGE_JOBS_QUEUE"] == {"Fn::GetAtt": ["JobsQueue", "QueueName"]}
        assert {k: env[k] for k in SETTINGS} == SETTINGS
        assert {"ContractsTable", "KeysTable", "TokenCacheKeyAlias"} <= set(function["DependsOn"]), logical
    assert template["Parameters"]["TracingMode"]["AllowedValues"] == ["Active", "PassThrough"]
    assert resources["TracingPolicy"]["Condition"] == "TracingActive"
    assert resources["RestAPI"]["Properties"]["TracingEnabled"] == {"Fn::If": ["TracingActive", True, False]}


def test_snapstart_where_a_cold_start_is_someones_wait(package: Path) -> None:
    resources = sam(package)["Resources"]
    for function in (r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"):
        props = function["Properties"]
        name = props["FunctionName"]["Fn::Sub"].removeprefix("signbridge-${Stage}-")
        if name in SNAPSTART:
            assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
            assert props["AutoPublishAlias"] == "live" and props["AutoPublishAliasAllProperties"] is True
        else:
            assert "SnapStart" not in props and "AutoPublishAlias" not in props
    assert SNAPSTART == {"api_handler", "process_job"}
    assert resources["ManagedLayer"]["Properties"]["PublishLambdaVersion"] is True
    uris = {json.dumps(m["x-amazon-apigateway-integration"]["uri"])
            for p in resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"].values() for m in p.values()}
    assert uris == {json.dumps({"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/"
                                           "functions/${APIHandler.Arn}:live/invocations"})}
    assert resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": "APIHandler.Alias"}


def test_the_archive_is_a_record(package: Path) -> None:
    resources = sam(package)["Resources"]
    bucket = resources["ArchiveBucket"]
    props = bucket["Properties"]
    assert "BucketName" not in props  # CloudFormation names it: bucket names are global
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"]["Rule"] == {"Fn::If": [
        "HasArchiveRetention", {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": {"Ref": "ArchiveRetentionDays"}}},
        {"Ref": "AWS::NoValue"}]}
    assert sam(package)["Parameters"]["ArchiveRetentionDays"]["Default"] == 0  # off unless chosen
    [noncurrent] = [r for r in props["LifecycleConfiguration"]["Rules"] if "NoncurrentVersionExpiration" in r]
    assert noncurrent["Status"] == "Enabled"
    [deny] = resources["ArchiveBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for logical, resource in resources.items():
        if resource["Type"] in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket"):
            assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain", logical
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert resource["Properties"]["DeletionProtectionEnabled"] is True, logical


def test_the_ses_feedback_topic_and_configuration_set(package: Path) -> None:
    resources = sam(package)["Resources"]
    assert resources["SesFeedbackTopic"]["Properties"]["TopicName"] == {"Fn::Sub": "signbridge-${Stage}-ses-feedback"}
    assert resources["SesConfigurationSet"]["Properties"]["Name"] == {"Fn::Sub": "signbridge-${Stage}"}
    destination = resources["SesFeedbackDestination"]["Properties"]["EventDestination"]
    assert sorted(destination["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert destination["SnsDestination"] == {"TopicARN": {"Ref": "SesFeedbackTopic"}}
    # A function subscribed to the topic subscribes by reference: the stack creates the topic first.
    subscribers = [e for r in resources.values() if r["Type"] == "AWS::Serverless::Function"
                   for e in r["Properties"].get("Events", {}).values() if e["Type"] == "SNS"]
    for event in subscribers:
        assert event["Properties"]["Topic"] == {"Ref": "SesFeedbackTopic"}


def test_no_literal_partition_in_the_template_or_the_policies(package: Path) -> None:
    texts = {"sam.json": (package / "sam.json").read_text()}
    texts |= {p.name: p.read_text() for p in (ROOT / ".chalice").glob("policy-*.json")}
    texts["resources.json"] = (ROOT / "infra" / "resources.json").read_text()
    for name, text in texts.items():
        assert not re.search(r"arn:aws[a-z-]*:", text), name


def test_the_merged_template_passes_cfn_lint_with_informational_checks(package: Path) -> None:
    lint = subprocess.run([str(LINT), "-c", "I", "--", str(package / "sam.json")], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


# --- the policies ----------------------------------------------------------------------------------

def test_every_function_has_a_policy_file_of_its_own(package: Path) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    names = {r["Properties"]["FunctionName"]["Fn::Sub"].removeprefix("signbridge-${Stage}-")
             for r in sam(package)["Resources"].values() if r["Type"] == "AWS::Serverless::Function"}
    files = {name: spec["iam_policy_file"] for name, spec in config["lambda_functions"].items()}
    assert names <= set(files)
    for name in names:
        assert files[name] == f"policy-{name}.json" and (ROOT / ".chalice" / files[name]).exists()


def token_cache_statement() -> dict[str, object]:
    return {
        "Sid": "TokenCache", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "${TokenCacheKey.Arn}",
        "Condition": {"StringEquals": {"kms:RequestAlias": "alias/signbridge-${Stage}-token-cache",
                                       "kms:EncryptionContext:purpose": "docusign-access-token"}},
    }


@pytest.mark.parametrize("function", ["api_handler", "process_job", "daily_reconcile", "hourly_reminders",
                                      "ses_feedback"])
def test_kms_only_for_the_docusign_token_and_only_where_docusign_is_called(function: str) -> None:
    policy = json.loads((ROOT / ".chalice" / f"policy-{function}.json").read_text())
    kms = [s for s in policy["Statement"] if any(a.startswith("kms:") for a in s["Action"])]
    assert kms == ([token_cache_statement()] if function in ("api_handler", "process_job", "daily_reconcile") else [])
    # The alias the app uses by default for the stage (chalicelib/core/config.py) is the one allowed.
    from chalicelib.core.config import reset_settings, settings

    with pytest.MonkeyPatch.context() as env:
        env.setenv("SIGNBRIDGE_STAGE", "prod")
        env.delenv("SIGNBRIDGE_TOKEN_CACHE_KMS_KEY", raising=False)
        reset_settings()
        assert settings().token_cache_kms_key == "alias/signbridge-prod-token-cache"
    reset_settings()


def _raw(functions: dict[str, str], events: dict[str, Any] | None = None) -> dict[str, Any]:
    """A template as Chalice writes it, reduced to what finish() reads."""
    config = json.loads((ROOT / "infra" / "resources.json").read_text())
    resources = dict(config["Resources"])
    for logical, name in functions.items():
        resources[f"{logical}Role"] = {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{
            "PolicyName": "p", "PolicyDocument": json.loads((ROOT / ".chalice" / f"policy-{name}.json").read_text())}]}}
        resources[logical] = {"Type": "AWS::Serverless::Function", "Properties": {
            "Handler": f"app.{name}", "Role": {"Fn::GetAtt": [f"{logical}Role", "Arn"]}, "Events": events or {}}}
    return {"Parameters": config["Parameters"], "Resources": resources}


def test_a_function_without_a_policy_file_fails_the_build() -> None:
    raw = _raw({"ProcessJob": "process_job"})
    raw["Resources"]["ProcessJobRole"]["Properties"]["Policies"][0]["PolicyDocument"] = json.loads(
        (ROOT / ".chalice" / "policy-unassigned.json").read_text())
    with pytest.raises(TemplateError, match=r"process_job has no policy of its own.*policy-process_job\.json"):
        finish(raw, "dev", SETTINGS)


def test_a_trigger_on_a_queue_or_topic_the_template_lacks_fails_the_build() -> None:
    topic = {"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:someone-elses-topic"}
    raw = _raw({"SesFeedback": "ses_feedback"}, {"E": {"Type": "SNS", "Properties": {"Topic": topic}}})
    with pytest.raises(TemplateError, match="subscribes to a topic this template does not create"):
        finish(raw, "dev", SETTINGS)
    ours = {"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:signbridge-dev-ses-feedback"}
    done = finish(_raw({"SesFeedback": "ses_feedback"}, {"E": {"Type": "SNS", "Properties": {"Topic": ours}}}),
                  "dev", SETTINGS)
    assert done["Resources"]["SesFeedback"]["Properties"]["Events"]["E"]["Properties"]["Topic"] == {
        "Ref": "SesFeedbackTopic"}


def test_a_literal_partition_fails_the_build() -> None:
    raw = _raw({"HourlyReminders": "hourly_reminders"})
    raw["Resources"]["HourlyRemindersRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:*:x"})
    with pytest.raises(TemplateError, match="literal partition"):
        finish(raw, "dev", SETTINGS)
