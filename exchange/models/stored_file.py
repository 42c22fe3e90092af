"""Files kept as uploaded (the raw bytes of a submission), encrypted at rest.

Envelope encryption (exchange.security.crypto): the file is encrypted with its own data key,
which is stored wrapped by the master key ``key_id``. Written and read only through
``exchange.actions.files`` (which binds the ciphertext to this row's id and purpose); master
key rotation re-wraps ``wrapped_key`` and never rewrites ``ciphertext``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class StoredFile(Base):
    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # What the file is for, e.g. "submission_raw"; part of the ciphertext's associated data.
    purpose: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)  # bytes of plaintext
    sha256: Mapped[str] = mapped_column(String(64))  # hex digest of the plaintext
    key_id: Mapped[str] = mapped_column(String(64), index=True)  # master key wrapping the data key
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    # Deferred: listing files or rotating keys never loads the (possibly large) ciphertext.
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"StoredFile(id={self.id!r}, purpose={self.purpose!r}, key_id={self.key_id!r})"
