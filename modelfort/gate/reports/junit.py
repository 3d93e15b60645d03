"""JUnit XML for CI test tabs: one test case per policy; mandatory violations are failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from modelfort.gate.engine import GateReport
from modelfort.gate.verdict import GATE_POLICIES


def junit_tree(report: GateReport) -> ET.ElementTree:
    suites = ET.Element("testsuites", name="modelfort-gate")
    suite = ET.SubElement(suites, "testsuite", name=f"modelfort-gate.{report.options.stack}")
    tests = failures = errors = 0
    if report.error:
        case = ET.SubElement(suite, "testcase", classname="gate", name="evaluation")
        ET.SubElement(case, "error", message="the gate could not judge the stack").text = report.error
        tests, errors = 1, 1
    policies = sorted(report.policies)
    for name in policies:
        tests += 1
        owner = "gate" if name in GATE_POLICIES else report.pack.name
        case = ET.SubElement(suite, "testcase", classname=f"policy.{owner}", name=name)
        found = [v for v in report.verdict.violations if v.policy == name]
        blocking = [v for v in found if v.blocking]
        if blocking:
            failures += 1
            text = "\n".join(f"{v.resource_name or v.urn or 'stack'}: {v.message}" for v in blocking)
            ET.SubElement(case, "failure", message=f"{len(blocking)} mandatory violation(s)", type="mandatory").text = text
        advisory = [v for v in found if not v.blocking]
        if advisory:
            ET.SubElement(case, "system-out").text = "\n".join(
                f"advisory: {v.resource_name or v.urn or 'stack'}: {v.message}" for v in advisory
            )
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("time", f"{report.timings.get('total', 0.0):.3f}")
    return ET.ElementTree(suites)


def write_junit(report: GateReport, path: str) -> None:
    tree = junit_tree(report)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
