"""``exchange keys``: the master keys that wrap stored files' data keys (status, rotate, retire).

Thin: the work, its transactions and its audit events are in exchange.actions.keys.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import NoReturn

import click

from . import main

ACTOR = "system (exchange keys)"

PRODUCTION_STEPS = """\
To rotate without downtime:
  1. Add it to EXCHANGE_MASTER_KEYS beside the current key(s) (or to the keyring file) and
     deploy every process, keeping the active key as it is: all of them can now read files
     wrapped under either key.
  2. Set EXCHANGE_ACTIVE_KEY_ID={key_id} and deploy again: new files use the new key.
  3. Run: exchange keys rotate --new-key-id {key_id}   (re-wraps every file's data key)
  4. When `exchange keys status` shows no file under the old key: exchange keys retire OLD-ID,
     then remove the old key from the secret store."""


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


@main.group("keys")
def keys_group() -> None:
    """Master keys of the files encrypted at rest: status, rotation, retirement."""


@keys_group.command("status")
def status_command() -> None:
    """Each master key id with the number of stored files its key wraps."""
    from flask import current_app

    from exchange.actions.keys import key_usage
    from exchange.extensions import db

    config = current_app.config["EXCHANGE"]
    keyring = config.keyring()
    usage = key_usage(db.session)
    where = f" ({config.master_keys_path})" if config.master_keys_path else ""
    click.echo(f"master keys from {config.master_keys_source}{where}")
    for key_id in keyring.ids:
        active = "active" if key_id == keyring.active_id else "      "
        click.echo(f"  {key_id}  {active}  {usage.get(key_id, 0)} file(s)")
    if missing := sorted(set(usage) - set(keyring.ids)):
        for key_id in missing:
            click.echo(
                f"  {key_id}  MISSING  {usage[key_id]} file(s) cannot be read: "
                "their key is not in the keyring",
                err=True,
            )
        raise SystemExit(1)


@keys_group.command("rotate")
@click.option(
    "--new-key-id",
    metavar="KID",
    help="Id of the new key (default: generated). Re-running with the id of an interrupted "
    "rotation finishes it.",
)
@click.option(
    "--new-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File holding the new key as base64 (32 bytes), e.g. from your secret store.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=200, show_default=True)
def rotate_command(new_key_id: str | None, new_key_file: Path | None, batch_size: int) -> None:
    """Make a new master key active and re-wrap every file's data key under it.

    With the embedded keyring (instance/master-keys.json) this does it all. With keys from
    EXCHANGE_MASTER_KEYS (or EXCHANGE_MASTER_KEYS_FILE) it generates the new key and shows the
    steps to install it; run it again with --new-key-id once the key is active everywhere.
    """
    from exchange.actions.keys import KeyManagementError, rotate_keys
    from exchange.config import decode_master_key
    from exchange.security.crypto import CryptoError

    new_key = None
    if new_key_file is not None:
        if new_key_id is None:
            _fail("--new-key-file needs --new-key-id")
        try:
            text = new_key_file.read_text(encoding="ascii")
            new_key = decode_master_key(text, key_id=new_key_id, where=str(new_key_file))
        except (UnicodeDecodeError, ValueError) as error:
            _fail(f"{new_key_file}: not a base64 key ({error})")
    try:
        rotation = rotate_keys(
            actor_label=ACTOR, new_key_id=new_key_id, new_key=new_key, batch_size=batch_size
        )
    except (KeyManagementError, CryptoError, ValueError) as error:
        _fail(str(error))
    if rotation.needs_install:
        if rotation.generated_key is not None:
            encoded = base64.b64encode(rotation.generated_key).decode()
            click.echo("New master key (shown once; it is not stored anywhere):")
            click.echo(f"  {rotation.key_id}:{encoded}")
        else:
            click.echo(f"{rotation.key_id} is not in the keyring yet.")
        click.echo(PRODUCTION_STEPS.format(key_id=rotation.key_id))
        return
    click.echo(
        f"rotated to master key {rotation.key_id}: {rotation.files_rewrapped} file(s) re-wrapped"
    )


@keys_group.command("retire")
@click.argument("key_id", metavar="KID")
def retire_command(key_id: str) -> None:
    """Remove master key KID, refused while it is active or any file still uses it."""
    from exchange.actions.keys import KeyManagementError, retire_key

    try:
        retirement = retire_key(key_id, actor_label=ACTOR)
    except (KeyManagementError, ValueError) as error:
        _fail(str(error))
    if retirement.removed_from_keyring_file:
        click.echo(f"retired master key {key_id}: removed from the keyring file")
    else:
        click.echo(
            f"retired master key {key_id}: no file uses it; now remove it from "
            "EXCHANGE_MASTER_KEYS (or the keyring file) in the secret store"
        )
