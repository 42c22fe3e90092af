"""CLI commands (synth); filled in by its owner."""

from __future__ import annotations

from . import main  # noqa: F401
