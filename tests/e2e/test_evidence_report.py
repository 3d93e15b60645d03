"""The HTML evidence report renders in a real headless Chromium, offline, with no console errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from modelfort.cli import main as modelfort

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags this workplace's closed network needs: no background connections, no component updates.
CHROMIUM_LAUNCH_TIMEOUT_MS = 180_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "install Debian's chromium (scripts/test does)"
    with sync_playwright() as playwright:
        # Playwright's default 30 s launch timeout is too tight for a loaded CI machine; a slow start is not a failure.
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=CHROMIUM_LAUNCH_TIMEOUT_MS)
        yield instance
        instance.close()


def open_report(browser, path: Path):
    page = browser.new_page()
    page.set_default_timeout(CHROMIUM_LAUNCH_TIMEOUT_MS)  # every wait in the page, not only the launch: load is no failure
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"{message.type}: {message.text}") if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    return page, problems, requests


@pytest.mark.control("OB-03", "DP-07")
def test_the_production_evidence_report_renders_offline_without_errors(browser, tmp_path):
    report = tmp_path / "evidence.html"
    assert modelfort(["gate", str(REPO), "--stack", "production", "-q", "--html", str(report)]) == 0
    page, problems, requests = open_report(browser, report)
    assert problems == []
    assert requests == [report.as_uri()], "the report must not load anything"
    assert page.locator(".verdict").inner_text() == "PASS"
    assert page.locator("h2").all_inner_texts() == [
        "Verdict", "Coverage by section", "Planned zone", "Violations", "Waivers", "Release records", "Control matrix",
    ]
    assert page.locator("svg rect").count() >= 9  # one bar segment at least per catalog section
    assert page.locator("text=SegmentedNetwork production-network").count() == 1
    matrix_rows = page.locator("h2:has-text('Control matrix') + table tr")
    assert matrix_rows.count() == 81  # header + every catalog control
    releases = page.locator("h2:has-text('Release records') + table").inner_text()
    assert "llama-guard" in releases and "@sha256:" in releases


def test_a_blocked_stack_report_shows_the_violation_and_waivers(browser, tmp_path, capsys):
    report = tmp_path / "blocked.html"
    assert modelfort(["gate", str(REPO / "examples" / "insecure-egress"), "--stack", "dev", "-q", "--html", str(report)]) == 1
    page, problems, _ = open_report(browser, report)
    assert problems == []
    assert page.locator(".verdict").inner_text() == "BLOCKED"
    assert "model-host-sg" in page.locator("h2:has-text('Violations') + table").inner_text()
    assert page.locator(".chip.blocked").count() >= 1


def test_values_from_the_program_are_escaped(tmp_path):
    from modelfort.gate.engine import GateOptions, GateReport
    from modelfort.gate.reports.html import render_html

    hostile = GateReport(GateOptions(program_dir="<script>alert(1)</script>", stack="<b>x</b>"))
    text = render_html(hostile, None)
    assert "<script>" not in text and "&lt;script&gt;" in text and "<b>x</b>" not in text
