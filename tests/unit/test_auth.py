"""Bearer tokens to principals, roles guarding routes, and the users file followed."""

import threading
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from common.auth import (
    Directory,
    Principal,
    UserRecord,
    hash_token,
    new_token,
    require_roles,
    write_users_file,
)
from common.events import Role

OFFICE_TOKEN = new_token()
POLICE_TOKEN = new_token()

OFFICE_USER = UserRecord(
    user="wang.fang",
    display_name="王芳",
    role=Role.OFFICE,
    unit="shd-office",
    token_sha256=hash_token(OFFICE_TOKEN),
)
POLICE_USER = UserRecord(
    user="li.wei",
    display_name="李伟",
    role=Role.POLICE,
    unit="shd-police",
    token_sha256=hash_token(POLICE_TOKEN),
)


def _office_app() -> FastAPI:
    app = FastAPI()
    app.state.directory = Directory([OFFICE_USER, POLICE_USER])

    @app.get("/office-only")
    def office_only(
        principal: Annotated[Principal, Depends(require_roles(Role.OFFICE))],
    ) -> dict[str, str | None]:
        return {"user": principal.user, "unit": principal.unit, "role": principal.role.value}

    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(_office_app())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_request_without_a_token_is_told_how_to_authenticate(client: TestClient) -> None:
    response = client.get("/office-only")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_request_with_another_scheme_is_treated_as_having_no_token(client: TestClient) -> None:
    response = client.get("/office-only", headers={"Authorization": f"Basic {OFFICE_TOKEN}"})
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]


def test_an_unknown_token_is_refused_as_not_valid(client: TestClient) -> None:
    response = client.get("/office-only", headers=_bearer(new_token()))
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]
    assert "invalid_token" in response.headers["WWW-Authenticate"]


def test_a_police_token_on_an_office_route_is_refused_with_the_allowed_roles(
    client: TestClient,
) -> None:
    response = client.get("/office-only", headers=_bearer(POLICE_TOKEN))
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "'police'" in detail
    assert "allowed: office" in detail


def test_an_office_token_on_an_office_route_comes_through_as_its_user_and_unit(
    client: TestClient,
) -> None:
    response = client.get("/office-only", headers=_bearer(OFFICE_TOKEN))
    assert response.status_code == 200
    assert response.json() == {"user": "wang.fang", "unit": "shd-office", "role": "office"}


def test_a_principal_acts_as_its_role_unit_and_user() -> None:
    principal = Directory([POLICE_USER]).authenticate(POLICE_TOKEN)
    assert principal is not None
    assert principal.actor.model_dump() == {
        "role": "police",
        "unit": "shd-police",
        "user": "li.wei",
    }


def test_a_users_file_written_and_read_back_authenticates_the_same_users(tmp_path: Path) -> None:
    path = tmp_path / "demo" / "users.toml"
    unitless = UserRecord(
        user="auditor",
        display_name="Auditor",
        role=Role.AUDITOR,
        token_sha256=hash_token("auditor-token"),
    )
    write_users_file(path, [OFFICE_USER, POLICE_USER, unitless])

    directory = Directory.from_file(path)

    assert directory.authenticate(OFFICE_TOKEN) == Principal(
        "wang.fang", "王芳", Role.OFFICE, "shd-office"
    )
    assert directory.authenticate(POLICE_TOKEN) == Principal(
        "li.wei", "李伟", Role.POLICE, "shd-police"
    )
    assert directory.authenticate("auditor-token") == Principal(
        "auditor", "Auditor", Role.AUDITOR, None
    )
    assert directory.authenticate(new_token()) is None


