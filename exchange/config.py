"""All configuration is parsed here, once, from the environment (Redash's rule).

Nothing in the application reads ``os.environ`` elsewhere. The embedded default needs no
services: SQLite for the database and SQLite (kombu's ``sqla+sqlite://`` transport) for the
Celery broker, both under ``instance/``. Production sets ``EXCHANGE_DATABASE_URL`` (PostgreSQL)
and ``EXCHANGE_BROKER_URL`` (Redis).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Config", "load_config"]


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
    extra: dict[str, object] = field(default_factory=dict)

    def flask_mapping(self) -> dict[str, object]:
        return {
            "SECRET_KEY": self.secret_key,
            "MAX_CONTENT_LENGTH": self.max_upload_bytes,
            "TESTING": self.testing,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "EXCHANGE": self,
            "CELERY": self.celery_mapping(),
            **self.extra,
        }

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
            "task_serializer": "json",
            "result_serializer": "json",
            "accept_content": ["json"],
        }


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
    values.update(overrides)
    return Config(**values)  # type: ignore[arg-type]
