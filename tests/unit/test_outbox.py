"""edge_app/mqtt/outbox.py without a broker: transactions, a corrupt file, fsync, and acknowledged
rows deleted with the next store. Each bug of issue #10 has a test here that failed on the old code."""

from __future__ import annotations

import sqlite3

import pytest

from edge_app.mqtt.outbox import Outbox, OutMessage


def test_outbox_rolls_back_a_failed_transaction(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", 100)
    with pytest.raises(sqlite3.IntegrityError):
        box.add([OutMessage("t", b"1", 1), OutMessage(None, b"2", 1)])  # type: ignore[arg-type]
    assert len(box) == 0 and box.pending() == []
    box.add([OutMessage("t", b"3", 1)])  # old code: "cannot start a transaction within a transaction"
    assert [m.payload for m in box.pending()] == [b"3"]
    box.close()


def test_corrupt_outbox_is_moved_aside_once(tmp_path, caplog):
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    box = Outbox(path, 100)  # old code: sqlite3.DatabaseError at every start (a crash loop)
    assert box.moved_aside and box.moved_aside.read_bytes().startswith(b"this is not")
    assert len(box) == 0
    box.add([OutMessage("t", b"x", 1)])
    assert [r.levelname for r in caplog.records if "unreadable" in r.message] == ["ERROR"]
    box.close()
    assert len(Outbox(path, 100)) == 1


def test_outbox_syncs_each_commit_to_disk(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", 10)
    # old code: synchronous=NORMAL (1), which a power cut can undo after the input was acknowledged
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    box.close()


def test_storing_a_batch_deletes_the_acknowledged_rows_in_the_same_transaction(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", 100)
    first = box.add([OutMessage("t", b"1", 1), OutMessage("t", b"2", 1)])
    second = box.add([OutMessage("t", b"3", 1)], remove=[first[0].row_id])
    assert len(box) == 2 and [m.payload for m in box.pending()] == [b"2", b"3"]
    with pytest.raises(sqlite3.Error):  # a failed store keeps the rows it was to delete
        box.add([OutMessage(None, b"4", 1)], remove=[first[1].row_id])  # type: ignore[arg-type]  (topic NOT NULL)
    assert len(box) == 2 and [m.payload for m in box.pending()] == [b"2", b"3"] and second[0].row_id
