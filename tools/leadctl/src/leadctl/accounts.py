"""``leadctl accounts``: the accounts of people and machines, kept as events on ACCOUNTS.

Only the NATS administrator may write there (``accounts.>``), so these commands connect as
the admin unless told otherwise. Each one reads the whole stream first (a town's staff: a
few hundred events), decides on what it read, and appends only if nothing was appended
meanwhile. What someone needs to sign in is printed once and kept nowhere in clear: the log
holds a password's argon2id hash, a second factor's secret sealed with the accounts key, a
machine token's SHA-256."""

from __future__ import annotations

import base64
import binascii
import getpass
import json
import re
import secrets
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeVar

import nats.errors
import typer
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from rich.console import Console
from rich.table import Table

from common.auth import hash_token, new_token
from common.credentials import (
    SECOND_FACTOR_ROLES,
    WeakPassword,
    check_password,
    enrolment_qr,
    enrolment_uri,
    hash_password,
    new_totp_secret,
    seal_secret,
)
from common.events import Actor, Event, EventDecodeError, Role, decode, event_type_of
from common.events.accounts import (
    USER_NAME,
    AccountChanged,
    AccountDisabled,
    AccountEnabled,
    AccountOpened,
    PasswordSet,
    SecondFactorRemoved,
    SecondFactorSet,
    TokenIssued,
    TokenRevoked,
)
from common.eventstore import (
    AppendOutcomeUnknown,
    ConcurrencyConflict,
    EventStore,
    LogUnavailable,
    appended_id,
    read_messages,
)
from common.organisation import Organisation, UnitKind, load_organisation
from common.subjects import STREAM_SUBJECTS, Stream
from leadctl.connection import NatsConnection, run_on_nats

T = TypeVar("T")

ADMIN_USER: Final = "admin"
ADMIN_HINT_ZH: Final = "账户只能由 NATS 管理员写入：请以 admin 身份运行（leadctl --user admin …）"
ADMIN_HINT_EN: Final = (
    "accounts are the administrator's: only the NATS admin user may write to the ACCOUNTS"
    " stream; run it as the admin (leadctl --user admin …, or LEADS_NATS_USER=admin, with its"
    " password in --password or LEADS_NATS_PASSWORD)"
)
ACCOUNTS_SUBJECTS: Final = STREAM_SUBJECTS[Stream.ACCOUNTS]
# Readable, unambiguous (no 0/o, 1/l/i), 4 groups of 4: about 79 bits, typed on a phone
# without a second look.
_ALPHABET: Final = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS: Final = 4
_GROUP: Final = 4
_APPEND_ATTEMPTS: Final = 3

# Where each role works: a screener in a village, the police at the police station, ...
# None: the role has no unit (an administrator) or may have none (a county auditor).
UNIT_KINDS: Final[dict[Role, frozenset[UnitKind | None]]] = {
    Role.SCREENER: frozenset({UnitKind.VILLAGE}),
    Role.CLERK: frozenset({UnitKind.OFFICE}),
    Role.OFFICE: frozenset({UnitKind.OFFICE}),
    Role.POLICE: frozenset({UnitKind.POLICE}),
    Role.JUDICIAL: frozenset({UnitKind.JUDICIAL}),
    Role.DISCIPLINE: frozenset({UnitKind.DISCIPLINE}),
    Role.CUSTODIAN: frozenset({UnitKind.OFFICE, UnitKind.DISCIPLINE}),
    Role.AUDITOR: frozenset({UnitKind.COUNTY, None}),
    Role.ADMIN: frozenset({None}),
}
ROLE_ZH: Final = {
    Role.SCREENER: "摸排员",
    Role.CLERK: "受理员",
    Role.OFFICE: "扫黑办工作人员",
    Role.POLICE: "民警",
    Role.JUDICIAL: "司法所工作人员",
    Role.DISCIPLINE: "纪委工作人员",
    Role.CUSTODIAN: "举报人信息保管员",
    Role.AUDITOR: "审计员",
    Role.ADMIN: "系统管理员",
}
KIND_ZH: Final = {
    UnitKind.COUNTY: "县级单位",
    UnitKind.OFFICE: "扫黑办",
    UnitKind.POLICE: "派出所",
    UnitKind.JUDICIAL: "司法所",
    UnitKind.DISCIPLINE: "纪委",
    UnitKind.VILLAGE: "村",
}

