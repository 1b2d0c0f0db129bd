"""The portal's server under careless and hostile clients, restarts and several workers (issue 14).

Each test is one finding of the issue: it failed on the code before and passes now.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time

import psutil
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig
from tests.test_api_helpers import HEADERS, KEY, demo_city, make_app

KEY2 = "second-key-0123456789"
HEAVY_SITING = {"standard": "clinic-walk", "problem": "p-median", "p": 3}
"""The request of finding 1: generated candidates over the whole demo city, the exact solver."""
FLOOD_SITING = {"standard": "clinic-walk", "problem": "mclp", "p": 3}
"""Generated candidates over the whole city, estimated within a 300 MB budget."""


def _wait(client, url: str, timeout: float = 60.0, until=lambda j: j["state"] not in ("queued", "running")) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        job = client.get(url, headers=HEADERS).json()
        if until(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {url} did not reach the state in {timeout} s")


def _tree_memory() -> int:
    """Memory of this process and its children (the job workers), as the sum of their PSS.

    PSS splits each shared page among the processes sharing it, so the city a
    forked worker shares with the server is counted once, not twice as RSS would.
    """
    me = psutil.Process()
    total = 0
    for proc in [me, *me.children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return total


# ---------------------------------------------------------------- finding 1: memory and jobs


def test_flood_of_siting_jobs_gets_429_and_memory_stays_in_budget():
    budget_mb = 300
    client = TestClient(make_app(api_keys=[KEY, KEY2], job_workers=1,
                                 limits={"job_memory_mb": budget_mb, "max_jobs_per_key": 2, "max_queued_jobs": 3}))
    before = _tree_memory()
    peak, stop = [before], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_memory())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    codes, accepted, most_unfinished = [], [], 0
    try:
        for i in range(200):
            r = client.post("/siting", json=FLOOD_SITING, headers={"X-API-Key": KEY if i % 2 else KEY2})
            codes.append(r.status_code)
            if r.status_code == 202:
                accepted.append(r.headers["location"])
            else:
                assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
                assert "max_jobs_per_key" in r.json()["detail"] or "max_queued_jobs" in r.json()["detail"]
            unfinished = [j for j in client.get("/jobs").json() if j["state"] in ("queued", "running")]
            most_unfinished = max(most_unfinished, len(unfinished))
        assert most_unfinished <= 3 and codes.count(429) >= 190, (most_unfinished, codes.count(429))
        # one job runs at a time and is stopped at its budget; watch for 20 s, then cancel what is left
        end = time.time() + 20
        while time.time() < end and any(client.get(u).json()["state"] in ("queued", "running") for u in accepted):
            time.sleep(0.1)
    finally:
        stop.set()
        sampler.join()
    for url in accepted:
        job = client.get(url).json()
        if job["state"] == "failed" and job["error"]["status"] == 422:  # stopped at its budget, saying so
            assert "memory budget of 300 MB" in job["error"]["detail"]
        client.delete(url, headers={"X-API-Key": KEY})
        client.delete(url, headers={"X-API-Key": KEY2})
    # the server plus one worker: what the worker adds is bounded by the budget (and one poll's growth)
    assert peak[0] - before < (budget_mb + 150) * 1e6, (peak[0] - before) / 1e6


def test_siting_larger_than_the_budget_is_refused_up_front():
    client = TestClient(make_app(limits={"job_memory_mb": 5}))
    r = client.post("/siting", json=HEAVY_SITING, headers=HEADERS)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "memory budget of 5 MB" in detail and "limits.job_memory_mb" in detail and "candidate-cell pairs" in detail
    assert client.get("/jobs").json() == []  # nothing was queued


def test_cancelling_a_running_siting_job_stops_it_within_two_seconds():
    client = TestClient(make_app(limits={"job_memory_mb": 4000}))
    r = client.post("/siting", json=HEAVY_SITING, headers=HEADERS)
    assert r.status_code == 202
    url = r.headers["location"]
    _wait(client, url, until=lambda j: j["state"] == "running" and j["percent"] > 0)
    workers = psutil.Process().children()
    assert workers, "the running job has a worker process"
    t = time.perf_counter()
    assert client.delete(url, headers=HEADERS).status_code == 204
    job = _wait(client, url, timeout=5)
    gone, alive = psutil.wait_procs(workers, timeout=5)
    elapsed = time.perf_counter() - t
    assert job["state"] == "cancelled" and not alive
    assert elapsed < 2.0, elapsed


def test_async_jobs_need_a_key():
    client = TestClient(make_app())
    body = {"points": [{"lon": 116.47, "lat": 18.98}], "minutes": [5]}
    r = client.post("/service-areas", json=body, headers={"Prefer": "respond-async"})
    assert r.status_code == 401 and "background job" in r.json()["detail"]
    r = client.post("/service-areas", json=body)  # the same work in the request stays open
    assert r.status_code == 200
    r = client.post("/service-areas", json=body, headers={**HEADERS, "Prefer": "respond-async"})
    assert r.status_code == 202
    job = _wait(client, r.headers["location"])
    assert job["state"] == "succeeded"
    assert client.get(job["result"]).json()["type"] == "FeatureCollection"


def test_results_are_kept_per_owner():
    """A key past its share of results drops only its own oldest, never another key's."""
    client = TestClient(make_app(api_keys=[KEY, KEY2], limits={"max_results_per_key": 2}))
    body = {"points": [{"lon": 116.47, "lat": 18.98}], "minutes": [5]}

    def result(key: str) -> str:
        r = client.post("/service-areas", json=body, headers={"X-API-Key": key, "Prefer": "respond-async"})
        return _wait(client, r.headers["location"])["result"]

    other = result(KEY2)
    mine = [result(KEY) for _ in range(4)]
    assert client.get(other).status_code == 200
    assert [client.get(u).status_code for u in mine] == [404, 404, 200, 200]


