"""Every command the README and docs/*.md show works exactly as written from a clone.

Commands are the lines of fenced blocks (except ```text ones) and the inline code
spans that start with ``./waybill``, ``waybill`` or ``make``. Each ``./waybill``
command's ``--help`` must succeed and list every ``--option`` the docs use with it;
each make target must exist (``make -n``). A bare ``waybill ...`` needs an activated
virtualenv, so the docs must say ``./waybill ...`` instead.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
STARTS = re.compile(r"(?<![\w./-])(\./waybill|waybill|make)(?=\s|$)")
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`]+)`")
WORD = re.compile(r"^[a-z][a-z0-9-]*$")


def _commands_in(text: str) -> list[str]:
    found: list[str] = []
    for info, body in FENCE.findall(text):
        if info.strip() == "text":
            continue
        for line in body.splitlines():
            line = re.sub(r"\s#.*$", "", line).strip()  # a shell comment
            # The command may sit inside $(...) or after an assignment (export X=$(./waybill ...)).
            for match in STARTS.finditer(line):
                rest = re.split(r"\)|;|&&|\|\|", line[match.start() :])[0]
                found.append(rest.strip())
    for span in SPAN.findall(FENCE.sub("", text)):
        span = " ".join(span.replace("\\|", "|").split())  # a span may wrap onto the next line
        if STARTS.match(span) and span != "waybill":  # the bare name is the command's name
            found.append(span)
    return found


def documented() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in DOCS:
        for command in _commands_in(path.read_text()):
            out.append((path.relative_to(ROOT).as_posix(), command))
    return out


COMMANDS = documented()


def _words(command: str) -> list[str]:
    # Placeholders and optional parts ([--json], ID, NAME, CODE...) are not typed literally.
    return shlex.split(command.replace("[", " ").replace("]", " ").replace("|", " "))


NEEDS_VENV = re.compile(r"^(python3?|flask|gunicorn|rq|alembic|pytest|pip|mypy|ruff)\s")


def test_no_command_in_the_docs_needs_an_activated_virtualenv() -> None:
    needs = []
    for path in DOCS:
        text = path.read_text()
        lines = [
            line.strip()
            for info, body in FENCE.findall(text)
            if info.strip() != "text"
            for line in body.splitlines()
        ]
        spans = [" ".join(span.split()) for span in SPAN.findall(FENCE.sub("", text))]
        needs += [f"{path.name}: {c}" for c in lines + spans if NEEDS_VENV.match(c)]
    assert not needs, "use ./waybill, make or .venv/bin/...: " + "; ".join(needs)


def test_the_docs_show_commands() -> None:
    shown = {c.split()[0] for _, c in COMMANDS}
    assert shown == {"./waybill", "make"}, shown
    assert len(COMMANDS) > 40


@pytest.mark.parametrize(("doc", "command"), [c for c in COMMANDS if not c[1].startswith("make")])
def test_each_waybill_command_in_the_docs_exists_with_its_options(doc: str, command: str) -> None:
    from entry import cli

    words = _words(command)
    assert words[0] == "./waybill", f"{doc}: `{command}` needs an activated virtualenv; write ./waybill"
    path = []
    for word in words[1:]:
        if not WORD.match(word) or len(path) == 2:
            break
        path.append(word)
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="waybill")
    helped = result.output
    assert result.exit_code == 0, f"{doc}: `{command}`: `waybill {' '.join(path)} --help` failed:\n{helped}"
    for word in words[1:]:
        option = word.split("=", 1)[0].rstrip(".")
        if option.startswith("--"):
            assert option in helped, f"{doc}: `{command}`: no {option} in `waybill {' '.join(path)} --help`"


@pytest.mark.parametrize(("doc", "command"), [c for c in COMMANDS if c[1].startswith("make")])
def test_each_make_target_in_the_docs_exists(doc: str, command: str) -> None:
    targets = [w for w in _words(command)[1:] if "=" not in w and not w.startswith("-")]
    assert targets, f"{doc}: `{command}` names no target"
    done = subprocess.run(["make", "-n", *targets], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{doc}: `{command}`: {done.stderr}"


def test_the_wrapper_runs_the_command_from_the_clone_without_an_activated_virtualenv() -> None:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(Path.home())}  # no VIRTUAL_ENV, no .venv/bin
    done = subprocess.run(
        [str(ROOT / "waybill"), "orders", "list", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: waybill orders list")


def test_waybill_offers_every_group_flask_does(app: object) -> None:
    from flask import Flask

    from entry import cli

    assert isinstance(app, Flask)
    flask_groups = app.cli.commands
    assert set(flask_groups) <= set(cli.commands)
    for name, group in flask_groups.items():
        assert cli.commands[name] is group  # the same commands, not a copy that can drift
    assert {"run", "worker"} <= set(cli.commands)


def test_the_architecture_page_names_every_package_and_module() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    missing = []
    for path in sorted(ROOT.glob("*.py")):
        if path.name not in page:
            missing.append(path.name)
    folders = ("core", "connectors", "db", "sync", "web", "webhooks", "sandbox", "bench", "tests", "docs")
    for package in folders:
        if f"{package}/" not in page:
            missing.append(f"{package}/")
    for package in ("core", "connectors", "db", "sync", "web", "webhooks"):
        for module in sorted((ROOT / package).rglob("*.py")):
            if module.name == "__init__.py" or "migrations" in module.parts:
                continue
            sub = module.parent.name + "/" if module.parent.name != package else ""
            if module.name not in page or (sub and sub not in page):
                missing.append(module.relative_to(ROOT).as_posix())
    assert not missing, f"docs/architecture.md does not mention: {missing}"
