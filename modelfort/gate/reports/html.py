"""The evidence report: one self-contained HTML file an auditor can open offline.

No script, no external stylesheet, font or image: the chart is inline SVG and the zone diagram nested boxes, so the
file renders the same in any browser, air-gapped, years later. Every value is escaped.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

from modelfort.gate.engine import GateReport
from modelfort.gate.reports.common import custom_resource_count, zone_label

STATUS_COLOURS = {
    "implemented+enforced": "#2e7d32",
    "implemented": "#66bb6a",
    "enforced": "#1565c0",
    "runtime": "#6a1b9a",
    "process": "#ef6c00",
    "waived": "#c62828",
    "not-applicable": "#9e9e9e",
}
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;color:#212121;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.verdict{display:inline-block;padding:.3rem .8rem;border-radius:.3rem;color:#fff;font-weight:700}
.pass{background:#2e7d32}.blocked{background:#c62828}.error{background:#ef6c00}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}code{font-size:.9em;word-break:break-all}
.box{border:1px solid #90a4ae;border-radius:.4rem;padding:.4rem .6rem;margin:.4rem 0;background:#fafafa}
.box .box{background:#fff}.box h4{margin:.1rem 0 .3rem;font-size:.95rem}
.chip{display:inline-block;border:1px solid #cfd8dc;border-radius:1rem;padding:.05rem .5rem;margin:.1rem;font-size:.85em}
.chip.blocked{border-color:#c62828;color:#c62828;background:#fff}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem;vertical-align:middle}
"""


def render_html(report: GateReport, matrix: dict[str, Any] | None) -> str:
    title = f"ModelFort evidence report — stack {report.options.stack}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing may load from anywhere: the report must open offline and cannot be altered by a remote file.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        _verdict(report),
        _coverage_chart(matrix) if matrix else "",
        _zone_diagram(report),
        _violations(report),
        _waivers(report),
        _releases(report),
        _matrix_table(matrix) if matrix else "",
        "</body></html>",
    ]
    return "\n".join(parts)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _verdict(report: GateReport) -> str:
    verdict = report.verdict_name
    rows = [
        ("Verdict", f'<span class="verdict {verdict}">{_e(verdict.upper())}</span> (exit {report.exit_code})'),
        ("Zone", _e(zone_label(report))),
        ("Program", f"<code>{_e(report.project.directory if report.project else report.options.program_dir)}</code>"),
        ("Policy pack", _e(f"{report.pack.name} ({len(report.pack.policies)} policies)" if report.pack else "—")),
        ("Resources planned", _e(custom_resource_count(report))),
        ("Mandatory violations", _e(len(report.verdict.blocking))),
        ("Advisory findings", _e(len(report.verdict.advisory))),
    ]
    if report.error:
        rows.append(("Error", f"<pre>{_e(report.error[:4000])}</pre>"))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<h2>Verdict</h2><table>{body}</table>"


