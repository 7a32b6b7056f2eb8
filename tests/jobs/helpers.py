"""Starting a job through a page and waiting for it, as a browser does (used by other tests too)."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient


def start(client: TestClient, url: str, **kwargs: Any) -> str:
    """POST an import form; it answers 303 to the job's page. Returns the job's id."""
    response = client.post(url, follow_redirects=False, **kwargs)
    assert response.status_code == 303, response.text[:2000]
    location = response.headers["location"]
    assert location.startswith("/jobs/"), location
    return location.removeprefix("/jobs/")


def wait_for(client: TestClient, job_id: str, seconds: float = 60) -> dict[str, Any]:
    """Poll ``/api/jobs/{id}`` as the job's page does until the job has ended; its last answer."""
    deadline = time.monotonic() + seconds
    while True:
        response = client.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def finished_page(client: TestClient, response: Any) -> Any:
    """The page a form post ends on: for an import, its job's page once the job has ended."""
    location = response.headers.get("location", "") if response.status_code == 303 else ""
    if not location.startswith("/jobs/"):
        return response
    wait_for(client, location.removeprefix("/jobs/"))
    return client.get(location, headers={"accept": "text/html"})
