"""dbt build + dbt tests on the real warehouse, on a hand-made file whose answers are worked out
by hand below; then the mart gate and the publish swap on that build."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from greencert import environment, feeds, settings, subprocesses
from greencert.extract.files import land_new_files
from greencert.load.copy_batch import load_batch
from greencert.publish.swap import BI_VIEWS, build_schema_for, prepare_build, publish
from greencert.quality import mart_gate
from greencert.quality.raw_gate import run_raw_gate
from greencert.report.progress_table import progress_table
from standins.uscc import is_valid_uscc, make_uscc

from .helpers import cert, write_csv, write_xlsx

D = date(2025, 6, 30)
KUNSHAN_USCC = make_uscc("320583", 4711)
NANJING_USCC, NANJING_USCC_2 = make_uscc("320102", 815), make_uscc("320102", 816)  # registered in 南京

ROWS = [
    cert("A", **{"行政区划代码": "320506"}),  # counted: 吴中
    cert(
        "B",
        **{
            "行政区划代码": "320506",
            "证书状态": "暂停",
            "状态变更日期": "2025-06-01",
            "更新时间": "2025-06-01 10:00:00",
        },
    ),  # suspended on D
    cert(
        "C",
        **{
            "行政区划代码": "320506",
            "颁证日期": "2022-06-30",
            "证书到期日期": "2025-06-29",
            "证书状态": "过期",
            "更新时间": "2025-06-29 00:00:00",
        },
    ),  # expired yesterday
    cert("C2", **{"行政区划代码": "320506", "颁证日期": "2022-07-01", "证书到期日期": "2025-06-30"}),
    # ^ status still 有效 at the source, but D < expiry fails on its expiry day: not counted
    cert("D", **{"统一社会信用代码/组织机构代码": KUNSHAN_USCC}),  # no code → USCC → 昆山
    cert("E", **{"行政区划代码": "320584"}),  # old 吴江市 → 吴江区
    cert(
        "F", **{"统一社会信用代码/组织机构代码": "000000000", "组织地址": "江苏省苏州市工业园区星湖街328号"}
    ),  # address → 园区
    cert("G", **{"组织地址": "人民路1号"}),  # nothing places it → 未定位
    cert("H", **{"行政区划代码": "320506", "是否是子证书": "是", "主认证证书号": "A"}),  # sub: once via A
    cert("I", **{"行政区划代码": "320506", "颁证日期": "2025-07-01", "证书到期日期": "2028-06-30"}),  # future
    cert("J", **{"行政区划代码": "320505", "认证项目": "能源管理体系认证"}),  # T09: 高新区
    cert("N", **{"统一社会信用代码/组织机构代码": NANJING_USCC}),  # 南京's, nothing says Suzhou: not ours
    cert(
        "N2",
        **{
            "统一社会信用代码/组织机构代码": NANJING_USCC_2,
            "认证项目": "能源管理体系认证",
            "组织地址": "江苏省苏州市吴中区木渎镇金山路8号",
        },
    ),  # 南京-registered, site in 吴中: T09
    cert("K", **{"行政区划代码": "320505", "认证项目": "质量管理体系认证"}),  # counts towards nothing
    cert(
        "L", **{"行政区划代码": "３２０５０６", "颁证日期": "2024年1月10日", "证书到期日期": "20270109"}
    ),  # full-width code, CN dates: 吴中
    cert("S1", **{"行政区划代码": "320582", "认证类别": "服务认证", "认证项目": "商品售后服务评价认证"}),
    cert(
        "S2",
        **{
            "行政区划代码": "320582",
            "认证类别": "服务认证",
            "认证项目": "服务认证(其他)",
            "证书状态": "注销",
            "更新时间": "2025-03-01 09:00:00",
        },
    ),  # cancelled: not counted
    cert("P1", **{"行政区划代码": "320581", "认证类别": "产品认证", "认证项目": "节水产品认证"}),
    cert("P2", **{"行政区划代码": "320581", "认证类别": "产品认证", "认证项目": "环保产品认证"}),  # no target
    cert("G1", **{"行政区划代码": "320585", "认证类别": "产品认证", "认证项目": "良好农业规范(GAP)认证"}),
]
EXPECTED_T06 = {"320506": 2, "320583": 1, "320509": 1, "320571": 1, "000000": 1}
GF_HEADERS = [c.headers[0] for c in feeds.get("green_food").columns]
GREEN_FOOD = [
    {
        "企业名称": "苏州甲农业有限公司",
        "产品编号": "LB-15-2105020001A",
        "产品名称": "大米",
        "核准产量(吨)": "4,200",
        "证书有效期起": "2024-05-01",
        "证书有效期止": "2027-05-01",
        "所在地区": "吴中区",
    },  # counted: 吴中
    {
        "企业名称": "苏州乙农业有限公司",
        "产品编号": "LB-15-2206020002A",
        "产品名称": "枇杷",
        "证书有效期起": "2022-06-30",
        "证书有效期止": "2025-06-30",
        "所在地区": "吴中区",
    },  # ends on D
    {
        "企业名称": "苏州丙农业有限公司",
        "产品编号": "LB-15-2507020003A",
        "产品名称": "青虾",
        "证书有效期起": "2025-07-01",
        "证书有效期止": "2028-07-01",
        "所在地区": "常熟市",
    },  # future
    {
        "企业名称": "苏州丁农业有限公司",
        "产品编号": "LB-15-2301020004A",
        "产品名称": "茶叶",
        "统一社会信用代码": KUNSHAN_USCC,
        "证书有效期起": "2023-01-01",
        "证书有效期止": "2026-01-01",
    },  # USCC → 昆山
]

ORGANIC_HEADERS = [c.headers[0] for c in feeds.get("organic").columns]


def organic(cert_no: str, **fields: str) -> dict[str, str]:
    row = {
        "证书编号": cert_no,
        "认证类别": "生产",
        "获证组织名称": "苏州有机农业有限公司",
        "是否转换期": "否",
        "统一社会信用代码": make_uscc("320506", 77),
        "发证日期": "2025-01-01",
        "证书有效期至": "2026-01-01",
        "证书状态": "有效",
        "更新时间": "2025-01-01 09:00:00",
    }
    return {**row, **fields}


ORGANIC = [
    organic("228OP2500001"),  # counted: 吴中 (USCC)
    organic("228OP2500001-1"),  # its sub-certificate: once
    organic("228OP2500002", **{"是否转换期": "是"}),  # conversion period: not organic
    organic("228OP2500003", **{"证书状态": "暂停", "更新时间": "2025-05-01 09:00:00"}),  # suspended
    organic("228OP2500004", **{"统一社会信用代码": "", "基地地址": "江苏省苏州市吴江区同里镇"}),  # address → 吴江
]

GBM = [  # green_building_materials: the plant's address decides
    {
        "证书编号": "GBM1",
        "企业名称": "苏州甲建材有限公司",
        "认证等级": "★★",
        "发证日期": "2023-01-01",
        "有效期至": "2027-12-31",
        "证书状态": "有效",
        "生产地址": "江苏省苏州市太仓市港区路1号",
        "统一社会信用代码": KUNSHAN_USCC,
    },  # 太仓 (address beats USCC)
    {
        "证书编号": "GBM2",
        "企业名称": "苏州乙建材有限公司",
        "认证等级": "三星级",
        "发证日期": "2023-01-01",
        "有效期至": "2027-12-31",
        "证书状态": "撤销",
        "生产地址": "江苏省苏州市太仓市",
    },  # revoked
]
STANDARDS = [  # enterprise_standards: green, above national, made in the policy period, current
    {
        "标准编号": "Q/SZ 0001-2023",
        "企业名称": "甲",
        "统一社会信用代码": KUNSHAN_USCC,
        "发布日期": "2023-03-01",
        "指标水平": "高于国家标准",
        "绿色产品": "是",
        "状态": "现行",
    },  # counted: 昆山
    {
        "标准编号": "Q/SZ 0002-2021",
        "企业名称": "乙",
        "统一社会信用代码": KUNSHAN_USCC,
        "发布日期": "2021-03-01",
        "指标水平": "高于国家标准",
        "绿色产品": "是",
        "状态": "现行",
    },  # before the policy
    {
        "标准编号": "Q/SZ 0003-2023",
        "企业名称": "丙",
        "统一社会信用代码": KUNSHAN_USCC,
        "发布日期": "2023-03-01",
        "指标水平": "等同",
        "绿色产品": "是",
        "状态": "现行",
    },  # not above national
    {
        "标准编号": "Q/SZ 0004-2023",
        "企业名称": "丁",
        "统一社会信用代码": KUNSHAN_USCC,
        "发布日期": "2023-03-01",
        "指标水平": "高于国家标准",
        "绿色产品": "是",
        "状态": "废止",
    },  # withdrawn
]
BODIES = [  # certification_bodies: green scope, brought in during the policy period, approval valid
    {
        "机构名称": "甲认证",
        "批准号": "CNCA-R-2010-001",
        "业务范围": "质量管理体系认证;绿色产品认证",
        "批准有效期至": "2027-01-01",
        "在苏设立/引进日期": "2023-05-01",
        "在苏机构地址": "苏州工业园区星湖街1号",
    },
    {
        "机构名称": "乙认证",
        "批准号": "CNCA-R-2010-002",
        "业务范围": "有机产品认证",
        "批准有效期至": "2027-01-01",
        "在苏设立/引进日期": "2020-05-01",
        "在苏机构地址": "苏州工业园区",
    },  # before
    {
        "机构名称": "丙认证",
        "批准号": "CNCA-R-2010-003",
        "业务范围": "质量管理体系认证",
        "批准有效期至": "2027-01-01",
        "在苏设立/引进日期": "2023-05-01",
        "在苏机构地址": "苏州工业园区",
    },  # no green
    {
        "机构名称": "丁认证",
        "批准号": "CNCA-R-2010-004",
        "业务范围": "节能产品认证",
        "批准有效期至": "2025-06-30",
        "在苏设立/引进日期": "2023-05-01",
        "在苏机构地址": "苏州工业园区",
    },  # lapses on D
]

BLACKLIST = [
    {
        "统一社会信用代码": KUNSHAN_USCC,
        "企业名称": "苏州D有限公司",
        "列入日期": "2025-01-01",
        "列入原因": "虚标绿色产品，情节严重",
    },  # listed on D
    {
        "统一社会信用代码": make_uscc("320506", 77),
        "企业名称": "苏州有机农业有限公司",
        "列入日期": "2023-01-01",
        "移出日期": "2024-01-01",
    },  # removed before D
]

# green_manufacturing: names, not USCCs; three files whose headers drift, a later one withdrawing
# and renaming entries of an earlier one. Known enterprise: certificate D's holder 苏州D有限公司 (昆山).
GM_2023 = (
    "绿色工厂名单_2023.csv",
    ["序号", "省份", "单位名称", "行业", "第三方评价机构名称", "批次", "级别", "动态调整", "更名为"],
    [
        ["1", "江苏", "苏州D（有限公司）", "nan", "甲评价", "2023", "国家级", "", ""],  # matched by name → 昆山
        ["2", "江苏", "昆山甲 新材料有限公司", "nan", "甲评价", "2023", "国家级", "", ""],  # name-only; withdrawn below
        ["3", "江苏", "苏州乙智能有限公司", "nan", "甲评价", "2023", "国家级", "", ""],  # says 苏州 only → 000000
        ["4", "江苏", "南京丙制造有限公司", "nan", "甲评价", "2023", "国家级", "", ""],  # elsewhere in Jiangsu
        ["5", "浙江", "浙江丁制造有限公司", "nan", "甲评价", "2023", "国家级", "", ""],  # another province
        ["6", "江苏", "张家港戊科技有限公司", "nan", "甲评价", "2023", "国家级", "", ""],  # → 张家港; renamed below
    ],
)
GM_2024 = (
    "绿色工厂名单_2024.xlsx",
    ["序号", "地 区", "工厂名称", "行业", "第三方机构", "批次", "级别", "动态调整", "更名为"],
    [
        ["1", "江苏", "昆山甲新材料有限公司", "nan", "乙评价", "2023", "国家级", "移出（2025年1月22日）", ""],
        ["2", "江苏", "张家港戊科技有限公司", "nan", "乙评价", "2023", "国家级", "", "张家港戊科技股份有限公司"],
        ["3", "江苏", "常熟己纺织有限公司", "nan", "乙评价", "2024", "国家级", "", ""],  # → 常熟
    ],
)
GM_PROVINCE = (
    "绿色工厂名单_江苏省2024.csv",
    ["序号", "地区", "企业名称", "行业", "第三方评价机构", "批次"],
    [
        ["1", "苏州市昆山市", "苏州D有限公司", "电子", "丙评价", "2024"],  # on the national list too: once
        ["2", "苏州市吴中区", "苏州庚科技有限公司", "机械", "丙评价", "2024"],  # the list's 地区 → 吴中
        ["3", "无锡市", "无锡辛有限公司", "机械", "丙评价", "2024"],  # not Suzhou
    ],
)
GM_PARKS = (
    "绿色工业园区名单_2024.csv",
    ["序号", "地区", "园区名称", "批次", "级别"],
    [
        ["1", "江苏", "昆山经济技术开发区", "2024", "国家级"],  # I06 → 昆山
    ],
)
AGRI = [  # T04: the latest year before the as-of year (2024); the share is a ratio of sums
    [2023, "昆山市", "粮食", 1000, 600],  # an older year: not used
    [2024, "昆山市", "粮食", 1000, 700],
    [2024, "昆山市", "蔬菜", "2,000", 1300],  # 昆山 2000 / 3000
    [2024, "吴中区", "粮食", 500, 400],  # 吴中 400 / 500
    [2024, "市区", "水果", 100, 50],  # no district named → 未定位 50 / 100
]
T04_EXPECTED = {
    "320583": Decimal("66.7"),
    "320506": Decimal("80.0"),
    "000000": Decimal("50.0"),
    "320500": Decimal("68.1"),
}  # city: (700 + 1300 + 400 + 50) / (1000 + 2000 + 500 + 100) = 2450 / 3600
POOLS = [
    {
        "统一社会信用代码": KUNSHAN_USCC,
        "企业名称": "苏州D有限公司",
        "培育库": "龙头企业",
        "所在地区": "昆山市",
        "入库日期": "2022-09-20",
    },  # T12 and I09 (holds EMS certificate D, GBM1, green food …0004A)
    {
        "统一社会信用代码": KUNSHAN_USCC,
        "企业名称": "苏州D有限公司",
        "培育库": "高成长型企业",
        "所在地区": "昆山市",
        "入库日期": "2023-06-15",
    },  # in both pools: counted once
    {
        "统一社会信用代码": make_uscc("320506", 77),
        "企业名称": "苏州有机农业有限公司",
        "培育库": "高成长型企业",
        "入库日期": "2023-06-15",
        "出库日期": "2025-05-01",
    },  # left before D
    {
        "统一社会信用代码": make_uscc("320505", 88),
        "企业名称": "苏州壬有限公司",
        "培育库": "高成长型企业",
        "入库日期": "2024-06-18",
    },  # no 所在地区: the USCC → 高新区; holds nothing green
]

EXPECTED = {
    "T01": {"320583": 1, "000000": 1, "320582": 1, "320581": 1, "320506": 1},
    "I06": {"320583": 1},
    "I07": {},
    "T12": {"320583": 1, "320505": 1},
    "I09": {"320583": 1},
    "T08": {"320585": 1},
    "T10": {"320583": 1},
    "T11": {"320571": 1},
    "T03": {"320506": 1, "320509": 1},
    "T02": {"320506": 1, "320583": 1},
    "T06": EXPECTED_T06,
    "T09": {"320505": 1, "320506": 1},
    "T05": {"320582": 1},
    "T07": {"320581": 1},
    "I01": {"320585": 1},
    "I03": {},  # fed, none in force: zero, not null
}


@pytest.fixture(scope="module")
def built(fresh_database, tmp_path_factory):
    urls = fresh_database("greencert_dbt")
    feed = feeds.get("certificates")
    tmp = tmp_path_factory.mktemp("dbt")
    write_csv(tmp / "drop" / "certs.csv", ROWS)
    (batch,) = land_new_files(feed, urls["loader"], D, dropbox=tmp / "drop", landing=tmp / "landing")
    load_batch(feed, urls["loader"], batch)
    assert run_raw_gate(feed, urls["loader"], batch.batch_id, run_id="test").success
    gf = feeds.get("green_food")
    write_xlsx(
        tmp / "gf" / "绿色食品.xlsx", GREEN_FOOD, GF_HEADERS, title_rows=("苏州市绿色食品获证产品名录",), total_row=True
    )
    (gf_batch,) = land_new_files(gf, urls["loader"], D, dropbox=tmp / "gf", landing=tmp / "landing")
    load_batch(gf, urls["loader"], gf_batch)
    assert run_raw_gate(gf, urls["loader"], gf_batch.batch_id, run_id="test").success
    og = feeds.get("organic")
    write_csv(tmp / "og" / "organic.csv", ORGANIC, ORGANIC_HEADERS)
    (og_batch,) = land_new_files(og, urls["loader"], D, dropbox=tmp / "og", landing=tmp / "landing")
    load_batch(og, urls["loader"], og_batch)
    assert run_raw_gate(og, urls["loader"], og_batch.batch_id, run_id="test").success
    for name, rows in (
        ("green_building_materials", GBM),
        ("enterprise_standards", STANDARDS),
        ("certification_bodies", BODIES),
        ("credit_blacklist", BLACKLIST),
    ):
        feed_ = feeds.get(name)
        write_csv(tmp / name / f"{name}.csv", rows, [c.headers[0] for c in feed_.columns])
        (b,) = land_new_files(feed_, urls["loader"], D, dropbox=tmp / name, landing=tmp / "landing")
        load_batch(feed_, urls["loader"], b)
        assert run_raw_gate(feed_, urls["loader"], b.batch_id, run_id="test").success
    gm = feeds.get("green_manufacturing")
    for name, headers, rows in (GM_2023, GM_2024, GM_PROVINCE, GM_PARKS):
        path = tmp / "gm" / name
        if name.endswith(".xlsx"):
            write_xlsx(
                path, [dict(zip(headers, r, strict=True)) for r in rows], headers, title_rows=("2024年度绿色工厂名单",)
            )
        else:
            write_csv(path, [dict(zip(headers, r, strict=True)) for r in rows], headers, encoding="gb18030")
    for b in land_new_files(gm, urls["loader"], D, dropbox=tmp / "gm", landing=tmp / "landing"):
        load_batch(gm, urls["loader"], b)
        assert run_raw_gate(gm, urls["loader"], b.batch_id, run_id="test").success
    agri = feeds.get("agri_output")
    agri_headers = [c.headers[0] for c in agri.columns]
    write_xlsx(
        tmp / "agri" / "食用农产品产量_2024.xlsx",
        [dict(zip(agri_headers, r, strict=True)) for r in AGRI],
        agri_headers,
        title_rows=("苏州市食用农产品产量统计",),
        total_row=True,
    )
    pools = feeds.get("enterprise_pools")
    write_csv(tmp / "pools" / "培育库名单.csv", POOLS, [c.headers[0] for c in pools.columns])
    for feed_, folder in ((agri, "agri"), (pools, "pools")):
        (b,) = land_new_files(feed_, urls["loader"], D, dropbox=tmp / folder, landing=tmp / "landing")
        load_batch(feed_, urls["loader"], b)
        assert run_raw_gate(feed_, urls["loader"], b.batch_id, run_id="test").success
    schema = prepare_build(urls["transformer"], build_schema_for(D))
    env = environment.dbt_env(urls["transformer"], schema)
    subprocesses.dbt(["build", "--vars", f"{{as_of_date: '{D}'}}"], env)
    return urls, schema


def _progress(url: str, relation: str) -> dict[tuple[str, str], Decimal | None]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"select target_id, region_code, actual_value from {relation}").fetchall()
    return {(t, r): v for t, r, v in rows}


def test_in_force_counts_worked_out_by_hand(built) -> None:
    urls, schema = built
    progress = _progress(urls["transformer"], f"{schema}.fct_target_progress")
    for target, expected in EXPECTED.items():
        by_region = {r: int(v) for (t, r), v in progress.items() if t == target and r != "320500" and v}
        assert by_region == expected, target
        assert progress[(target, "320500")] == sum(expected.values())
    t04 = {r: v for (t, r), v in progress.items() if t == "T04" and v is not None and v > 0}
    assert t04 == T04_EXPECTED
    with psycopg.connect(urls["transformer"]) as conn:
        output = conn.execute(
            f"select approved_output_t from {schema}.stg_green_food__products where product_code = 'LB-15-2105020001A'"
        ).fetchone()[0]
    assert output == 4200  # "4,200" with its thousands separator


def test_dbt_unit_tests_of_the_target_math(built) -> None:
    """dbt's unit tests (models/*/_*__unit_tests.yml: in force on D, region placement, T04's ratio of
    sums, trajectory, projection and status), each on hand-made rows with hand-worked answers; CI runs
    them here, the nightly's `dbt build` leaves them out (test_dag_integrity). Before the publish
    below: they read the build schema's relations for their inputs' column types."""
    urls, schema = built
    out = subprocesses.dbt(
        ["test", "--select", "test_type:unit", "--vars", f"{{as_of_date: '{D}'}}"],
        environment.dbt_env(urls["transformer"], schema),
    ).stdout
    passed = set(re.findall(r"PASS (\w+::\w+)", out))
    assert passed == {
        "int_certificates_in_force::in_force_on_date_d",
        "int_certificates_located::region_placement",
        "fct_target_progress::t04_share_is_a_ratio_of_sums",
        "fct_target_progress::trajectory_projection_and_status",
    }, out[-3000:]


def test_history_sources_declare_the_warehouses_columns(built) -> None:
    """The dbt sources of the tables outside the build (history, staging's control tables) name every
    column of the warehouse's tables with its data type, as the catalog has them."""
    import yaml

    urls, _ = built
    sources = yaml.safe_load(
        (settings.DBT_PROJECT_DIR / "models" / "staging" / "history" / "_history__sources.yml").read_text(
            encoding="utf-8"
        )
    )["sources"]
    with psycopg.connect(urls["transformer"]) as conn:
        for source in sources:
            for table in source["tables"]:
                catalog = conn.execute(
                    """select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a
                       where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped""",
                    (f"{source['schema']}.{table['name']}",),
                ).fetchall()
                assert dict(catalog) == {c["name"]: c["data_type"] for c in table["columns"]}, table["name"]


def test_green_manufacturing_names_resolved_withdrawn_and_unmatched_reported(built) -> None:
    urls, schema = built
    with psycopg.connect(urls["transformer"]) as conn:
        factories = dict(
            conn.execute(f"select entry_name, region_method from {schema}.fct_t01_green_factories").fetchall()
        )
        unmatched = dict(
            conn.execute(
                f"select entry_name, region_code from {schema}.fct_green_manufacturing_unmatched_names"
            ).fetchall()
        )
        renamed = conn.execute(
            f"select renamed_to from {schema}.fct_t01_green_factories where entry_name = '张家港戊科技有限公司'"
        ).fetchone()
    # the national listing of 苏州D wins over its provincial one (brackets half-width once cleaned);
    # 昆山甲 was withdrawn on 2025-01-22
    assert factories == {
        "苏州D(有限公司)": "matched_enterprise",
        "苏州乙智能有限公司": "suzhou_only",
        "张家港戊科技有限公司": "name",
        "常熟己纺织有限公司": "name",
        "苏州庚科技有限公司": "list_region",
    }
    assert renamed == ("张家港戊科技股份有限公司",)
    # every Jiangsu name that matched no enterprise is reported, counted somewhere or (None) nowhere
    assert unmatched == {
        "苏州乙智能有限公司": "000000",
        "南京丙制造有限公司": None,
        "张家港戊科技有限公司": "320582",
        "常熟己纺织有限公司": "320581",
        "苏州庚科技有限公司": "320506",
        "无锡辛有限公司": None,
        "昆山经济技术开发区": "320583",
    }


def test_dishonest_holders_are_flagged_and_watched(built) -> None:
    urls, schema = built
    with psycopg.connect(urls["transformer"]) as conn:
        flagged = conn.execute(
            f"select enterprise_id, feeds from {schema}.dim_enterprise where is_seriously_dishonest"
        ).fetchall()
        watched = conn.execute(
            f"select target_id, certificate_no from {schema}.fct_dishonest_green_certificate_holders"
        ).fetchall()
    # the Kunshan enterprise holds EMS certificate D, green-food product …0004A and building-material
    # certificate GBM1 (its standard is not a certificate); the organic farm was removed before D
    assert flagged == [
        (KUNSHAN_USCC, ["certificates", "enterprise_standards", "green_building_materials", "green_food"])
    ]
    assert sorted(watched) == [("T02", "LB-15-2301020004A"), ("T06", "D"), ("T08", "GBM1")]


def test_every_target_for_every_region(built) -> None:
    urls, schema = built
    progress = _progress(urls["transformer"], f"{schema}.fct_target_progress")
    # (12 targets + 9 indicators) × (10 county-level units + 未定位 + city)
    assert len(progress) == 21 * 12


def test_uscc_macro_agrees_with_python(built) -> None:
    urls, _ = built
    examples = [KUNSHAN_USCC, KUNSHAN_USCC[:-1] + ("0" if KUNSHAN_USCC[-1] != "0" else "1"), "000000000"]
    assert [is_valid_uscc(e) for e in examples] == [True, False, False]
    with psycopg.connect(urls["transformer"]) as conn:
        got = dict(
            conn.execute(
                "select org_id, org_id_is_uscc from staging.stg_certificates__certificates where org_id is not null"
            ).fetchall()
        )
    assert got == {KUNSHAN_USCC: True, NANJING_USCC: True, NANJING_USCC_2: True, "000000000": False}


def test_gate_then_publish(built) -> None:
    urls, schema = built
    outcome = mart_gate.audit(urls["transformer"], schema, run_id="test")
    assert outcome.success and not outcome.warnings, outcome.summary()
    result = publish(urls["transformer"], schema, D)
    assert result.history_rows_total == 21 * 12
    progress = _progress(urls["bi_reader"], "bi.target_progress")  # BI sees it through bi only
    assert progress[("T06", "320500")] == 6
    table = progress_table(urls["bi_reader"], D).splitlines()  # what the demo and the nightly print
    ids = [line.split()[0] for line in table[3:]]
    assert ids == [f"T{i:02d}" for i in range(1, 13)] + [f"I{i:02d}" for i in range(1, 10)]
    t06 = next(line for line in table if line.startswith("T06"))
    assert "6" in t06.split() and ">=17500张" in t06 and "滞后" in t06  # far below its trajectory
    with psycopg.connect(urls["bi_reader"]) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select * from marts.fct_target_progress")


CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")


def test_bi_views_are_the_contract_and_documented_in_chinese_and_english(built) -> None:
    """Every bi view (as its reader sees it) has exactly the contract's columns, and it and each of
    its columns carry a comment with Chinese and English (copied from the marts' persist_docs and
    the history table's comments at publish)."""
    urls, _ = built
    with psycopg.connect(urls["bi_reader"]) as conn:
        views = dict(
            conn.execute(
                """select c.relname, obj_description(c.oid, 'pg_class') from pg_class c
               where c.relnamespace = 'bi'::regnamespace and c.relkind = 'v'"""
            ).fetchall()
        )
        columns = conn.execute(
            """select c.relname, a.attname, col_description(c.oid, a.attnum) from pg_class c
               join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
               where c.relnamespace = 'bi'::regnamespace order by c.relname, a.attnum"""
        ).fetchall()
        counts = {v: conn.execute(f"select count(*) from bi.{v}").fetchone()[0] for v in views}
    assert set(views) == {v.name for v in BI_VIEWS}
    assert {v.name: tuple(c for t, c, _ in columns if t == v.name) for v in BI_VIEWS} == {
        v.name: v.columns for v in BI_VIEWS
    }
    undocumented = [(t, c, d) for t, c, d in columns if not (d and CJK.search(d) and LATIN.search(d))]
    assert undocumented == []
    assert all(d and CJK.search(d) and LATIN.search(d) for d in views.values()), views
    assert all(counts.values()), counts  # every view has rows after a publish
    # the contract's data types (models/bi, enforced by dbt at build) as BI sees them, and every view
    # reads what was published (marts, history), never a build schema
    import yaml

    bi_yml = settings.DBT_PROJECT_DIR / "models" / "bi" / "_bi__models.yml"
    declared = {
        m["name"].removeprefix("bi_"): [(c["name"], c["data_type"]) for c in m["columns"]]
        for m in yaml.safe_load(bi_yml.read_text(encoding="utf-8"))["models"]
    }
    with psycopg.connect(urls["transformer"]) as conn:
        types = conn.execute(
            """select c.relname, a.attname, format_type(a.atttypid, a.atttypmod) from pg_class c
               join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
               where c.relnamespace = 'bi'::regnamespace order by c.relname, a.attnum"""
        ).fetchall()
        read = conn.execute(
            """select distinct v.relname, n.nspname from pg_depend d
               join pg_rewrite r on r.oid = d.objid join pg_class v on v.oid = r.ev_class
               join pg_class t on t.oid = d.refobjid join pg_namespace n on n.oid = t.relnamespace
               where v.relnamespace = 'bi'::regnamespace and d.refobjid <> v.oid"""
        ).fetchall()
    assert {v: [(c, ty) for t_, c, ty in types if t_ == v] for v in declared} == declared
    assert {n for _, n in read} == {"marts", "history"} and {v for v, _ in read} == set(declared)


def test_bi_certificates_in_force_and_enterprises(built) -> None:
    urls, _ = built
    with psycopg.connect(urls["bi_reader"]) as conn:
        held = conn.execute(
            """select source_feed, target_id, certificate_no, region_code, issue_date from bi.certificates_in_force
               where uscc = %s order by certificate_no""",
            (KUNSHAN_USCC,),
        ).fetchall()
        total = conn.execute("select count(*) from bi.certificates_in_force").fetchone()[0]
        kunshan = conn.execute(
            "select enterprise_name, region_code, feeds, is_seriously_dishonest from bi.enterprises "
            "where enterprise_id = %s",
            (KUNSHAN_USCC,),
        ).fetchone()
    assert held == [
        ("certificates", "T06", "D", "320583", date(2024, 1, 10)),
        ("green_building_materials", "T08", "GBM1", "320585", date(2023, 1, 1)),
        ("green_food", "T02", "LB-15-2301020004A", "320583", date(2023, 1, 1)),
    ]
    # every certificate counted towards a target or indicator, once
    assert total == sum(sum(EXPECTED[t].values()) for t in ("T02", "T03", "T05", "T06", "T07", "T08", "T09", "I01"))
    assert kunshan[1:] == ("320583", "certificates, enterprise_standards, green_building_materials, green_food", True)


def test_bi_reader_reads_bi_and_nothing_else(built) -> None:
    """greencert_bi_reader selects every bi view and nothing else; it can create, write, comment on
    or drop nothing, even in a session it sets read-write."""
    urls, _ = built
    probe = prepare_build(urls["transformer"], "build_bi_probe")  # a build schema, as a night leaves one
    with psycopg.connect(urls["transformer"]) as conn:
        conn.execute(f"create table {probe}.t as select 1 as x")
        hidden = [
            r[0]
            for r in conn.execute(
                """select format('%I.%I', n.nspname, c.relname) from pg_class c
               join pg_namespace n on n.oid = c.relnamespace
               where c.relkind in ('r', 'v', 'm', 'p')
                 and (n.nspname in ('raw', 'dq', 'staging', 'snapshots', 'marts', 'history', 'util', 'public')
                      or left(n.nspname, 6) = 'build_')
               order by 1"""
            ).fetchall()
        ]
    assert {
        "raw.certificates",
        "dq.quarantine",
        "dq.validation_runs",
        "staging.batches_taken",
        "marts.fct_target_progress",
        "history.target_progress_history",
        f"{probe}.t",
    } <= set(hidden)
    with psycopg.connect(urls["bi_reader"], autocommit=True) as conn:
        assert conn.execute("show default_transaction_read_only").fetchone()[0] == "on"
        conn.execute("set default_transaction_read_only = off")  # privileges, not the setting, must stop it
        readable = [r for r in hidden if _allowed(conn, f"select * from {r} limit 1")]
        assert readable == []
        assert not _allowed(conn, "select util.clean_text('x')")
        writes = [
            "create table public.bi_probe (x int)",
            "create table bi.bi_probe (x int)",
            "create view bi.bi_probe as select 1 as x",
            "create schema bi_probe",
            "create temp table bi_probe (x int)",
            "create function public.bi_probe() returns int language sql as 'select 1'",
            "insert into bi.target_progress (target_id) values ('T99')",
            "update bi.regions set sort_order = 0",
            "delete from bi.policy_targets",
            "drop view bi.regions",
            "truncate history.target_progress_history",
            "insert into dq.explained_drops (target_id, as_of_date, explanation) values ('T06', now(), 'x')",
            "comment on view bi.regions is 'x'",
            "alter view bi.regions rename to bi_probe",
            "select lo_create(0)",
            "select lo_from_bytea(0, 'x')",
        ]
        assert [w for w in writes if _allowed(conn, w)] == []
        for view in BI_VIEWS:
            conn.execute(f"select * from bi.{view.name} limit 1")
    with psycopg.connect(urls["transformer"]) as conn:
        conn.execute(f"drop schema {probe} cascade")


def _allowed(conn: psycopg.Connection, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def test_gate_refuses_a_double_count(built) -> None:
    """A build whose city total is not the sum of its regions fails the mart suite, naming why."""
    urls, _ = built
    bad = "build_20250701"
    prepare_build(urls["transformer"], bad)
    with psycopg.connect(urls["transformer"]) as conn:
        conn.execute(f"create table {bad}.fct_target_progress as table marts.fct_target_progress")
        conn.execute(
            f"update {bad}.fct_target_progress set numerator_value = numerator_value * 2 "
            "where target_id = 'T06' and region_code = '320500'"
        )
    outcome = mart_gate.audit(urls["transformer"], bad, run_id="test-bad")
    assert not outcome.success
    assert [(c.expectation, c.why) for c in outcome.failed] == [
        (
            "unexpected_rows_expectation",
            "the city total equals the sum over its regions (numerator and denominator of ratios)",
        )
    ]
    assert "the city total equals the sum over its regions" in outcome.summary()
    with psycopg.connect(urls["transformer"]) as conn:
        recorded = conn.execute(
            "select count(*) from dq.validation_runs where run_id = 'test-bad' and not success"
        ).fetchone()[0]
    assert recorded == 1


def _tampered_build(urls, day: date, change: str = "") -> str:
    """A copy of the published fct_target_progress as a build for `day`, changed by `change` (SQL)."""
    schema = prepare_build(urls["transformer"], build_schema_for(day))
    with psycopg.connect(urls["transformer"]) as conn:
        conn.execute(f"create table {schema}.fct_target_progress as table marts.fct_target_progress")
        conn.execute(f"update {schema}.fct_target_progress set as_of_date = %s", (day,))
        if change:
            conn.execute(change.format(build=schema))
    return schema


def test_gate_refuses_an_unexplained_drop_until_it_is_explained(built) -> None:
    urls, _ = built
    day = date(2025, 7, 1)
    halve = (
        "update {build}.fct_target_progress set actual_value = 3, numerator_value = 3 "
        "where target_id = 'T06' and region_code = '320500'"
    )  # 6 published yesterday
    schema = _tampered_build(urls, day, halve)
    outcome = mart_gate.audit(urls["transformer"], schema, run_id="drop", max_drop_share=0.10)
    assert [c.why for c in outcome.failed if "falls" in c.why] == [
        "no city total falls more than 10% below the last published snapshot without an explanation "
        "(greencert explain-drop)"
    ]
    assert "T06" in next(c.observed for c in outcome.failed if "falls" in c.why)
    # a drop within the allowed share passes; so does an explained one
    assert not [
        c for c in mart_gate.audit(urls["transformer"], schema, "drop", max_drop_share=0.6).failed if "falls" in c.why
    ]
    with psycopg.connect(urls["loader"]) as conn:
        conn.execute(
            "insert into dq.explained_drops (target_id, as_of_date, explanation) "
            "values ('T06', %s, 'a body withdrew its EMS certificates')",
            (day,),
        )
    again = mart_gate.audit(urls["transformer"], schema, run_id="drop-explained", max_drop_share=0.10)
    assert not [c for c in again.failed if "falls" in c.why]


def test_gate_warns_on_a_late_feed_then_refuses_a_stale_one(built) -> None:
    urls, _ = built
    late = mart_gate.audit(urls["transformer"], _tampered_build(urls, date(2025, 7, 3)), run_id="late")
    assert late.success and [c.why for c in late.warnings] == [
        "every feed delivered an accepted batch within its warn_after_days (feed registry)"
    ]
    assert "certificates" in late.warnings[0].observed and "green_manufacturing" not in late.warnings[0].observed
    stale = mart_gate.audit(urls["transformer"], _tampered_build(urls, date(2025, 7, 8)), run_id="stale")
    assert not stale.success and [c.why for c in stale.failed] == [
        "every feed delivered an accepted batch within its error_after_days (feed registry)"
    ]


def checksums(url: str) -> dict[str, str]:
    """Every published table and BI view, row by row (order independent)."""
    with psycopg.connect(url) as conn:
        relations = [
            r[0]
            for r in conn.execute(
                """select table_schema || '.' || table_name from information_schema.tables
               where table_schema in ('marts', 'history', 'bi') order by 1"""
            ).fetchall()
        ]
        return {
            rel: str(sorted(r[0] for r in conn.execute(f"select md5(t::text) from {rel} t").fetchall()))
            for rel in relations
        }


def test_a_build_that_fails_the_gate_leaves_the_published_numbers_byte_for_byte(built) -> None:
    """The nightly's own steps for the next date — fresh build schema, real dbt build, audit — with a
    double count injected before the audit: the gate fails, so publish (downstream of audit, all
    success; test_dag_integrity) never runs, and marts, bi and the history are exactly as before."""
    urls, _ = built
    before = checksums(urls["transformer"])
    day = date(2025, 7, 2)
    schema = prepare_build(urls["transformer"], build_schema_for(day))
    subprocesses.dbt(
        ["build", "--exclude-resource-type", "test", "--vars", f"{{as_of_date: '{day}'}}"],
        environment.dbt_env(urls["transformer"], schema),
    )
    with psycopg.connect(urls["transformer"]) as conn:
        conn.execute(
            f"insert into {schema}.fct_target_progress select * from {schema}.fct_target_progress "
            "where target_id = 'T09' and region_code = '320505'"
        )
    outcome = mart_gate.audit(urls["transformer"], schema, run_id="double-count")
    assert not outcome.success
    assert "expect_compound_columns_to_be_unique" in {c.expectation for c in outcome.failed}
    assert checksums(urls["transformer"]) == before


def test_projection_from_the_recent_trend_decides_between_on_track_and_behind(built) -> None:
    """The projection: today's actual + the least-squares slope per day through the city's published
    actuals of the last 90 days and today's × the days to the deadline. T09 (400 by 2025-12-31) is far
    below its straight line, but a climb of 10 in 3 days projects past 400: 进度正常. T06 has only its
    published 2025-06-30 before: its slope projects far short of 17,500, still 滞后."""
    import statistics

    urls, _ = built
    day = date(2025, 7, 2)
    with psycopg.connect(urls["transformer"]) as conn:
        published = dict(
            conn.execute(
                "select target_id, actual_value from history.target_progress_history "
                "where snapshot_date = %s and region_code = '320500' and target_id in ('T06', 'T09')",
                (D,),
            ).fetchall()
        )
        conn.execute(
            """insert into history.target_progress_history (snapshot_date, target_id, region_code, region_name,
                   actual_value, progress_status, build_id, published_at)
               values ('2025-06-29', 'T09', '320500', '苏州市', %s, '滞后', 'test', now()),
                      ('2025-03-01', 'T09', '320500', '苏州市', 999, '达标', 'test', now())""",  # > 90 days: ignored
            (published["T09"] - 10,),
        )
    schema = prepare_build(urls["transformer"], build_schema_for(day))
    subprocesses.dbt(
        ["build", "--exclude-resource-type", "test", "--vars", f"{{as_of_date: '{day}'}}"],
        environment.dbt_env(urls["transformer"], schema),
    )
    with psycopg.connect(urls["transformer"]) as conn:
        got = {
            t: (a, tr, p, s)
            for t, a, tr, p, s in conn.execute(
                f"select target_id, actual_value, trajectory_value, projected_value, progress_status "
                f"from {schema}.fct_target_progress where region_code = '320500' and target_id in ('T06', 'T09')"
            )
        }
        conn.execute("delete from history.target_progress_history where build_id = 'test'")
    days_left = (date(2025, 12, 31) - day).days
    earlier = {"T06": [(-2, published["T06"])], "T09": [(-3, published["T09"] - 10), (-2, published["T09"])]}
    for target, points in earlier.items():
        actual, trajectory, projected, status = got[target]
        xs, ys = zip(*(points + [(0, actual)]), strict=True)
        slope = statistics.linear_regression([float(x) for x in xs], [float(y) for y in ys]).slope
        assert abs(float(projected) - (float(actual) + slope * days_left)) <= 0.051, target
        assert actual < trajectory, target  # both below the straight line: the projection decides
    assert got["T06"][2] < 17500 and got["T06"][3] == "滞后"
    assert got["T09"][2] >= 400 and got["T09"][3] == "进度正常"


def test_docs_generate(built) -> None:
    """Every model documents itself: `dbt docs generate` builds the catalog from the live build."""
    import json

    from greencert import settings

    urls, schema = built
    with psycopg.connect(urls["transformer"]) as conn:  # once published, the build is `marts`
        if not conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone():
            schema = "marts"
    subprocesses.dbt(
        ["docs", "generate", "--vars", f"{{as_of_date: '{D}'}}"], environment.dbt_env(urls["transformer"], schema)
    )
    catalog = json.loads((settings.DBT_PROJECT_DIR / "target" / "catalog.json").read_text())
    manifest = json.loads((settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    if schema == "marts":  # published: the build's bi views are in `bi` now, under their BI names
        moved = {f"model.greencert.{v.model}" for v in BI_VIEWS}
        assert moved <= {m["unique_id"] for m in models}
        models = [m for m in models if m["unique_id"] not in moved]  # bi's columns: test_bi_views_are_the_contract…
    undocumented = [m["name"] for m in models if not m["description"]]
    assert undocumented == []
    # an ephemeral model (the feeds' base_<feed>__accepted_rows) is inlined where it is read: no relation
    models = [m for m in models if m["config"]["materialized"] != "ephemeral"]
    assert {m["unique_id"] for m in models} <= set(catalog["nodes"])
    missing = {m["name"]: sorted(set(catalog["nodes"][m["unique_id"]]["columns"]) - set(m["columns"])) for m in models}
    assert {k: v for k, v in missing.items() if v} == {}  # every column of every model is described
