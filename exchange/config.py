"""All configuration is parsed here, once, from the environment (Redash's rule).

Nothing in the application reads ``os.environ`` elsewhere. The embedded default needs no
services: SQLite for the database and SQLite (kombu's ``sqla+sqlite://`` transport) for the
Celery broker, both under ``instance/``. Production sets ``EXCHANGE_DATABASE_URL`` (PostgreSQL)
and ``EXCHANGE_BROKER_URL`` (Redis).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab

from .security.crypto import Keyring, generate_key, new_key_id

__all__ = [
    "MASTER_KEYS_FILENAME",
    "Config",
    "decode_master_key",
    "load_config",
    "parse_master_keys",
    "read_master_keys_file",
    "update_master_keys_file",
]

# The embedded default's keyring, generated on first run under instance/ (see _master_keys).
MASTER_KEYS_FILENAME = "master-keys.json"


@dataclass(frozen=True)
class Config:
    instance_path: Path
    database_url: str
    broker_url: str
    result_backend: str
    secret_key: str
    # Largest upload accepted, in bytes (the 1,000,000-row benchmark file is about 70 MB).
    max_upload_bytes: int = 200 * 1024 * 1024
    # Uploads above this many bytes are validated by a Celery job rather than in the request.
    inline_validation_bytes: int = 2 * 1024 * 1024
    testing: bool = False
    # Sign-in security (exchange.security.auth). Secure (HTTPS-only) cookies are off for the
    # embedded default on http://127.0.0.1; production behind TLS sets EXCHANGE_SECURE_COOKIES=1.
    secure_cookies: bool = False
    # Flask-Limiter storage for sign-in throttling: memory:// is per process; several processes
    # share counts through e.g. redis://host:6379/1 (EXCHANGE_RATELIMIT_STORAGE_URI).
    ratelimit_storage_uri: str = "memory://"
    login_rate_limit: str = "10/minute"  # per IP, on each sign-in POST
    # Privacy-loss budget per LA, indicator and period for differentially private releases
    # (pure-DP epsilon); an LA's own setting (Organisation.privacy_budget) overrides it.
    dp_budget: float = 4.0
    # Processes that protect a release's parts in parallel (0: one per core).
    release_workers: int = 0
    # Seconds before a broker redelivers an unacknowledged task (see celery_mapping): longer
    # than the longest job (a national release under suppression can take an hour).
    broker_visibility_timeout: int = 6 * 3600
    # Refresh releases and comparisons in the background after every accepted upload.
    refresh_after_accept: bool = True
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    extra: dict[str, object] = field(default_factory=dict)
    # Master keys wrapping each stored file's data key (exchange.security.crypto), by key id.
    # repr=False: a logged or printed Config never shows them.
    master_keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    active_key_id: str = ""
    # Where they come from: "env" (EXCHANGE_MASTER_KEYS), "file" (EXCHANGE_MASTER_KEYS_FILE, a
    # mounted secret) or "embedded" (instance/master-keys.json, generated on first run).
    master_keys_source: str = "embedded"
    master_keys_path: Path | None = None

    def keyring(self) -> Keyring:
        """The master keys now. A keyring file is re-read on every call (it is tiny), so a key
        added by ``exchange keys rotate`` or by updating a mounted secret reaches running
        processes without a restart; keys from the environment are fixed for the process."""
        if self.master_keys_source != "env" and self.master_keys_path is not None:
            return read_master_keys_file(self.master_keys_path)
        return Keyring(self.master_keys, self.active_key_id)

    def flask_mapping(self) -> dict[str, object]:
        return {
            "SECRET_KEY": self.secret_key,
            "MAX_CONTENT_LENGTH": self.max_upload_bytes,
            "TESTING": self.testing,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.secure_cookies,
            "PERMANENT_SESSION_LIFETIME": timedelta(minutes=self.session_idle_minutes),
            "RATELIMIT_STORAGE_URI": self.ratelimit_storage_uri,
            "EXCHANGE": self,
            "CELERY": self.celery_mapping(),
            **self.extra,
        }

    def _transport_options(self) -> dict[str, object]:
        # Redis (and SQS) redeliver an unacknowledged task after this many seconds: it must
        # exceed the longest job, or a job still running would be handed to a second worker.
        # Other transports have no such option (the SQLAlchemy one would pass it to its engine).
        if self.broker_url.split(":", 1)[0] in ("redis", "rediss", "sqs"):
            return {"visibility_timeout": self.broker_visibility_timeout}
        return {}

    def celery_mapping(self) -> dict[str, object]:
        """Celery settings (Flask's examples/celery keeps them in ``app.config["CELERY"]``)."""
        return {
            "broker_url": self.broker_url,
            "result_backend": self.result_backend,
            "broker_connection_retry_on_startup": True,
            # A task is acknowledged only when it has finished, and redelivered if the worker
            # dies mid-task; with prefetch 1 a worker holds no queue of unstarted tasks.
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "broker_transport_options": self._transport_options(),
            # Long analytics jobs (release rebuilds, comparisons) have their own queue, so a
            # worker serving it never holds up the validation of an upload.
            "task_routes": {"exchange.refresh_job": {"queue": ANALYTICS_QUEUE}},
            # For `celery -A workers.worker beat`: a nightly incremental recompute as a safety
            # net (a recompute with nothing changed does nothing).
            "beat_schedule": {
                "nightly-comparisons": {
                    "task": SCHEDULE_COMPARISONS_TASK,
                    "schedule": crontab(hour=2, minute=30),
                }
            },
            "task_serializer": "json",
            "result_serializer": "json",
            "accept_content": ["json"],
        }


SCHEDULE_COMPARISONS_TASK = "exchange.schedule_comparisons"
ANALYTICS_QUEUE = "analytics"
"""The Celery queue of the long analytics jobs (the default queue, "celery", has the rest)."""


def _secret_key(instance: Path, env: dict[str, str]) -> str:
    """The session-signing key: from the environment, else generated once into instance/.

    A generated key is only for the embedded default; it never leaves the machine and is not in
    git (instance/ is ignored).
    """
    if key := env.get("EXCHANGE_SECRET_KEY"):
        return key
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def decode_master_key(text: str, *, key_id: str, where: str) -> bytes:
    """One base64 master key (the encoding of EXCHANGE_MASTER_KEYS, keyring files and
    ``exchange keys rotate --new-key-file``)."""
    # Standard or URL-safe base64; validate=True so no stray character is silently dropped.
    # Errors name the key id and never echo the material.
    try:
        return base64.b64decode(text.strip(), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: master key {key_id!r} is not valid base64") from None


def parse_master_keys(spec: str, where: str = "EXCHANGE_MASTER_KEYS") -> dict[str, bytes]:
    """``"kid1:base64,kid2:base64"`` → ``{"kid1": b"...", "kid2": b"..."}`` (32 bytes each)."""
    keys: dict[str, bytes] = {}
    for number, item in enumerate((part.strip() for part in spec.split(",")), start=1):
        if not item:
            continue
        key_id, colon, text = item.partition(":")
        if not colon:
            raise ValueError(f"{where}: entry {number} is not of the form key-id:base64-key")
        key_id = key_id.strip()
        if key_id in keys:
            raise ValueError(f"{where}: master key id {key_id!r} appears twice")
        keys[key_id] = decode_master_key(text, key_id=key_id, where=where)
    if not keys:
        raise ValueError(f"{where} is set but holds no key")
    return keys


def read_master_keys_file(path: Path) -> Keyring:
    """A keyring file: ``{"active": "kid", "keys": {"kid": "base64", ...}}``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        keys, active = document["keys"], document["active"]
    except FileNotFoundError:
        raise ValueError(f"master keys file {path} does not exist") from None
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            f'master keys file {path} is not JSON of the form {{"active": "key-id", '
            '"keys": {"key-id": "base64-key"}}'
        ) from None
    if not isinstance(keys, dict) or not isinstance(active, str):
        raise ValueError(f"master keys file {path}: 'keys' must map key ids to base64 keys")
    where = f"master keys file {path}"
    keys = {str(k): decode_master_key(str(v), key_id=str(k), where=where) for k, v in keys.items()}
    return Keyring(keys, active)


def _write_master_keys_file(path: Path, keyring: Keyring) -> None:
    """Replace ``path`` atomically with ``keyring``: a temporary file created 0600 (mkstemp),
    flushed to disk, then renamed over the old one, so a reader sees the old or the new file,
    never half of one, and a crash never leaves a keyring that lost a key."""
    document = {
        "active": keyring.active_id,
        "keys": {k: base64.b64encode(keyring.keys[k]).decode() for k in keyring.ids},
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
    with suppress(OSError):  # make the rename itself durable (not possible on every platform)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


@contextmanager
def _keyring_lock(path: Path) -> Iterator[None]:
    # Serialises writers of the keyring file (first-run generation, rotation, retirement) across
    # processes: two rotations at once must each add their key, never overwrite the other's.
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def update_master_keys_file(path: Path, change: Callable[[Keyring], Keyring]) -> Keyring:
    """Read, ``change`` and rewrite a keyring file under an exclusive lock; return the result."""
    with _keyring_lock(path):
        keyring = change(read_master_keys_file(path))
        _write_master_keys_file(path, keyring)
        return keyring


def _embedded_keyring(path: Path) -> Keyring:
    """The embedded default's keyring, generated with one fresh key on first run. The app
    warns at start that these keys sit beside the data (exchange.security.crypto.init_app)."""
    if path.exists():
        return read_master_keys_file(path)
    with _keyring_lock(path):
        if path.exists():  # another process generated it while we waited for the lock
            return read_master_keys_file(path)
        key_id = new_key_id()
        keyring = Keyring({key_id: generate_key()}, key_id)
        _write_master_keys_file(path, keyring)
        return keyring


def _master_keys(instance: Path, env: dict[str, str]) -> dict[str, object]:
    """Config fields for the master keys: from EXCHANGE_MASTER_KEYS (+ EXCHANGE_ACTIVE_KEY_ID),
    from EXCHANGE_MASTER_KEYS_FILE, or the embedded default under instance/."""
    active: str | None = env.get("EXCHANGE_ACTIVE_KEY_ID") or None
    path: Path | None
    # "in env", not truthiness: an empty variable (a secret that failed to load) is an error,
    # not a silent fall-back to keys generated beside the data.
    if "EXCHANGE_MASTER_KEYS" in env and "EXCHANGE_MASTER_KEYS_FILE" in env:
        raise ValueError("set EXCHANGE_MASTER_KEYS or EXCHANGE_MASTER_KEYS_FILE, not both")
    if "EXCHANGE_MASTER_KEYS" in env:
        keys = parse_master_keys(env["EXCHANGE_MASTER_KEYS"])
        if active is None:
            if len(keys) > 1:
                raise ValueError(
                    "EXCHANGE_ACTIVE_KEY_ID must name the key that wraps new files "
                    "when EXCHANGE_MASTER_KEYS holds more than one"
                )
            (active,) = keys
        keyring, source, path = Keyring(keys, active), "env", None
    elif active is not None:
        raise ValueError(
            "EXCHANGE_ACTIVE_KEY_ID is set without EXCHANGE_MASTER_KEYS (a keyring file "
            "names its active key itself)"
        )
    elif "EXCHANGE_MASTER_KEYS_FILE" in env:
        path = Path(env["EXCHANGE_MASTER_KEYS_FILE"]).resolve()
        keyring, source = read_master_keys_file(path), "file"
    else:
        path = instance / MASTER_KEYS_FILENAME
        keyring, source = _embedded_keyring(path), "embedded"
    return {
        "master_keys": dict(keyring.keys),
        "active_key_id": keyring.active_id,
        "master_keys_source": source,
        "master_keys_path": path,
    }


def load_config(env: dict[str, str] | None = None, **overrides: object) -> Config:
    env = dict(os.environ if env is None else env)
    instance = Path(env.get("EXCHANGE_INSTANCE_PATH", "instance")).resolve()
    database_url = env.get("EXCHANGE_DATABASE_URL", f"sqlite:///{instance / 'exchange.db'}")
    broker_url = env.get("EXCHANGE_BROKER_URL", f"sqla+sqlite:///{instance / 'broker.db'}")
    result_backend = env.get("EXCHANGE_RESULT_BACKEND", f"db+sqlite:///{instance / 'results.db'}")
    values: dict[str, object] = {
        "instance_path": instance,
        "database_url": database_url,
        "broker_url": broker_url,
        "result_backend": result_backend,
        "secret_key": _secret_key(instance, env),
        "testing": env.get("EXCHANGE_TESTING", "") == "1",
    }
    if "EXCHANGE_MAX_UPLOAD_BYTES" in env:
        values["max_upload_bytes"] = int(env["EXCHANGE_MAX_UPLOAD_BYTES"])
    if "EXCHANGE_INLINE_VALIDATION_BYTES" in env:
        values["inline_validation_bytes"] = int(env["EXCHANGE_INLINE_VALIDATION_BYTES"])
    if "EXCHANGE_SECURE_COOKIES" in env:
        values["secure_cookies"] = env["EXCHANGE_SECURE_COOKIES"].lower() in ("1", "true", "yes")
    if "EXCHANGE_RATELIMIT_STORAGE_URI" in env:
        values["ratelimit_storage_uri"] = env["EXCHANGE_RATELIMIT_STORAGE_URI"]
    if "EXCHANGE_LOGIN_RATE_LIMIT" in env:
        values["login_rate_limit"] = env["EXCHANGE_LOGIN_RATE_LIMIT"]
    if "EXCHANGE_RELEASE_WORKERS" in env:
        values["release_workers"] = int(env["EXCHANGE_RELEASE_WORKERS"])
    if "EXCHANGE_BROKER_VISIBILITY_TIMEOUT" in env:
        values["broker_visibility_timeout"] = int(env["EXCHANGE_BROKER_VISIBILITY_TIMEOUT"])
    if "EXCHANGE_REFRESH_AFTER_ACCEPT" in env:
        values["refresh_after_accept"] = env["EXCHANGE_REFRESH_AFTER_ACCEPT"] not in ("0", "")
    if "EXCHANGE_DP_BUDGET" in env:
        values["dp_budget"] = float(env["EXCHANGE_DP_BUDGET"])
        if not values["dp_budget"] > 0:  # type: ignore[operator]
            raise ValueError("EXCHANGE_DP_BUDGET must be a positive number")
    values.update(_master_keys(instance, env))
    values.update(overrides)
    return Config(**values)  # type: ignore[arg-type]
