"""``exchange serve`` runs the portal and a worker together, and stops both."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A client that keeps cookies, as a browser does: a check is readable only by the session that
# made it (exchange.security.check_access).
_OPENER = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())


def _request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    request = urllib.request.Request(url, data=data, headers=headers or {})
    # Generous: the suite runs this beside CPU-heavy tests (argon2) on two cores.
    with _OPENER.open(request, timeout=60) as response:
        return response.status, dict(response.headers), response.read()


def _multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_serve_runs_portal_and_worker_and_stops_both(tmp_path: Path, valid_csv: bytes) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")} | {
        "EXCHANGE_INSTANCE_PATH": str(tmp_path / "instance"),
        "EXCHANGE_INLINE_VALIDATION_BYTES": "1",  # every upload goes to the worker
    }
    exchange = Path(sys.executable).with_name("exchange")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exchange), "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                status, _, _ = _request(f"{base}/")
                break
            except OSError:  # refused or timed out while gunicorn boots
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"portal did not come up:\n{log.read_text()}")
                time.sleep(0.3)
        assert status == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 3  # gunicorn master and worker, celery worker

        body, content_type = _multipart("file", "durham.csv", valid_csv)
        status, headers, _ = _request(
            f"{base}/api/v1/validate", body, {"Content-Type": content_type}
        )
        assert status == 202
        job: dict[str, object] = {}
        while job.get("status") not in ("done", "failed"):
            if time.monotonic() > deadline + TIMEOUT:
                pytest.fail(f"job not finished:\n{log.read_text()}")
            time.sleep(0.3)
            job = json.loads(_request(base + headers["Location"])[2])
        assert job["status"] == "done", job

        proc.send_signal(signal.SIGINT)  # as Ctrl-C does (a terminal signals the whole group)
        assert proc.wait(timeout=40) == 0
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"still running: {alive}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
