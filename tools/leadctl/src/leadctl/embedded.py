"""Embedded mode (``make run``): a local nats-server, the three services on SQLite, the
demo county (赵县, two towns: 沙河店镇 and a township, common.data's county.toml, unless an
ORG_FILE is set) and one demo user per role, all under ``var/``.

The first run makes the secrets (NATS passwords, the intake keys, the receipts' signing key
among them, the accounts key and each service's session key), the demo tokens and the demo
people's accounts, whose passwords (and second factors) it prints once; later runs reuse
them, so a second ``make run`` resumes on the same data and nobody's password changes; a
secret a later version adds is made then and added to the file.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from common.auth import UserRecord, hash_token, new_token, write_users_file
from common.events import Actor, Role
from common.natsserver import NatsServer
from common.organisation import demo_county_file
from common.workauth import WorkAuth
from leadctl.accounts import Handed, ensure_people
from leadctl.connection import NatsConnection, run_on_nats
from leadctl.operations import SERVICES
from leadctl.provision import provision

# A service that exits more often than this is not started again: the run stops.
RESTARTS_PER_WINDOW: Final = 5
RESTART_WINDOW: Final = 60.0
DEFAULT_PORTS: Final = {s.value: s.default_port for s in SERVICES}
NATS_USERS: Final = ("intake", "ledger", "oversight", "leadctl", "admin")

# user, display name, role, unit
DEMO_USERS: Final = (
    ("screener.v01", "沙河店村 摸排员", Role.SCREENER, "shd-v01"),
    ("screener.v02", "前营村 摸排员", Role.SCREENER, "shd-v02"),
    ("clerk", "举报受理员", Role.CLERK, "shd-office"),
    ("office", "扫黑办 工作人员", Role.OFFICE, "shd-office"),
    ("police", "派出所 民警", Role.POLICE, "shd-police"),
    ("judicial", "司法所 工作人员", Role.JUDICIAL, "shd-judicial"),
    ("discipline", "镇纪委 工作人员", Role.DISCIPLINE, "shd-discipline"),
    ("custodian", "举报人信息保管员", Role.CUSTODIAN, "shd-discipline"),
    # A second custodian: a request for an identity is decided by a custodian other than
    # the one who asked, so a custodian's own request needs them.
    ("custodian2", "举报人信息保管员（二）", Role.CUSTODIAN, "shd-discipline"),
    ("auditor", "县级审计员", Role.AUDITOR, "county"),
    ("admin", "系统管理员", Role.ADMIN, None),
    # The county office sees every town's leads and may take one over (提级办理); the
    # township's people see only the township's.
    ("county.office", "县扫黑办 工作人员", Role.OFFICE, "county"),
    ("zxl.clerk", "某乡 举报受理员", Role.CLERK, "zxl-office"),
    ("zxl.office", "某乡扫黑办 工作人员", Role.OFFICE, "zxl-office"),
    ("zxl.police", "某乡派出所 民警", Role.POLICE, "zxl-police"),
)
# One person per role who signs in with a password (and, where the role needs one, a code),
# under the same name as the role's demo token: the screener of shd-v01 for the villages.
DEMO_PEOPLE: Final = tuple(person for person in DEMO_USERS if person[0] != "screener.v02")
DEMO_ADMINISTRATOR: Final = Actor(role=Role.ADMIN, user="make-run")


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.env"

    @property
    def users(self) -> Path:
        return self.root / "demo" / "users.toml"

    @property
    def tokens(self) -> Path:
        return self.root / "demo" / "tokens.json"

    @property
    def logs(self) -> Path:
        return self.root / "log"

    def database(self, service: str) -> Path:
        return self.root / service / f"{service}.db"


def keep_private(root: Path) -> None:
    """Only the user running the suite may read what it keeps under ``root``: reports,
    databases, logs, tokens, the NATS store. Files made from now on, by this process and
    by NATS and the services it starts (they inherit the umask), are owner-only; what an
    earlier run left readable is tightened (directories 0700, files at most 0600)."""
    os.umask(0o077)
    root.mkdir(parents=True, exist_ok=True)
    for directory, _, files in os.walk(root):  # symbolic links are not followed
        os.chmod(directory, 0o700)
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) & 0o600)


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _new_secrets() -> dict[str, str]:
    # A letter then hex: nats-server parses an environment value as a config value, and
    # a password such as "1-..." or "-..." would stop it.
    values = {f"NATS_{user.upper()}_PASSWORD": "p" + secrets.token_hex(24) for user in NATS_USERS}
    values["INTAKE_IDENTITY_KEY"] = _key()
    values["INTAKE_RECEIPT_KEY"] = _key()
    # An Ed25519 private key is any 32 random bytes.
    values["INTAKE_SIGNING_KEY"] = _key()
    # One accounts key for every service (and leadctl, which seals second factors with it);
    # a session key per service, so that none can mint another's sessions.
    values["ACCOUNTS_KEY"] = _key()
    for service in DEFAULT_PORTS:
        values[f"{service.upper()}_SESSION_KEY"] = _key()
    return values


def load_or_make_secrets(path: Path) -> dict[str, str]:
    """The run's secrets, made on the first run; one added by a later version is made and
    added to the file, the others kept as they are."""
    values: dict[str, str] = {}
    if path.exists():
        pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        values = {key.strip(): value.strip() for key, value in pairs}
        empty = [key for key, value in values.items() if not value]
        if empty:
            # An empty NATS password would let anyone in as that user.
            raise SystemExit(f"{path}: empty secrets {', '.join(empty)}; delete the file to renew")
    missing = {k: v for k, v in _new_secrets().items() if k not in values}
    if missing:
        values |= missing
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return values


def seed_demo_users(layout: Layout) -> None:
    """One user per role; the tokens file exists only in development."""
    if layout.users.exists() and layout.tokens.exists():
        return
    tokens = {user: new_token() for user, *_ in DEMO_USERS}
    records = [
        UserRecord(
            user=user,
            display_name=name,
            role=role,
            unit=unit,
            token_sha256=hash_token(tokens[user]),
        )
        for user, name, role, unit in DEMO_USERS
    ]
    write_users_file(layout.users, records)
    layout.tokens.touch(mode=0o600)
    layout.tokens.write_text(json.dumps(tokens, indent=2, ensure_ascii=False))


# A few leads for a first look around, entered as the people who would enter them.
DEMO_LEADS: Final = (
    (
        None,
        "/v1/reports",
        {
            "category": "village_tyrant",
            "summary": "前营村有人长期霸占村集体鱼塘，威胁承包户不许续租",
            "village": "shd-v02",
            "identity": {"name": "演示举报人", "phone": "13800000000"},
        },
    ),
    (
        "clerk",
        "/v1/leads",
        {
            "channel": "hotline",
            "category": "cult_vice",
            "summary": "东庄村村口废弃厂房夜间聚众赌博，有人放高利贷",
            "village": "shd-v04",
        },
    ),
    (
        "screener.v01",
        "/v1/leads",
        {
            "channel": "village_screening",
            "category": "protective_umbrella",
            "summary": "摸排发现某站所工作人员疑为砂石盗采团伙通风报信",
            "village": "shd-v01",
            "flags": ["involves_official", "protective_umbrella"],
        },
    ),
    (
        "zxl.clerk",
        "/v1/leads",
        {
            "channel": "walk_in",
            "category": "mass_economic",
            "summary": "南王村有人以高息集资为名吸收村民存款，已有多户无法取回本金",
            "village": "zxl-v03",
        },
    ),
)


def seed_demo_leads(layout: Layout, intake_port: int) -> None:
    """On the first run only: a handful of leads, so every service has something to show."""
    marker = layout.root / "demo" / "leads-seeded"
    if marker.exists():
        return
    tokens = json.loads(layout.tokens.read_text())
    # One key per demo lead, kept with the data: a first run stopped half-way and started
    # again files each lead once (a retry with its key returns the same lead).
    keys = layout.root / "demo" / "idempotency-keys.json"
    if not keys.exists():
        keys.write_text(json.dumps([secrets.token_hex(16) for _ in DEMO_LEADS]))
    for (user, path, body), key in zip(DEMO_LEADS, json.loads(keys.read_text()), strict=True):
        headers = {"Idempotency-Key": key}
        if user:
            headers["Authorization"] = f"Bearer {tokens[user]}"
        # A public report proves its work like any other (common.workauth).
        answer = httpx.post(
            f"http://127.0.0.1:{intake_port}{path}",
            json=body,
            headers=headers,
            auth=WorkAuth(),
            timeout=30,
        )
        answer.raise_for_status()
    marker.write_text("seeded\n")


def service_env(
    service: str, port: int, layout: Layout, nats_url: str, values: dict[str, str]
) -> dict[str, str]:
    prefix = service.upper()
    env = {
        **os.environ,
        f"{prefix}_NATS_URL": nats_url,
        f"{prefix}_NATS_PASSWORD": values[f"NATS_{prefix}_PASSWORD"],
        f"{prefix}_USERS_FILE": str(layout.users),
        f"{prefix}_DATABASE_URL": f"sqlite:///{layout.database(service)}",
        f"{prefix}_HTTP_PORT": str(port),
    }
    # The demo county, unless the operator names an organisation file of their own.
    env.setdefault(f"{prefix}_ORG_FILE", str(demo_county_file()))
    if service == "intake":
        env["INTAKE_IDENTITY_KEY"] = values["INTAKE_IDENTITY_KEY"]
        env["INTAKE_RECEIPT_KEY"] = values["INTAKE_RECEIPT_KEY"]
        env["INTAKE_SIGNING_KEY"] = values["INTAKE_SIGNING_KEY"]
    env[f"{prefix}_ACCOUNTS_KEY"] = values["ACCOUNTS_KEY"]
    env[f"{prefix}_SESSION_KEY"] = values[f"{prefix}_SESSION_KEY"]
    return env


def seed_demo_accounts(nats_url: str, values: dict[str, str]) -> list[Handed]:
    """The demo people's accounts, as the administrator opens them (on the first run; a
    later one makes only what is missing, and so changes no password)."""
    key = base64.b64decode(values["ACCOUNTS_KEY"])
    admin = NatsConnection(nats_url, "admin", values["NATS_ADMIN_PASSWORD"])
    return run_on_nats(
        lambda js: ensure_people(js, DEMO_PEOPLE, key, DEMO_ADMINISTRATOR), admin, "admin"
    )


def show_demo_accounts(made: list[Handed], layout: Layout) -> None:
    names = {user: (name, role, unit) for user, name, role, unit in DEMO_PEOPLE}
    if not made:
        _say(
            "  演示账户的密码已在首次运行时显示 / demo sign-in (POST /v1/session): passwords were"
            " shown when the accounts were made; a new one: leadctl --user admin accounts"
            " reset-password USER (enrol-second-factor USER for a new code), with"
            " LEADS_NATS_PASSWORD=NATS_ADMIN_PASSWORD and LEADS_ACCOUNTS_KEY=ACCOUNTS_KEY of"
            f" {layout.secrets}"
        )
        return
    _say(
        "  演示账户的登录密码仅此一次显示 / demo sign-in (POST /v1/session at any service),"
        " shown this once:"
    )
    for handed in made:
        name, role, unit = names[handed.user]
        _say(
            f"    {handed.user:<14} {handed.password or '(password kept)':<20}"
            f" {name} ({role.value}{', ' + unit if unit else ''})"
        )
        if handed.otpauth_uri:
            _say(f"    {'':<14} 动态码 second factor, secret {handed.totp_secret}:")
            _say(f"    {'':<14} {handed.otpauth_uri}")
    if any(h.otpauth_uri for h in made):
        _say(
            "  把 otpauth URI 加入身份验证器，或由密钥算出动态码 / add each otpauth URI to an"
            " authenticator app, or compute a code from its secret:"
            " .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\""
        )


def wait_ready(name: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with code {process.returncode}; see var/log/{name}.log"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not ready after {timeout:.0f}s; see var/log/{name}.log")
        time.sleep(0.2)


def start_service(name: str, env: dict[str, str], layout: Layout) -> subprocess.Popen[bytes]:
    """One service as a process of its own, its output appended to its log (the chaos run
    starts a service again after killing it)."""
    with (layout.logs / f"{name}.log").open("ab") as log:
        # Its own session: Ctrl-C reaches only the launcher, which stops the services first
        # and NATS last.
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", name],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_service(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_service(
    name: str, env: dict[str, str], layout: Layout
) -> Iterator[subprocess.Popen[bytes]]:
    process = start_service(name, env, layout)
    try:
        yield process
    finally:
        stop_service(process)


def run(
    root: Path,
    config: Path,
    nats_port: int = 4333,
    ports: dict[str, int] = DEFAULT_PORTS,
    ready_timeout: float = 60.0,
) -> int:
    layout = Layout(root)
    keep_private(root)
    layout.logs.mkdir(parents=True, exist_ok=True)
    values = load_or_make_secrets(layout.secrets)
    seed_demo_users(layout)
    started = time.monotonic()
    server = NatsServer(
        root / "nats",
        port=nats_port,
        config=config,
        env=values,
        log_file=layout.logs / "nats.log",
    )
    with ExitStack() as stack:
        stack.enter_context(server)
        asyncio.run(provision([server.url], "admin", values["NATS_ADMIN_PASSWORD"]))
        processes = {
            name: stack.enter_context(
                running_service(name, service_env(name, port, layout, server.url, values), layout)
            )
            for name, port in ports.items()
        }
        for name, process in processes.items():
            wait_ready(name, ports[name], process, ready_timeout - (time.monotonic() - started))
        seed_demo_leads(layout, ports["intake"])
        made = seed_demo_accounts(server.url, values)
        _say(
            f"ready in {time.monotonic() - started:.1f}s — NATS {server.url} (JetStream, {root / 'nats'})"
        )
        for name, port in ports.items():
            _say(f"  {name:<10} http://127.0.0.1:{port}  (docs /docs, health /readyz)")
        _say(f"  demo tokens: {layout.tokens}   logs: {layout.logs}")
        show_demo_accounts(made, layout)
        _say("Ctrl-C (or SIGTERM) stops everything; the next run resumes on the same data.")
        exits: deque[float] = deque()
        try:
            while True:
                time.sleep(0.5)
                for name, process in list(processes.items()):
                    if process.poll() is None:
                        continue
                    # As a process manager would: a service that stopped by itself (one
                    # whose NATS connection was lost for good exits on purpose) is started
                    # again, unless it keeps stopping.
                    now = time.monotonic()
                    exits.append(now)
                    while exits and exits[0] < now - RESTART_WINDOW:
                        exits.popleft()
                    if len(exits) > RESTARTS_PER_WINDOW:
                        _say(f"stopped: {name} keeps exiting; see {layout.logs}")
                        return 1
                    _say(f"{name} exited with code {process.returncode}; starting it again")
                    env = service_env(name, ports[name], layout, server.url, values)
                    processes[name] = stack.enter_context(running_service(name, env, layout))
        except KeyboardInterrupt:
            _say("stopping…")
            return 0
    return 0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _stop_on_term(_signum: int, _frame: object) -> None:
    # Supervisors and CI stop with SIGTERM: stop the services first and NATS last, as
    # Ctrl-C does, instead of leaving them all running.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_term)
    root = Path(os.environ.get("LEADS_VAR", "var")).resolve()
    config = Path(os.environ.get("LEADS_NATS_CONFIG", "deploy/nats/embedded.conf")).resolve()
    nats_port = int(os.environ.get("LEADS_NATS_PORT", "4333"))
    base = int(os.environ.get("LEADS_HTTP_BASE_PORT", str(DEFAULT_PORTS["intake"])))
    ports = {name: base + offset for offset, name in enumerate(DEFAULT_PORTS)}
    sys.exit(run(root, config, nats_port, ports))


if __name__ == "__main__":
    main()
