"""The browser's proof-of-work search (intake's work-worker.js, its own SHA-256) finds the
nonce the server's check accepts, the first one, for challenges of every length."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

WORKER = Path(__file__).parents[2] / "services/intake/src/intake/static/work-worker.js"
RUN = """
const { search } = require(process.argv[1]);
const cases = JSON.parse(process.argv[2]);
console.log(JSON.stringify(cases.map(([token, bits]) =>
  search(new TextEncoder().encode(token + ":"), bits, 0, 1 << 24))));
"""


def first_nonce(token: str, bits: int) -> int:
    nonce = 0
    while int.from_bytes(hashlib.sha256(f"{token}:{nonce}".encode()).digest(), "big") >> (
        256 - bits
    ):
        nonce += 1
    return nonce


def test_the_worker_finds_the_first_nonce_the_server_accepts() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the browser's solver is checked with it")
    # Lengths around SHA-256's block edges (55, 56, 64 bytes) and past them.
    cases = [(secrets.token_urlsafe(64)[:n], 10) for n in (1, 53, 54, 55, 62, 63, 64, 100, 130)]
    cases.append((secrets.token_urlsafe(32), 14))
    found = json.loads(
        subprocess.run(  # noqa: S603 - node, the project's own file, generated strings
            [node, "-e", RUN, str(WORKER), json.dumps(cases)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )
    assert found == [first_nonce(token, bits) for token, bits in cases]
