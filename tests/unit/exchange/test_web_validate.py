"""Checking a file: the portal form and report pages, the downloads and the JSON API.

The ``app`` fixture has CSRF protection on, so portal POSTs carry the token from the form page.
Celery runs eagerly there, so the background path (large files) runs in the request.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from exchange.jobs import FileJobStore, Job, JobStatus, new_job_id

HEADER = (
    b"time_period,time_identifier,geographic_level,new_la_code,old_la_code,la_name,"
    b"indicator_id,breakdown_topic,breakdown,numerator,denominator,value\n"
)
ROW = (
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,%s,Total,Total,10,100,10.0\n"
)


def unknown_indicators(n: int) -> bytes:
    """A file whose n rows each name a different unknown indicator: n errors."""
    return HEADER + b"".join(ROW % f"t3_unknown_{i}".encode() for i in range(n))


def csrf_token(client: FlaskClient) -> str:
    html = client.get("/validate").get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def post_file(client: FlaskClient, data: bytes, filename: str = "return.csv", authority: str = ""):  # type: ignore[no-untyped-def]
    form = {
        "csrf_token": csrf_token(client),
        "file": (io.BytesIO(data), filename),
        "authority": authority,
    }
    return client.post("/validate", data=form, content_type="multipart/form-data")


def job_id_of(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 303
    match = re.fullmatch(r"/validate/jobs/([0-9a-f-]{36})", response.headers["Location"])
    assert match
    return match.group(1)


def problem_rows(html: str) -> list[list[str]]:
    """The cells (row, column, value, rule, message) of the problems table."""
    table = html[html.index('id="problems"') :]
    table = table[table.index("<tbody") : table.index("</tbody>")]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)
    ]


def store(app: Flask) -> FileJobStore:
    return FileJobStore(app.config["EXCHANGE"].instance_path)


# -- the form ---------------------------------------------------------------------------------


def test_validate_form_has_labelled_file_and_authority_fields(client: FlaskClient) -> None:
    html = client.get("/validate").get_data(as_text=True)
    assert '<label class="govuk-label govuk-label--m" for="file">' in html
    assert 'type="file"' in html
    assert 'enctype="multipart/form-data"' in html
    assert '<label class="govuk-label govuk-label--m" for="authority">' in html
    assert html.count("<option ") == 153 + 1
    assert '<option value="840">County Durham</option>' in html


def test_validate_post_without_csrf_token_is_400(client: FlaskClient, valid_csv: bytes) -> None:
    response = client.post(
        "/validate",
        data={"file": (io.BytesIO(valid_csv), "return.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)


def test_validate_post_without_file_shows_error_summary(client: FlaskClient) -> None:
    response = client.post(
        "/validate", data={"csrf_token": csrf_token(client)}, content_type="multipart/form-data"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<title>Error: Check a file" in html
    assert 'class="govuk-error-summary"' in html
    assert '<a href="#file">Select a CSV or Excel file</a>' in html
    assert 'id="file-error"' in html


def test_validate_post_with_unknown_authority_is_rejected(
    client: FlaskClient, valid_csv: bytes
) -> None:
    response = post_file(client, valid_csv, authority="999")
    assert response.status_code == 400
    assert '<a href="#authority">' in response.get_data(as_text=True)


# -- inline checks and the report -------------------------------------------------------------


def test_validate_valid_upload_shows_valid_report(
    app: Flask, client: FlaskClient, valid_csv: bytes
) -> None:
    job_id = job_id_of(post_file(client, valid_csv))
    response = client.get(f"/validate/jobs/{job_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Your file is valid" in html
    assert "govuk-error-summary" not in html
    assert 'http-equiv="refresh"' not in html
    assert response.headers["Cache-Control"] == "no-store"
    job = store(app).get(job_id)
    assert job.status is JobStatus.DONE
    assert job.summary
    assert job.summary["valid"] is True


def test_validate_invalid_upload_shows_errors_by_rule_and_problems(
    client: FlaskClient, valid_csv: bytes
) -> None:
    data = valid_csv.replace(b"10,100,10.0", b"150,100,150.0") + ROW % b"t3_not_real"
    job_id = job_id_of(post_file(client, data, authority="840"))
    html = client.get(f"/validate/jobs/{job_id}").get_data(as_text=True)
    assert "<title>Error: Report for return.csv" in html
    assert 'class="govuk-error-summary"' in html
    assert f'href="/validate/jobs/{job_id}?rule=indicator_unknown#problems"' in html
    assert "<caption" in html
    assert "Problems by rule" in html
    rows = problem_rows(html)
    # Row numbers are those a spreadsheet user sees (the header is row 1).
    assert ["3", "indicator_id", "t3_not_real", "indicator_unknown"] in [r[:4] for r in rows]
    assert any(r[0] == "2" for r in rows)


def test_validate_report_filters_by_rule(client: FlaskClient, valid_csv: bytes) -> None:
    data = valid_csv.replace(b"10,100,10.0", b"150,100,150.0") + ROW % b"t3_not_real"
    job_id = job_id_of(post_file(client, data))
    everything = client.get(f"/validate/jobs/{job_id}").get_data(as_text=True)
    assert len({row[3] for row in problem_rows(everything)}) > 1
    html = client.get(f"/validate/jobs/{job_id}?rule=indicator_unknown").get_data(as_text=True)
    assert [row[3] for row in problem_rows(html)] == ["indicator_unknown"]
    assert client.get(f"/validate/jobs/{job_id}?rule=no_such_rule").status_code == 404


def test_validate_report_paginates_over_500_problems(client: FlaskClient) -> None:
    job_id = job_id_of(post_file(client, unknown_indicators(620)))
    base = f"/validate/jobs/{job_id}?rule=indicator_unknown"
    first = client.get(base).get_data(as_text=True)
    assert "Showing problems 1 to 500 of 620" in first
    assert len(problem_rows(first)) == 500
    assert f'href="{base}&amp;page=2#problems"' in first
    second = client.get(f"{base}&page=2").get_data(as_text=True)
    assert "Showing problems 501 to 620 of 620" in second
    assert len(problem_rows(second)) == 120
    assert 'aria-current="page">2<' in second
    assert client.get(f"{base}&page=3").status_code == 404


def test_validate_report_downloads_as_csv_and_json(client: FlaskClient, valid_csv: bytes) -> None:
    job_id = job_id_of(post_file(client, valid_csv + ROW % b"t3_not_real", "my return.csv"))
    as_csv = client.get(f"/validate/jobs/{job_id}/report.csv")
    assert as_csv.status_code == 200
    assert as_csv.mimetype == "text/csv"
    assert "attachment" in as_csv.headers["Content-Disposition"]
    assert "my_return-validation-report.csv" in as_csv.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert {"severity", "row", "column", "value", "rule", "message"} == set(rows[0])
    assert any(r["rule"] == "indicator_unknown" and r["value"] == "t3_not_real" for r in rows)

    as_json = client.get(f"/validate/jobs/{job_id}/report.json")
    assert as_json.status_code == 200
    assert as_json.mimetype == "application/json"
    report = json.loads(as_json.data)
    assert report["summary"]["valid"] is False
    assert report["summary"]["errors"] == len(rows)


def test_validate_too_large_upload_is_413(app: Flask, client: FlaskClient) -> None:
    token = csrf_token(client)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post(
        "/validate",
        data={"csrf_token": token, "file": (io.BytesIO(unknown_indicators(50)), "big.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "The file is too large" in response.get_data(as_text=True)
    api = api_post(client, unknown_indicators(50))
    assert api.status_code == 413
    assert api.get_json()["error"]["title"] == "The file is too large"


@pytest.mark.parametrize(
    "path",
    [
        "/validate/jobs/00000000-0000-4000-8000-000000000000",
        "/validate/jobs/not-a-uuid",
        "/validate/jobs/..%2F..%2Fsecret_key",
        "/validate/jobs/00000000-0000-4000-8000-000000000000/report.csv",
        "/validate/jobs/00000000-0000-4000-8000-000000000000/report.json",
    ],
)
def test_validate_unknown_job_is_404(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404


# -- background jobs --------------------------------------------------------------------------


@pytest.fixture
def background(app: Flask) -> Flask:
    """Every file goes to the background path (the task runs eagerly, in the request)."""
    app.config["EXCHANGE"] = replace(app.config["EXCHANGE"], inline_validation_bytes=10)
    return app


def test_validate_large_upload_runs_as_a_job_and_deletes_the_upload(
    background: Flask, client: FlaskClient, valid_csv: bytes
) -> None:
    job_id = job_id_of(post_file(client, valid_csv))
    jobs = store(background)
    job = jobs.get(job_id)
    assert job.status is JobStatus.DONE
    assert job.summary
    assert job.summary["valid"] is True
    assert not (jobs.uploads_dir / job_id).exists()
    report = jobs.reports_dir / f"{job_id}.json"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert "Your file is valid" in client.get(f"/validate/jobs/{job_id}").get_data(as_text=True)


def made_here(client: FlaskClient, job_id: str) -> None:
    """Mark a job created straight in the store as this browser's own check."""
    from exchange.security.check_access import SESSION_KEY

    with client.session_transaction() as session:
        session[SESSION_KEY] = [job_id]


