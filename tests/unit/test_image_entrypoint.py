"""The images' entrypoint, run as written in the Dockerfile (no Docker engine needed): every
command in a container makes owner-only files, and with no command the service runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def entrypoint() -> list[str]:
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    [line] = [line for line in dockerfile.splitlines() if line.startswith("ENTRYPOINT ")]
    argv: list[str] = json.loads(line.removeprefix("ENTRYPOINT "))
    return argv


def run(*command: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The entrypoint with ``command``: its process id and what it printed."""
    process = subprocess.Popen(  # noqa: S603 - the Dockerfile's own entrypoint
        [*entrypoint(), *command],
        env={"PATH": os.environ["PATH"], **(env or {})},
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    return process.pid, out


def test_a_command_run_through_the_entrypoint_makes_files_for_its_user_only(
    tmp_path: Path,
) -> None:
    made, spool = tmp_path / "made.db", tmp_path / "spool"
    previous = os.umask(0o022)  # as a container runtime leaves it
    try:
        _, out = run("sh", "-c", f"umask; : > {made}; mkdir {spool}")
    finally:
        os.umask(previous)
    assert out.strip() == "0077"
    assert made.stat().st_mode & 0o777 == 0o600
    assert spool.stat().st_mode & 0o777 == 0o700


def test_with_no_command_the_entrypoint_becomes_the_service_the_image_was_built_for(
    tmp_path: Path,
) -> None:
    # A stand-in python on the PATH says how it was started, and as which process: the
    # entrypoint's own (exec), so that in a container the service is PID 1 and receives
    # the SIGTERM of `docker stop`.
    stand_in = tmp_path / "python"
    stand_in.write_text('#!/bin/sh\necho "$$ $*"\n')
    stand_in.chmod(0o755)

    pid, out = run(env={"SERVICE": "ledger", "PATH": f"{tmp_path}:{os.environ['PATH']}"})

    assert out.strip() == f"{pid} -m ledger"