def _coverage_chart(matrix: dict[str, Any]) -> str:
    """A stacked horizontal bar per catalog section, one colour per status in this stack."""
    sections: dict[str, Counter] = {}
    for control in matrix["controls"]:
        status = control.get("stack", {}).get("status", "implemented" if control["covered"] else "not-applicable")
        sections.setdefault(control["id"][:2] + " " + control["section"], Counter())[status] += 1
    bar_width, row_height, label_width = 520, 26, 260
    height = row_height * len(sections) + 10
    svg = [f'<svg role="img" aria-label="Control coverage by section" width="{label_width + bar_width + 40}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for index, (section, counts) in enumerate(sections.items()):
        y = index * row_height + 5
        total = sum(counts.values())
        svg.append(f'<text x="0" y="{y + 16}" font-size="12">{_e(section)}</text>')
        x = float(label_width)
        for status, colour in STATUS_COLOURS.items():
            if counts.get(status):
                width = bar_width * counts[status] / total
                svg.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{row_height - 8}" fill="{colour}"><title>{_e(status)}: {counts[status]}</title></rect>')
                x += width
        svg.append(f'<text x="{label_width + bar_width + 6}" y="{y + 16}" font-size="12">{total}</text>')
    svg.append("</svg>")
    legend = "".join(f'<span style="background:{c}"></span>{_e(s)}' for s, c in STATUS_COLOURS.items())
    return f'<h2>Coverage by section</h2>{"".join(svg)}<p class="legend">{legend}</p>'


def _zone_diagram(report: GateReport) -> str:
    blocked = {v.urn for v in report.verdict.blocking}
    by_parent: dict[str, list[dict]] = {}
    for resource in report.resources:
        by_parent.setdefault(resource.get("parent", ""), []).append(resource)

    def box(resource: dict) -> str:
        children = by_parent.get(resource["urn"], [])
        components = [c for c in children if not c["custom"]]
        customs = [c for c in children if c["custom"] and not c["type"].startswith("pulumi:providers:")]
        counts = Counter(c["type"].split(":")[-1] for c in customs)
        bad = {c["type"].split(":")[-1] for c in customs if c["urn"] in blocked}
        chips = "".join(f'<span class="chip{" blocked" if kind in bad else ""}">{count} × {_e(kind)}</span>' for kind, count in sorted(counts.items()))
        inner = "".join(box(c) for c in components)
        return f'<div class="box"><h4>{_e(resource["type"].split(":")[-1])} {_e(resource["name"])}</h4>{chips}{inner}</div>'

    roots = [r for r in report.resources if r["type"] == "pulumi:pulumi:Stack"]
    return "<h2>Planned zone</h2>" + ("".join(box(r) for r in roots) or "<p>Nothing was planned.</p>")


def _violations(report: GateReport) -> str:
    if not report.verdict.violations:
        return "<h2>Violations</h2><p>None.</p>"
    rows = "".join(
        f"<tr><td>{'BLOCKING' if v.blocking else 'advisory'}</td><td><code>{_e(v.policy)}</code></td><td>{_e(v.severity)}</td>"
        f"<td>{_e(', '.join(v.controls))}</td><td><code>{_e(v.resource_name or v.urn or 'stack')}</code></td><td>{_e(v.message)}</td></tr>"
        for v in report.verdict.violations
    )
    return f"<h2>Violations</h2><table><tr><th></th><th>Policy</th><th>Severity</th><th>Controls</th><th>Resource</th><th>Message</th></tr>{rows}</table>"


def _waivers(report: GateReport) -> str:
    if not report.waivers:
        return "<h2>Waivers</h2><p>None in force.</p>"
    rows = "".join(
        f"<tr><td><code>{_e(w['policy'])}</code></td><td><code>{_e(w['resource'])}</code></td><td>{_e(w['owner'])}</td>"
        f"<td>{_e(w['expires'])}</td><td>{_e(w['reason'])}</td></tr>"
        for w in report.waivers
    )
    applied = "".join(f"<li>{_e(r.message)}</li>" for r in report.verdict.waiver_records)
    return (f"<h2>Waivers</h2><table><tr><th>Policy</th><th>Resource</th><th>Owner</th><th>Expires</th><th>Reason</th></tr>{rows}</table>"
            + (f"<ul>{applied}</ul>" if applied else ""))


def _releases(report: GateReport) -> str:
    models = (report.stack_file.raw.get("modelfort:models") if report.stack_file else None) or []
    if not isinstance(models, list) or not models:
        return "<h2>Release records</h2><p>This stack serves no model.</p>"
    rows = []
    for model in models:
        if not isinstance(model, dict):
            continue
        name, version = model.get("name", "?"), model.get("version", "?")
        rows.append(
            f"<tr><td>{_e(name)}</td><td>{_e(version)}</td><td><code>{_e(model.get('image', ''))}</code></td>"
            f"<td><code>{_e(model.get('rootDigest', ''))}</code></td><td><code>signatures/{_e(name)}/{_e(version)}.sig</code></td></tr>"
        )
        canary = model.get("canary")
        if isinstance(canary, dict):
            rows.append(
                f"<tr><td>{_e(name)} (canary {_e(canary.get('percent'))}%)</td><td>{_e(canary.get('version'))}</td>"
                f"<td><code>{_e(canary.get('image', ''))}</code></td><td><code>{_e(canary.get('rootDigest', ''))}</code></td>"
                f"<td><code>signatures/{_e(name)}/{_e(canary.get('version'))}.sig</code></td></tr>"
            )
    return ("<h2>Release records</h2><table><tr><th>Model</th><th>Version</th><th>Image digest</th><th>Weights root digest</th>"
            f"<th>Signature (reference store)</th></tr>{''.join(rows)}</table>")


def _matrix_table(matrix: dict[str, Any]) -> str:
    rows = []
    for control in matrix["controls"]:
        stack = control.get("stack", {})
        realised = ", ".join([c["name"] for c in control["components"]] + [m.rsplit(".", 1)[-1] for m in control["runtime"]]) or "—"
        note = stack.get("note") or control.get("rationale") or ""
        rows.append(
            f"<tr><td>{_e(control['id'])}</td><td>{_e(control['requirement'])}</td><td>{_e(realised)}</td>"
            f"<td>{_e(', '.join(control['policies']) or '—')}</td><td>{len(control['tests'])}</td>"
            f"<td>{_e(stack.get('status', ''))}</td><td>{_e(note)}</td></tr>"
        )
    return ("<h2>Control matrix</h2><table><tr><th>ID</th><th>Requirement</th><th>Implemented by</th><th>Enforced by</th>"
            f"<th>Tests</th><th>In this stack</th><th>Note</th></tr>{''.join(rows)}</table>")


def write_html(report: GateReport, path: str) -> None:
    matrix = None
    if report.error is None:
        from modelfort.controls.matrix import compute
        from modelfort.controls.render import matrix_dict
        from modelfort.controls.stack_view import stack_statuses

        coverage = compute()
        matrix = matrix_dict(coverage, stack_statuses(coverage, report), report.options.stack)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render_html(report, matrix))
