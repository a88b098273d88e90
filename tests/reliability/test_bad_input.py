"""The bad-input catalog: malformed files across the feeds, each with its expected outcome.

Every case is one file as a source might send it, landed, loaded and gated the way the ingest DAG
does (`land_new_files` → `load_batch` → `run_raw_gate`, no Airflow), all in one database. A case
expects one of:

- `Refused(reason)`: the loader refuses the batch; the message names the file as the source sent
  it and the reason; the batch is `rejected` in raw.landing_manifest with that reason and holds
  no row in raw (earlier batches and other feeds are untouched: tests/integration/test_quarantine).
- `Quarantined(broken, good)`: exactly these (row, column, rule) go to dq.quarantine — rows are
  numbered as a spreadsheet shows them, header included — and exactly the `good` rows are left
  for staging; every row stays in raw as sent.
- `Stored(cells, good)`: accepted, nothing quarantined, and each listed raw cell holds exactly the
  text sent (raw is text: nothing is trimmed, normalised or escaped on the way in).

The good rows beside the bad ones always load: `test_the_good_rows_reach_staging` runs dbt's
staging models once over every accepted batch of the catalog and finds exactly the good rows.

NUL bytes: PostgreSQL text cannot hold \\x00, so a row holding one cannot be stored as sent, nor
quarantined as sent (the quarantine keeps the raw row). The file is refused, naming the row and
column; a NUL almost always means a damaged or mis-encoded file rather than one bad row.
A quote that never closes, or text after a closing quote, makes every later row ambiguous: the
file is refused naming the row (read leniently, the rest of the file ran into one cell and its
rows were lost without a word).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

import psycopg
import psycopg.rows
import pytest
from psycopg import sql

from greencert import environment, feeds, subprocesses
from greencert.extract.files import land_new_files
from greencert.extract.landing import Batch
from greencert.load.copy_batch import BatchRejected, LoadResult, load_batch
from greencert.quality.raw_gate import RawGate, run_raw_gate
from standins.uscc import make_uscc

from ..integration.helpers import AS_OF, cert

DATABASE = "greencert_bad_input"
BUILD = "build_bad_input"


# --- how the files are made ---------------------------------------------------------------------


def headers(feed: str) -> list[str]:
    return [c.headers[0] for c in feeds.get(feed).columns]


def csv_file(feed: str, rows: list[dict[str, str]], cols: list[str] | None = None, encoding: str = "utf-8") -> bytes:
    """A CSV as sources write it (CRLF, minimal quoting): header, then the rows."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=cols or headers(feed), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_file(
    feed: str,
    rows: list[dict[str, str]],
    cols: list[str] | None = None,
    title_rows: tuple[str, ...] = (),
    total_row: bool = False,
) -> bytes:
    """An XLSX list: title rows, header, rows, 合计. Every value is a text cell, even one starting
    with "=" (openpyxl would otherwise write a formula): what a source's export holds."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    cols = cols or headers(feed)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")

    def text(value: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=value or None)
        if value:
            cell.data_type = "s"
        return cell

    for title in title_rows:
        ws.append([title])
    ws.append(cols)
    for row in rows:
        ws.append([text(row.get(h, "")) for h in cols])
    if total_row:
        ws.append(["合计", f"{len(rows)}项"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def uscc(n: int) -> str:
    return make_uscc("320506", 5000 + n)


USCC = uscc(0)
BAD_USCC = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")  # the check character broken


def gbm(no: str, **f: str) -> dict[str, str]:
    return {
        "证书编号": no,
        "企业名称": "苏州绿建材有限公司",
        "统一社会信用代码": USCC,
        "产品类别": "预拌混凝土",
        "产品名称/型号": "C30",
        "认证等级": "二星级",
        "认证机构": "中国建材检验认证集团",
        "发证日期": "2024-01-10",
        "有效期至": "2029-01-09",
        "证书状态": "有效",
        "生产地址": "江苏省苏州市吴中区木渎镇1号",
        **f,
    }


def product(code: str, **f: str) -> dict[str, str]:
    return {
        "企业名称": "苏州绿源农业有限公司",
        "统一社会信用代码": USCC,
        "企业信息码": "GF320506210123",
        "产品名称": "大米",
        "产品编号": code,
        "核准产量(吨)": "1,200",
        "商标": "绿源",
        "获证类型": "初次申报",
        "证书有效期起": "2024-01-01",
        "证书有效期止": "2026-12-31",
        "所在地区": "吴中区",
        **f,
    }


def organic(no: str, **f: str) -> dict[str, str]:
    return {
        "证书编号": no,
        "认证类别": "生产",
        "获证组织名称": "苏州有机农业有限公司",
        "统一社会信用代码": USCC,
        "产品名称": "大米、小麦",
        "产品数量(吨)": "120",
        "是否转换期": "否",
        "认证机构名称": "南京国环有机产品认证中心",
        "发证日期": "2025-01-01",
        "证书有效期至": "2026-01-01",
        "证书状态": "有效",
        "基地地址": "江苏省苏州市吴江区同里镇",
        "更新时间": "2025-01-01 09:00:00",
        **f,
    }


def standard(no: str, **f: str) -> dict[str, str]:
    return {
        "标准编号": no,
        "标准名称": "绿色人造板",
        "企业名称": "苏州标准有限公司",
        "统一社会信用代码": USCC,
        "发布日期": "2024-03-01",
        "对标国家标准": "GB/T 39600-2021",
        "指标水平": "高于国家标准",
        "绿色产品": "是",
        "状态": "现行",
        **f,
    }


def listing(code: str, **f: str) -> dict[str, str]:
    return {
        "统一社会信用代码": code,
        "企业名称": "苏州失信有限公司",
        "列入日期": "2024-05-01",
        "列入原因": "虚标绿色产品",
        "作出决定机关": "苏州市市场监督管理局",
        "移出日期": "",
        **f,
    }


def output(year: str, category: str, **f: str) -> dict[str, str]:
    return {
        "年度": year,
        "地区": "吴中区",
        "类别": category,
        "总产量(吨)": "1,000",
        "绿色优质农产品产量(吨)": "500",
        **f,
    }


def member(code: str, **f: str) -> dict[str, str]:
    return {
        "统一社会信用代码": code,
        "企业名称": "苏州龙头有限公司",
        "培育库": "龙头企业",
        "所在地区": "吴中区",
        "入库日期": "2024-01-01",
        "出库日期": "",
        **f,
    }


def body(no: str, **f: str) -> dict[str, str]:
    return {
        "机构名称": "苏州某认证有限公司",
        "批准号": no,
        "统一社会信用代码": USCC,
        "业务范围": "质量管理体系认证;绿色产品认证",
        "批准有效期至": "2028-01-01",
        "在苏设立/引进日期": "2023-05-01",
        "在苏机构地址": "苏州工业园区星湖街1号",
        **f,
    }


def factory(seq: str, name: str, **f: str) -> dict[str, str]:
    return {
        "序号": seq,
        "地区": "江苏",
        "工厂名称": name,
        "行业": "",
        "第三方评价机构": "中国电子技术标准化研究院",
        "批次": "2022",
        "级别": "国家级",
        **f,
    }


def without(cols: list[str], *drop: str) -> list[str]:
    return [c for c in cols if c not in drop]


def cut_inside_last(data: bytes, char: str) -> bytes:
    """The file cut in two inside the last `char` (a multi-byte UTF-8 character)."""
    return data[: data.rfind(char.encode()) + 1]


CERT_HEADERS = headers("certificates")
GBM_HEADERS = headers("green_building_materials")
LONG_SCOPE = "苏州绿色认证，覆盖范围；" * 30000  # 1,080,000 bytes of UTF-8 in one cell
TRICKY_NAME = "苏州𠀀㐀䶵🌱👩‍🔬有限公司"  # rare CJK (extension B 𠀀, extension A 㐀 䶵), emoji, a ZWJ sequence
SQL_TEXT = "'); drop table raw.certificates; --"
FORMULA = '=HYPERLINK("http://x","y")'
FORMULA_FILE = '=HYPERLINK("x.example.com","点此下载").csv'  # a file name holds no "/"


# --- the catalog --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    reason: str  # regex, after "<file as sent>: "


@dataclass(frozen=True)
class Quarantined:
    broken: frozenset[tuple[int, str | None, str]]  # (source row, column, rule)
    good: tuple[int, ...]  # the rows left for staging


@dataclass(frozen=True)
class Stored:
    cells: dict[tuple[int, str], str]  # (source row, raw column) -> the exact text sent
    good: tuple[int, ...]


@dataclass(frozen=True)
class Case:
    id: str
    feed: str
    file: str  # the name the source sent it under
    content: bytes
    expect: Refused | Quarantined | Stored


def q(*broken: tuple[int, str | None, str], good: tuple[int, ...]) -> Quarantined:
    return Quarantined(frozenset(broken), good)


CASES = [
    # ---- the batch is refused: the file names itself and the reason ----
    Case("empty_file", "certificates", "certificates_0630.csv", b"", Refused(r"empty file \(0 bytes\)")),
    Case(
        "blank_lines_only",
        "green_building_materials",
        "gbm_blank.csv",
        b"\r\n \r\n\t\r\n",
        Refused(r"empty file \(only blank lines\)"),
    ),
    Case(
        "header_only",
        "enterprise_standards",
        "standards_header.csv",
        csv_file("enterprise_standards", [], encoding="gb18030"),
        Refused(r"header only, no data rows"),
    ),
    Case(
        "header_only_xlsx_title_and_total",
        "green_food",
        "green_food_empty.xlsx",
        xlsx_file("green_food", [], title_rows=("江苏省绿色食品名录",), total_row=True),
        Refused(r"header only, no data rows"),
    ),
    Case(
        "duplicated_header",
        "certificates",
        "certs_dup_header.csv",
        csv_file("certificates", [cert("R05A")], [*CERT_HEADERS, "证书编号"]),
        Refused(r"column '证书编号' \(cert_no\) appears twice in the header"),
    ),
    Case(
        "duplicated_header_by_alias",
        "green_manufacturing",
        "绿色工厂名单_dup.csv",
        csv_file(
            "green_manufacturing",
            [factory("1", "苏州甲有限公司", 企业名称="苏州甲有限公司")],
            [*headers("green_manufacturing"), "企业名称"],
        ),
        Refused(r"column '企业名称' \(name\) appears twice in the header"),
    ),
    Case(
        "missing_required_column",
        "certificates",
        "certs_no_status.csv",
        csv_file("certificates", [cert("R07A")], without(CERT_HEADERS, "证书状态")),
        Refused(r"missing required column 证书状态 \(status\) in feed certificates"),
    ),
    Case(
        "missing_required_column_xlsx",
        "agri_output",
        "产量_no_total.xlsx",
        xlsx_file(
            "agri_output",
            [output("2024", "粮食")],
            without(headers("agri_output"), "总产量(吨)"),
            title_rows=("苏州市食用农产品产量",),
        ),
        Refused(r"missing required column 总产量\(吨\) \(total_output_t\) in feed agri_output"),
    ),
    Case(
        "no_header_row",
        "enterprise_pools",
        "pools_no_header.csv",
        csv_file("enterprise_pools", [member(uscc(9))]).split(b"\r\n", 1)[1],
        Refused(r"no header row naming any enterprise_pools column in its first 10 rows"),
    ),
    Case(
        "wrong_encoding_utf16",
        "certification_bodies",
        "bodies_utf16.csv",
        csv_file("certification_bodies", [body("CNCA-R-2090-001")], encoding="utf-16"),
        Refused(r"UTF-16 text \(it starts with a UTF-16 byte-order mark\), not UTF-8 or GB18030"),
    ),
    Case(
        "wrong_encoding_latin1",
        "credit_blacklist",
        "blacklist_latin1.csv",
        csv_file("credit_blacklist", [listing(uscc(11))]) + "Caf\u00e9 M\u00fcller, S.A.\r\n".encode("latin-1"),
        Refused(r"neither UTF-8 nor GB18030 text \(as utf-8: byte \d+ of \d+: invalid continuation byte\)"),
    ),
    Case(
        "truncated_inside_a_character",
        "certificates",
        "certs_cut.csv",
        cut_inside_last(csv_file("certificates", [cert("R12A"), cert("R12B", 组织名称="苏州乙丙有限公司")]), "丙"),
        Refused(r"truncated file: its UTF-8 text ends inside a character"),
    ),
    Case(
        "truncated_inside_a_quoted_cell",
        "organic",
        "organic_cut.csv",
        csv_file(
            "organic",
            [
                organic("228OP2513001"),
                organic("228OP2513002"),
                organic("228OP2513003", 基地地址="江苏省苏州市吴江区, 同里镇"),
            ],
        ).rsplit(", 同里镇".encode(), 1)[0],  # cut after '"江苏省苏州市吴江区
        Refused(r"not well-formed CSV at row 4: a quoted cell opened in this row never closes"),
    ),
    Case(
        "truncated_xlsx",
        "green_food",
        "green_food_cut.xlsx",
        (lambda b: b[: len(b) // 2])(xlsx_file("green_food", [product("LB-15-2414020001A")])),
        Refused(r"not a readable XLSX workbook \(BadZipFile"),
    ),
    Case(
        "html_error_page_as_csv",
        "certificates",
        "certificates.csv",
        b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><h1>502</h1></body></html>\n",
        Refused(r"an HTML page, not CSV or XLSX data"),
    ),
    Case(
        "json_error_body_as_csv",
        "organic",
        "organic.csv",
        b'{"error": "rate limited", "code": 429}\n',
        Refused(r"JSON, not CSV or XLSX data"),
    ),
    Case(
        "broken_workbook",
        "agri_output",
        "产量.xlsx",
        b"PK\x03\x04 this is not really a workbook",
        Refused(r"not a readable XLSX workbook"),
    ),
    Case(
        "stray_quote_never_closed",
        "green_building_materials",
        "gbm_stray_quote.csv",
        csv_file(
            "green_building_materials",
            [gbm("R18A"), gbm("R18B", 生产地址="STRAY"), gbm("R18C"), gbm("R18D"), gbm("R18E")],
        ).replace(b"STRAY", b'"Suzhou plant 1'),
        Refused(r"not well-formed CSV at row 3: a quoted cell opened in this row never closes"),
    ),
    Case(
        "text_after_a_closing_quote",
        "enterprise_pools",
        "pools_quotes.csv",
        csv_file("enterprise_pools", [member(uscc(19)), member(uscc(20), 企业名称="STRAY")]).replace(
            b"STRAY", '"苏州"甲有限公司'.encode()
        ),
        Refused(r"not well-formed CSV at row 3: text after the closing quote of a quoted cell"),
    ),
    Case(
        "nul_byte_in_a_cell",
        "certificates",
        "certs_nul.csv",
        csv_file("certificates", [cert("R20A"), cert("R20B"), cert("R20C", 组织名称="苏州\x00有限公司")]),
        Refused(r"row 4, column 组织名称: a NUL byte \(\\x00\), which PostgreSQL text cannot hold"),
    ),
    Case(
        "nul_byte_in_the_header",
        "credit_blacklist",
        "blacklist_nul_header.csv",
        csv_file("credit_blacklist", [listing(uscc(21))]).replace("移出日期".encode(), "移出日期\x00".encode()),
        Refused(r"the header \(row 1\) holds a NUL byte"),
    ),
    # ---- rows quarantined with their rule; the rest of the file goes on ----
    Case(
        "invalid_uscc",
        "green_building_materials",
        "gbm_uscc.csv",
        csv_file("green_building_materials", [gbm("Q01A"), gbm("Q01B", 统一社会信用代码=BAD_USCC), gbm("Q01C")]),
        q((3, "uscc", "uscc"), good=(2, 4)),
    ),
    Case(
        "invalid_organisation_code",
        "certificates",
        "certs_org_code.csv",
        csv_file("certificates", [cert("Q02A"), cert("Q02B", **{"统一社会信用代码/组织机构代码": "12345678-9"})]),
        q((3, "org_id", "org_id"), good=(2,)),
    ),
    Case(
        "future_issue_date",
        "certificates",
        "certs_future.csv",
        csv_file("certificates", [cert("Q03A"), cert("Q03B", 颁证日期="2099-01-01", 证书到期日期="2102-01-01")]),
        q((3, "issue_date", "future_date"), good=(2,)),
    ),
    Case(
        "future_update_time",
        "organic",
        "organic_future.csv",
        csv_file("organic", [organic("228OP2504001"), organic("228OP2504002", 更新时间="2099-12-31 08:00:00")]),
        q((3, "updated_at", "future_date"), good=(2,)),
    ),
    Case(
        "future_listing_date",
        "credit_blacklist",
        "blacklist_future.csv",
        csv_file("credit_blacklist", [listing(uscc(5)), listing(uscc(6), 列入日期="2099/1/1")]),
        q((3, "listed_on", "future_date"), good=(2,)),
    ),
    Case(
        "future_publication_date_gb18030",
        "enterprise_standards",
        "standards_future.csv",
        csv_file(
            "enterprise_standards",
            [standard("Q/SZ 0601-2024"), standard("Q/SZ 0602-2099", 发布日期="2099年1月1日")],
            encoding="gb18030",
        ),
        q((3, "published_on", "future_date"), good=(2,)),
    ),
    Case(
        "expiry_before_issue",
        "organic",
        "organic_expiry.csv",
        csv_file("organic", [organic("228OP2507001"), organic("228OP2507002", 证书有效期至="2024-12-31")]),
        q((3, "expiry_date", "date_order"), good=(2,)),
    ),
    Case(
        "removed_before_listed",
        "credit_blacklist",
        "blacklist_removed.csv",
        csv_file("credit_blacklist", [listing(uscc(8)), listing(uscc(9), 移出日期="2024-04-30")]),
        q((3, "removed_on", "date_order"), good=(2,)),
    ),
    Case(
        "unknown_status",
        "certificates",
        "certs_status.csv",
        csv_file("certificates", [cert("Q09A"), cert("Q09B", 证书状态="作废"), cert("Q09C", 证书状态="过期")]),
        q((3, "status", "vocabulary"), good=(2, 4)),
    ),
    Case(
        "unknown_grade",
        "green_building_materials",
        "gbm_grade.csv",
        csv_file("green_building_materials", [gbm("Q10A", 认证等级="★★★"), gbm("Q10B", 认证等级="四星级")]),
        q((3, "grade", "vocabulary"), good=(2,)),
    ),
    Case(
        "unknown_pool",
        "enterprise_pools",
        "pools_unknown.csv",
        csv_file("enterprise_pools", [member(uscc(11)), member(uscc(12), 培育库="专精特新")]),
        q((3, "pool", "vocabulary"), good=(2,)),
    ),
    Case(
        "negative_number",
        "agri_output",
        "产量_negative.csv",
        csv_file("agri_output", [output("2021", "粮食"), output("2021", "蔬菜", **{"绿色优质农产品产量(吨)": "-5"})]),
        q((3, "green_quality_output_t", "number"), good=(2,)),
    ),
    Case(
        "number_with_a_unit_xlsx",
        "green_food",
        "green_food_units.xlsx",
        xlsx_file(
            "green_food",
            [product("LB-15-2413020001A"), product("LB-15-2413020002A", **{"核准产量(吨)": "约1200吨"})],
            title_rows=("江苏省绿色食品名录", "2024年"),
            total_row=True,
        ),
        q((5, "approved_output_t", "number"), good=(4,)),
    ),
    Case(
        "impossible_date",
        "certificates",
        "certs_feb30.csv",
        csv_file("certificates", [cert("Q14A"), cert("Q14B", 颁证日期="2023-02-30")]),
        q((3, "issue_date", "date"), good=(2,)),
    ),
    Case(
        "date_in_words",
        "certification_bodies",
        "bodies_dates.csv",
        csv_file("certification_bodies", [body("CNCA-R-2015-001"), body("CNCA-R-2015-002", 批准有效期至="长期")]),
        q((3, "approval_valid_to", "date"), good=(2,)),
    ),
    Case(
        "impossible_time",
        "organic",
        "organic_time.csv",
        csv_file("organic", [organic("228OP2516001"), organic("228OP2516002", 更新时间="2024-01-10 25:00:00")]),
        q((3, "updated_at", "timestamp"), good=(2,)),
    ),
    Case(
        "two_digit_year",
        "agri_output",
        "产量_year.csv",
        csv_file("agri_output", [output("2022", "水果"), output("22年", "茶叶")]),
        q((3, "year", "year"), good=(2,)),
    ),
    Case(
        "region_code_outside_suzhou",
        "certificates",
        "certs_region.csv",
        csv_file("certificates", [cert("Q18A", 行政区划代码="320506"), cert("Q18B", 行政区划代码="110101")]),
        q((3, "region_code", "region_code"), good=(2,)),
    ),
    Case(
        "malformed_certificate_number",
        "organic",
        "organic_cert_no.csv",
        csv_file("organic", [organic("228OP2519001"), organic("228OP 25#19002")]),
        q((3, "cert_no", "cert_no"), good=(2,)),
    ),
    Case(
        "malformed_product_and_enterprise_codes_xlsx",
        "green_food",
        "green_food_codes.xlsx",
        xlsx_file(
            "green_food",
            [
                product("LB-15-2420020001A"),
                product("LB15-2420020002A"),
                product("LB-15-2420020003A", 企业信息码="GF3205"),
            ],
            title_rows=("名录",),
        ),
        q((4, "product_code", "product_code"), (5, "enterprise_code", "enterprise_code"), good=(3,)),
    ),
    Case(
        "required_value_blank",
        "enterprise_pools",
        "pools_blank.csv",
        csv_file("enterprise_pools", [member(uscc(21)), member(uscc(22), 企业名称=" \u3000 ")]),
        q((3, "org_name", "required"), good=(2,)),
    ),
    Case(
        "truncated_mid_row",
        "certificates",
        "certs_short.csv",
        csv_file("certificates", [cert("Q22A"), cert("Q22B")]) + "Q22C,有效,管理体系认证".encode(),
        q(
            *((4, c, "required") for c in ("cert_program", "org_name", "body_name", "issue_date", "expiry_date")),
            good=(2, 3),
        ),
    ),
    Case(
        "unquoted_comma_in_the_last_cell",
        "certificates",
        "certs_unquoted_comma.csv",
        csv_file(
            "certificates", [cert("Q26A"), cert("Q26B", 覆盖范围="STRAY")], without(CERT_HEADERS, "更新时间")
        ).replace(b"STRAY", "能源管理,节能改造".encode()),  # 覆盖范围 = 能源管理 + one cell more
        q((3, None, "extra_cells"), good=(2,)),
    ),
    Case(
        "duplicated_key_conflicting_values",
        "certificates",
        "certs_dup_key.csv",
        csv_file(
            "certificates",
            [cert("Q23A"), cert("Q23B", 组织名称="苏州甲有限公司"), cert("Q23B", 组织名称="苏州乙有限公司")],
        ),
        q((3, "cert_no", "duplicate_key"), (4, "cert_no", "duplicate_key"), good=(2,)),
    ),
    Case(
        "duplicated_key_identical_copy",
        "organic",
        "organic_twins.csv",
        csv_file("organic", [organic("228OP2524001"), organic("228OP2524002"), organic("228OP2524002")]),
        q((4, "cert_no", "duplicate_key"), good=(2, 3)),
    ),
    Case(
        "duplicated_compound_key_conflicting",
        "credit_blacklist",
        "blacklist_dup.csv",
        csv_file(
            "credit_blacklist", [listing(uscc(25)), listing(uscc(26), 列入原因="甲"), listing(uscc(26), 列入原因="乙")]
        ),
        q((3, "uscc, listed_on", "duplicate_key"), (4, "uscc, listed_on", "duplicate_key"), good=(2,)),
    ),
    # ---- accepted, and stored exactly as sent ----
    Case(
        "extra_columns_ignored",
        "certificates",
        "certs_extra_columns.csv",
        csv_file(
            "certificates",
            [cert("S01A", 备注="内部备注", 网址="http://example.org"), cert("S01B")],
            [*CERT_HEADERS[:3], "备注", *CERT_HEADERS[3:], "网址"],
        ),
        Stored(
            {(2, "cert_no"): "S01A", (2, "cert_category"): "管理体系认证", (2, "cert_program"): "环境管理体系认证"},
            good=(2, 3),
        ),
    ),
    Case(
        "columns_reordered",
        "green_building_materials",
        "gbm_reordered.csv",
        csv_file("green_building_materials", [gbm("S02A"), gbm("S02B", 认证等级="★")], GBM_HEADERS[::-1]),
        Stored(
            {
                (2, "cert_no"): "S02A",
                (2, "plant_address"): "江苏省苏州市吴中区木渎镇1号",
                (3, "grade"): "★",
                (3, "issue_date"): "2024-01-10",
            },
            good=(2, 3),
        ),
    ),
    Case(
        "headers_drifting_and_literal_nan",
        "green_manufacturing",
        "绿色工厂名单2022_drift.csv",
        csv_file(
            "green_manufacturing",
            [
                {
                    "序号": "1",
                    "地 区": "江苏",
                    "企业名称": "苏州（绿色）工厂有限公司",
                    "第三方机构名称": "nan",
                    "批次": "2022",
                }
            ],
            ["序号", "地 区", "企业名称", "第三方机构名称", "批次"],
        ),
        Stored({(2, "region"): "江苏", (2, "name"): "苏州（绿色）工厂有限公司", (2, "assessor"): "nan"}, good=(2,)),
    ),
    Case(
        "one_megabyte_cell",
        "certificates",
        "certs_long_scope.csv",
        csv_file("certificates", [cert("S04A", 覆盖范围=LONG_SCOPE), cert("S04B")]),
        Stored({(2, "scope"): LONG_SCOPE}, good=(2, 3)),
    ),
    Case(
        "emoji_and_rare_cjk",
        "certificates",
        "certs_emoji.csv",
        csv_file("certificates", [cert("S05A", 组织名称=TRICKY_NAME, 组织地址="苏州市🏭路𠀀号"), cert("S05B")]),
        Stored({(2, "org_name"): TRICKY_NAME, (2, "org_address"): "苏州市🏭路𠀀号"}, good=(2, 3)),
    ),
    Case(
        "rare_cjk_in_gb18030",
        "enterprise_standards",
        "standards_rare.csv",
        csv_file(
            "enterprise_standards",
            [standard("Q/SZ 0701-2024", 企业名称=TRICKY_NAME), standard("Q/SZ 0702-2024")],
            encoding="gb18030",
        ),
        Stored({(2, "org_name"): TRICKY_NAME}, good=(2, 3)),
    ),
    Case(
        "sql_looking_text",
        "certificates",
        "certs_sql.csv",
        csv_file(
            "certificates",
            [cert("S07A", 组织名称=SQL_TEXT, 覆盖范围="1; delete from dq.quarantine; select '\\"), cert("S07B")],
        ),
        Stored({(2, "org_name"): SQL_TEXT, (2, "scope"): "1; delete from dq.quarantine; select '\\"}, good=(2, 3)),
    ),
    Case(
        "formula_text_in_csv",
        "certificates",
        "certs_formula.csv",
        csv_file(
            "certificates",
            [
                cert("S08A", 组织名称=FORMULA, 组织地址="+86 512 6666", 覆盖范围="@SUM(A1:A9)", 认证依据="-1+1"),
                cert("S08B"),
            ],
        ),
        Stored(
            {
                (2, "org_name"): FORMULA,
                (2, "org_address"): "+86 512 6666",
                (2, "scope"): "@SUM(A1:A9)",
                (2, "standard"): "-1+1",
            },
            good=(2, 3),
        ),
    ),
    Case(
        "formula_text_in_xlsx",
        "green_food",
        "green_food_formula.xlsx",
        xlsx_file(
            "green_food",
            [product("LB-15-2409020001A", 企业名称=FORMULA), product("LB-15-2409020002A")],
            title_rows=("名录",),
        ),
        Stored({(3, "org_name"): FORMULA}, good=(3, 4)),
    ),
    Case(
        "html_in_a_cell",
        "organic",
        "organic_html.csv",
        csv_file("organic", [organic("228OP2510001", 产品名称="<script>alert(1)</script>"), organic("228OP2510002")]),
        Stored({(2, "product_name"): "<script>alert(1)</script>"}, good=(2, 3)),
    ),
    Case(
        "line_breaks_inside_a_quoted_cell",
        "green_building_materials",
        "gbm_multiline.csv",
        csv_file(
            "green_building_materials",
            [gbm("S11A"), gbm("S11B", 生产地址="江苏省苏州市\r\n吴中区, 木渎镇1号"), gbm("S11C")],
        ),
        Stored({(3, "plant_address"): "江苏省苏州市\r\n吴中区, 木渎镇1号", (4, "cert_no"): "S11C"}, good=(2, 3, 4)),
    ),
    Case(
        "spaces_and_full_width_kept_in_raw",
        "certificates",
        "certs_spaces.csv",
        csv_file("certificates", [cert("S12A", 组织名称="  苏州（甲）有限公司\u3000"), cert("S12B")]),
        Stored({(2, "org_name"): "  苏州（甲）有限公司\u3000"}, good=(2, 3)),
    ),
    Case(
        "trailing_empty_cells",
        "certificates",
        "certs_trailing.csv",
        csv_file("certificates", [cert("S13A"), cert("S13B")]).replace(b"\r\n", b",,,\r\n"),
        Stored({(2, "cert_no"): "S13A", (3, "updated_at"): "2024-01-10 09:00:00"}, good=(2, 3)),
    ),
    Case(
        "xlsx_name_csv_content",
        "certificates",
        "certs_really_csv.xlsx",
        csv_file("certificates", [cert("S14A"), cert("S14B")]),
        Stored({(2, "cert_no"): "S14A", (3, "cert_no"): "S14B"}, good=(2, 3)),
    ),
    Case(
        "csv_name_xlsx_content",
        "green_building_materials",
        "gbm_really_xlsx.csv",
        xlsx_file("green_building_materials", [gbm("S15A"), gbm("S15B")], title_rows=("绿色建材获证名单",)),
        Stored({(3, "cert_no"): "S15A", (4, "cert_no"): "S15B"}, good=(3, 4)),
    ),
    Case(
        "formula_text_as_the_file_name",
        "certificates",
        FORMULA_FILE,
        csv_file("certificates", [cert("S16A", 组织名称="-2+3"), cert("S16B")]),
        Stored({(2, "org_name"): "-2+3", (3, "source_file"): FORMULA_FILE}, good=(2, 3)),
    ),
]


def test_the_catalog_is_broad() -> None:
    """At least 30 distinct inputs, every outcome kind, every feed, no two cases alike."""
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({(c.feed, c.file) for c in CASES}) == len(CASES)
    assert len({(c.feed, c.content) for c in CASES}) == len(CASES)  # else landing would take one as the other
    assert {type(c.expect) for c in CASES} == {Refused, Quarantined, Stored}
    assert {c.feed for c in CASES} == set(feeds.registry())


# --- running it ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    batch: Batch
    error: str | None = None
    loaded: LoadResult | None = None
    gate: RawGate | None = None


@pytest.fixture(scope="module")
def urls(fresh_database) -> dict[str, str]:
    return fresh_database(DATABASE)


@pytest.fixture(scope="module")
def outcomes(urls, tmp_path_factory) -> dict[str, Outcome]:
    """Every case landed, loaded and gated as the ingest DAG does it, in one database."""
    root = tmp_path_factory.mktemp("bad_input")
    out: dict[str, Outcome] = {}
    for case in CASES:
        drop = root / "drop" / case.id
        drop.mkdir(parents=True)
        (drop / case.file).write_bytes(case.content)
        feed = feeds.get(case.feed)
        (batch,) = [
            b
            for b in land_new_files(feed, urls["loader"], AS_OF, dropbox=drop, landing=root / "landing")
            if b.source_file == case.file
        ]
        outcome = out[case.id] = Outcome(batch)
        try:
            outcome.loaded = load_batch(feed, urls["loader"], batch)
            outcome.gate = run_raw_gate(feed, urls["loader"], batch.batch_id, run_id="bad-input-catalog")
        except BatchRejected as exc:
            outcome.error = str(exc)
        except Exception as exc:  # a crash is a finding of its case, not the end of the catalog
            outcome.error = f"crashed: {type(exc).__name__}: {exc}"
    return out


def manifest(urls, batch_id: str) -> tuple[str, str | None]:
    with psycopg.connect(urls["loader"]) as conn:
        return conn.execute(
            "select status, reason from raw.landing_manifest where batch_id = %s", (batch_id,)
        ).fetchone()


def raw_rows(urls, feed: str, batch_id: str) -> dict[int, dict[str, str | None]]:
    with psycopg.connect(urls["loader"]) as conn:
        cur = conn.execute(
            sql.SQL("select * from {} where batch_id = %s").format(sql.Identifier("raw", feed)), (batch_id,)
        )
        names = [d.name for d in cur.description]
        return {r["source_row"]: r for r in (dict(zip(names, row, strict=True)) for row in cur.fetchall())}


def quarantined(urls, batch_id: str) -> set[tuple[int, str, str]]:
    with psycopg.connect(urls["loader"]) as conn:
        return set(
            conn.execute(
                "select source_row, column_name, rule from dq.quarantine where batch_id = %s", (batch_id,)
            ).fetchall()
        )


def _left(conn: psycopg.Connection, batch_id: str) -> tuple[int, ...]:
    """The batch's rows in raw that no quarantine entry holds back: what staging reads."""
    feed = conn.execute("select feed from raw.landing_manifest where batch_id = %s", (batch_id,)).fetchone()[0]
    rows = conn.execute(
        sql.SQL(
            """select r.source_row from {} as r where r.batch_id = %s and not exists (
               select 1 from dq.quarantine as q where q.batch_id = r.batch_id and q.source_row = r.source_row)
           order by 1"""
        ).format(sql.Identifier("raw", feed)),
        (batch_id,),
    ).fetchall()
    return tuple(r[0] for r in rows)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(urls, outcomes, case: Case) -> None:
    outcome = outcomes[case.id]
    expect = case.expect
    if isinstance(expect, Refused):
        assert outcome.error is not None, f"{case.id}: accepted, expected refused ({expect.reason})"
        assert re.match(rf"{re.escape(case.file)}: .*{expect.reason}", outcome.error), outcome.error
        assert manifest(urls, outcome.batch.batch_id) == ("rejected", outcome.error)
        assert raw_rows(urls, case.feed, outcome.batch.batch_id) == {}
        return
    assert outcome.error is None, f"{case.id}: refused: {outcome.error}"
    assert outcome.gate is not None and outcome.gate.success, outcome.gate and outcome.gate.summary()
    assert manifest(urls, outcome.batch.batch_id)[0] == "accepted"
    raw = raw_rows(urls, case.feed, outcome.batch.batch_id)
    got = quarantined(urls, outcome.batch.batch_id)
    if isinstance(expect, Quarantined):
        assert got == set(expect.broken)
    else:
        assert got == set()
        for (row, column), text in expect.cells.items():
            assert raw[row][column] == text, (row, column)  # byte for byte as sent
    assert sorted(raw) == sorted({*expect.good, *(r for r, _, _ in got)})  # every row stays in raw
    assert _good(urls, outcome.batch.batch_id) == expect.good  # the good rows go on


