"""`reprise dev`'s admin key and dashboard login link, so that `make dev` stays the only command needed.

On the first start an admin key is made and saved in `<state dir>/admin-key` (mode 600); later starts reuse it
while it still works (a reset database or a revoked key gets a new one). Each start prints a one-time login link
(`/login?token=...`, valid LOGIN_LINK_TTL_S): opening it logs the browser in to the dashboard.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from contract.access import Scope
from storage import KeyNameTaken, KeyRepository, create_pool

KEY_FILE = "admin-key"
KEY_NAME = "reprise-dev"
LOGIN_LINK_TTL_S = 15 * 60


@dataclass(frozen=True)
class DevLogin:
    key_path: Path
    created: bool  # a new key this start
    login_path: str  # /login?token=...


def _read_key(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _write_key(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    path.chmod(0o600)


async def prepare_login(database_url: str, state_dir: Path) -> DevLogin:
    """The admin key (made on the first start) and a fresh one-time login link for it."""
    path = state_dir / KEY_FILE
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        keys = KeyRepository(pool)
        saved = _read_key(path)
        record = await keys.verify(saved) if saved else None
        created = record is None
        if record is None:
            try:
                new = await keys.create(KEY_NAME, Scope.ADMIN)
            except KeyNameTaken:  # its file was lost: that key can never be shown again
                await keys.revoke(KEY_NAME)
                new = await keys.create(KEY_NAME, Scope.ADMIN)
            _write_key(path, new.secret)
            record = new.record
        token = await keys.login_token(record.id, ttl_s=LOGIN_LINK_TTL_S)
    finally:
        await pool.close()
    return DevLogin(key_path=path, created=created, login_path=f"/login?token={token}")
