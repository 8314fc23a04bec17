"""The HTML pages and fragments of the real dashboard: error pages, and the start form that waits for the server."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers import Dashboard, run_to_end
from webapp.bundled import free_port

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_an_unknown_job_is_a_page_for_a_person_and_json_for_a_script(client: httpx.Client) -> None:
    page = client.get("/jobs/nosuchjob", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "No job with id &#39;nosuchjob&#39;" in page.text
    assert '<a href="/">← all jobs</a>' in page.text
    for path, headers in [("/api/jobs/nosuchjob", HTML), ("/jobs/nosuchjob", {"Accept": "application/json"})]:
        response = client.get(path, headers=headers)
        assert response.status_code == 404
        assert response.json() == {"detail": "No job with id 'nosuchjob'."}


def test_an_unknown_page_says_so_with_a_way_back(client: httpx.Client) -> None:
    page = client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404
    assert "There is no page at this address." in page.text
    assert client.get("/no/such/page").json() == {"detail": "Not Found"}


def test_htmx_requests_and_streams_get_json_errors_not_pages(client: httpx.Client) -> None:
    for headers in [{**HTML, "HX-Request": "true"}, {"Accept": "text/html, text/event-stream"}]:
        response = client.get("/jobs/nosuchjob/events", headers=headers)
        assert response.status_code == 404
        assert response.json()["detail"] == "No job with id 'nosuchjob'."


def test_hostile_text_in_an_error_page_is_escaped(client: httpx.Client) -> None:
    page = client.get("/jobs/<script>x</script>", headers=HTML)
    assert page.status_code == 404
    assert "<script>x" not in page.text


def test_the_start_form_fragment_is_the_form_once_tools_are_known(client: httpx.Client) -> None:
    html = client.get("/fragments/start-form").text
    assert '<form id="start-form"' in html
    assert "hx-trigger" not in html.split("<select")[0]  # the form itself does not poll


def test_while_the_server_is_unreachable_the_form_waits_and_says_what_to_check(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=url).start()
    try:
        with app.client() as client:
            html = client.get("/fragments/start-form").text
            assert 'id="start-form" class="waiting"' in html
            assert 'hx-trigger="every 2s"' in html
            assert f"default (<code>{url}</code>) cannot be reached" in html
            assert "--mcp-url" in html
            assert "No jobs yet.</p>" in client.get("/fragments/jobs").text
    finally:
        app.stop()


def test_edit_and_run_of_an_unknown_job_is_a_page_that_says_so(client: httpx.Client) -> None:
    response = client.get("/?from=nope", headers={"Accept": "text/html"})
    assert response.status_code == 404 and "No job with id &#39;nope&#39;" in response.text


def test_the_jobs_list_filters_by_state_and_tool_on_the_page_and_the_api(client: httpx.Client) -> None:
    failed = run_to_end(client, "run_job", steps=2, delay=0, fail_at=1)
    done = run_to_end(client, "process_items", items=["a"], delay=0)
    html = {"Accept": "text/html"}
    page = client.get("/", params={"state": "failed"}, headers=html).text
    assert f'id="job-row-{failed["id"]}"' in page and f'id="job-row-{done["id"]}"' not in page
    assert 'hx-sse:connect="/fragments/jobs/events?state=failed"' in page  # the live list keeps the filter
    assert 'hx-trigger="every' not in page.split('id="jobs"')[1]  # and does not poll
    assert '<option value="failed" selected>' in page
    fragment = client.get("/fragments/jobs", params={"tool": "process_items"}, headers=html).text
    assert f'id="job-row-{done["id"]}"' in fragment and f'id="job-row-{failed["id"]}"' not in fragment
    api = client.get("/api/jobs", params={"state": "failed", "tool": "run_job", "limit": 1000}).json()
    assert failed["id"] in {j["id"] for j in api} and {j["state"] for j in api} == {"failed"}
    nothing = client.get("/fragments/jobs", params={"tool": "no_such_tool"}, headers=html).text
    assert "No recent job matches these filters." in nothing
    assert client.get("/api/jobs", params={"state": "sleeping"}).status_code == 422