console = Console(stderr=True)
accounts_app = typer.Typer(
    help=(
        "账户管理（须以 NATS 管理员 admin 连接）/ People's and machines' accounts, as events on"
        " ACCOUNTS. Connects as the NATS admin (the only user that may write accounts):"
        " leadctl --user admin --password … accounts …, or LEADS_NATS_USER / LEADS_NATS_PASSWORD."
    ),
    no_args_is_help=True,
)


class Refused(Exception):
    """Nothing was written, and why: in Chinese, then in English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


# --- the accounts as the log has them -----------------------------------------------------


@dataclass
class AccountState:
    user: str
    display_name: str
    role: Role
    unit: str | None
    kind: Literal["person", "machine"]
    disabled: bool = False
    password: bool = False
    second_factor: bool = False
    tokens: set[str] = field(default_factory=set)

    def row(self) -> dict[str, Any]:
        """What ``list`` shows: never a hash, a sealed secret or a token."""
        return {
            "user": self.user,
            "display_name": self.display_name,
            "role": self.role.value,
            "unit": self.unit,
            "kind": self.kind,
            "disabled": self.disabled,
            "second_factor": self.second_factor,
            "tokens": len(self.tokens),
        }


@dataclass(frozen=True)
class Accounts:
    by_user: dict[str, AccountState]
    # The last sequence on accounts.>: a write appends only if it is still the last.
    last_sequence: int

    def get(self, user: str) -> AccountState:
        found = self.by_user.get(user)
        if found is None:
            raise Refused(f"没有账户 {user}", f"there is no account {user!r}")
        return found


def fold(events: Iterable[Event]) -> dict[str, AccountState]:
    """The accounts the events leave, as the services' projections have them (an event for
    an account never opened changes nothing; a second opening neither)."""
    found: dict[str, AccountState] = {}
    for event in events:
        if isinstance(event, AccountOpened):
            found.setdefault(
                event.user,
                AccountState(event.user, event.display_name, event.role, event.unit, event.kind),
            )
            continue
        account = found.get(getattr(event, "user", ""))
        if account is None:
            continue
        if isinstance(event, AccountChanged):
            account.display_name, account.role, account.unit = (
                event.display_name,
                event.role,
                event.unit,
            )
        elif isinstance(event, AccountDisabled | AccountEnabled):
            account.disabled = isinstance(event, AccountDisabled)
        elif isinstance(event, PasswordSet):
            account.password = True
        elif isinstance(event, SecondFactorSet | SecondFactorRemoved):
            account.second_factor = isinstance(event, SecondFactorSet)
        elif isinstance(event, TokenIssued):
            account.tokens.add(event.token_sha256)
        elif isinstance(event, TokenRevoked):
            account.tokens.discard(event.token_sha256)
    return found


async def read_accounts(js: JetStreamContext) -> Accounts:
    """Every account event, read from the stream itself: a message no append stored (see
    common.eventstore.appended_id) or one that does not decode is stepped over."""
    try:
        await js.stream_info(Stream.ACCOUNTS.value)
    except NotFoundError as exc:
        raise Refused(
            "ACCOUNTS 流不存在：请先以管理员身份初始化（python -m leadctl.provision）",
            "the ACCOUNTS stream does not exist: provision the server first, as the admin"
            " (python -m leadctl.provision)",
        ) from exc
    events: list[Event] = []
    last = 0
    async for msg in read_messages(
        js, Stream.ACCOUNTS.value, ACCOUNTS_SUBJECTS, stored_headers=True
    ):
        last = msg.seq or last
        subject = msg.subject or ""
        try:
            event = decode(msg.data or b"", event_type_of(subject))
        except EventDecodeError:
            console.print(f"[yellow]ACCOUNTS #{msg.seq}: not an event; stepped over[/yellow]")
            continue
        if appended_id(msg.headers) == event.event_id:
            events.append(event)
    return Accounts(fold(events), last)


async def _stored(js: JetStreamContext, event_id: str, after: int) -> bool:
    async for msg in read_messages(
        js, Stream.ACCOUNTS.value, ACCOUNTS_SUBJECTS, after + 1, stored_headers=True
    ):
        if appended_id(msg.headers) == event_id:
            return True
    return False


async def append_all(js: JetStreamContext, events: Sequence[Event], after: int) -> None:
    """The events in order, the first only if the log's last sequence is still ``after``
    (what the decision was made on). An unacknowledged append is tried again under its own
    event id, which JetStream stores once."""
    store = EventStore(js, Stream.ACCOUNTS, "accounts")
    first, *rest = events
    try:
        await store.append(first, expected_sequence=after, expected_subject=ACCOUNTS_SUBJECTS)
    except ConcurrencyConflict as exc:
        raise Refused(
            "账户在此期间已被修改，未写入任何内容，请重新执行",
            "the accounts changed meanwhile (another administrator at work?): nothing was"
            " written; run the command again",
        ) from exc
    except AppendOutcomeUnknown as exc:
        # A user that may not publish to accounts.> gets no answer at all (the server only
        # reports the violation to the connection): so it looks, and then says why.
        if not await _stored(js, first.event_id, after):
            raise Refused(
                "未写入任何内容：NATS 未确认写入。" + ADMIN_HINT_ZH,
                "nothing was written: NATS did not acknowledge the append. " + ADMIN_HINT_EN,
            ) from exc
    for done, event in enumerate(rest, start=1):
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                await store.append(event)
                break
            except AppendOutcomeUnknown as exc:
                if attempt == _APPEND_ATTEMPTS - 1:
                    written = ", ".join(e.event_type for e in events[:done])
                    raise Refused(
                        f"只写入了一部分（{written}）：请用 accounts list 查看后补做",
                        f"only part was written ({written}); {event.event_type} was not"
                        " acknowledged: see `leadctl accounts list` and do the rest",
                    ) from exc


# --- what an account is made of -----------------------------------------------------------


@dataclass
class Handed:
    """What is handed to the account's owner, once: never stored in clear."""

    user: str
    password: str | None = None
    totp_secret: str | None = None
    otpauth_uri: str | None = None
    token: str | None = None
    token_sha256: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def new_password(user: str) -> str:
    while True:
        password = "-".join(
            "".join(secrets.choice(_ALPHABET) for _ in range(_GROUP)) for _ in range(_GROUPS)
        )
        try:
            check_password(user, password)
        except WeakPassword:
            continue  # the user name came out by chance
        return password


