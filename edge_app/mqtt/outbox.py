"""The durable outbox: every result is written here before its input is acknowledged.

SQLite in WAL mode under the state directory, `synchronous=FULL`: each write is one
transaction and one fsync (the service's writer stores every micro-batch queued behind the model in
one, and deletes the rows acknowledged since in the same transaction), so a power cut cannot lose a result whose input the broker already
forgot (what a commit costs, alone and per message: docs/reliability.md).
A row leaves only when the broker has acknowledged the publish with a success code.

A state file SQLite cannot read is moved aside (`outbox.sqlite3.corrupt-<time>`) with one log
line and a fresh outbox is started, instead of crash-looping the service.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
SIDECARS = ("-wal", "-shm")


@dataclass(frozen=True)
class OutMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    correlation: bytes | None = None  # MQTT v5 correlation data of a request/response
    row_id: int = 0


class Outbox:
    def __init__(self, path: Path, max_messages: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_messages = max_messages
        self.moved_aside: Path | None = None  # set when a corrupt file was replaced at open
        self._lock = threading.Lock()
        try:
            self._db, self._count = self._open()
        except sqlite3.DatabaseError as exc:
            self.moved_aside = self._move_aside(exc)
            self._db, self._count = self._open()

    def _open(self) -> tuple[sqlite3.Connection, int]:
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # fsync per commit: survives a power cut, not only a crash
            db.execute(
                "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
                " payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, correlation BLOB)"
            )
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            return db, db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        except sqlite3.DatabaseError:
            db.close()
            raise

    def _move_aside(self, exc: Exception) -> Path:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("", *SIDECARS):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.rename(f"{aside}{suffix}")
        log.error(
            "outbox %s is unreadable (%s): moved it to %s and started an empty one; results it held are "
            "not sent (their inputs were acknowledged)",
            self.path,
            exc,
            aside,
        )
        return aside

    def __len__(self) -> int:
        return self._count

    @property
    def full(self) -> bool:
        return self._count >= self.max_messages

    def _transaction(self, statements) -> list[int]:
        """Run `statements(cursor)` in one transaction; roll back (and re-raise) if any fails."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            out = statements(cur)
            cur.execute("COMMIT")
            return out
        except BaseException:
            if self._db.in_transaction:
                self._db.rollback()
            raise

    def add(self, messages: list[OutMessage], remove: list[int] | None = None) -> list[OutMessage]:
        """Store messages in one transaction (one fsync); returns them with their row ids. `remove`:
        row ids of acknowledged messages to delete in the same transaction (one fsync for both)."""

        def insert(cur: sqlite3.Cursor) -> list[int]:
            removed = self._delete(cur, remove or [])
            ids = []
            for m in messages:
                cur.execute(
                    "INSERT INTO outbox (topic, payload, qos, retain, correlation) VALUES (?, ?, ?, ?, ?)",
                    (m.topic, m.payload, m.qos, int(m.retain), m.correlation),
                )
                ids.append(cur.lastrowid)
            return [removed, *ids]

        with self._lock:
            removed, *ids = self._transaction(insert)
            self._count = max(0, self._count - removed) + len(ids)
        return [OutMessage(m.topic, m.payload, m.qos, m.retain, m.correlation, i) for m, i in zip(messages, ids)]

    @staticmethod
    def _delete(cur: sqlite3.Cursor, row_ids: list[int]) -> int:
        if not row_ids:
            return 0
        cur.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in row_ids])
        return cur.rowcount if cur.rowcount >= 0 else len(row_ids)

    def remove(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        with self._lock:
            (removed,) = self._transaction(lambda cur: [self._delete(cur, row_ids)])
            self._count = max(0, self._count - removed)

    def pending(self, limit: int = 10_000) -> list[OutMessage]:
        """Oldest first, so a replay keeps the order results were produced in."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain, correlation FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [OutMessage(t, bytes(p), q, bool(r), c, i) for i, t, p, q, r, c in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
