"""The command line: every command's --help, and progress drawn on a terminal only (no database)."""

from __future__ import annotations

import argparse
import os
import pty
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from greencert import cli
from standins import national

ROOT = Path(__file__).resolve().parents[2]


def _commands(
    p: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """The parser and every subcommand's, however deep, with the words that reach it."""
    yield path, p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _words(text: str) -> str:
    return " ".join(text.split())


COMMANDS = list(_commands(cli.parser()))


def test_the_real_commands_are_walked() -> None:
    names = {path[0] for path, _ in COMMANDS if path}
    assert {"demo", "generate", "setup", "progress", "quarantine", "warehouse"} <= names


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(path) or "greencert" for path, _ in COMMANDS])
def test_every_command_has_help(
    path: tuple[str, ...], parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new command or option without a description or help text fails here."""
    with pytest.raises(SystemExit) as exited:
        cli.main([*path, "--help"])
    assert exited.value.code == 0
    out = _words(capsys.readouterr().out)
    assert parser.description and len(parser.description) > 30, f"{path}: no description"
    assert _words(parser.description)[:40] in out
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS, f"greencert {' '.join(path)}: {name} has no help"
        assert _words(action.help.split("%(")[0])[:30] in out, f"{name}'s help is not printed"
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:  # each subcommand's one-line summary in the list
                assert choice.help, f"greencert {' '.join(path)} {choice.dest}: no one-line help"


def _run(args: list[str], env: dict[str, str], tty: bool) -> tuple[str, str]:
    """Run `greencert ARGS` with stdout a pipe and stderr a pipe or, with `tty`, a pseudo-terminal."""
    cmd = [sys.executable, "-m", "greencert.cli", *args]
    if not tty:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        return proc.stdout, proc.stderr
    master, slave = pty.openpty()
    drawn: list[bytes] = []

    def read() -> None:  # drain the terminal while the command runs, or it blocks on a full buffer
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command's end closed the terminal
                return
            if not chunk:
                return
            drawn.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL) as proc:
        os.close(slave)
        out = proc.stdout.read().decode() if proc.stdout else ""
        assert proc.wait() == 0
    reader.join(timeout=30)
    os.close(master)
    return out, b"".join(drawn).decode(errors="replace")


def test_generate_draws_progress_on_a_terminal_only(tmp_path: Path) -> None:
    """`generate --scale national` (a small one): a bar on stderr when it is a terminal; off a
    terminal stderr stays empty; stdout and the files are the same either way."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
    env.update(
        PYTHONPATH=str(ROOT / "plugins"), GREENCERT_VAR=str(tmp_path / "var"), TERM="xterm-256color", COLUMNS="100"
    )
    chains = 3000
    outputs = {}
    for tty in (False, True):
        out_dir = tmp_path / ("tty" if tty else "pipe")
        args = [
            "generate",
            "--scale",
            "national",
            "--chains",
            str(chains),
            "--as-of",
            "2025-07-01",
            "--out",
            str(out_dir),
        ]
        stdout, stderr = _run(args, env, tty)
        folder = out_dir / "certificates"
        # stdout as before progress existed: one line per file, its path, rows and seconds
        assert re.fullmatch(
            rf"{re.escape(str(folder))}/certificates_national_20250701\.csv  \d+ rows  [\d.]+s\n"
            rf"{re.escape(str(folder))}/certificates_national_delta_20250701\.csv  \d+ rows  "
            r"[\d.]+s\n",
            stdout,
        ), stdout
        if tty:
            assert "certificates full" in stderr and "certificates delta" in stderr
            assert f"/{chains:,} chains" in stderr and "━" in stderr  # the bar and its count
        else:
            assert stderr == ""
        outputs[tty] = (
            re.sub(r"  [\d.]+s$", "", stdout.replace(str(out_dir), ""), flags=re.M),
            {p.name: p.read_bytes() for p in folder.iterdir()},
        )
    assert outputs[True] == outputs[False]


def test_demo_summarises_the_generated_files_per_folder(tmp_path: Path) -> None:
    paths = [
        tmp_path / "api" / "certificates" / "c.csv",
        *(tmp_path / "dropbox" / "green_manufacturing" / f"{n}.csv" for n in range(42)),
    ]
    assert cli._by_folder(paths) == [
        f"certificates          1 file   {tmp_path / 'api' / 'certificates'}",
        f"green_manufacturing  42 files  {tmp_path / 'dropbox' / 'green_manufacturing'}",
    ]


def test_national_write_reports_every_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """on_block sees every chain and row once, per block (not per row)."""
    monkeypatch.setattr(national, "BLOCK", 100)
    blocks: list[tuple[int, int]] = []
    path, rows = national.write(
        date(2025, 7, 1), tmp_path / "f.csv", chains=207, workers=1, on_block=lambda c, r: blocks.append((c, r))
    )
    assert blocks[0][1] > 0 and [c for c, _ in blocks] == [100, 100, 7]
    assert sum(r for _, r in blocks) == rows == len(path.read_text().splitlines()) - 1


REPORTS_OF = """
import json, sys
from datetime import date
from greencert import cli, environment, subprocesses, settings
if sys.argv[1] == "demo":  # the CLI process: where the demo says the report is, and the env it gives Airflow
    env = environment.airflow_env({"loader": "postgresql://l@127.0.0.1:1/g", "transformer": "postgresql://t@127.0.0.1:1/g"})
    print(json.dumps({"printed": str(cli.report_files(date(2025, 7, 1))[0]), "env": env}))
else:  # an Airflow task in that env: where the report task writes (write_report's default root)
    print(settings.REPORTS / "2025-07-01" / "report.html")
"""


@pytest.mark.parametrize("own_var", [False, True], ids=["checkout's var", "GREENCERT_VAR set"])
def test_the_demo_prints_where_the_report_task_writes(tmp_path: Path, own_var: bool) -> None:
    """The demo runs without GREENCERT_VAR; the Airflow environment it starts the tasks in sets it.
    Both must name the same report folder (it printed reports/<date>/, the file was in var/reports/)."""
    root = tmp_path / "checkout"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENCERT_")}
    env.update(PYTHONPATH=str(ROOT / "plugins"), GREENCERT_ROOT=str(root))
    if own_var:
        env["GREENCERT_VAR"] = str(tmp_path / "elsewhere")

    def run(*args: str, env: dict[str, str]) -> str:
        return (
            subprocess.run(
                [sys.executable, "-c", REPORTS_OF, *args], env=env, capture_output=True, text=True, check=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )

    import json

    demo = json.loads(run("demo", env=env))
    task = run("task", env=demo["env"])
    var = tmp_path / "elsewhere" if own_var else root / "var"
    assert demo["printed"] == task == str(var / "reports" / "2025-07-01" / "report.html")
    assert demo["env"]["GREENCERT_REPORTS"] == str(var / "reports")


def test_a_command_that_needs_the_standins_says_so_when_they_are_missing(monkeypatch, capsys) -> None:
    """The wheel and the image hold the product only: `generate`, `demo`, `source-api` need plugins/standins."""

    class NoStandins:  # as if plugins/standins were not there (an installed wheel, the image)
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "standins":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    for name in [m for m in sys.modules if m.split(".")[0] == "standins"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NoStandins(), *sys.meta_path])
    with pytest.raises(SystemExit) as exited:
        cli.main(["source-api", "--port", "0"])
    assert "greencert source-api: needs the stand-ins (plugins/standins" in str(exited.value)
    assert "not with the greencert wheel or image" in str(exited.value)


def test_the_password_file_is_the_owners_only(tmp_path) -> None:
    from greencert import warehouse

    path = tmp_path / "secrets" / "pgpass"
    path.parent.mkdir()
    path.write_text("old\n")
    path.chmod(0o644)

    def url(user: str, password: str) -> str:  # made-up logins, put together (no URL with a password in the file)
        return f"postgresql://{user}:{password}@127.0.0.1:5432/greencert"

    urls = {"loader": url("greencert_loader", "p%40ss"), "bi_reader": url("greencert_bi_reader", "pw")}
    assert warehouse.write_pgpass(urls, path) == path
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().splitlines() == [
        "127.0.0.1:5432:greencert:greencert_loader:p@ss",
        "127.0.0.1:5432:greencert:greencert_bi_reader:pw",
    ]