def parse_accounts_key(value: str) -> bytes:
    if not value:
        raise Refused(
            "需要账户密钥：--accounts-key 或 LEADS_ACCOUNTS_KEY（与各服务的 <SERVICE>_ACCOUNTS_KEY 相同）",
            "the accounts key is needed to seal a second factor: --accounts-key or"
            " LEADS_ACCOUNTS_KEY (the services' <SERVICE>_ACCOUNTS_KEY, 32 bytes in base64)",
        )
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused("账户密钥须为 base64", "the accounts key must be base64") from exc
    if len(key) != 32:
        raise Refused("账户密钥须为 32 字节", "the accounts key must be 32 bytes (base64)")
    return key


def check_user_name(user: str) -> None:
    if not re.fullmatch(USER_NAME, user):
        raise Refused(
            f"用户名 {user!r} 不合规：2–64 个小写字母、数字或 . _ -",
            f"user name {user!r}: 2 to 64 of a-z, 0-9, '.', '_', '-'",
        )


def check_label(label: str) -> None:
    if len(label) > 100:
        raise Refused("标签至多 100 个字符", "--label has at most 100 characters")


def check_text(value: str, what_zh: str, what: str, longest: int) -> str:
    value = value.strip()
    if not value or len(value) > longest:
        raise Refused(
            f"{what_zh}须为 1–{longest} 个字符", f"{what} must be 1 to {longest} characters"
        )
    return value


