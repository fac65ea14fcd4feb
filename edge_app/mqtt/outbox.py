"""The durable outbox: every result is written here before its input is acknowledged.

SQLite in WAL mode under the state directory. A row leaves only when the broker has
acknowledged the publish, so a broker outage, a crash or a power cut between classifying and
delivering means a replay (perhaps a duplicate), never a loss.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path


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
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a process crash
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
            " payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, correlation BLOB)"
        )
        self._count = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def __len__(self) -> int:
        return self._count

    @property
    def full(self) -> bool:
        return self._count >= self.max_messages

    def add(self, messages: list[OutMessage]) -> list[OutMessage]:
        """Store messages in one transaction; returns them with their row ids."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            stored = []
            for m in messages:
                cur.execute(
                    "INSERT INTO outbox (topic, payload, qos, retain, correlation) VALUES (?, ?, ?, ?, ?)",
                    (m.topic, m.payload, m.qos, int(m.retain), m.correlation),
                )
                stored.append(OutMessage(m.topic, m.payload, m.qos, m.retain, m.correlation, cur.lastrowid))
            cur.execute("COMMIT")
            self._count += len(stored)
            return stored

    def remove(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            cur.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in row_ids])
            removed = cur.rowcount if cur.rowcount >= 0 else len(row_ids)
            cur.execute("COMMIT")
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
