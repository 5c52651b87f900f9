"""Cold start is a feature: importing app.py (what every Lambda does at init) must not load the
DocuSign SDK (~0.6 s, 2-3 s without bytecode), Jinja2 or cn2an, nor any CRM's client (HubSpot's
generated client, simple-salesforce with zeep and lxml, requests), nor `holidays` (working
calendars of countries other than CN): those load in the jobs that read a record or write back, or
where such a calendar is used, never for a webhook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("docusign_esign", "jinja2", "cn2an", "hubspot", "simple_salesforce", "zeep", "lxml", "requests", "holidays",
         "puremagic")  # the attachment scan's file signatures: loaded by an entry with attachments only


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "SIGNBRIDGE_STAGE": "local"},
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_app_loads_none_of_the_heavy_libraries() -> None:
    loaded = modules_after("import app")
    assert "app" in loaded
    for heavy in HEAVY:
        assert not any(m == heavy or m.startswith(heavy + ".") for m in loaded), heavy


def test_the_webhook_path_modules_load_none_of_them_either() -> None:
    loaded = modules_after(
        "import app\n"
        "import chalicelib.intake.service, chalicelib.intake.generic, chalicelib.contracts\n"
        "import chalicelib.esign.connect, chalicelib.jobs.connect_listener\n"
        "import chalicelib.intake.hubspot, chalicelib.intake.pipedrive, chalicelib.intake.zoho\n"
        "import chalicelib.intake.salesforce, chalicelib.intake.fxiaoke, chalicelib.intake.enrichment\n"
        "import chalicelib.crm.api, chalicelib.notify.crm_writeback, chalicelib.jobs.crm_writeback"
    )
    for heavy in HEAVY:
        assert not any(m == heavy or m.startswith(heavy + ".") for m in loaded), heavy


def test_the_check_itself_sees_a_heavy_import() -> None:
    # Guards the guard: the same probe does notice jinja2, or a CRM client, when it is imported.
    assert "jinja2" in modules_after("import jinja2")
    assert "hubspot" in modules_after("import hubspot")