def _good(urls, batch_id: str) -> tuple[int, ...]:
    with psycopg.connect(urls["loader"]) as conn:
        return _left(conn, batch_id)


def test_a_row_with_cells_past_its_header_keeps_them_in_its_quarantine_entry(urls, outcomes) -> None:
    """Read as cells, 能源管理,节能改造 is 覆盖范围 = 能源管理 and one cell more: not silently cut."""
    batch_id = outcomes["unquoted_comma_in_the_last_cell"].batch.batch_id
    with psycopg.connect(urls["loader"]) as conn:
        value, detail = conn.execute(
            "select value, detail from dq.quarantine where batch_id = %s and rule = %s", (batch_id, "extra_cells")
        ).fetchone()
    assert value == "节能改造" and "more cells than the header" in detail
    assert raw_rows(urls, "certificates", batch_id)[3]["scope"] == "能源管理"


def test_unknown_headers_are_reported(outcomes) -> None:
    assert outcomes["extra_columns_ignored"].loaded.unknown_headers == ("备注", "网址")


def test_sql_looking_text_stays_text(urls, outcomes) -> None:
    """Loaded and gated as data: raw.certificates and the quarantine are still there, whole."""
    with psycopg.connect(urls["loader"]) as conn:
        assert conn.execute("select count(*) from raw.certificates").fetchone()[0] > 0
        assert conn.execute("select count(*) from dq.quarantine").fetchone()[0] > 0


