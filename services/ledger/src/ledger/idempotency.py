"""The Idempotency-Key header a client sends with a command that makes something new (an
item of the rectification ledger, a notice's draft): a retry with the same key gets what
the first attempt made, never a second one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=16,
        max_length=200,
        description="重试时发送同一值：得到同一份，不会重复新增 / Send the same key when"
        " retrying: the same one comes back, never a second one.",
    ),
]
