"""The shared access token in the warehouse (books.crm_access_tokens), Fernet-encrypted.

Every task, sensor poke and worker reaching the warehouse reads the same row, so they use one
access token. A refresh holds a lock (PostgreSQL: a transaction-level advisory lock on the
row's key; SQLite: the database write lock that the engine's BEGIN IMMEDIATE takes) and reads
the row again under it, so concurrent tasks refresh once, not once each.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import db_now
from crm_books.zoho.auth import CrmCredentials, LockedStore, TokenState

log = logging.getLogger(__name__)

TOKEN_TABLE = "crm_access_tokens"  # in schema books, created by migration 0014


class Cipher(Protocol):
    """Airflow's Fernet (`airflow.models.crypto.get_fernet()`) or anything shaped like it."""

    is_encrypted: bool

    def encrypt(self, msg: bytes) -> bytes: ...

    def decrypt(self, msg: bytes | str) -> bytes: ...


def airflow_cipher() -> Cipher:
    """Airflow's Fernet: real with `[core] fernet_key` set, else one that stores plain text."""
    from airflow.models.crypto import get_fernet

    cipher: Cipher = get_fernet()
    if not cipher.is_encrypted:
        log.warning(
            "No Airflow fernet key: the shared Zoho access token is stored unencrypted in "
            "books.crm_access_tokens. Set [core] fernet_key to encrypt it."
        )
    return cipher


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WarehouseTokenStore:
    """The token store in the warehouse's books.crm_access_tokens (migration 0014).

    :param engine: a writing engine on the migrated warehouse.
    :param credentials: whose token the row holds (keyed by a hash, never the refresh token).
    :param cipher: encrypts the stored token (Airflow's Fernet by default).
    :param reader: an engine for the unlocked read; on SQLite a read-only one, so reading the
        token never queues behind a load holding the write lock. Defaults to ``engine``.
    """

    def __init__(
        self,
        engine: Engine,
        credentials: CrmCredentials,
        *,
        cipher: Cipher | None = None,
        reader: Engine | None = None,
    ) -> None:
        self.engine = engine
        self.reader = reader or engine
        self.key = credentials.store_key()
        self.accounts_url = credentials.accounts_url
        self.client_id = credentials.client_id
        self.cipher = cipher if cipher is not None else airflow_cipher()

    def read(self) -> TokenState:
        with self.reader.connect() as conn:
            return self._read(conn)

    @contextmanager
    def locked(self) -> Iterator[LockedStore]:
        with self.engine.begin() as conn:
            run_sql(conn, "zoho/lock_access_token", {"store_key": self.key})
            yield _LockedRow(self, conn)

    def expire(self, token: str) -> None:
        with self.engine.begin() as conn:
            run_sql(
                conn,
                "zoho/expire_access_token",
                {"store_key": self.key, "token_sha256": token_hash(token), "now": db_now()},
            )

    def _read(self, conn: Connection) -> TokenState:
        row = run_sql(conn, "zoho/select_access_token", {"store_key": self.key}).one_or_none()
        if row is None:
            return TokenState()
        return TokenState(
            self._decrypt(row.access_token, bool(row.encrypted)),
            float(row.expires_at),
            float(row.denied_until),
            int(row.grants),
        )

    def _write(self, conn: Connection, state: TokenState) -> None:
        token = state.token
        params: dict[str, Any] = {
            "store_key": self.key,
            "accounts_url": self.accounts_url,
            "client_id": self.client_id,
            "access_token": None if token is None else self._encrypt(token),
            "token_sha256": None if token is None else token_hash(token),
            "encrypted": token is not None and self.cipher.is_encrypted,
            "expires_at": state.expires_at,
            "denied_until": state.denied_until,
            "grants": state.grants,
            "now": db_now(),
        }
        run_sql(conn, "zoho/upsert_access_token", params)

    def _encrypt(self, token: str) -> str:
        return self.cipher.encrypt(token.encode()).decode()

    def _decrypt(self, stored: str | None, encrypted: bool) -> str | None:
        """The token, or None when it cannot be read here (no key, or another key): refresh."""
        if stored is None:
            return None
        if not encrypted:
            return stored
        if not self.cipher.is_encrypted:
            log.warning("The stored Zoho access token is encrypted but no fernet key is set")
            return None
        try:
            return self.cipher.decrypt(stored.encode()).decode()
        except Exception:  # cryptography's InvalidToken: the fernet key was changed
            log.warning("The stored Zoho access token does not decrypt with this fernet key")
            return None


class _LockedRow:
    """The store's row inside the transaction that holds its refresh lock."""

    def __init__(self, store: WarehouseTokenStore, conn: Connection) -> None:
        self.store = store
        self.conn = conn

    def read(self) -> TokenState:
        return self.store._read(self.conn)

    def write(self, state: TokenState) -> None:
        self.store._write(self.conn, state)
