"""A key store restored from a backup older than an evidence key's destruction: the log's
EvidenceKeyDestroyed is carried out on it, as a shredding is, whichever way it is loaded
(row by row as the dump is read, or on a key store loaded already)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, select

from intake.recorded_shreds import destroy_shredded_keys, without_shredded_keys
from intake.vault import evidence_keys, identity_keys, vault_metadata

MADE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
GONE = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


def test_a_dumped_evidence_key_whose_destruction_the_log_records_is_loaded_destroyed() -> None:
    load = without_shredded_keys({}, [], evidence_gone={"lost": GONE})

    row = load(
        evidence_keys.name, {"lead_id": "lost", "wrapped_key": b"k" * 40, "created_at": MADE}
    )
    kept = load(
        evidence_keys.name, {"lead_id": "kept", "wrapped_key": b"j" * 40, "created_at": MADE}
    )
    # The identity key of the same lead is another key: its own shredding decides it.
    identity = load(identity_keys.name, {"lead_id": "lost", "wrapped_key": b"i" * 40})

    assert row["wrapped_key"] is None
    assert row["destroyed_at"] == GONE
    assert kept["wrapped_key"] == b"j" * 40
    assert identity["wrapped_key"] == b"i" * 40


def test_a_loaded_key_store_loses_the_evidence_keys_destroyed_since(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'intake.db'}")
    vault_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(evidence_keys),
            [
                {"lead_id": "lost", "wrapped_key": b"k" * 40, "created_at": MADE},
                {"lead_id": "kept", "wrapped_key": b"j" * 40, "created_at": MADE},
            ],
        )
        conn.execute(
            insert(identity_keys),
            [{"lead_id": "lost", "wrapped_key": b"i" * 40, "created_at": MADE}],
        )

    shredded = destroy_shredded_keys(engine, {}, {"lost": GONE})

    with engine.connect() as conn:
        held = {r.lead_id: r for r in conn.execute(select(evidence_keys))}
        identity = conn.execute(select(identity_keys.c.wrapped_key)).scalar_one()
    engine.dispose()
    assert shredded == [], "no identity was shredded"
    assert held["lost"].wrapped_key is None
    assert held["lost"].destroyed_at == GONE
    assert held["kept"].wrapped_key == b"j" * 40
    assert identity == b"i" * 40
