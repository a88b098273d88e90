"""Incremental staging and snapshots: a build reads only the batches accepted since the last one,
keeps the newer version of each certificate, and starts over when a batch it took is withdrawn;
the placement of certificates in districts (int_certificates_located) follows what staging changed.

Raw batches are immutable by contract; this test edits one on purpose after it was built, as a
tracer: the edit shows up in staging only if a build reads that batch again.

    load  batch  X (T06)                  Y (T06, 320583)           Z (T06, no code)
    1     A      有效 @2024-01-01, 320506   有效 @2024-03-01           有效, address in 吴中 (320506)
    2     B      暂停 @2024-08-01, 320583   撤销 @2023-01-01 (an older  USCC of Nanjing, address
                                           version, sent late)        in Nanjing (not Suzhou's)
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from greencert import environment, feeds, subprocesses
from greencert.extract.files import land_new_files
from greencert.load.copy_batch import load_batch
from greencert.publish.swap import prepare_build
from greencert.quality.raw_gate import run_raw_gate
from standins.uscc import make_uscc

from .helpers import cert, write_csv

DB = "greencert_incremental"
FEED = feeds.get("certificates")
EMS = {"认证项目": "环境管理体系认证", "颁证日期": "2022-06-01", "证书到期日期": "2025-05-31"}
TRACER = "批次A被改过"  # what batch A's org names read after the edit


def x(status: str, updated: str) -> dict[str, str]:
    return cert("X", **EMS, **{"行政区划代码": "320506", "证书状态": status, "更新时间": updated})


def y(status: str, updated: str) -> dict[str, str]:
    return cert("Y", **EMS, **{"行政区划代码": "320583", "证书状态": status, "更新时间": updated})


class Warehouse:
    def __init__(self, urls: dict[str, str], tmp: Path) -> None:
        self.urls, self.tmp, self.builds = urls, tmp, 0

    def deliver(self, day: date, rows: list[dict[str, str]]) -> str:
        write_csv(self.tmp / "drop" / f"certificates_{day:%Y%m%d}.csv", rows)
        (batch,) = land_new_files(
            FEED, self.urls["loader"], day, dropbox=self.tmp / "drop", landing=self.tmp / "landing"
        )
        load_batch(FEED, self.urls["loader"], batch)
        assert run_raw_gate(FEED, self.urls["loader"], batch.batch_id, run_id=f"incremental-{day}").success
        return batch.batch_id

    def build(self) -> None:
        self.builds += 1
        schema = f"build_incremental_{self.builds}"
        prepare_build(self.urls["transformer"], schema)
        subprocesses.dbt(
            [
                "build",
                "--exclude-resource-type",
                "test",
                "--select",
                "stg_certificates__certificates",
                "int_certificate_status_versions",
                "snp_certificates__status",
                "regions",
                "region_code_aliases",
                "programs",
                "int_region_keywords",
                "int_certificates_located",
            ],
            environment.dbt_env(self.urls["transformer"], schema),
        )

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.urls["transformer"]) as conn:
            return conn.execute(sql).fetchall()

    def staging(self) -> dict[str, tuple[str, str, str]]:
        rows = self.query("select cert_no, status, org_name, batch_id from staging.stg_certificates__certificates")
        return {c: (s, n, b) for c, s, n, b in rows}

    def taken(self, model: str) -> list[str]:
        return [
            b
            for (b,) in self.query(
                f"select batch_id from staging.batches_taken where model = '{model}' order by taken_at, batch_id"
            )
        ]

    def located(self) -> dict[str, tuple[str, str, str]]:
        rows = self.query("select cert_no, region_code, region_method, org_name from staging.int_certificates_located")
        return {c: (r, m, n) for c, r, m, n in rows}

    def versions(self) -> set[tuple[str, str, str]]:
        return {
            (c, s, str(u))
            for c, s, u in self.query("select cert_no, status, updated_at from snapshots.snp_certificates__status")
        }


@pytest.fixture
def wh(fresh_database, tmp_path) -> Warehouse:
    return Warehouse(fresh_database(DB), tmp_path)


def test_a_build_reads_only_new_batches_keeps_the_newer_version_and_starts_over_on_a_withdrawal(wh) -> None:
    """Staging and the snapshot take only new batches; int_certificates_located places again only the
    certificates those batches changed (one that moves goes with them, one that stops being Suzhou's
    leaves) and starts over on new rules (the region or program seeds) or when the register does.
    Its tracer is an edit of the placed rows: it survives exactly where nothing was placed again."""
    z = cert("Z", **EMS, **{"组织地址": "江苏省苏州市吴中区木渎镇金山路8号"})  # placed by its address
    a = wh.deliver(date(2024, 6, 30), [x("有效", "2024-01-01 09:00:00"), y("有效", "2024-03-01 09:00:00"), z])
    wh.build()
    assert wh.staging() == {
        "X": ("有效", "苏州X有限公司", a),
        "Y": ("有效", "苏州Y有限公司", a),
        "Z": ("有效", "苏州Z有限公司", a),
    }
    assert wh.taken("stg_certificates__certificates") == [a] == wh.taken("snp_certificates__status")
    assert wh.located() == {
        "X": ("320506", "source_code", "苏州X有限公司"),
        "Y": ("320583", "source_code", "苏州Y有限公司"),
        "Z": ("320506", "address", "苏州Z有限公司"),
    }
    assert wh.taken("int_certificates_located") == [a]

    with psycopg.connect(wh.urls["loader"]) as conn:  # the tracer: batch A edited after it was built
        conn.execute("update raw.certificates set org_name = %s where batch_id = %s", (TRACER, a))
    wh.query("update staging.int_certificates_located set org_name = 'placed' returning 1")  # placement's

    # X suspended and moved to 320583; Y's older version sent late; Z's holder registered in Nanjing
    # (its USCC), and nothing else places it here
    nanjing = {"统一社会信用代码/组织机构代码": make_uscc("320102", 7), "组织地址": "南京市中山路1号"}
    b = wh.deliver(
        date(2024, 8, 31),
        [
            cert("X", **EMS, **{"行政区划代码": "320583", "证书状态": "暂停", "更新时间": "2024-08-01 09:00:00"}),
            y("撤销", "2023-01-01 09:00:00"),
            cert("Z", **EMS, **nanjing, **{"更新时间": "2024-08-01 09:00:00"}),
        ],
    )
    wh.build()
    # X moves to B's newer version; Y keeps A's row (B's is older); A was not read again (no tracer)
    assert wh.staging() == {
        "X": ("暂停", "苏州X有限公司", b),
        "Y": ("有效", "苏州Y有限公司", a),
        "Z": ("有效", "苏州Z有限公司", b),
    }
    assert wh.taken("stg_certificates__certificates") == [a, b] == wh.taken("snp_certificates__status")
    # only X and Z were placed again: X in its new district, Z no longer Suzhou's
    assert wh.located() == {"X": ("320583", "source_code", "苏州X有限公司"), "Y": ("320583", "source_code", "placed")}
    assert wh.taken("int_certificates_located") == [a, b]
    # the history holds every version sent, the late older one included
    assert wh.versions() == {
        ("X", "有效", "2024-01-01 09:00:00"),
        ("X", "暂停", "2024-08-01 09:00:00"),
        ("Y", "有效", "2024-03-01 09:00:00"),
        ("Y", "撤销", "2023-01-01 09:00:00"),
        ("Z", "有效", "2024-01-10 09:00:00"),
        ("Z", "有效", "2024-08-01 09:00:00"),
    }

    before = (wh.staging(), wh.versions(), wh.located())
    wh.build()  # nothing new, the same rules: nothing changes, nothing is placed again
    assert (wh.staging(), wh.versions(), wh.located()) == before and wh.taken("stg_certificates__certificates") == [
        a,
        b,
    ]

    wh.query("update staging.rules_applied set fingerprint = 'older rules' returning 1")
    wh.build()  # the rules changed: every certificate is placed again
    assert wh.located() == {
        "X": ("320583", "source_code", "苏州X有限公司"),
        "Y": ("320583", "source_code", "苏州Y有限公司"),
    }
    assert (wh.staging(), wh.versions()) == before[:2]

    with psycopg.connect(wh.urls["loader"]) as conn:  # B withdrawn by hand after it was built
        conn.execute("update raw.landing_manifest set status = 'rejected' where batch_id = %s", (b,))
    wh.build()
    # staging starts over from the batches still accepted: A, read again (the tracer shows it)
    assert wh.staging() == {"X": ("有效", TRACER, a), "Y": ("有效", TRACER, a), "Z": ("有效", TRACER, a)}
    assert wh.taken("stg_certificates__certificates") == [a]
    assert wh.versions() == before[1]  # the history keeps what was sent
    # and so does placement: X back in 320506, Z placed by its address again
    assert wh.located() == {
        "X": ("320506", "source_code", TRACER),
        "Y": ("320583", "source_code", TRACER),
        "Z": ("320506", "address", TRACER),
    }
    assert wh.taken("int_certificates_located") == [a]
