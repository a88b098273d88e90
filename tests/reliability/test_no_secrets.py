"""No secret in the repository: every git-tracked file is scanned for secret-looking content.

What counts: private keys; AWS, GitHub, Slack, Google and DingTalk-style tokens; JWTs; URLs
carrying `user:password@`; a password assigned a literal value (`password=…`, `PASSWORD: …`,
`"password": "…"`); a long, high-entropy literal assigned to a name like secret, token or key. What
does not: references to where a secret lives (`${VAR}`, `os.environ[...]`, a variable, a format
field), and the few known false positives in ALLOWED, each with its reason. The scanner is tested
on planted secrets, so a scan that finds nothing means something.

Secrets live outside the repository: role passwords in var/secrets/ (git-ignored, mode 0600) or
the server's .env (git- and docker-ignored); Airflow connections in Airflow's metadata database or
AIRFLOW_CONN_* variables set at run time.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# a value that says where the secret comes from, not what it is
REFERENCE = re.compile(
    r"^(\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\{[^}]*\}|\{\{.*|%\(?\w*\)?s|<[^>]*>|…|\.\.\.|\*+|x+|)$", re.I
)  # ${VAR}, $VAR, {field}, a Jinja template, %s, <placeholder>, …, ***, xxx, empty
QUOTED = r"""(?P<q>["'])(?P<value>[^"'\n]*)(?P=q)"""

PATTERNS: dict[str, re.Pattern[str]] = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY( BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Slack webhook": re.compile(r"https://hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "DingTalk robot token": re.compile(r"access_token=(?P<value>[0-9a-f]{32,})"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "URL with credentials": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"()]+:(?P<value>[^\s@/'\"()]+)@"),
    # password = "…" / "password": "…" / password: '…' (any language), PASSWORD=… / PASSWORD: … (env, YAML)
    "password assignment": re.compile(
        rf"""(?i)\b\w*(?:pass(?:word|wd)?|pwd)\w*["']?\s*[:=]\s*(?:{QUOTED}|(?P<bare>[^\s"'#,;{{}}()\[\]]+)\s*(?:#.*)?$)""",
        re.M,
    ),
    "secret assigned": re.compile(
        rf"""(?i)\b\w*(?:secret|token|api_?key|access_?key|private_?key|signing_?key|fernet_?key)\w*["']?\s*[:=]\s*"""
        rf"""{QUOTED}"""
    ),
}
# these may be assigned anything short or plain; a password literal is always flagged
HIGH_ENTROPY = {"secret assigned"}


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    text: str  # the matched text

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.text[:80]}"


def scan(text: str, path: str) -> list[Finding]:
    found = []
    for kind, pattern in PATTERNS.items():
        for m in pattern.finditer(text):
            groups = m.groupdict()
            value = groups.get("value") if groups.get("value") is not None else groups.get("bare")
            if value is not None:
                value = value.strip()
                if REFERENCE.match(value) or _is_code(value, groups):
                    continue
                if kind in HIGH_ENTROPY and (len(value) < 16 or entropy(value) < 3.5):
                    continue
            found.append(Finding(path, text.count("\n", 0, m.start()) + 1, kind, m.group(0)))
    return found


def _is_code(value: str, groups: dict) -> bool:
    """An unquoted value that is an expression (a name, an attribute, a call), not a literal."""
    if groups.get("bare") is None:
        return False
    if value in ("true", "false", "null", "None", "True", "False"):
        return True
    return bool(re.fullmatch(r"[A-Za-z_][\w.]*(\(.*)?", value)) and not re.search(r"\d", value)


@dataclass(frozen=True)
class Allowed:
    path: str
    text: str  # a substring of the finding's matched text
    why: str


ALLOWED = [
    Allowed(
        "tests/unit/test_compose.py",
        ":pw@",
        "made-up role URLs (password 'pw') given to environment.airflow_env to compare its connections with compose's",
    ),
]


def tracked_files(root: Path = ROOT) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return [root / p for p in out.decode().split("\0") if p]


def findings(root: Path = ROOT) -> list[Finding]:
    found = []
    for path in tracked_files(root):
        if not path.is_file():
            continue  # deleted in the work tree, not yet committed
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        rel = path.relative_to(root).as_posix()
        found += scan(data.decode("utf-8", errors="replace"), rel)
    return found


def allowed(f: Finding) -> Allowed | None:
    return next((a for a in ALLOWED if a.path == f.path and a.text in f.text), None)


def test_no_secret_in_any_tracked_file() -> None:
    assert [str(f) for f in findings() if not allowed(f)] == []


def test_every_allowlist_entry_is_still_needed() -> None:
    """An entry that matches nothing any more is removed (or it would quietly allow a new secret)."""
    hits = findings()
    assert [a for a in ALLOWED if not any(allowed(f) == a for f in hits)] == []
    assert all(a.why for a in ALLOWED)


def test_no_secret_file_is_tracked() -> None:
    names = [p.relative_to(ROOT).as_posix() for p in tracked_files()]
    secret_file = re.compile(
        r"(^|/)(\.env(\..+)?|pgpass|\.pgpass|id_(rsa|dsa|ecdsa|ed25519)|.*\.(pem|key|p12|pfx))$"
        r"|(^|/)var/"
    )
    assert [n for n in names if secret_file.search(n) and not n.endswith(".env.example")] == []


# Planted secrets are written with a § that `plant` removes: so this file, which git tracks too,
# holds none of them as the scanner would see them.
PLANTED = [  # (kind, text)
    ("private key", "-----BEGIN RSA PRIVATE§ KEY-----\nMIIEow...\n-----END RSA PRIVATE§ KEY-----\n"),
    ("AWS access key id", "aws_access_key_id = AKIA§IOSFODNN7EXAMPLE\n"),
    ("GitHub token", "GH = 'ghp_§a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'\n"),
    ("Slack token", "slack: xoxb-§123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n"),
    ("Slack webhook", "url = 'https://hooks.slack.com/services/§T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'\n"),
    ("Google API key", "key=AIza§SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q\n"),
    ("DingTalk robot token", '"endpoint": "/robot/send?access_token=§' + "0f" * 32 + '"\n'),
    (
        "JWT",
        "Authorization: Bearer eyJ§hbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
        ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n",
    ),
    ("URL with credentials", "WAREHOUSE_URL=postgresql:§//postgres:hunter2@db:5432/postgres\n"),
]
PLANTED_ASSIGNMENTS = [  # (line, kind)
    ('pass§word = "hunter2"\n', "password assignment"),
    ("GREENCERT_LOADER_PASS§WORD=s3cr3t-Pa55\n", "password assignment"),
    ("      POSTGRES_PASS§WORD: hunter2\n", "password assignment"),
    ('{"login": "greencert_loader", "pass§word": "hunter2"}\n', "password assignment"),
    ("conn.execute(\"alter role x password 'hunter2'\")\n", None),  # SQL text, not an assignment
    ("AIRFLOW_JWT_SEC§RET = 'Zk3q9XvT2mB7wL0pR5sY8nC1'\n", "secret assigned"),
    ('api_§key: "9f8e7d6c5b4a39281706f5e4d3c2b1a0"\n', "secret assigned"),
]


def plant(text: str) -> str:
    return text.replace("§", "")


NOT_SECRETS = [
    "      POSTGRES_PASSWORD: ${AIRFLOW_DB_PASSWORD:?}\n",
    '    "password": "${GREENCERT_LOADER_PASSWORD:?}",\n',
    'password = os.environ["GREENCERT_LOADER_PASSWORD"]\n',
    "password=quote(c.password or \"\", safe='')\n",
    '"password": unquote(p.password or ""),\n',
    "url = f\"postgresql://{quote(user)}:{quote(password, safe='')}@{self.host}:{self.port}/{self.database}\"\n",
    "PGPASSFILE=var/secrets/pgpass psql -h 127.0.0.1\n",
    'token = "abc"\n',  # short, low entropy: a name, not a secret
    "secret_file = SECRETS_FILE\n",
    "password: '<the one in .env>'\n",
    'sha256 = "3f786850e387550fdab836ed7e6dc881de23001b"\n',  # a digest, not assigned to a secret name
    '"GREENCERT_DBT_PASSWORD": "{{ " + conn + ".password }}",\n',  # a template Airflow fills in at run time
]


@pytest.mark.parametrize(("kind", "text"), PLANTED, ids=[k for k, _ in PLANTED])
def test_the_scanner_finds_a_planted_secret(tmp_path, kind, text) -> None:
    planted = tmp_path / "config.txt"
    planted.write_text("harmless = 1\n" + plant(text), encoding="utf-8")
    assert [(f.line, f.kind) for f in scan(planted.read_text(encoding="utf-8"), "config.txt")] == [(2, kind)]


@pytest.mark.parametrize(("line", "kind"), PLANTED_ASSIGNMENTS)
def test_the_scanner_finds_literal_passwords_and_secrets(line, kind) -> None:
    assert [f.kind for f in scan(plant(line), "x")] == ([kind] if kind else [])


@pytest.mark.parametrize("line", NOT_SECRETS)
def test_the_scanner_lets_references_through(line) -> None:
    assert scan(line, "x") == []


def test_a_planted_secret_in_a_tracked_file_fails_the_scan(tmp_path) -> None:
    """End to end: the same scan over a repository with a secret committed finds it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "settings.py").write_text(plant("DEBUG = True\nDB_PASS§WORD = 'Tr0ub4dor&3'\n"), encoding="utf-8")
    (repo / "notes.md").write_text("nothing to see\n", encoding="utf-8")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    found = [str(f) for f in findings(repo)]
    assert found == [plant("settings.py:2: password assignment: DB_PASS§WORD = 'Tr0ub4dor&3'")]
