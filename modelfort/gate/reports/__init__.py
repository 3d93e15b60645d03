"""Report writers. Each takes the one `GateReport` of a run, so every format tells the same story."""

from modelfort.gate.reports.json_report import write_json
from modelfort.gate.reports.junit import write_junit
from modelfort.gate.reports.markdown import write_markdown
from modelfort.gate.reports.sarif import write_sarif
from modelfort.gate.reports.summary import render_summary

__all__ = ["render_summary", "write_json", "write_junit", "write_markdown", "write_sarif"]