def check_role_and_unit(role: Role, unit: str | None, org: Organisation) -> None:
    """The role is one an account can have, and the unit one of the organisation's, of the
    kind where that role works."""
    kinds = UNIT_KINDS.get(role)
    if kinds is None:
        raise Refused(
            f"{role.value} 不是账户角色",
            f"{role.value} is not an account's role; one of {', '.join(r.value for r in UNIT_KINDS)}",
        )
    found = org.unit(unit) if unit is not None else None
    if unit is not None and found is None:
        raise Refused(
            f"没有单位 {unit}",
            f"there is no unit {unit!r}; one of {', '.join(u.code for u in org.units)}",
        )
    kind = found.kind if found is not None else None
    if kind in kinds:
        return
    wanted_zh = "、".join("无单位" if k is None else KIND_ZH[k] for k in _sorted(kinds))
    wanted = " or ".join(
        "no unit" if k is None else f"a unit of kind {k.value}" for k in _sorted(kinds)
    )
    given_zh = "无单位" if found is None else f"{found.name}（{KIND_ZH[found.kind]}）"
    given = "no unit" if found is None else f"{found.code} (kind {found.kind.value})"
    raise Refused(
        f"{ROLE_ZH[role]}的单位须为：{wanted_zh}；给出的是 {given_zh}",
        f"role {role.value} needs {wanted}; given {given}",
    )


def _sorted(kinds: Iterable[UnitKind | None]) -> list[UnitKind | None]:
    return sorted(kinds, key=lambda k: "" if k is None else k.value)


def second_factor(user: str, key: bytes, actor: Actor) -> tuple[SecondFactorSet, Handed]:
    secret = new_totp_secret()
    event = SecondFactorSet(user=user, sealed_secret=seal_secret(key, user, secret), actor=actor)
    return event, Handed(user, totp_secret=secret, otpauth_uri=enrolment_uri(secret, user))


def password_set(user: str, actor: Actor) -> tuple[PasswordSet, str]:
    password = new_password(user)
    return PasswordSet(
        user=user, password_hash=hash_password(user, password), actor=actor
    ), password


def token_issued(user: str, label: str, actor: Actor) -> tuple[TokenIssued, Handed]:
    token = new_token()
    digest = hash_token(token)
    event = TokenIssued(user=user, token_sha256=digest, label=label, actor=actor)
    return event, Handed(user, token=token, token_sha256=digest)


def person_events(
    user: str, role: Role, key: bytes | None, actor: Actor, *, password: bool, factor: bool
) -> tuple[list[Event], Handed]:
    """A person's password and, for a role that needs one, second factor."""
    events: list[Event] = []
    handed = Handed(user)
    if password:
        event, handed.password = password_set(user, actor)
        events.append(event)
    if factor and role in SECOND_FACTOR_ROLES:
        if key is None:
            raise ValueError("a second factor is sealed with the accounts key")
        sealed, enrolled = second_factor(user, key, actor)
        events.append(sealed)
        handed.totp_secret, handed.otpauth_uri = enrolled.totp_secret, enrolled.otpauth_uri
    return events, handed


