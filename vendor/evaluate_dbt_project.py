"""Run dbt-project-evaluator (vendor/dbt_packages, offline) on a copy of dbt_project/: `make evaluate`.

The copy (var/evaluator/project) gets a packages.yml naming the vendored packages as `local:`
ones, so the project's own builds never load them. The evaluator's models are built as views in
the schema `dbt_project_evaluator` of the warehouse database `greencert_evaluator` (the embedded
server is started if need be); its tests warn on each finding. Prints dbt's summary line and every
finding; exit status 1 when a finding is one of FAIL_ON (the rules issue 17 asks to hold).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from greencert import environment, settings, subprocesses, warehouse

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "vendor" / "dbt_packages"
WORK = settings.VAR / "evaluator"
SCHEMA = "dbt_project_evaluator"
DATABASE = "greencert_evaluator"  # its own database: a test run may drop and remake the main one
FAIL_ON = ("fct_direct_join_to_source", "fct_source_directories")


def main() -> int:
    project = WORK / "project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(settings.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (project / "packages.yml").write_text(
        "packages:\n" + "".join(f"  - local: {PACKAGES / name}\n" for name in ("dbt_utils", "dbt_project_evaluator")),
        encoding="utf-8",
    )
    urls = warehouse.setup(DATABASE)
    env = environment.dbt_env(urls["transformer"], SCHEMA)
    env["DBT_PROFILES_DIR"] = str(project)
    args = ["--project-dir", str(project)]
    subprocesses.dbt(["deps", *args], env)
    out = subprocesses.dbt(["build", "--select", "package:dbt_project_evaluator", *args], env).stdout
    # dbt names each failing or warning test: "Warning in test is_empty_fct_source_fanout_ (...)"
    findings = sorted(set(re.findall(r"(?:Warning|Failure) in test (?:is_empty_)?(\w+?)_? \(", out)))
    summary = re.findall(r"Done\. PASS=.*", out)
    print(summary[-1] if summary else out[-3000:])
    for finding in findings:
        print(finding)
    return 1 if any(f.startswith(FAIL_ON) for f in findings) or not summary else 0


if __name__ == "__main__":
    sys.exit(main())
