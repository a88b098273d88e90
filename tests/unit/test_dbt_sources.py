"""dbt's sources and accepted-rows base models are the registry's: the committed files are what
`greencert dbt-sources` generates (run it after editing plugins/greencert/feeds/registry.yml)."""

from pathlib import Path

import yaml

from greencert import feeds, settings
from greencert.feeds import dbt_sources


def test_committed_dbt_sources_are_what_the_registry_generates() -> None:
    assert dbt_sources.stale() == [], "run `greencert dbt-sources` and commit the result"


def test_a_stale_file_is_found_and_rewritten(tmp_path: Path) -> None:
    assert len(dbt_sources.write(tmp_path)) == len(dbt_sources.generated())
    path = tmp_path / "models/staging/certificates/_certificates__sources.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("count: 7", "count: 8"), encoding="utf-8")
    assert dbt_sources.stale(tmp_path) == [Path("models/staging/certificates/_certificates__sources.yml")]
    assert dbt_sources.write(tmp_path) == dbt_sources.stale(settings.DBT_PROJECT_DIR) + [
        Path("models/staging/certificates/_certificates__sources.yml")
    ]
    assert dbt_sources.stale(tmp_path) == []


def test_each_source_declares_the_feeds_columns_and_its_registry_freshness() -> None:
    for feed in feeds.registry().values():
        (source,) = yaml.safe_load(
            dbt_sources.generated()[Path("models/staging") / feed.name / f"_{feed.name}__sources.yml"]
        )["sources"]
        (table,) = source["tables"]
        assert [c["name"] for c in table["columns"]] == [
            *(c.name for c in feed.columns),
            "batch_id",
            "source_file",
            "source_row",
            "loaded_at",
        ]
        fresh = source["config"]["freshness"]
        assert (fresh["warn_after"]["count"], fresh["error_after"]["count"]) == feed.freshness
        assert fresh["warn_after"]["period"] == fresh["error_after"]["period"] == "day"


def test_no_staging_model_reads_raw_but_through_its_base() -> None:
    staging = settings.DBT_PROJECT_DIR / "models" / "staging"
    for sql in staging.glob("*/stg_*.sql"):
        text = sql.read_text(encoding="utf-8")
        # the loader's tables and the history (written by publish) are not feeds: no base model
        assert "source(" not in text or sql.parent.name in (dbt_sources.LOADER, "history"), sql
