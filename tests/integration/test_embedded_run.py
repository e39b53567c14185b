"""`make run` as a person uses it: the embedded suite comes up, writes the demo tokens,
answers on every service, stops on Ctrl-C and resumes on the same data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from common.events import Role
from common.natsserver import free_port
from leadctl.embedded import DEMO_USERS

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