def test_what_the_sources_sent_is_exported_as_text(urls, outcomes, tmp_path) -> None:
    """The report's workbook gets the catalog's batches (file names and refusal reasons as the
    sources made them, formula text included) the way report.data reads them: no cell is a formula,
    and text starting with = + - @ is kept with a leading apostrophe. The HTML escapes it."""
    from dataclasses import replace

    from openpyxl import load_workbook

    from greencert.report import html, workbook

    from ..unit.test_report import data

    with psycopg.connect(urls["loader"], row_factory=psycopg.rows.dict_row) as conn:
        batches = conn.execute(  # report.data.load's query
            """select m.feed, m.source_file, m.status, m.rows, m.reason,
                      (select count(distinct q.source_row) from dq.quarantine q
                       where q.batch_id = m.batch_id) as quarantined
               from raw.landing_manifest m where m.logical_date = %s
               order by m.feed, m.landed_at""",
            (AS_OF,),
        ).fetchall()
    report = replace(data(), batches=batches, quarantine_rules=[])
    sent = {b["source_file"] for b in batches} | {b["reason"] for b in batches if b["reason"]}
    assert FORMULA_FILE in sent
    book = load_workbook(workbook.write(report, tmp_path / "report.xlsx"))  # formulas stay formulas here
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    written = {c.value for c in cells if isinstance(c.value, str)}
    for text in sent:
        assert ("'" + text if text.startswith(("=", "+", "-", "@")) else text) in written, text
    assert "'" + FORMULA_FILE in written
    page = html.render(report)
    assert "=HYPERLINK(&#34;x.example.com&#34;,&#34;点此下载&#34;).csv" in page and 'HYPERLINK("' not in page


