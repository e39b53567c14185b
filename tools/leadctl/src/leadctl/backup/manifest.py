"""The manifest: what a backup holds, when it was taken, each stream's state and each
file's size and SHA-256. It is written last and atomically (a temporary file renamed over
nothing), so a directory without one is an unfinished backup, never a complete one."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

FORMAT: Final = "leads-backup/1"
MANIFEST: Final = "manifest.json"
# A manifest is a few kilobytes; a bigger file is not one.
MANIFEST_MAX_BYTES: Final = 1024 * 1024


class BackupUnusable(Exception):
    """The directory holds no complete, intact backup; says what is wrong."""


class FileEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(max_length=200)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class StreamEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stream: str = Field(pattern=r"^[A-Z_]{1,64}$")
    file: FileEntry
    # As the server gave them at the snapshot: a restore sends them back unchanged.
    config: dict[str, Any]
    state: dict[str, Any]
    snapshot_bytes: int = Field(ge=0)


class DatabaseEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str = Field(pattern=r"^[a-z]{1,32}$")
    file: FileEntry
    tables: dict[str, int]
    dialect: str
    left_out: list[str] = Field(
        default_factory=list,
        description="tables the database held that are neither kept nor rebuilt from the log",
    )


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str
    started_at: datetime
    finished_at: datetime
    seconds: float
    recipient: str
    streams: list[StreamEntry]
    missing_streams: list[str] = Field(default_factory=list)
    databases: list[DatabaseEntry]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def entry_for(directory: Path, path: Path) -> FileEntry:
    return FileEntry(
        path=path.relative_to(directory).as_posix(),
        bytes=path.stat().st_size,
        sha256=sha256_of(path),
    )


def write(directory: Path, manifest: Manifest) -> Path:
    """Write the manifest durably: every file it names and the manifest itself reach the
    disk before the rename makes the backup complete."""
    for entry in [*(s.file for s in manifest.streams), *(d.file for d in manifest.databases)]:
        _fsync(directory / entry.path)
    temporary = directory / f".{MANIFEST}.partial"
    temporary.write_text(manifest.model_dump_json(indent=2))
    _fsync(temporary)
    final = directory / MANIFEST
    os.replace(temporary, final)
    _fsync_directory(directory)
    return final


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    for d in {directory, *[p for p in directory.iterdir() if p.is_dir()]}:
        _fsync(d)


def inside(directory: Path, relative: str) -> Path:
    """A file the manifest names, refused unless it lies inside the backup's directory."""
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise BackupUnusable(f"the manifest names a file outside the backup: {relative!r}")
    return directory.joinpath(*pure.parts)


def read(directory: Path) -> Manifest:
    """The manifest, after checking every file it names against its size and SHA-256."""
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupUnusable(
            f"{directory} has no {MANIFEST}: the backup was not finished (or this is not one)"
        )
    if path.stat().st_size > MANIFEST_MAX_BYTES:
        raise BackupUnusable(f"{MANIFEST} is larger than {MANIFEST_MAX_BYTES} bytes")
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise BackupUnusable(f"{MANIFEST} does not read as a manifest: {exc}") from exc
    if manifest.format != FORMAT:
        raise BackupUnusable(f"format {manifest.format!r}; this leadctl reads {FORMAT!r}")
    problems = []
    for entry in [*(s.file for s in manifest.streams), *(d.file for d in manifest.databases)]:
        file = inside(directory, entry.path)
        if not file.is_file():
            problems.append(f"{entry.path}: missing")
        elif file.stat().st_size != entry.bytes:
            problems.append(
                f"{entry.path}: {file.stat().st_size} bytes, manifest says {entry.bytes}"
            )
        elif sha256_of(file) != entry.sha256:
            problems.append(f"{entry.path}: SHA-256 differs from the manifest's")
    if problems:
        raise BackupUnusable("; ".join(problems))
    return manifest
