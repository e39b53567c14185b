"""`leadctl verify --dossier` on hostile ZIPs: too many entries, an entry that inflates past
the bound (a ZIP bomb), a manifest too large, names that would climb out of a folder, no
manifest at all. Each is refused by name, exit 1, and nothing is written to disk."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from leadctl import dossier
from tests.support.leadctl import leadctl, printed


def bundle(path: Path, entries: dict[str, bytes], listed: dict[str, bytes] | None = None) -> Path:
    """A ZIP of ``entries`` with a manifest listing ``listed`` (default: the entries)."""
    manifest = {
        "signed": False,
        "entries": [
            {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in (entries if listed is None else listed).items()
        ],
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as written:
        for name, data in entries.items():
            written.writestr(name, data)
        written.writestr("manifest.json", json.dumps(manifest))
    return path


def problems(path: Path) -> set[tuple[str, str]]:
    result = leadctl("verify", "--dossier", path, "--json")
    assert result.exit_code == 1, result.output
    return {(p["kind"], p["detail"].split(":")[0]) for p in printed(result)["problems"]}


def test_a_whole_dossier_passes(tmp_path: Path) -> None:
    path = bundle(tmp_path / "fine.zip", {"a.txt": b"a", "folder/b.txt": b"b"})
    result = leadctl("verify", "--dossier", path)
    assert result.exit_code == 0, result.output
    assert "ok:" in result.stdout


def test_too_many_entries_are_refused_before_any_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dossier, "MOST_ENTRIES", 5)
    path = bundle(tmp_path / "many.zip", {f"{n}.txt": b"x" for n in range(10)})
    assert problems(path) == {("too many entries", "11 entries, at most 5")}


def test_an_entry_inflating_past_the_bound_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dossier, "LARGEST_ENTRY", 1024 * 1024)
    zeros = bytes(16 * 1024 * 1024)  # 16 MiB of zeros: a few KiB compressed
    path = bundle(tmp_path / "bomb.zip", {"bomb.bin": zeros})
    assert path.stat().st_size < 100 * 1024
    assert problems(path) == {("too large", "bomb.bin")}


def test_a_manifest_too_large_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dossier, "LARGEST_MANIFEST", 64)
    path = bundle(tmp_path / "big-manifest.zip", {"a.txt": b"a"})
    assert problems(path) == {("too large", "manifest.json")}


def test_climbing_and_absolute_names_are_named_unsafe(tmp_path: Path) -> None:
    entries = {"../up.txt": b"1", "/etc/passwd": b"2", "C:\\windows.txt": b"3"}
    path = bundle(tmp_path / "slip.zip", entries)
    # Listed in the manifest, so only their names are at fault.
    assert problems(path) == {
        ("unsafe name", "../up.txt"),
        ("unsafe name", "/etc/passwd"),
        ("unsafe name", "C"),
    }
    assert not (tmp_path.parent / "up.txt").exists()


def test_no_manifest_and_not_a_zip_are_refused(tmp_path: Path) -> None:
    bare = tmp_path / "bare.zip"
    with zipfile.ZipFile(bare, "w") as written:
        written.writestr("a.txt", b"a")
    assert problems(bare) == {("missing", "manifest.json")}
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    assert {kind for kind, _ in problems(junk)} == {"unreadable"}
