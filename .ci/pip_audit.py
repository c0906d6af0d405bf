"""Known vulnerabilities in the installed dependencies (pip-audit), for `make security`.

Runs pip-audit on the project's virtualenv (the project itself, installed editable, is
not on PyPI and is skipped) and fails if any installed package has a known
vulnerability, naming each one and the versions that fix it.

pip-audit asks PyPI's JSON API about each installed version. A package it could not look
up (no answer, or an index that does not serve per-version data) is not silently taken
as safe: each is named, and the count is printed. With CONCORD_AUDIT_REQUIRED=1 that is a
failure too; without it, a warning, so that a build machine that cannot reach the
vulnerability data still runs the rest of CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "audit.json"
        run = subprocess.run(  # noqa: S603 - the virtualenv's own pip-audit, fixed arguments
            [
                str(VENV_BIN / "pip-audit"),
                "--progress-spinner",
                "off",
                "--skip-editable",
                "--format",
                "json",
                "--output",
                str(report),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if not report.exists():
            print(run.stdout, run.stderr, sep="\n", file=sys.stderr)
            print("pip-audit did not produce a report.", file=sys.stderr)
            return 1
        data = json.loads(report.read_text())

    required = os.environ.get("CONCORD_AUDIT_REQUIRED", "") in ("1", "true", "yes")
    status, lines = judge(data, required=required)
    print("\n".join(lines))
    return status


def judge(data: dict, *, required: bool) -> tuple[int, list[str]]:
    """The exit status and the lines to print, for pip-audit's JSON report."""
    dependencies = data.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if "skip_reason" in d and d["name"] != "concord"]
    audited = [d for d in dependencies if "skip_reason" not in d]
    lines = [f"pip-audit: {len(audited)} installed packages audited, {len(skipped)} not audited."]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            lines.append(
                f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']} "
                f"(fixed in {fixed})"
            )
    if skipped:
        lines.append("Not audited (the vulnerability data could not be fetched for them):")
        lines += [f"  {d['name']}: {d['skip_reason']}" for d in skipped]
    if vulnerable:
        lines.append(f"FAILED: {len(vulnerable)} installed packages have known vulnerabilities.")
        return 1, lines
    if skipped:
        level = "FAILED" if required else "WARNING"
        lines.append(
            f"{level}: {len(skipped)} installed packages could not be audited; run "
            "`make security` where PyPI's JSON API answers for each version."
        )
        return (1 if required else 0), lines
    lines.append("No known vulnerabilities in the installed packages.")
    return 0, lines


if __name__ == "__main__":
    sys.exit(main())
