"""Operators add API users with leadctl: the token is shown once, the file keeps its hash."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from common.auth import Directory
from common.events import Role
from leadctl.cli import app


def add(users: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["add-user", *args, "--users-file", str(users)])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_an_added_user_signs_in_with_the_token_shown_once_and_the_file_holds_only_its_hash(
    tmp_path: Path,
) -> None:
    users = tmp_path / "users.toml"
    token = add(
        users, "wang.wei", "--role", "police", "--name", '王伟 "老王"', "--unit", "shd-police"
    )

    principal = Directory.from_file(users).authenticate(token)

    assert principal is not None
    assert (principal.user, principal.role, principal.unit) == (
        "wang.wei",
        Role.POLICE,
        "shd-police",
    )
    assert principal.display_name == '王伟 "老王"'
    assert token not in users.read_text()


def test_adding_a_user_again_replaces_the_old_token(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    old = add(users, "li.na", "--role", "office", "--name", "李娜", "--unit", "shd-office")
    new = add(users, "li.na", "--role", "office", "--name", "李娜", "--unit", "shd-office")

    directory = Directory.from_file(users)

    assert directory.authenticate(old) is None
    assert directory.authenticate(new) is not None


def test_an_unknown_unit_or_a_role_that_is_no_account_is_refused(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    for args in (
        ["x.y", "--role", "police", "--name", "某", "--unit", "nowhere"],
        ["x.y", "--role", "reporter", "--name", "某"],
    ):
        result = CliRunner().invoke(app, ["add-user", *args, "--users-file", str(users)])
        assert result.exit_code != 0
    assert not users.exists()