STAGING = {  # feed -> its staging model (each carries batch_id and source_row)
    "certificates": "stg_certificates__certificates",
    "green_food": "stg_green_food__products",
    "organic": "stg_organic__certificates",
    "green_building_materials": "stg_green_building_materials__certificates",
    "certification_bodies": "stg_certification_bodies__bodies",
    "enterprise_standards": "stg_enterprise_standards__standards",
    "credit_blacklist": "stg_credit_blacklist__entries",
    "agri_output": "stg_agri_output__output",
    "enterprise_pools": "stg_enterprise_pools__members",
    "green_manufacturing": "stg_green_manufacturing__entries",
}


@pytest.fixture(scope="module")
def staged(urls, outcomes) -> dict[str, set[tuple[str, int]]]:
    """dbt's staging models, run once over every batch the catalog got accepted."""
    env = environment.dbt_env(urls["transformer"], BUILD)
    subprocesses.dbt(["run", "--select", "staging", "--vars", f"{{as_of_date: '{AS_OF}'}}"], env)
    out: dict[str, set[tuple[str, int]]] = {}
    with psycopg.connect(urls["transformer"]) as conn:
        for feed, model in STAGING.items():
            schema = "staging" if model in ("stg_certificates__certificates", "stg_organic__certificates") else BUILD
            out[feed] = set(
                conn.execute(
                    sql.SQL("select batch_id, source_row from {}").format(sql.Identifier(schema, model))
                ).fetchall()
            )
    return out