def test_open_endpoints_are_rate_limited_per_client():
    client = TestClient(make_app(limits={"open_requests_per_s": 1, "open_burst": 5}))
    codes = [client.post("/reach", json={"lon": 116.47, "lat": 18.98}).status_code for _ in range(8)]
    assert codes[:5] == [200] * 5 and 429 in codes[5:]
    r = client.post("/reach", json={"lon": 116.47, "lat": 18.98})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "limits.open_requests_per_s" in r.json()["detail"]
    # a client with a key is not limited here; /health never is
    assert client.post("/reach", json={"lon": 116.47, "lat": 18.98}, headers=HEADERS).status_code == 200
    assert client.get("/health").status_code == 200


# ---------------------------------------------------------------- finding 2: durable by default


def test_restart_with_the_default_configuration_keeps_scenarios(tmp_path, monkeypatch, caplog):
    for var in ("LIFECIRCLE_DATA", "LIFECIRCLE_DATA_DIR", "LIFECIRCLE_DB_URL", "LIFECIRCLE_SCENARIO_DB_URL", "LIFECIRCLE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    stale = tmp_path / "xdg" / "lifecircle" / "uploads" / "tmp-left-by-a-kill"
    stale.mkdir(parents=True)
    old = time.time() - 7200
    import os

    os.utime(stale, (old, old))
    with caplog.at_level(logging.INFO, logger="lifecircle.api"):
        first = TestClient(create_app(ApiConfig(api_keys=[KEY]), city=demo_city()))
    assert f"data folder: {tmp_path / 'xdg' / 'lifecircle'}" in caplog.text
    assert not stale.exists()  # temp folders of a killed process are cleaned
    r = first.post("/scenarios", json={"name": "keep-me", "edits": [{"op": "remove", "id": "HS0001"}]}, headers=HEADERS)
    assert r.status_code == 201
    first.app.state.lifecircle.close()
    del first
    again = TestClient(create_app(ApiConfig(api_keys=[KEY]), city=demo_city()))
    r = again.get("/scenarios/keep-me")
    assert r.status_code == 200 and r.json()["edits"][0]["id"] == "HS0001"


# ---------------------------------------------------------------- findings 4 and 5: the door


def test_keyless_large_post_is_refused_without_being_parsed(monkeypatch):
    client = TestClient(make_app())
    parsed = []
    import starlette.requests

    real_body = starlette.requests.Request.body

    async def body(self):
        parsed.append(self.url.path)
        return await real_body(self)

    monkeypatch.setattr(starlette.requests.Request, "body", body)
    sent = []

    def chunks():
        for _ in range(17):
            sent.append(1)
            yield b"x" * (1 << 20)

    t = time.perf_counter()
    r = client.post("/layers", content=chunks(), headers={"content-type": "application/json"})
    elapsed = time.perf_counter() - t
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("ApiKey")
    assert parsed == [] and len(sent) < 17 and elapsed < 1.0
    # with a key the body is read (the monkeypatched reader sees it)
    r = client.post("/layers", content=b"{}", headers={**HEADERS, "content-type": "application/json"})
    assert r.status_code == 422 and parsed and set(parsed) == {"/layers"}


@contextlib.contextmanager
def _served(app):
    """``app`` under a real uvicorn server on 127.0.0.1, in a thread; yields the port."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.time() + 20
    while not server.started and time.time() < end:
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def test_streamed_upload_over_the_limit_gets_413_before_it_is_all_sent():
    """A chunked body (no Content-Length) is cut off with a 413 while the client is still sending."""
    app = make_app(limits={"max_upload_bytes": 1_000_000})
    chunk, total = 100_000, 40
    with _served(app) as port, socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(
            f"POST /layers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        sent, answer = 0, b""
        conn.setblocking(False)
        while sent < total and not answer:
            try:
                conn.sendall(f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n")
                sent += 1
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                pass
            time.sleep(0.02)
            try:
                answer = conn.recv(65536)
            except BlockingIOError:
                pass
        conn.setblocking(True)
        conn.settimeout(5)
        while b"\r\n\r\n" not in answer:
            answer += conn.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"application/problem+json" in head and b"1,000,000 bytes" in body
    assert sent < total, "the answer came only after the whole body"


def test_zip_with_too_many_points_is_refused_before_decoding(tmp_path, monkeypatch):
    import zipfile

    import geopandas as gpd
    import numpy as np

    import layers.readers

    def never(*args, **kwargs):
        raise AssertionError("the layer was decoded")

    client = TestClient(make_app(limits={"max_features": 1000}))
    n = 5000
    gdf = gpd.GeoDataFrame({"id": np.arange(n).astype(str), "kind": "health_station"},
                           geometry=gpd.points_from_xy(np.full(n, 116.47), np.full(n, 18.98)), crs=4326)
    gdf.to_file(tmp_path / "pts.shp")
    with zipfile.ZipFile(tmp_path / "pts.zip", "w") as zf:
        for part in tmp_path.glob("pts.*"):
            if part.suffix != ".zip":
                zf.write(part, part.name)
    monkeypatch.setattr(layers.readers, "read_layer", never)
    monkeypatch.setattr("api.uploads.read_layer", never)
    r = client.post("/layers/upload", data={"type": "facilities"}, files={"file": ("pts.zip", (tmp_path / "pts.zip").read_bytes())}, headers=HEADERS)
    assert r.status_code == 413 and "5,000 features exceed the limit of 1,000" in r.json()["detail"]


# ---------------------------------------------------------------- finding 6: errors


def test_internal_value_error_is_a_500_without_internals(monkeypatch, caplog):
    client = TestClient(make_app())
    state = client.app.state.lifecircle

    def broken(x, y):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,) at /srv/lifecircle/geo")

    monkeypatch.setattr(state.reach, "locate", broken)
    with caplog.at_level(logging.ERROR, logger="lifecircle.api"):
        r = client.post("/reach", json={"lon": 116.47, "lat": 18.98}, headers={"X-Request-ID": "trace-me-42"})
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert "broadcast" not in r.text and "/srv" not in r.text
    assert r.json()["request_id"] == "trace-me-42" == r.headers["x-request-id"]
    assert "trace-me-42" in caplog.text and "broadcast" in caplog.text  # the operator gets the traceback


def test_project_errors_are_422_with_their_message():
    client = TestClient(make_app())
    r = client.post("/reach", json={"lon": 116.47, "lat": 18.98, "standards": ["no-such-standard"]})
    assert r.status_code == 422 and "no-such-standard" in r.json()["detail"]


# ---------------------------------------------------------------- several workers


@pytest.mark.postgres
def test_two_workers_on_one_postgres_see_and_cancel_each_others_jobs(tmp_path):
    from tests.test_store import PG_URL, pg_unreachable

    reason = pg_unreachable()
    if reason:
        pytest.skip(reason)
    one = TestClient(make_app(scenario_db_url=PG_URL, data_dir=str(tmp_path / "one")))
    two = TestClient(make_app(scenario_db_url=PG_URL, data_dir=str(tmp_path / "two")))
    started = threading.Event()

    def slow(job, progress):
        started.set()
        for i in range(2000):
            progress("looping", i / 2000)
            time.sleep(0.005)
        return "never"

    job = one.app.state.lifecircle.jobs.submit("slow", slow)
    assert started.wait(10)
    seen = two.get(f"/jobs/{job.id}").json()
    assert seen["state"] == "running" and seen["kind"] == "slow"
    assert job.id in [j["id"] for j in two.get("/jobs").json()]
    t = time.perf_counter()
    assert two.delete(f"/jobs/{job.id}", headers=HEADERS).status_code == 204
    job.future.result(timeout=5)
    assert time.perf_counter() - t < 2.0
    assert one.get(f"/jobs/{job.id}").json()["state"] == "cancelled"
    # a layer uploaded through one worker is served by the other
    site = demo_city().facilities.to_crs(4326).geometry.iloc[0]
    layer = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "N1", "name": "n", "kind": "health_station"},
                                                        "geometry": {"type": "Point", "coordinates": [site.x, site.y]}}]}
    r = one.post("/layers", json={"name": "shared", "type": "facilities", "data": layer}, headers=HEADERS)
    assert r.status_code == 201, r.text
    assert two.get(f"/layers/{r.json()['id']}").json()["features"] == 1
    assert two.delete(f"/layers/{r.json()['id']}", headers=HEADERS).status_code == 204
    assert one.get(f"/layers/{r.json()['id']}").status_code == 404
    # so is a coverage run, with the same summary
    body = {"standards": ["station-radius"], "overrides": {"station-radius": {"threshold_m": 321 + time.time() % 100}}}
    made = one.post("/coverage", json=body, headers=HEADERS)
    assert made.status_code == 201, made.text
    seen = two.get(f"/coverage/{made.json()['id']}")
    assert seen.status_code == 200 and seen.json()["summary"] == made.json()["summary"]
    assert two.post("/coverage", json=body, headers=HEADERS).status_code == 200  # the identical run is reused
    assert two.get(f"/coverage/{made.json()['id']}/cells?limit=5").json()["numberReturned"] == 5


# ---------------------------------------------------------------- point 7 and operations


def test_openapi_security_matches_the_configuration():
    open_reads = TestClient(make_app()).get("/openapi.json").json()
    assert "security" not in open_reads["paths"]["/reach"]["post"]
    assert "security" not in open_reads["paths"]["/collections"]["get"]
    assert open_reads["paths"]["/layers"]["post"]["security"] == [{"APIKeyHeader": []}]
    closed = TestClient(make_app(reads_require_key=True)).get("/openapi.json").json()
    assert closed["paths"]["/reach"]["post"]["security"] == [{"APIKeyHeader": []}]
    put = open_reads["paths"]["/scenarios/{name}"]["put"]
    assert [p["required"] for p in put["parameters"] if p["name"] == "If-Match"] == [True]


def test_docs_work_offline():
    client = TestClient(make_app())
    html = client.get("/docs").text
    assert "cdn" not in html.lower() and "/docs/assets/swagger-ui-bundle.js" in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        r = client.get(f"/docs/assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 10_000


def test_options_lists_the_methods():
    client = TestClient(make_app())
    r = client.options("/scenarios/plan-a")
    assert r.status_code == 204 and r.headers["allow"] == "GET, PUT, DELETE, OPTIONS"
    assert client.options("/nowhere").status_code == 404


def test_access_log_and_metrics(caplog):
    client = TestClient(make_app())
    with caplog.at_level(logging.INFO, logger="lifecircle.access"):
        r = client.post("/reach", json={"lon": 116.47, "lat": 18.98})
    rid = r.headers["x-request-id"]
    line = next(json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "lifecircle.access")
    assert line["request_id"] == rid and line["route"] == "/reach" and line["status"] == 200 and line["ms"] > 0
    text = client.get("/metrics").text
    assert 'lifecircle_http_requests_total{method="POST",route="/reach",status="200"} 1.0' in text
    assert 'lifecircle_jobs{state="queued"} 0.0' in text and "lifecircle_resident_memory_bytes" in text


def test_open_map_renders_do_not_queue(monkeypatch):
    """Keyless requests for maps not made yet are made one at a time; the rest get 429, keyed ones wait."""
    client = TestClient(make_app())
    run = client.post("/coverage", json={"standards": ["clinic-walk"]}, headers=HEADERS).json()["id"]
    state = client.app.state.lifecircle
    assert state.open_render_slot.acquire(blocking=False)  # another anonymous render is in progress
    try:
        r = client.get(f"/coverage/{run}/map.png?dpi=51")
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
        assert client.get(f"/coverage/{run}/map.png?dpi=51", headers=HEADERS).status_code == 200
    finally:
        state.open_render_slot.release()
    assert client.get(f"/coverage/{run}/map.png?dpi=51").status_code == 200  # made now: served to anyone


def test_layers_are_bounded_per_key():
    client = TestClient(make_app(api_keys=[KEY, KEY2], limits={"max_layers": 1}))
    site = demo_city().facilities.to_crs(4326).geometry.iloc[0]
    layer = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "N1", "name": "n", "kind": "health_station"},
                                                        "geometry": {"type": "Point", "coordinates": [site.x, site.y]}}]}
    body = {"name": "one", "type": "facilities", "data": layer}
    assert client.post("/layers", json=body, headers={"X-API-Key": KEY}).status_code == 201
    r = client.post("/layers", json=body, headers={"X-API-Key": KEY})
    assert r.status_code == 422 and "per API key" in r.json()["detail"]
    assert client.post("/layers", json=body, headers={"X-API-Key": KEY2}).status_code == 201


def test_collections_are_found_by_id_without_listing_everything(monkeypatch):
    """A run's OGC collection answers by its id; a request for one collection does not load every kept run."""
    client = TestClient(make_app())
    run = client.post("/coverage", json={"standards": ["station-radius"]}, headers=HEADERS).json()["id"]
    state = client.app.state.lifecircle
    monkeypatch.setattr(type(state.runs), "values", lambda self: (_ for _ in ()).throw(AssertionError("listed every run")))
    page = client.get(f"/collections/run-{run}-cells/items", params={"limit": 2}).json()
    assert page["numberReturned"] == 2 and page["features"][0]["properties"]["station_radius_covered"] in (True, False)
    assert client.get(f"/collections/run-{run}-facilities").status_code == 200
    assert client.get("/collections/run-0123-cells/items").status_code == 404
    assert client.get("/collections/cells/items", params={"limit": 1}).json()["numberReturned"] == 1


def test_jobs_of_a_killed_server_are_failed_at_restart(tmp_path):
    """A job whose server was SIGKILLed does not stay 'running' for ever: the next start on the host fails it."""
    import socket as _socket

    from api.shared import SharedStore

    url = f"sqlite:///{tmp_path / 'scenarios.db'}"
    shared = SharedStore(url)
    dead = f"{_socket.gethostname()}:{2**22 + 12345}"  # above Linux's default pid_max: never a live process
    shared.add_job("a" * 32, "owner", "siting", dead, 10, 10)
    shared.start_job("a" * 32)
    shared.close()
    client = TestClient(make_app(data_dir=str(tmp_path)))
    job = client.get(f"/jobs/{'a' * 32}").json()
    assert job["state"] == "failed" and job["error"]["status"] == 503 and "stopped" in job["error"]["detail"]
