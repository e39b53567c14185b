"""The operator's backup key pair (age, X25519): backups are encrypted to the public key,
which may sit on every machine that takes them; only a restore needs the private key, which
is kept offline."""

from __future__ import annotations

import os
from pathlib import Path

from pyrage import IdentityError, RecipientError, x25519


class KeyUnusable(ValueError):
    """A key file that holds no age key of the expected kind."""


def new_pair(identity_file: Path, recipient_file: Path) -> str:
    """Write a new private key (owner-only, never overwritten) and its public key; returns
    the public key."""
    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    identity_file.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: a second `new` must not destroy the only key that opens the older backups.
    fd = os.open(identity_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"# public key: {recipient}\n{identity}\n")
    recipient_file.parent.mkdir(parents=True, exist_ok=True)
    recipient_file.write_text(recipient + "\n")
    return recipient


def _key_line(text: str, prefix: str, what: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(prefix):
            return line
    raise KeyUnusable(f"no {what} (a line starting with {prefix}) in the file")


def recipient(value_or_file: str) -> x25519.Recipient:
    """The public key, given as ``age1…`` or as a file holding it."""
    text = value_or_file
    if not value_or_file.startswith("age1"):
        text = Path(value_or_file).read_text()
    try:
        return x25519.Recipient.from_str(_key_line(text, "age1", "age public key"))
    except RecipientError as exc:
        raise KeyUnusable(f"not an age public key: {exc}") from exc


def identity(file: Path) -> x25519.Identity:
    try:
        return x25519.Identity.from_str(
            _key_line(file.read_text(), "AGE-SECRET-KEY-", "age private key")
        )
    except IdentityError as exc:
        raise KeyUnusable(f"{file}: not an age private key: {exc}") from exc
