"""Figure 4, snapshot: a table read through POST /v1/snapshot/data in pages of 10,000
(order_by id), in the largest pages the gateway allows by default (--max-page-rows,
100,000), and streamed whole by GET /v1/snapshot/stream (NDJSON, the fastest full-table
read the gateway offers; builds without it skip it), against
psql -c "\\copy (select row_to_json(t) from t t) to /dev/null"."""

import http.client
import json
import statistics
import subprocess
import time

from stack import cpu_seconds

TABLE = "bench_snapshot"


def create_table(pg, rows):
    pg.sql(f"DROP TABLE IF EXISTS {TABLE}")
    pg.sql(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, customer text, total numeric, note text, "
           "created timestamptz, active boolean)")
    pg.sql(f"INSERT INTO {TABLE} SELECT g, 'customer-' || g, (g % 1000) * 1.25, md5(g::text), "
           f"'2024-01-01'::timestamptz + g * interval '1 second', g % 2 = 0 "
           f"FROM generate_series(1, {rows}) g")
    pg.sql(f"VACUUM ANALYZE {TABLE}")


def _page_through(stack, slot, rows, limit):
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=300)
    cpu_before = cpu_seconds(stack.gateway.pid)
    started = time.perf_counter()
    seen = size = 0
    for offset in range(0, rows, limit):
        body = json.dumps({"slotName": slot, "table": f"public.{TABLE}", "offset": offset, "limit": limit,
                           "order_by": {"column": "id", "order": "ASC"}})
        conn.request("POST", "/v1/snapshot/data", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"snapshot page at {offset}: {response.status} {data[:200]!r}")
        seen += data.count(b'{"id":')
        size += len(data)
    elapsed = time.perf_counter() - started
    conn.close()
    if seen != rows:
        raise RuntimeError(f"snapshot paging read {seen} rows of {rows}")
    return {"seconds": elapsed, "bytes": size, "gateway_cpu": cpu_seconds(stack.gateway.pid) - cpu_before}


def stream_read(stack, path, rows):
    """GET `path`, NDJSON, read to EOF: `rows` lines or an error."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=300)
    cpu_before = cpu_seconds(stack.gateway.pid)
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"snapshot stream: {response.status} {response.read()[:200]!r}")
    seen = size = 0
    while True:
        data = response.read(1 << 20)
        if not data:
            break
        seen += data.count(b"\n")
        size += len(data)
    elapsed = time.perf_counter() - started
    conn.close()
    if seen != rows:
        raise RuntimeError(f"snapshot stream read {seen} rows of {rows}")
    return {"seconds": elapsed, "bytes": size, "gateway_cpu": cpu_seconds(stack.gateway.pid) - cpu_before}


def _has_stream(stack, slot):
    """Builds before /v1/snapshot/stream answer 404 for the path itself."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    conn.request("GET", f"/v1/snapshot/stream?slotName={slot}&table=public.{TABLE}&order_by=no_such_column")
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status != 404


def copy_read(pg, query):
    """psql's \\copy (`query`) to /dev/null."""
    started = time.perf_counter()
    subprocess.run(["psql", "-X", "-q", "-d", pg.dsn, "-c", f"\\copy ({query}) to /dev/null"], check=True)
    return {"seconds": time.perf_counter() - started}


def run(config, pg, stack):
    rows = config.snapshot_rows
    create_table(pg, rows)
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    conn.request("GET", "/v1/init")
    response = conn.getresponse()
    slot = json.loads(response.read())["slotName"]
    conn.close()
    reads = {
        "paged": lambda: _page_through(stack, slot, rows, config.page_rows),
        "largest": lambda: _page_through(stack, slot, rows, config.largest_page_rows),
        "copy": lambda: copy_read(pg, f"select row_to_json(t) from {TABLE} t"),
    }
    if _has_stream(stack, slot):
        path = f"/v1/snapshot/stream?slotName={slot}&table=public.{TABLE}"
        reads["streamed"] = lambda: stream_read(stack, path, rows)
    rounds = []
    for number in range(config.rounds):
        order = list(reads)[number % len(reads):] + list(reads)[:number % len(reads)]
        result = {name: reads[name]() for name in order}
        result["order"] = order
        rounds.append(result)
        print(f"  snapshot round {number + 1}: " +
              ", ".join(f"{name} {result[name]['seconds']:.2f}s" for name in order), flush=True)
    stack.drop_stream(slot)
    summary = {"rows": rows, "page_rows": config.page_rows, "largest_page_rows": config.largest_page_rows,
               "rounds": rounds}
    for name in reads:
        seconds = statistics.median(r[name]["seconds"] for r in rounds)
        summary[name] = {"seconds": seconds, "rows_per_s": rows / seconds}
    for name in [name for name in reads if name != "copy"]:
        summary[name]["rate_vs_copy"] = statistics.median(r["copy"]["seconds"] / r[name]["seconds"]
                                                          for r in rounds)
        summary[name]["mb_per_s"] = statistics.median(r[name]["bytes"] / r[name]["seconds"] / 1e6 for r in rounds)
        summary[name]["gateway_cpu"] = statistics.median(r[name]["gateway_cpu"] for r in rounds)
    return summary