def test_the_good_rows_reach_staging(outcomes, staged) -> None:
    """Whatever else a file held, its good rows — and only they — are in staging."""
    for case in CASES:
        if isinstance(case.expect, Refused):
            continue
        batch_id = outcomes[case.id].batch.batch_id
        got = sorted(row for b, row in staged[case.feed] if b == batch_id)
        assert got == sorted(case.expect.good), case.id
    refused = {outcomes[c.id].batch.batch_id for c in CASES if isinstance(c.expect, Refused)}
    assert not any(b in refused for rows in staged.values() for b, _ in rows)


def test_tricky_text_reaches_staging_as_staging_reads_it(urls, staged) -> None:
    """Staging reads text through util.clean_text (NFKC, ends trimmed): rare CJK, emoji, SQL and
    formula text come through unchanged; full-width punctuation and spaces are normalised there
    (not in raw, which keeps what was sent)."""
    with psycopg.connect(urls["transformer"]) as conn:
        names = dict(
            conn.execute(
                "select cert_no, org_name from staging.stg_certificates__certificates "
                "where cert_no in ('S05A', 'S07A', 'S08A', 'S12A')"
            ).fetchall()
        )
        scope = conn.execute(
            "select scope from staging.stg_certificates__certificates where cert_no = 'S04A'"
        ).fetchone()[0]
    assert names == {"S05A": TRICKY_NAME, "S07A": SQL_TEXT, "S08A": FORMULA, "S12A": "苏州(甲)有限公司"}
    assert unicodedata.normalize("NFKC", TRICKY_NAME) == TRICKY_NAME
    assert scope == unicodedata.normalize("NFKC", LONG_SCOPE) and len(scope) == len(LONG_SCOPE)
