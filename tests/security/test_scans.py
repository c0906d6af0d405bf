"""The security scans CI runs (`make security`): bandit finds nothing in Concord's code with
bandit.yaml, the checks bandit.yaml skips are all enforced by ruff instead, bandit with that
configuration still catches what it should, and the pip-audit step fails on a known
vulnerability and says what it could not audit."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
BANDIT = str(Path(sys.executable).parent / "bandit")


def bandit(*targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the virtualenv's bandit, fixed arguments
        [BANDIT, "-r", *targets, "-c", str(ROOT / "bandit.yaml"), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_bandit_finds_nothing_in_concords_code() -> None:
    result = bandit("coordination", "agencies", "taskforces")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_check_bandit_skips_is_enforced_by_ruff() -> None:
    skipped = yaml.safe_load((ROOT / "bandit.yaml").read_text())["skips"]
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "S" in ruff["select"]
    ignored = set(ruff.get("ignore", []))
    # import-only warnings; each dangerous use is its own check that still runs
    import_only = {"B404", "B406"}
    for test_id in set(skipped) - import_only:
        rule = "S" + test_id[1:]
        assert rule not in ignored, f"{test_id} is skipped in bandit and {rule} ignored by ruff"
    assert set(skipped) >= import_only


def test_bandit_with_this_configuration_still_catches_real_problems(tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pickle, subprocess, yaml\n"
        "def run(command, blob, text):\n"
        "    subprocess.call(command, shell=True)\n"
        "    pickle.loads(blob)\n"
        "    return yaml.load(text)\n"
    )
    result = bandit(str(bad))
    assert result.returncode == 1
    for test_id in ("B602", "B301", "B506"):
        assert test_id in result.stdout, test_id


def _pip_audit_module():
    spec = importlib.util.spec_from_file_location("pip_audit_step", ROOT / ".ci" / "pip_audit.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_pip_audit_step_fails_on_a_known_vulnerability() -> None:
    report = {
        "dependencies": [
            {
                "name": "django",
                "version": "5.2.0",
                "vulns": [{"id": "PYSEC-0", "fix_versions": ["5.2.1"]}],
            },
            {"name": "celery", "version": "5.7.0", "vulns": []},
        ]
    }
    status, lines = _pip_audit_module().judge(report, required=False)
    assert status == 1
    assert "VULNERABLE django 5.2.0: PYSEC-0 (fixed in 5.2.1)" in lines


def test_the_pip_audit_step_names_what_it_could_not_audit() -> None:
    report = {
        "dependencies": [
            {"name": "celery", "version": "5.7.0", "vulns": []},
            {"name": "amqp", "skip_reason": "Dependency not found on PyPI"},
            {"name": "concord", "skip_reason": "distribution marked as editable"},
        ]
    }
    judge = _pip_audit_module().judge
    status, lines = judge(report, required=False)
    assert status == 0
    assert "pip-audit: 1 installed packages audited, 1 not audited." in lines
    assert any(
        line.startswith("WARNING: 1 installed packages could not be audited") for line in lines
    )
    assert any("amqp" in line for line in lines)
    assert judge(report, required=True)[0] == 1
    clean = {"dependencies": [{"name": "celery", "version": "5.7.0", "vulns": []}]}
    assert judge(clean, required=True) == (
        0,
        [
            "pip-audit: 1 installed packages audited, 0 not audited.",
            "No known vulnerabilities in the installed packages.",
        ],
    )
