"""A target is one definition: dbt_project.yml vars.counting_rules names each policy target's and
indicator's feed, fact model and rule, and the rest follows from it (macros/targets.sql). Without a
database: the definition, the seeds, the feed registry and the fact models agree."""

from __future__ import annotations

import csv
import re

import yaml

from greencert import feeds, settings

DBT = settings.DBT_PROJECT_DIR
RULES = yaml.safe_load((DBT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]["counting_rules"]
MARTS_YML = DBT / "models/marts/_marts__models.yml"
MARTS = {m["name"]: m for m in yaml.safe_load(MARTS_YML.read_text(encoding="utf-8"))["models"]}
SHARED_RULES = {"certificates_in_force"}  # rules a macro writes: the fact model is one call naming its targets


def _seed(name: str) -> list[dict[str, str]]:
    with (DBT / "seeds" / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_target_and_indicator_has_one_rule() -> None:
    seeded = [row["target_id"] for name in ("policy_targets", "policy_indicators") for row in _seed(name)]
    assert sorted(seeded) == sorted(RULES), "one counting rule per row of policy_targets / policy_indicators"
    for target_id, rule in RULES.items():
        assert set(rule) <= {"feed", "fact", "rule", "ratio"}, target_id
        assert rule["feed"] in feeds.registry(), f"{target_id}: {rule['feed']} is no feed of the registry"
        assert rule["rule"] in SHARED_RULES | {"own"}, target_id
        assert (DBT / "models/marts" / f"{rule['fact']}.sql").is_file(), f"{target_id}: no model {rule['fact']}"
        columns = {c["name"] for c in MARTS[rule["fact"]]["columns"]}  # documented (and tested) in YAML
        assert {"target_id", "region_code"} <= columns, rule["fact"]
        assert set(rule.get("ratio", [])) <= columns, f"{target_id}: ratio columns of {rule['fact']}"


def test_fact_models_follow_their_rule() -> None:
    by_fact: dict[str, list[str]] = {}
    for target_id, rule in RULES.items():
        by_fact.setdefault(rule["fact"], []).append(target_id)
    for fact, target_ids in by_fact.items():
        assert len({RULES[t]["rule"] for t in target_ids}) == 1, f"{fact}: one rule for all its targets"
        sql = (DBT / "models/marts" / f"{fact}.sql").read_text(encoding="utf-8")
        code = "\n".join(line for line in sql.splitlines() if not line.startswith("--")).strip()
        if RULES[target_ids[0]]["rule"] in SHARED_RULES:
            # one line naming only its target(s); the rule is read from the definition
            call = re.fullmatch(r"\{\{ target_fact\((.*)\) \}\}", code)
            assert call, f"{fact}: a shared rule's model is the one call {{{{ target_fact(...) }}}}"
            assert sorted(re.findall(r"'([TI]\d\d)'", call.group(1))) == sorted(target_ids), fact
        else:
            for target_id in target_ids:
                assert f"'{target_id}'" in code, f"{fact}: its own SQL counts {target_id}"


def test_programs_map_to_certificate_targets() -> None:
    """The certificates rule counts the programs the programs seed maps to a target: every such
    target has a program, and every program's target is counted by that rule."""
    mapped = {row["target_id"] for row in _seed("programs") if row["target_id"]}
    counted = {t for t, rule in RULES.items() if rule["rule"] == "certificates_in_force"}
    assert mapped == counted
