"""The quick-profile report in headless Chromium (Debian's package, driven by Playwright).

No console errors, every figure loaded, every agent and environment named, a
screenshot saved under results/, and a variant named like a script shows as text.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT
from tests.test_pipeline import QUICK_REPORT, quick_report  # noqa: F401  (session fixture)

pytestmark = pytest.mark.e2e

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
EVIL = "<script>alert(1)</script>"


def open_page(path: Path, screenshot: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Debian's chromium is not installed (run-tests.sh installs it)")
    found: dict = {"errors": [], "dialogs": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: found["errors"].append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: found["errors"].append(str(error)))
        page.on("dialog", lambda dialog: (found["dialogs"].append(dialog.message), dialog.dismiss()))
        page.goto(path.as_uri(), wait_until="load")
        found["images"] = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
        found["text"] = page.inner_text("body")
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return found


def test_report_renders_cleanly_in_chromium(quick_report):  # noqa: F811
    screenshot = ROOT / "results" / "quick" / "report" / "screenshot.png"
    page = open_page(quick_report, screenshot)
    assert page["errors"] == []
    assert page["images"], "no figures in the report"
    not_loaded = [alt for alt, complete, width in page["images"] if not complete or width == 0]
    assert not_loaded == []
    runs = pd.read_parquet(ROOT / "results" / "quick" / "tables" / "runs.parquet")
    for name in sorted(set(runs["agent"]) | set(runs["env"])):
        assert name in page["text"], name
    assert screenshot.stat().st_size > 10_000


def test_a_script_named_variant_shows_as_text(quick_report, tmp_path):  # noqa: F811
    from bench.paper.report import build_context, inline_figures, render

    analysis = json.loads((ROOT / "results" / "quick" / "analysis" / "analysis.json").read_text())
    memory = analysis["experiments"]["memory"]
    old = memory["table"]["labels"][0]
    memory["table"]["labels"][0] = EVIL
    for row in memory["table"]["rows"]:
        row["cells"][0]["label"] = EVIL
    analysis["abstract"].append(f"{EVIL} replaces {old} here.")
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["profile"] = "quick"
    tables = ROOT / "results" / "quick" / "tables"
    runs = pd.read_parquet(tables / "runs.parquet").merge(pd.read_parquet(tables / "costs.parquet"),
                                                         on=["env", "agent", "variant", "seed"])
    page_path = tmp_path / "evil.html"
    page_path.write_text(render(build_context(config, analysis, runs, inline_figures(ROOT / "results" / "quick" / "figures"))))
    page = open_page(page_path)
    assert page["dialogs"] == [] and page["errors"] == []
    assert EVIL in page["text"]