def test_a_users_file_holds_token_hashes_and_never_the_tokens(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    write_users_file(path, [OFFICE_USER, POLICE_USER])
    text = path.read_text("utf-8")
    assert OFFICE_TOKEN not in text
    assert POLICE_TOKEN not in text
    assert hash_token(OFFICE_TOKEN) in text


def test_a_missing_users_file_admits_nobody(tmp_path: Path) -> None:
    directory = Directory.from_file(tmp_path / "absent.toml")
    assert directory.authenticate(OFFICE_TOKEN) is None


# --- a running service follows the users file ------------------------------------------------


def _police_with(token: str) -> UserRecord:
    return POLICE_USER.model_copy(update={"token_sha256": hash_token(token)})


def test_a_replaced_token_stops_working_and_its_successor_works_without_a_new_directory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.toml"
    write_users_file(path, [OFFICE_USER, POLICE_USER])
    directory = Directory.from_file(path, recheck_seconds=0)
    assert directory.authenticate(POLICE_TOKEN) is not None

    successor = new_token()
    write_users_file(path, [OFFICE_USER, _police_with(successor)])

    assert directory.authenticate(POLICE_TOKEN) is None
    assert directory.authenticate(successor) == Principal(
        "li.wei", "李伟", Role.POLICE, "shd-police"
    )


def test_the_file_is_looked_at_again_only_once_the_recheck_interval_has_passed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.toml"
    write_users_file(path, [OFFICE_USER, POLICE_USER])
    directory = Directory.from_file(path, recheck_seconds=3600)

    write_users_file(path, [OFFICE_USER])

    # Not yet looked at: a stat per request would be a stat per request.
    assert directory.authenticate(POLICE_TOKEN) is not None


def test_a_users_file_that_no_longer_parses_keeps_the_users_last_read_and_says_so(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.toml"
    write_users_file(path, [OFFICE_USER, POLICE_USER])
    directory = Directory.from_file(path, recheck_seconds=0)

    for broken in (
        b'[[users]]\nuser = "li.wei"\nrole = ',  # cut short
        b'[[users]]\nuser = "li.wei"\nrole = "police"\n',  # no token hash
        b"\xff\xfe not UTF-8",
    ):
        path.write_bytes(broken)
        with capture_logs() as logs:
            assert directory.authenticate(POLICE_TOKEN) is not None, broken
            assert directory.authenticate(new_token()) is None
        [error] = [e for e in logs if e["event"] == "users_file_unreadable"]
        assert (error["log_level"], error["kept_users"]) == ("error", 2)

    write_users_file(path, [OFFICE_USER])
    assert directory.authenticate(POLICE_TOKEN) is None
    assert directory.authenticate(OFFICE_TOKEN) is not None


def test_a_deleted_users_file_admits_nobody_until_it_is_written_again(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    write_users_file(path, [OFFICE_USER, POLICE_USER])
    directory = Directory.from_file(path, recheck_seconds=0)

    path.unlink()
    assert directory.authenticate(OFFICE_TOKEN) is None
    assert directory.authenticate(POLICE_TOKEN) is None

    write_users_file(path, [OFFICE_USER])
    assert directory.authenticate(OFFICE_TOKEN) is not None


def test_a_reader_never_sees_a_users_file_half_written(tmp_path: Path) -> None:
    """The writer rewrites the file as fast as it can; every read of it, made meanwhile,
    is a whole file with both users."""
    path = tmp_path / "users.toml"
    write_users_file(path, [OFFICE_USER, POLICE_USER])
    stop = threading.Event()
    # More users make a longer file: a reader between truncation and write is likelier.
    crowd = [
        UserRecord(
            user=f"user{i:04d}",
            display_name=f"用户{i}",
            role=Role.CLERK,
            unit="shd-office",
            token_sha256=hash_token(f"t{i}"),
        )
        for i in range(20)
    ]

    def rewrite() -> None:
        while not stop.is_set():
            write_users_file(path, [OFFICE_USER, *crowd, POLICE_USER])

    writer = threading.Thread(target=rewrite)
    writer.start()
    seen_incomplete = []
    try:
        for _ in range(300):
            directory = Directory.from_file(path)
            if directory.authenticate(POLICE_TOKEN) is None:
                seen_incomplete.append(path.stat().st_size)
    finally:
        stop.set()
        writer.join()
    assert seen_incomplete == []
    assert [p.name for p in tmp_path.iterdir()] == ["users.toml"]


def test_a_new_users_file_is_readable_by_its_owner_only_and_a_replaced_one_keeps_its_mode(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.toml"
    write_users_file(path, [OFFICE_USER])
    assert path.stat().st_mode & 0o777 == 0o600

    path.chmod(0o640)
    write_users_file(path, [OFFICE_USER, POLICE_USER])
    assert path.stat().st_mode & 0o777 == 0o640
