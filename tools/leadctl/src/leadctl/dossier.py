"""Checking a dossier (专题材料) offline: every entry of the ZIP against the size and SHA-256
its manifest gives, every entry added, missing or changed named, and the manifest's
signature against the public keys given.

Nothing is extracted to disk, and nothing is trusted for its size: the number of entries,
each entry's bytes and the bytes read in all are bounded while they are read (a ZIP's
declared sizes can lie), and an entry whose name could climb out of a folder is named as
unsafe."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from common.dossier import (
    LARGEST_ENTRY,
    LARGEST_MANIFEST,
    MANIFEST,
    MOST_ENTRIES,
    check_signature,
)

#: far above any dossier, far below what would fill a disk or a day
MOST_READ: Final = 4 * 1024 * 1024 * 1024
_CHUNK: Final = 1024 * 1024


@dataclass
class Verdict:
    """What was found: the problems, each naming the entry, and the signature's state."""

    path: str
    entries: int = 0
    signature: str = "unchecked"
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, kind: str, detail: str) -> None:
        self.problems.append((kind, detail))

    def as_dict(self) -> dict[str, Any]:
        return {
            "dossier": self.path,
            "entries": self.entries,
            "signature": self.signature,
            "ok": self.ok,
            "problems": [{"kind": k, "detail": d} for k, d in self.problems],
        }


class _TooLarge(Exception):
    pass


def _unsafe(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or ".." in path.parts
        or (len(name) > 1 and name[1] == ":")
    )


def _digest(source: IO[bytes], budget: int) -> tuple[int, str]:
    """Size and SHA-256 of an entry, reading at most ``budget`` bytes (then _TooLarge)."""
    sha, size = hashlib.sha256(), 0
    while chunk := source.read(_CHUNK):
        size += len(chunk)
        if size > budget:
            raise _TooLarge
        sha.update(chunk)
    return size, sha.hexdigest()


def check(path: Path, keys: Mapping[str, Ed25519PublicKey] | None) -> Verdict:
    verdict = Verdict(str(path))
    try:
        with zipfile.ZipFile(path) as bundle:
            _check(bundle, keys, verdict)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        verdict.problem("unreadable", f"not a readable ZIP: {exc}")
    return verdict


def _check(
    bundle: zipfile.ZipFile, keys: Mapping[str, Ed25519PublicKey] | None, verdict: Verdict
) -> None:
    infos = bundle.infolist()
    verdict.entries = len(infos)
    if len(infos) > MOST_ENTRIES:
        verdict.problem("too many entries", f"{len(infos)} entries, at most {MOST_ENTRIES}")
        return
    names: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.is_dir():
            continue
        if _unsafe(info.filename):
            verdict.problem("unsafe name", info.filename)
        if info.filename in names:
            verdict.problem("duplicate", info.filename)
        names[info.filename] = info
    manifest = _manifest(bundle, names.get(MANIFEST), verdict)
    if manifest is None:
        return
    listed = _listed(manifest, verdict)
    budget = MOST_READ
    for name, info in names.items():
        if name == MANIFEST:
            continue
        expected = listed.pop(name, None)
        if expected is None:
            verdict.problem("added", name)
            continue
        if info.file_size != expected[0]:
            verdict.problem("changed", f"{name}: size {info.file_size}, manifest {expected[0]}")
            continue
        try:
            with bundle.open(info) as source:
                size, sha = _digest(source, min(LARGEST_ENTRY, budget))
        except _TooLarge:
            verdict.problem("too large", name)
            return
        except (zipfile.BadZipFile, RuntimeError, ValueError, OSError) as exc:
            verdict.problem("changed", f"{name}: unreadable ({exc})")
            continue
        budget -= size
        if (size, sha) != expected:
            verdict.problem("changed", f"{name}: its SHA-256 is not the manifest's")
    for name in listed:
        verdict.problem("missing", name)
    verdict.signature = check_signature(manifest, keys or {})
    if (keys and verdict.signature != "valid") or verdict.signature == "malformed":
        verdict.problem("signature", verdict.signature)
    elif not keys and verdict.signature == "unknown_key":
        verdict.signature = "signed, not checked (give --public-key)"


def _manifest(
    bundle: zipfile.ZipFile, info: zipfile.ZipInfo | None, verdict: Verdict
) -> dict[str, Any] | None:
    if info is None:
        verdict.problem("missing", MANIFEST)
        return None
    try:
        with bundle.open(info) as source:
            raw = source.read(LARGEST_MANIFEST + 1)
        if len(raw) > LARGEST_MANIFEST:
            raise _TooLarge
        found = json.loads(raw.decode("utf-8"))
    except _TooLarge:
        verdict.problem("too large", MANIFEST)
        return None
    except (ValueError, RecursionError, RuntimeError, zipfile.BadZipFile) as exc:
        verdict.problem("changed", f"{MANIFEST}: not a readable manifest ({exc})")
        return None
    if not isinstance(found, dict) or not isinstance(found.get("entries"), list):
        verdict.problem("changed", f"{MANIFEST}: it lists no entries")
        return None
    return found


def _listed(manifest: dict[str, Any], verdict: Verdict) -> dict[str, tuple[int, str]]:
    listed: dict[str, tuple[int, str]] = {}
    for entry in manifest["entries"][: MOST_ENTRIES + 1]:
        try:
            name, size, sha = entry["path"], entry["size"], entry["sha256"]
        except (TypeError, KeyError):
            verdict.problem("changed", f"{MANIFEST}: an entry without path, size and sha256")
            continue
        if not (isinstance(name, str) and type(size) is int and isinstance(sha, str)):
            verdict.problem("changed", f"{MANIFEST}: a malformed entry")
            continue
        listed[name] = (size, sha)
    return listed


def lines_of(verdict: Verdict) -> list[str]:
    if verdict.ok:
        return [
            f"ok: {verdict.path}: {verdict.entries} entries as the manifest lists them;"
            f" signature {verdict.signature}"
        ]
    return [f"FAILED: {verdict.path}"] + [
        f"  {kind}: {detail}" for kind, detail in verdict.problems
    ]