async def ensure_people(
    js: JetStreamContext,
    people: Sequence[tuple[str, str, Role, str | None]],
    key: bytes,
    actor: Actor,
) -> list[Handed]:
    """Each of ``people`` (user, name, role, unit) opened, with a password and the second
    factor its role needs: only what is missing is made, so an account that has a password
    keeps it. Returns what was made, to be shown once."""
    accounts = await read_accounts(js)
    events: list[Event] = []
    made: list[Handed] = []
    for user, name, role, unit in people:
        found = accounts.by_user.get(user)
        if found is None:
            events.append(
                AccountOpened(user=user, display_name=name, role=role, unit=unit, actor=actor)
            )
        needed, handed = person_events(
            user,
            role,
            key,
            actor,
            password=found is None or not found.password,
            factor=found is None or not found.second_factor,
        )
        events += needed
        if needed:
            made.append(handed)
    if events:
        await append_all(js, events, accounts.last_sequence)
    return made


# --- the commands -------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    by: str
    org_file: Path | None

    @property
    def actor(self) -> Actor:
        return Actor(role=Role.ADMIN, user=self.by)

    def organisation(self) -> Organisation:
        return load_organisation(self.org_file)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ADMIN_USER


@accounts_app.callback()
def accounts(
    ctx: typer.Context,
    by: Annotated[
        str | None,
        typer.Option(
            envvar="LEADS_ADMIN_NAME",
            help="who does it, recorded in each event (default: your login name)",
            show_default=False,
        ),
    ] = None,
    org_file: Annotated[
        Path | None,
        typer.Option(
            envvar="LEADS_ORG_FILE",
            help="the organisation file the services use (default: the demo organisation)",
        ),
    ] = None,
) -> None:
    ctx.meta["accounts"] = Options(by=by or _login_name(), org_file=org_file)


def _options(ctx: typer.Context) -> Options:
    found: Options = ctx.meta["accounts"]
    return found