def test_validate_job_page_refreshes_itself_while_queued(app: Flask, client: FlaskClient) -> None:
    job_id = new_job_id()
    store(app).create(Job(id=job_id, filename="big.csv", size=10**8))
    made_here(client, job_id)
    html = client.get(f"/validate/jobs/{job_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "Checking your file" in html
    assert "Queued" in html
    assert client.get(f"/validate/jobs/{job_id}/report.csv").status_code == 404


def test_validate_failed_job_shows_reason_and_logs_no_cell_value(
    background: Flask,
    client: FlaskClient,
    valid_csv: bytes,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import exchange.actions.validation as actions

    def explode(data: bytes, *args: object, **kwargs: object) -> None:
        raise ValueError(f"cannot parse {data.decode()!r}")  # quotes every cell

    monkeypatch.setattr(actions, "validate_upload", explode)
    with caplog.at_level(logging.DEBUG):
        job_id = job_id_of(post_file(client, valid_csv))
    job = store(background).get(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error == actions.FAILED_UNEXPECTEDLY
    assert not (store(background).uploads_dir / job_id).exists()
    html = client.get(f"/validate/jobs/{job_id}").get_data(as_text=True)
    assert "Your file could not be checked" in html
    assert job_id in html
    assert "ValueError" in caplog.text
    assert job_id in caplog.text
    assert "County Durham" not in caplog.text
    assert "E06000047" not in caplog.text


def test_validate_task_retries_storage_errors_then_fails(
    background: Flask, client: FlaskClient, valid_csv: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import exchange.actions.validation as actions
    from workers.tasks import MAX_RETRIES

    calls: list[str] = []

    def unreadable(self: FileJobStore, job_id: str) -> bytes:
        calls.append(job_id)
        raise OSError("disk on fire")

    monkeypatch.setattr(FileJobStore, "load_upload", unreadable)
    job_id = job_id_of(post_file(client, valid_csv))
    assert len(calls) == MAX_RETRIES + 1
    job = store(background).get(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error == actions.UPLOAD_UNREADABLE


# -- the JSON API -----------------------------------------------------------------------------


def api_post(client: FlaskClient, data: bytes, filename: str = "return.csv", **form: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/validate",
        data={"file": (io.BytesIO(data), filename), **form},
        content_type="multipart/form-data",
    )


def test_api_validate_valid_file_is_200_without_csrf_token(
    client: FlaskClient, valid_csv: bytes
) -> None:
    response = api_post(client, valid_csv, authority="E06000047")
    assert response.status_code == 200
    body = response.get_json()
    assert body["summary"]["valid"] is True
    assert body["problems"] == []
    assert body["job"]["status"] == "done"
    assert body["job"]["links"]["report"] == f"/api/v1/jobs/{body['job']['id']}/report"


def test_api_validate_invalid_file_is_200_with_valid_false(
    client: FlaskClient, valid_csv: bytes
) -> None:
    response = api_post(client, valid_csv + ROW % b"t3_not_real")
    assert response.status_code == 200
    body = response.get_json()
    assert body["summary"]["valid"] is False
    assert body["summary"]["errors_by_rule"] == {"indicator_unknown": 1}
    assert body["problems"][0]["row"] == 3


def test_api_validate_without_file_is_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/validate", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.get_json()["error"]["title"] == "No file"


def test_api_validate_unknown_authority_is_400(client: FlaskClient, valid_csv: bytes) -> None:
    response = api_post(client, valid_csv, authority="999")
    assert response.status_code == 400
    assert response.get_json()["error"]["title"] == "Unknown authority"


def test_api_validate_large_file_is_202_with_location(
    background: Flask, client: FlaskClient, valid_csv: bytes
) -> None:
    response = api_post(client, valid_csv)
    assert response.status_code == 202
    location = response.headers["Location"]
    job_id = response.get_json()["id"]
    assert location == f"/api/v1/jobs/{job_id}"
    job = client.get(location).get_json()  # the eager task has already run
    assert job["status"] == "done"
    assert job["summary"]["valid"] is True
    report = client.get(job["links"]["report"])
    assert report.status_code == 200
    assert report.get_json()["summary"]["rows"] == 1


def test_api_get_unknown_job_is_404_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/jobs/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_api_report_of_unfinished_job_is_409(app: Flask, client: FlaskClient) -> None:
    job_id = new_job_id()
    store(app).create(Job(id=job_id, filename="big.csv", size=10**8))
    made_here(client, job_id)
    assert client.get(f"/api/v1/jobs/{job_id}/report").status_code == 409


def test_validate_check_readable_only_by_the_session_that_made_it(
    app: Flask, client: FlaskClient, valid_csv: bytes
) -> None:
    # Job ids travel in logs and browser history: the id alone must not reveal the report.
    response = client.post(
        "/api/v1/validate",
        data={"file": (io.BytesIO(valid_csv), "durham.csv")},
        content_type="multipart/form-data",
    )
    job_id = response.get_json()["job"]["id"]
    assert client.get(f"/api/v1/jobs/{job_id}/report").status_code == 200
    assert client.get(f"/validate/jobs/{job_id}").status_code == 200
    stranger = app.test_client()
    for path in (
        f"/validate/jobs/{job_id}",
        f"/validate/jobs/{job_id}/report.csv",
        f"/api/v1/jobs/{job_id}",
        f"/api/v1/jobs/{job_id}/report",
    ):
        assert stranger.get(path).status_code == 404, path


def test_job_store_rejects_ids_that_are_not_uuid4(tmp_path: Path) -> None:
    from exchange.jobs import UnknownJobError

    jobs = FileJobStore(tmp_path)
    for bad in ["../secret_key", "00000000-0000-1000-8000-000000000000", "ABC", ""]:
        with pytest.raises(UnknownJobError):
            jobs.get(bad)
