"""`make run` as a person uses it: the embedded suite comes up, writes the demo tokens,
answers on every service, stops on Ctrl-C and resumes on the same data; and what it keeps
under var/ is for its user's eyes only."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pyotp
import pytest

from common.events import Role
from common.natsserver import free_port
from leadctl.embedded import DEMO_PEOPLE, DEMO_USERS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _three_free_ports() -> int:
    for _ in range(50):
        base = free_port()
        if base < 65000 and all(_port_free(base + i) for i in range(3)):
            return base
    raise RuntimeError("no three consecutive free ports")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def embedded(
    var: Path, nats_port: int, base: int
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    env = {
        **os.environ,
        "LEADS_VAR": str(var),
        "LEADS_NATS_PORT": str(nats_port),
        "LEADS_HTTP_BASE_PORT": str(base),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "leadctl.embedded"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while not any(line.startswith("ready in") for line in lines):
            line = process.stdout.readline()
            if not line:
                pytest.fail(f"embedded run ended before ready:\n{''.join(lines)}")
            lines.append(line)
            assert time.monotonic() < deadline, "not ready within 60 s"
        yield process, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        if process.stdout is not None:
            lines.extend(process.stdout.readlines())


def test_make_run_brings_every_service_to_ready_and_resumes_on_the_same_data(
    tmp_path: Path,
) -> None:
    nats_port, base = free_port(), _three_free_ports()

    with embedded(tmp_path, nats_port, base) as (process, lines):
        for offset in range(3):
            answer = httpx.get(f"http://127.0.0.1:{base + offset}/readyz", timeout=5)
            assert answer.status_code == 200, answer.text
        tokens = json.loads((tmp_path / "demo" / "tokens.json").read_text())
        users_file = (tmp_path / "demo" / "users.toml").read_text()
    assert process.returncode == 0

    assert set(tokens) == {user for user, *_ in DEMO_USERS}
    assert {role for *_, role, _unit in DEMO_USERS} >= set(Role) - {Role.REPORTER, Role.SYSTEM}
    assert all(token not in users_file for token in tokens.values())
    assert any(f"127.0.0.1:{base}" in line for line in lines)

    with embedded(tmp_path, nats_port, base):
        again = json.loads((tmp_path / "demo" / "tokens.json").read_text())
        ready = httpx.get(f"http://127.0.0.1:{base + 1}/readyz", timeout=5)
    assert again == tokens
    assert ready.status_code == 200


def said_until_running(process: subprocess.Popen[str], lines: list[str]) -> list[str]:
    """What the run printed once ready, up to its last line of instructions (Ctrl-C)."""
    assert process.stdout is not None
    start = next(i for i, line in enumerate(lines) if line.startswith("ready in"))
    while not lines[-1].startswith("Ctrl-C"):
        line = process.stdout.readline()
        assert line, f"the run ended:\n{''.join(lines)}"
        lines.append(line)
    return lines[start:]


def shown_sign_ins(said: list[str]) -> dict[str, dict[str, str]]:
    """Each demo person's password, and second factor's secret, as the run showed them."""
    found: dict[str, dict[str, str]] = {}
    user = ""
    for line in said:
        if person := re.match(r"^    (\S+)\s+([a-z2-9]{4}(?:-[a-z2-9]{4}){3})\s", line):
            user = person[1]
            found[user] = {"password": person[2]}
        elif factor := re.search(r"secret ([A-Z2-7]+):$", line.rstrip()):
            found[user]["secret"] = factor[1]
    return found


def signs_in(port: int, user: str, password: str, secret: str | None = None) -> httpx.Response:
    """Sign in once the service has the account (until then its user is unknown: 401, as
    is a sign-in without the code the role needs, told apart by its header)."""
    deadline = time.monotonic() + 10
    while True:
        body = {"user": user, "password": password}
        if secret is not None:
            body["code"] = pyotp.TOTP(secret).now()
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/session", json=body, timeout=10)
        asks_for_a_code = "second-factor" in answer.headers.get("WWW-Authenticate", "")
        if answer.status_code != 401 or asks_for_a_code or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)  # the poll interval: the service's projection is what is awaited


def test_make_run_opens_the_demo_peoples_accounts_once_and_what_it_shows_signs_in(
    tmp_path: Path,
) -> None:
    nats_port, base = free_port(), _three_free_ports()

    with embedded(tmp_path, nats_port, base) as (process, lines):
        shown = shown_sign_ins(said_until_running(process, lines))
        office = signs_in(base + 1, "office", shown["office"]["password"])
        custodian = signs_in(
            base, "custodian", shown["custodian"]["password"], shown["custodian"]["secret"]
        )
        no_code = signs_in(base + 2, "admin", shown["admin"]["password"])

    assert set(shown) == {user for user, *_ in DEMO_PEOPLE}
    assert {user for user, values in shown.items() if "secret" in values} == {
        "custodian",
        "custodian2",
        "discipline",
        "admin",
    }
    assert (office.status_code, office.json()["role"]) == (200, "office")
    assert (custodian.status_code, custodian.json()["role"]) == (200, "custodian")
    assert no_code.status_code == 401
    assert "second-factor" in no_code.headers["WWW-Authenticate"]
    secrets_file = (tmp_path / "secrets.env").read_text()
    keys = {"ACCOUNTS_KEY", "INTAKE_SESSION_KEY", "LEDGER_SESSION_KEY", "OVERSIGHT_SESSION_KEY"}
    assert keys <= {line.split("=", 1)[0] for line in secrets_file.splitlines()}
    assert all(values["password"] not in secrets_file for values in shown.values())

    # Started again: no account is made again, no password shown or changed.
    with embedded(tmp_path, nats_port, base) as (process, lines):
        again = said_until_running(process, lines)
        still = signs_in(base + 2, "office", shown["office"]["password"])
    assert shown_sign_ins(again) == {}
    assert not any(values["password"] in "".join(again) for values in shown.values())
    assert still.status_code == 200, still.text


def too_open(var: Path) -> list[str]:
    """Everything under ``var`` (itself included) another local user could read, enter or
    list: directories must be 0700, files 0600 or stricter."""
    found = []
    for directory, _, files in os.walk(var):
        mode = stat.S_IMODE(os.stat(directory).st_mode)
        if mode != 0o700:
            found.append(f"{directory} {mode:o}")
        for name in files:
            path = Path(directory, name)
            mode = stat.S_IMODE(path.lstat().st_mode)
            if not path.is_symlink() and mode & ~0o600:
                found.append(f"{path} {mode:o}")
    return found


def test_what_make_run_keeps_is_its_users_alone_even_what_an_earlier_run_left_open(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    # An earlier run, from before this rule, left its files and directories open to all.
    earlier = [var / "log" / "intake.log", var / "ledger" / "notes" / "交接.txt", var / "x.csv"]
    for path in earlier:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("前次运行留下的内容\n", "utf-8")
        path.chmod(0o644)
    for directory in (var, var / "log", var / "ledger", var / "ledger" / "notes"):
        directory.chmod(0o755)
    assert len(too_open(var)) == 7
    nats_port, base = free_port(), _three_free_ports()

    with embedded(var, nats_port, base):
        tokens = json.loads((var / "demo" / "tokens.json").read_text())
        entered = httpx.post(
            f"http://127.0.0.1:{base}/v1/leads",
            json={
                "channel": "hotline",
                "category": "village_tyrant",
                "summary": "电话举报：有人强占村集体鱼塘",
                "village": "shd-v02",
            },
            headers={"Authorization": f"Bearer {tokens['clerk']}"},
            timeout=10,
        )
        assert entered.status_code == 201, entered.text
        listed = httpx.get(
            f"http://127.0.0.1:{base + 1}/v1/ledger/leads",
            headers={"Authorization": f"Bearer {tokens['office']}"},
            timeout=10,
        )
        assert listed.status_code == 200, listed.text
        while_running = too_open(var)

    assert while_running == []
    assert too_open(var) == []
    # Tightened where they were, not replaced (the log was appended to).
    assert all(path.read_text("utf-8").startswith("前次运行留下的内容\n") for path in earlier)
    # What the run itself made is there to be checked: databases, the NATS store, logs.
    made = {p.relative_to(var).parts[0] for p in var.rglob("*") if p.is_file()}
    assert {"intake", "ledger", "oversight", "nats", "log", "demo", "secrets.env"} <= made


def _children(pid: int) -> dict[str, int]:
    """The launcher's child processes, by the module each runs."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            args = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if b"-m" in args:
                found[args[args.index(b"-m") + 1].decode()] = int(child)
    return found


def test_sigterm_stops_nats_and_every_service_and_a_service_that_dies_is_started_again(
    tmp_path: Path,
) -> None:
    nats_port, base = free_port(), _three_free_ports()
    with embedded(tmp_path, nats_port, base) as (process, lines):
        ledger = _children(process.pid)["ledger"]
        os.kill(ledger, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:  # polling the launcher's own report, which is what an operator reads
            restarted = _children(process.pid).get("ledger")
            if restarted not in (None, ledger):
                try:
                    if httpx.get(f"http://127.0.0.1:{base + 1}/readyz", timeout=2).is_success:
                        break
                except httpx.HTTPError:
                    pass
            assert time.monotonic() < deadline, "the ledger was not started again"
            time.sleep(0.2)  # the poll interval: readiness is what is awaited

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    assert any("ledger exited" in line for line in lines), lines
    for port in (nats_port, base, base + 1, base + 2):
        assert _port_free(port), f"port {port} still taken after SIGTERM"