AccountsKey = Annotated[
    str,
    typer.Option(
        envvar="LEADS_ACCOUNTS_KEY",
        help="the accounts key (the services' <SERVICE>_ACCOUNTS_KEY, base64)",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON (secrets included, once)")]
User = Annotated[str, typer.Argument(help="the account's user name, e.g. wang.wei")]


def _fail(refused: Refused) -> typer.Exit:
    console.print(refused.zh, style="red", markup=False)
    console.print(refused.en, style="red", markup=False)
    return typer.Exit(1)


def _on_accounts(ctx: typer.Context, work: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    found: NatsConnection = ctx.obj
    try:
        return run_on_nats(work, found, usual_user=ADMIN_USER)
    except Refused as refused:
        raise _fail(refused) from None
    except (nats.errors.Error, LogUnavailable, OSError, TimeoutError) as exc:
        who = found.user_for(ADMIN_USER) or "no user"
        raise _fail(
            Refused(
                "无法连接 NATS 或其未应答；" + ADMIN_HINT_ZH,
                f"NATS at {found.url}, as {who}, did not answer ({type(exc).__name__}: {exc});"
                f" {ADMIN_HINT_EN}",
            )
        ) from None


def _refusing(check: Callable[[], T]) -> T:
    """Checks made before connecting, refused the same way."""
    try:
        return check()
    except Refused as refused:
        raise _fail(refused) from None


def _change(
    ctx: typer.Context, decide: Callable[[Accounts], Sequence[Event]]
) -> tuple[Accounts, Sequence[Event]]:
    """Read the accounts, decide on them, append what was decided."""

    async def work(js: JetStreamContext) -> tuple[Accounts, Sequence[Event]]:
        accounts = await read_accounts(js)
        events = decide(accounts)
        await append_all(js, events, accounts.last_sequence)
        return accounts, events

    return _on_accounts(ctx, work)


def _person(accounts: Accounts, user: str) -> AccountState:
    account = accounts.get(user)
    if account.kind != "person":
        raise Refused(
            f"{user} 是机器账户：没有密码或动态码，请用令牌",
            f"{user} is a machine account: it has no password or second factor, only tokens",
        )
    return account


def _show(handed: Handed, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(handed.as_dict(), ensure_ascii=False))
        return
    if handed.password:
        typer.echo(
            "密码（仅此一次显示，请当面交给本人）/ password (shown this once: hand it over in person):"
        )
        typer.echo(f"    {handed.password}")
    if handed.otpauth_uri and handed.totp_secret:
        typer.echo(
            "动态码：请本人用身份验证器扫描下面的二维码（仅此一次显示）/ second factor: the person"
            " scans this code with an authenticator app (shown this once):"
        )
        typer.echo(enrolment_qr(handed.otpauth_uri))
        typer.echo(f"    {handed.otpauth_uri}")
        typer.echo(f"    密钥（手动输入用）/ secret, to type in instead: {handed.totp_secret}")
    if handed.token:
        typer.echo("令牌（仅此一次显示）/ token (shown this once; the log keeps only its hash):")
        typer.echo(f"    {handed.token}")


def _warn_token_without_second_factor(role: Role) -> None:
    if role in SECOND_FACTOR_ROLES:
        console.print(
            f"[yellow]注意：令牌无需动态码即可使用{ROLE_ZH[role]}的权限，请妥善保管 / note: a token"
            f" uses the {role.value}'s rights without a second factor: keep it as safe as the"
            " person's password and phone together[/yellow]"
        )


@accounts_app.command("add")
def add(
    ctx: typer.Context,
    user: User,
    name: Annotated[str, typer.Option(help="the person's (or machine's) name as shown")],
    role: Annotated[Role, typer.Option(help="what the account may do")],
    unit: Annotated[str | None, typer.Option(help="its unit, e.g. shd-police")] = None,
    machine: Annotated[
        bool, typer.Option("--machine", help="a script or machine: a token, no password")
    ] = False,
    label: Annotated[str, typer.Option(help="with --machine: what the token is for")] = "",
    accounts_key: AccountsKey = "",
    as_json: AsJson = False,
) -> None:
    """Open an account. A person gets a generated password (and, for custodian, discipline
    and admin, a second factor to enrol); a machine gets a token. Printed once."""
    options = _options(ctx)
    actor = options.actor

    def checked() -> tuple[str, bytes | None]:
        check_user_name(user)
        shown = check_text(name, "姓名", "--name", 100)
        check_label(label)
        check_role_and_unit(role, unit, options.organisation())
        needs_key = not machine and role in SECOND_FACTOR_ROLES
        return shown, parse_accounts_key(accounts_key) if needs_key else None

    shown, key = _refusing(checked)
    handed = Handed(user)

    def decide(accounts: Accounts) -> list[Event]:
        nonlocal handed
        if user in accounts.by_user:
            raise Refused(f"账户 {user} 已存在", f"there is already an account {user!r}")
        opened = AccountOpened(
            user=user,
            display_name=shown,
            role=role,
            unit=unit,
            kind="machine" if machine else "person",
            actor=actor,
        )
        if machine:
            issued, handed = token_issued(user, label, actor)
            return [opened, issued]
        events, handed = person_events(user, role, key, actor, password=True, factor=True)
        return [opened, *events]

    _change(ctx, decide)
    if not as_json:
        typer.echo(
            f"已开设账户 {user}（{ROLE_ZH[role]}，{unit or '无单位'}）/ account {user} opened"
            f" ({role.value}, {unit or 'no unit'})"
        )
    if machine:
        _warn_token_without_second_factor(role)
    _show(handed, as_json)


@accounts_app.command("reset-password")
def reset_password(ctx: typer.Context, user: User, as_json: AsJson = False) -> None:
    """Set a new generated password (printed once); the person's sessions end."""
    actor = _options(ctx).actor
    password = ""

    def decide(accounts: Accounts) -> list[Event]:
        nonlocal password
        _person(accounts, user)
        event, password = password_set(user, actor)
        return [event]

    _change(ctx, decide)
    _show(Handed(user, password=password), as_json)


@accounts_app.command("enrol-second-factor")
def enrol_second_factor(
    ctx: typer.Context, user: User, accounts_key: AccountsKey = "", as_json: AsJson = False
) -> None:
    """A new second factor (TOTP) for a custodian, discipline or admin: its QR code and
    otpauth URI are printed once; an earlier one stops working."""
    actor = _options(ctx).actor
    key = _refusing(lambda: parse_accounts_key(accounts_key))
    handed = Handed(user)

    def decide(accounts: Accounts) -> list[Event]:
        nonlocal handed
        account = _person(accounts, user)
        if account.role not in SECOND_FACTOR_ROLES:
            raise Refused(
                f"{ROLE_ZH[account.role]}登录不使用动态码",
                f"role {account.role.value} signs in without a second factor: nothing would check"
                f" it (only {', '.join(sorted(r.value for r in SECOND_FACTOR_ROLES))} use one)",
            )
        event, handed = second_factor(user, key, actor)
        return [event]

    _change(ctx, decide)
    _show(handed, as_json)


@accounts_app.command("remove-second-factor")
def remove_second_factor(ctx: typer.Context, user: User) -> None:
    """Remove the second factor (a lost phone): the person cannot sign in until a new one
    is enrolled."""
    actor = _options(ctx).actor

    def decide(accounts: Accounts) -> list[Event]:
        if not _person(accounts, user).second_factor:
            raise Refused(f"{user} 没有动态码", f"{user} has no second factor to remove")
        return [SecondFactorRemoved(user=user, actor=actor)]

    _change(ctx, decide)
    typer.echo(f"已移除 {user} 的动态码 / second factor of {user} removed")


@accounts_app.command("disable")
def disable(
    ctx: typer.Context,
    user: User,
    reason: Annotated[str, typer.Option(help="why (recorded)")],
) -> None:
    """Nothing of the account works any more, in any service: sign-in, sessions, tokens."""
    actor = _options(ctx).actor
    why = _refusing(lambda: check_text(reason, "原因", "--reason", 500))

    def decide(accounts: Accounts) -> list[Event]:
        if accounts.get(user).disabled:
            raise Refused(f"{user} 已停用", f"{user} is disabled already")
        return [AccountDisabled(user=user, reason=why, actor=actor)]

    _change(ctx, decide)
    typer.echo(f"已停用 {user} / {user} disabled")


@accounts_app.command("enable")
def enable(ctx: typer.Context, user: User) -> None:
    """A disabled account works again, with the credentials it had."""
    actor = _options(ctx).actor

    def decide(accounts: Accounts) -> list[Event]:
        if not accounts.get(user).disabled:
            raise Refused(f"{user} 未停用", f"{user} is not disabled")
        return [AccountEnabled(user=user, actor=actor)]

    _change(ctx, decide)
    typer.echo(f"已启用 {user} / {user} enabled")


@accounts_app.command("change")
def change(
    ctx: typer.Context,
    user: User,
    role: Annotated[Role | None, typer.Option(help="the new role")] = None,
    unit: Annotated[str | None, typer.Option(help="the new unit")] = None,
    no_unit: Annotated[bool, typer.Option("--no-unit", help="the account has no unit")] = False,
    name: Annotated[str | None, typer.Option(help="the new name as shown")] = None,
) -> None:
    """A new role, unit or name (the others as they are); sessions begun before end."""
    options = _options(ctx)
    org = options.organisation()
    if no_unit and unit is not None:
        raise _fail(Refused("--unit 与 --no-unit 只能选一", "give --unit or --no-unit, not both"))
    shown = _refusing(lambda: None if name is None else check_text(name, "姓名", "--name", 100))
    changed: AccountChanged | None = None

    def decide(accounts: Accounts) -> list[Event]:
        nonlocal changed
        account = accounts.get(user)
        new_role = role or account.role
        new_unit = None if no_unit else (unit if unit is not None else account.unit)
        new_name = shown or account.display_name
        if (new_role, new_unit, new_name) == (account.role, account.unit, account.display_name):
            raise Refused("没有变化", "nothing to change: give --role, --unit, --no-unit or --name")
        check_role_and_unit(new_role, new_unit, org)
        changed = AccountChanged(
            user=user, display_name=new_name, role=new_role, unit=new_unit, actor=options.actor
        )
        return [changed]

    accounts, _ = _change(ctx, decide)
    assert changed is not None  # noqa: S101 - decide made it, or refused
    typer.echo(
        f"已修改 {user}：{ROLE_ZH[changed.role]}，{changed.unit or '无单位'}，{changed.display_name}"
        f" / {user} is now {changed.role.value}, {changed.unit or 'no unit'},"
        f" {changed.display_name}"
    )
    before = accounts.by_user[user]
    if changed.role in SECOND_FACTOR_ROLES and before.kind == "person" and not before.second_factor:
        console.print(
            f"[yellow]{user} 须设置动态码后才能登录：leadctl accounts enrol-second-factor {user} /"
            f" a {changed.role.value} signs in with a second factor: enrol one (leadctl accounts"
            f" enrol-second-factor {user})[/yellow]"
        )
    if changed.role in SECOND_FACTOR_ROLES and before.tokens:
        _warn_token_without_second_factor(changed.role)


@accounts_app.command("issue-token")
def issue_token(
    ctx: typer.Context,
    user: User,
    label: Annotated[str, typer.Option(help="what the token is for")] = "",
    as_json: AsJson = False,
) -> None:
    """A bearer token for scripts, printed once (the log keeps its SHA-256)."""
    actor = _options(ctx).actor
    _refusing(lambda: check_label(label))
    handed = Handed(user)
    role = Role.ADMIN

    def decide(accounts: Accounts) -> list[Event]:
        nonlocal handed, role
        account = accounts.get(user)
        if account.disabled:
            raise Refused(f"{user} 已停用", f"{user} is disabled: enable it first")
        role = account.role
        event, handed = token_issued(user, label, actor)
        return [event]

    _change(ctx, decide)
    _warn_token_without_second_factor(role)
    _show(handed, as_json)


@accounts_app.command("revoke-token")
def revoke_token(
    ctx: typer.Context,
    user: User,
    token_sha256: Annotated[
        str | None, typer.Option("--token-sha256", help="the token's SHA-256 (hex)")
    ] = None,
    token: Annotated[str | None, typer.Option(help="the token itself")] = None,
) -> None:
    """Every service refuses the token from now on."""
    actor = _options(ctx).actor
    if (token_sha256 is None) == (token is None):
        raise _fail(
            Refused("请给出 --token 或 --token-sha256 之一", "give --token or --token-sha256")
        )
    digest = (token_sha256 or hash_token(token or "")).lower()

    def decide(accounts: Accounts) -> list[Event]:
        if digest not in accounts.get(user).tokens:
            raise Refused(
                f"{user} 没有这个有效令牌", f"{user} has no such token (or it is revoked already)"
            )
        return [TokenRevoked(user=user, token_sha256=digest, actor=actor)]

    _change(ctx, decide)
    typer.echo(f"已吊销 {user} 的令牌 / token of {user} revoked")


@accounts_app.command("list")
def list_accounts(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Every account: name, role, unit, disabled, second factor, tokens (never a hash or a
    secret)."""
    accounts = _on_accounts(ctx, read_accounts)
    rows = [accounts.by_user[u].row() for u in sorted(accounts.by_user)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(
        "用户 user",
        "姓名 name",
        "角色 role",
        "单位 unit",
        "类型 kind",
        "停用 disabled",
        "动态码 2FA",
        "令牌 tokens",
    )
    for row in rows:
        table.add_row(
            row["user"],
            row["display_name"],
            row["role"],
            row["unit"] or "-",
            row["kind"],
            "是 yes" if row["disabled"] else "",
            "有 yes" if row["second_factor"] else "",
            str(row["tokens"]),
        )
    # Piped, a table as wide as it needs: names are not cut to an 80-column default.
    Console(width=None if sys.stdout.isatty() else 200).print(table)
