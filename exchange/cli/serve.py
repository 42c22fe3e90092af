"""``exchange serve``: the portal (gunicorn) and a Celery worker, stopped together.

Both run as child processes with the same environment, so they share the instance folder, the
broker and the job store. Ctrl-C (or SIGTERM) stops both; if either exits on its own, the other
is stopped too and the command fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

import click
from flask import current_app

from exchange.config import ANALYTICS_QUEUE

from . import main

STOP_TIMEOUT = 30.0


def worker_command(queue: str = "celery") -> list[str]:
    # One task at a time in the worker's own process: the embedded default is one machine.
    # One worker per queue, so a long analytics job never holds up an upload's validation.
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.worker",
        "worker",
        "--pool=solo",
        f"--queues={queue}",
        f"--hostname={queue}@%h",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def web_command(host: str, port: int, workers: int) -> list[str]:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(workers),
        # Inline checks of files up to inline_validation_bytes run in the request.
        "--timeout",
        "120",
        "--access-logfile",
        "-",
        # No control socket in the home folder: two servers on one machine must not collide.
        "--no-control-socket",
        "exchange.app:create_app()",
    ]


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM every child still running (web first), then SIGKILL any that outlive the timeout."""
    for proc in processes.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for name, proc in processes.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            click.echo(f"serve: {name} did not stop in {STOP_TIMEOUT:.0f} s; killing it", err=True)
            proc.kill()
            proc.wait()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _declare_queues() -> None:
    """Declare the task queues once, before the web and worker processes start.

    The embedded broker (kombu's SQLAlchemy transport) creates a queue's row on first use
    without a lock, so a web process enqueuing a job and the worker starting at the same moment
    can both insert it; the loser's unique-constraint error kills the worker. Declaring first
    means both find the row already there.
    """
    celery = current_app.extensions["celery"]
    with celery.connection_for_write() as connection:
        channel = connection.default_channel
        for name in (celery.conf.task_default_queue, ANALYTICS_QUEUE):
            celery.amqp.queues[name](channel).declare()


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, type=click.IntRange(1, 65535), show_default=True)
@click.option(
    "--workers",
    "web_workers",
    default=2,
    type=click.IntRange(1, 32),
    show_default=True,
    help="Web server processes.",
)
def serve_command(host: str, port: int, web_workers: int) -> None:
    """Run the web portal and a Celery worker until Ctrl-C."""
    config = current_app.config["EXCHANGE"]
    # Creating the app above already made the instance folder and its secret key, so the web
    # processes all read the same key rather than racing to create one.
    env = {**os.environ, "EXCHANGE_INSTANCE_PATH": str(config.instance_path)}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    _declare_queues()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        processes["web"] = subprocess.Popen(web_command(host, port, web_workers), env=env)
        processes["worker"] = subprocess.Popen(worker_command(), env=env)
        processes["analytics worker"] = subprocess.Popen(worker_command(ANALYTICS_QUEUE), env=env)
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"serve: portal on http://{shown}:{port}/ (Ctrl-C stops it and the worker)")
        click.echo(f"serve: instance folder {config.instance_path}")
        while True:
            for name, proc in processes.items():
                if proc.poll() is not None:
                    raise click.ClickException(f"the {name} process exited ({proc.returncode})")
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("serve: stopping", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(processes)
