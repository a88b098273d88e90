from greencert import feeds


def test_certificates_contract_columns_and_aliases() -> None:
    feed = feeds.get("certificates")
    required = {c.name for c in feed.columns if c.required}
    # the contract's required columns (docs/feeds.md §1)
    assert required == {"cert_no", "status", "cert_program", "org_name", "issue_date", "expiry_date", "body_name"}
    # the org-id header is written two ways by the source
    assert feed.column_for_header("统一社会信用代码/组织机构代码").name == "org_id"
    assert feed.column_for_header("统一社会信用代码").name == "org_id"
    # a BOM or padding inside a header does not hide it
    assert feed.column_for_header("\ufeff证书 编号").name == "cert_no"
    assert feed.column_for_header("不存在的列") is None
    assert feed.natural_key == ("cert_no",)


def test_every_feed_is_complete() -> None:
    for feed in feeds.registry().values():
        assert feed.connector in {"files", "http"}
        assert feed.natural_key and all(k in {c.name for c in feed.columns} for k in feed.natural_key)
        assert len({c.name for c in feed.columns}) == len(feed.columns)


def test_transport_is_the_contracts() -> None:
    # docs/feeds.md: §1 certificates (http; CSV fallback), §3 organic, §6 certification
    # bodies and §7 credit blacklist are http; the others are files.
    http = {name for name, feed in feeds.registry().items() if feed.connector == "http"}
    assert http == {"certificates", "organic", "certification_bodies", "credit_blacklist"}
    assert all(feeds.get(name).file_patterns for name in http)  # the drop-folder fallback stays open
