"""Render every contract document from the test fixtures and screenshot it in Chromium.

    .venv/bin/python -m devstack.docs_preview --out docs/previews
    .venv/bin/python -m devstack.docs_preview --out docs/previews --readme-images docs/images

For each ``tests/fixtures/contracts/<type>.<locale>.json`` (a webhook body of the generic source)
this writes ``<out>/<type>.<locale>.html`` (exactly what DocuSign receives) and a full-page PNG
``<out>/<type>.<locale>.png`` taken by Debian's Chromium (``/usr/bin/chromium``, or
``--chromium``/``$SIGNBRIDGE_CHROMIUM``) driven through playwright; no browser download.
Bilingual documents are made from the zh-CN fixture of each type in ``BILINGUAL`` with its locale set
to ``zh-CN+en``: ``<out>/<type>.zh-CN+en.html`` and ``.png`` (A4 landscape, so a wider viewport).
``--readme-images`` also copies the screenshots used by the README (sales.zh-CN, service.en,
sales.zh-CN+en).
Exits 2 with a clear message when Chromium or playwright is missing, 1 when a document fails to
render.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from chalicelib.rendering.render import RenderedDocument, RenderError, render_contract

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURES = ROOT / "tests" / "fixtures" / "contracts"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
README_IMAGES = ("sales.zh-CN", "service.en", "sales.zh-CN+en")
# Types also previewed as a bilingual document (from their zh-CN fixture).
BILINGUAL = ("sales",)
BILINGUAL_LOCALE = "zh-CN+en"
BILINGUAL_WIDTH = 1100  # CSS pixels: the two-column layout is A4 landscape
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.docs_preview", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/previews"), help="output directory")
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES, help="directory of <type>.<locale>.json")
    parser.add_argument(
        "--chromium",
        default=os.environ.get("SIGNBRIDGE_CHROMIUM", DEFAULT_CHROMIUM),
        help="Chromium executable (default: $SIGNBRIDGE_CHROMIUM or /usr/bin/chromium)",
    )
    parser.add_argument("--width", type=int, default=900, help="viewport width in CSS pixels")
    parser.add_argument("--readme-images", type=Path, default=None, help="also copy the README screenshots here")
    parser.add_argument("--html-only", action="store_true", help="write the HTML, take no screenshots")
    return parser.parse_args(argv)


def _fail(message: str, code: int = 2) -> int:
    print(f"docs_preview: {message}", file=sys.stderr)
    return code


def render_fixtures(fixtures: Path, out: Path) -> list[Path]:
    """Render every fixture to ``out/<stem>.html``; the written paths, in name order."""
    written: list[Path] = []
    for fixture in sorted(fixtures.glob("*.json")):
        body = json.loads(fixture.read_text(encoding="utf-8"))
        contract = body.get("contract", body)
        written.append(_write(render_contract(contract), out / f"{fixture.stem}.html"))
        kind, _, locale = fixture.stem.partition(".")
        if kind in BILINGUAL and locale == "zh-CN":
            bilingual = {**contract, "locale": BILINGUAL_LOCALE}
            written.append(_write(render_contract(bilingual), out / f"{kind}.{BILINGUAL_LOCALE}.html"))
    return written


def _write(document: RenderedDocument, target: Path) -> Path:
    target.write_text(document.html, encoding="utf-8")
    print(f"{target}  {document.template_version}  sha256={document.sha256[:12]}")
    return target


def screenshot(pages: list[Path], chromium: str, width: int) -> list[Path]:
    """A full-page PNG next to each HTML page, taken by ``chromium`` headless."""
    from playwright.sync_api import sync_playwright

    shots: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 1000}, device_scale_factor=1)
            for html in pages:
                wide = html.stem.endswith(BILINGUAL_LOCALE)
                page.set_viewport_size({"width": max(width, BILINGUAL_WIDTH) if wide else width, "height": 1000})
                page.goto(html.resolve().as_uri(), wait_until="load")
                page.evaluate("document.fonts.ready.then(() => true)")
                png = html.with_suffix(".png")
                page.screenshot(path=str(png), full_page=True)
                print(f"{png}")
                shots.append(png)
        finally:
            browser.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if not args.fixtures.is_dir():
        return _fail(f"no fixtures directory: {args.fixtures}")
    if not args.html_only:
        chromium = shutil.which(args.chromium) or args.chromium
        if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
            return _fail(
                f"Chromium not found at {args.chromium!r}. Install Debian's browser and CJK fonts "
                "(apt-get install chromium fonts-noto-cjk) or pass --chromium PATH; --html-only skips screenshots."
            )
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            return _fail("the playwright package is missing: install requirements-dev.txt into .venv")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        pages = render_fixtures(args.fixtures, args.out)
    except RenderError as error:
        return _fail(f"render failed: {error}", code=1)
    if not pages:
        return _fail(f"no *.json fixtures in {args.fixtures}")
    if args.html_only:
        return 0
    shots = screenshot(pages, chromium, args.width)
    if args.readme_images is not None:
        args.readme_images.mkdir(parents=True, exist_ok=True)
        by_name = {shot.stem: shot for shot in shots}
        for name in README_IMAGES:
            if name in by_name:
                target = args.readme_images / f"contract-{name}.png"
                shutil.copyfile(by_name[name], target)
                print(f"{target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
