"""plan's machine formats: GitHub workflow annotations, SARIF 2.1.0, GitLab code quality.

Each takes a Plan and returns text; none imports rich or a database library. Paths are the
ones the plan carries (relative to the working directory when the file is below it), which
is what GitHub, code scanning and GitLab resolve against the repository root.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any

from bluegreen import __version__
from bluegreen.planner.model import Change, Finding, Plan, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def summary_line(plan: Plan) -> str:
    summary = plan.summary()
    return (f"bluegreen plan: {summary['expand']} expand, {summary['contract']} contract, "
            f"{summary['breaking']} breaking, {summary['blocking']} blocking")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _findings(plan: Plan):
    for change in plan.changes:
        for finding in change.findings:
            yield change, finding


def github(plan: Plan) -> str:
    """One ``::error`` / ``::warning`` / ``::notice`` workflow command per finding, at its
    file and line, then a summary line."""
    levels = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    out = []
    for change, finding in _findings(plan):
        title = _escape_property(f"bluegreen {finding.rule} ({change.phase.value})")
        message = _escape_data(f"{finding.message}. Fix: {finding.fix}")
        where = f"file={_escape_property(change.file)}"
        if change.line > 0:
            where += f",line={change.line}"
        out.append(f"::{levels[finding.severity]} {where},title={title}::{message}")
    out.append(summary_line(plan))
    return "\n".join(out) + "\n"


# ---- SARIF 2.1.0 ---------------------------------------------------------------------------

_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _artifact_location(file: str) -> dict[str, str]:
    path = Path(file)
    if path.is_absolute():
        return {"uri": path.as_uri()}
    # A relative reference with forward slashes, resolved against the checkout's root.
    return {"uri": str(PurePosixPath(*path.parts)), "uriBaseId": "%SRCROOT%"}


def _rule_descriptor(rule_id: str, doc: Any) -> dict[str, Any]:
    """A SARIF reportingDescriptor from a rule's parsed docstring (bluegreen.planner.docs)."""
    descriptor: dict[str, Any] = {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": doc.summary if doc else rule_id},
    }
    if doc is not None:
        descriptor["fullDescription"] = {"text": f"{doc.problem} {doc.alternative}"}
        descriptor["help"] = {
            "text": f"Problem: {doc.problem}\n\nSafe alternative: {doc.alternative}\n\n"
                    f"Bad:\n{doc.bad}\n\nGood:\n{doc.good}",
            "markdown": f"**Problem:** {doc.problem}\n\n**Safe alternative:** "
                        f"{doc.alternative}\n\nBad:\n\n```sql\n{doc.bad}\n```\n\n"
                        f"Good:\n\n```sql\n{doc.good}\n```"}
    return descriptor


def sarif(plan: Plan, rule_docs: dict[str, Any]) -> str:
    """A SARIF 2.1.0 log with one run: bluegreen's rules (``rule_docs``: id -> RuleDoc, their
    parsed docstrings) and one result per finding, located at its file and line."""
    rule_ids = sorted(set(rule_docs) | {f.rule for _, f in _findings(plan)})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = []
    for change, finding in _findings(plan):
        location: dict[str, Any] = {"artifactLocation": _artifact_location(change.file)}
        if change.line > 0:
            location["region"] = {"startLine": change.line}
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": _SARIF_LEVEL[finding.severity],
            "message": {"text": f"{finding.message}. Fix: {finding.fix}"},
            "locations": [{"physicalLocation": location}],
            "partialFingerprints": {"bluegreen/v1": _fingerprint(change, finding)},
            "properties": {"phase": change.phase.value, "blocking": change.blocking,
                           "strategy": change.strategy.value, "operation": change.operation},
        }
        if change.table:
            result["properties"]["table"] = change.table
        if finding.fix_sql:
            result["properties"]["fix_sql"] = finding.fix_sql
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "bluegreen",
                "version": __version__,
                "rules": [_rule_descriptor(r, rule_docs.get(r)) for r in rule_ids],
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
            "results": results,
            "properties": {"summary": plan.summary(), "assumptions": list(plan.assumptions),
                           "target": {"dialect": plan.target.dialect,
                                      "version": plan.target.version}},
        }],
    }
    return json.dumps(log, indent=2) + "\n"


# ---- GitLab code quality -------------------------------------------------------------------

# GitLab's severities, strongest last: info, minor, major, critical, blocker.
_GITLAB_SEVERITY = {Severity.ERROR: "critical", Severity.WARNING: "major",
                    Severity.INFO: "info"}


def _fingerprint(change: Change, finding: Finding) -> str:
    """Stable across runs and unique per finding: the same rule on the same statement at the
    same place gives the same fingerprint, so GitLab and code scanning can track it."""
    key = "\0".join((change.file, str(change.line), finding.rule, change.sql))
    return hashlib.sha256(key.encode()).hexdigest()


def gitlab(plan: Plan) -> str:
    """A GitLab code-quality report: a JSON array, one issue per finding."""
    issues = []
    seen: dict[str, int] = {}
    for change, finding in _findings(plan):
        fingerprint = _fingerprint(change, finding)
        # Two identical statements on one line (rare) still get distinct fingerprints.
        seen[fingerprint] = seen.get(fingerprint, 0) + 1
        if seen[fingerprint] > 1:
            fingerprint = hashlib.sha256(f"{fingerprint}{seen[fingerprint]}".encode()
                                         ).hexdigest()
        issues.append({
            "type": "issue",
            "check_name": finding.rule,
            "description": f"{finding.message}. Fix: {finding.fix}",
            "severity": _GITLAB_SEVERITY[finding.severity],
            "categories": ["Bug Risk"],
            "fingerprint": fingerprint,
            "location": {"path": change.file, "lines": {"begin": max(change.line, 1)}},
        })
    return json.dumps(issues, indent=2) + "\n"
