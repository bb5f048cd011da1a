"""Figure 7, the native API (v2): a row stream (POST /v2/streams: its own pgoutput slot and
publication, a WebSocket message per row event) beside PostgreSQL's own tools in the same
run, the order alternating each round:
- drains: the throughput workloads written first, then drained by reader + gateway to a bare
  WebSocket consumer that ACKs every commit (the target), to one that ACKs only the last (what
  the ACKs cost), and by pg_recvlogical on pgoutput (proto_version 1, the stream's own
  publication, the reader's transport) to /dev/null;
- snapshot: a whole table through GET /v2/streams/NAME/snapshot (NDJSON, to EOF) against
  psql's \\copy (SELECT to_json(t) FROM t) to /dev/null, the same JSON rows;
- bigtx: one --big-rows transaction through a fresh reader + gateway each round, so that
  their VmHWM is the peak it caused."""

import http.client
import json
import statistics
import time

import bigtx
import snapshot
from clients import recvlogical_drain, ws_drain_rows
from stack import Stack
from throughput import _release, create_table, measured_ws_drain, write

TABLE = "bench_v2"
FLOOR_SLOT = "bench_v2_floor"


def _api(stack, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return data


def _create(stack, name, table, held_snapshot=False):
    """A row stream of every column of `table`; its slot and its publication are delta_v2_<name>."""
    _api(stack, "POST", "/v2/streams",
         {"name": name, "tables": [{"table": f"public.{table}"}], "snapshot": held_snapshot})
    return f"delta_v2_{name}"


def _drain_ws(config, pg, stack, name, rows, ack="each"):
    """The drain, or {"seconds": None, "error": …}: a consumer the gateway closed or whose
    ACKs it refused is a result, not a crash."""
    path, slot = f"/v2/streams/{name}/changes", f"delta_v2_{name}"
    started = time.perf_counter()
    try:
        return measured_ws_drain(pg, stack, slot, lambda before_close: ws_drain_rows(
            stack.port, path, rows, before_close, config.timeout, ack))
    except (RuntimeError, TimeoutError) as error:
        failed_after = time.perf_counter() - started
        if pg.walsender(slot):  # still streaming: stop it, so that the next drain runs alone
            _release(pg, stack, slot, detach=True)
        return {"seconds": None, "failed_after": failed_after, "error": bigtx._describe(error)}


def _drain_floor(config, pg, publication, endpos):
    """pg_recvlogical's fastest way through the same rows: pgoutput, protocol 1, to /dev/null."""
    options = ["-o", "proto_version=1", "-o", f"publication_names={publication}"]
    seconds, walsender, peak = recvlogical_drain(pg, FLOOR_SLOT, endpos, config.timeout, options, pg.dsn)
    return {"seconds": seconds, "walsender_cpu": walsender, "walsender_peak_mib": peak}


def _alternate(number, names):
    return names[number % len(names):] + names[:number % len(names)]


def _drains(config, pg, stack):
    create_table(pg, TABLE)
    figures = []
    for transactions, rows_per in config.workloads:
        rows = transactions * rows_per
        rounds = []
        for number in range(config.rounds):
            pg.sql(f"TRUNCATE {TABLE}")
            names = {"ws": f"bench_each_{number}", "ws_ack_last": f"bench_last_{number}"}
            for name in names.values():
                publication = _create(stack, name, TABLE)  # the same tables: either's will do for the floor
            pg.create_slot(FLOOR_SLOT, "pgoutput")
            write(pg, transactions, rows_per, TABLE)
            endpos = pg.wal_lsn()
            drains = {"ws": lambda: _drain_ws(config, pg, stack, names["ws"], rows, ack="each"),
                      "ws_ack_last": lambda: _drain_ws(config, pg, stack, names["ws_ack_last"], rows, ack="last"),
                      "pg": lambda: _drain_floor(config, pg, publication, endpos)}
            order = _alternate(number, list(drains))
            result = {side: drains[side]() for side in order}
            result["order"] = order
            rounds.append(result)
            print(f"  v2 {transactions}x{rows_per} round {number + 1}: " +
                  ", ".join(f"{side} {_seconds(result[side])}" for side in order), flush=True)
            for name in names.values():
                _api(stack, "DELETE", f"/v2/streams/{name}")
            pg.drop_slot(FLOOR_SLOT)
        figures.append(_summarize_drains(transactions, rows_per, rounds))
    return figures


def _seconds(outcome):
    if outcome["seconds"] is not None:
        return f"{outcome['seconds']:.2f}s"
    return f"FAILED after {outcome['failed_after']:.2f}s ({outcome['error']})"


def _summarize_drains(transactions, rows_per, rounds):
    rows = transactions * rows_per
    pg = statistics.median(r["pg"]["seconds"] for r in rounds)
    summary = {"workload": f"{transactions}x{rows_per}", "rows": rows, "rounds": rounds,
               "pg": {"seconds": pg, "rows_per_s": rows / pg,
                      "walsender_cpu_per_m": statistics.median(r["pg"]["walsender_cpu"] for r in rounds) / rows * 1e6}}
    for side in ("ws", "ws_ack_last"):
        summary[side] = summarize_side(rounds, side, rows, ("walsender_cpu", "reader_cpu", "gateway_cpu",
                                                             "client_cpu"))
    return summary


def summarize_side(rounds, side, rows, cpu_keys):
    """One side's figure over the rounds (a drain that failed is counted, not measured):
    seconds, rows/s (and MB/s when it counted bytes), CPU seconds per million rows of each
    of `cpu_keys`, and the ratio to pg_recvlogical of the same round."""
    done = [r for r in rounds if r[side]["seconds"] is not None]
    figure = {"failed": len(rounds) - len(done), "rounds": len(rounds), "seconds": None, "ratio": None,
              "errors": sorted({r[side]["error"] for r in rounds if r[side]["seconds"] is None})}
    if figure["failed"]:
        figure["failed_after"] = statistics.median(r[side]["failed_after"] for r in rounds
                                                   if r[side]["seconds"] is None)
    if not done:
        return figure

    def med(key):
        return statistics.median(r[side][key] for r in done)

    seconds = figure["seconds"] = med("seconds")
    # each round's own pair, then the median: rounds share the machine's noise
    figure["ratio"] = statistics.median(r[side]["seconds"] / r["pg"]["seconds"] for r in done)
    figure["rows_per_s"] = rows / seconds
    if all("bytes" in r[side] for r in done):
        figure["mb_per_s"] = med("bytes") / seconds / 1e6
    for key in cpu_keys:
        figure[f"{key}_per_m"] = med(key) / rows * 1e6
    return figure


def _snapshot(config, pg, stack):
    rows, table = config.snapshot_rows, snapshot.TABLE
    snapshot.create_table(pg, rows)
    name = "bench_snapshot"
    _create(stack, name, table, held_snapshot=True)
    path = f"/v2/streams/{name}/snapshot?table=public.{table}"
    reads = {"v2": lambda: snapshot.stream_read(stack, path, rows),
             "copy": lambda: snapshot.copy_read(pg, f"SELECT to_json(t) FROM {table} t"),
             # not a target: the v2 read is in key order, which the floor is not
             "copy_ordered": lambda: snapshot.copy_read(pg, f"SELECT to_json(t) FROM {table} t ORDER BY id")}
    rounds = []
    try:
        for number in range(config.rounds):
            order = _alternate(number, list(reads))
            result = {read: reads[read]() for read in order}
            result["order"] = order
            rounds.append(result)
            print(f"  v2 snapshot round {number + 1}: " +
                  ", ".join(f"{read} {result[read]['seconds']:.2f}s" for read in order), flush=True)
    finally:
        _api(stack, "DELETE", f"/v2/streams/{name}")
    summary = {"rows": rows, "rounds": rounds}
    for read in reads:
        seconds = statistics.median(r[read]["seconds"] for r in rounds)
        summary[read] = {"seconds": seconds, "rows_per_s": rows / seconds}
    for floor in ("copy", "copy_ordered"):
        summary["v2"][f"rate_vs_{floor}"] = statistics.median(r[floor]["seconds"] / r["v2"]["seconds"]
                                                              for r in rounds)
    summary["v2"]["mb_per_s"] = statistics.median(r["v2"]["bytes"] / r["v2"]["seconds"] / 1e6 for r in rounds)
    summary["v2"]["gateway_cpu"] = statistics.median(r["v2"]["gateway_cpu"] for r in rounds)
    return summary


def _bigtx_round(config, pg, number):
    stack = Stack(config, pg, name=f"-v2-bigtx-{number}")
    result = {}
    try:
        pg.sql(f"TRUNCATE {bigtx.TABLE}")
        name = f"bench_big_{number}"
        publication = _create(stack, name, bigtx.TABLE)
        pg.create_slot(FLOOR_SLOT, "pgoutput")
        write(pg, 1, config.big_rows, table=bigtx.TABLE)
        endpos = pg.wal_lsn()
        result["order"] = _alternate(number, ["ws", "pg"])
        for side in result["order"]:
            if side == "pg":
                result["pg"] = _drain_floor(config, pg, publication, endpos)
                continue
            result["ws"] = _drain_ws(config, pg, stack, name, config.big_rows)
            result["ws"].update({f"{k}_peak_mib": v for k, v in stack.peak_rss_mib().items()})
        _api(stack, "DELETE", f"/v2/streams/{name}")
        pg.drop_slot(FLOOR_SLOT)
    finally:
        stack.close()
    return result


def _bigtx(config, pg):
    create_table(pg, bigtx.TABLE)
    rounds = []
    for number in range(config.rounds):
        result = _bigtx_round(config, pg, number)
        rounds.append(result)
        ws = result["ws"]
        print(f"  v2 {config.big_rows}-row transaction round {number + 1}: deltastream {_seconds(ws)} "
              f"(reader {ws['reader_peak_mib']:.1f} MiB, gateway {ws['gateway_peak_mib']:.1f} MiB peak), "
              f"pg_recvlogical {result['pg']['seconds']:.2f}s", flush=True)
    done = [r for r in rounds if r["ws"]["seconds"] is not None]

    def med(side, key, among):
        values = [r[side][key] for r in among if r[side].get(key) is not None]
        return statistics.median(values) if values else None

    return {"rows": config.big_rows, "rounds": rounds, "failed": len(rounds) - len(done),
            "errors": sorted({r["ws"]["error"] for r in rounds if r["ws"]["seconds"] is None}),
            "ratio": statistics.median(r["ws"]["seconds"] / r["pg"]["seconds"] for r in done) if done else None,
            # the worst round's peak: the target is a bound, not a typical figure
            "reader_peak_mib": max(r["ws"]["reader_peak_mib"] for r in rounds),
            "gateway_peak_mib": max(r["ws"]["gateway_peak_mib"] for r in rounds),
            "ws": {key: med("ws", key, done) for key in ("seconds", "walsender_peak_mib", "reader_cpu",
                                                         "gateway_cpu", "walsender_cpu")},
            "pg": {key: med("pg", key, rounds) for key in ("seconds", "walsender_peak_mib", "walsender_cpu")}}


def run(config, pg):
    """The parts in config.v2_parts; drains and snapshot share one reader + gateway."""
    results = {}
    if {"drains", "snapshot"} & set(config.v2_parts):
        stack = Stack(config, pg, name="-v2")
        try:
            for part, measure in (("drains", _drains), ("snapshot", _snapshot)):
                if part in config.v2_parts:
                    results[part] = measure(config, pg, stack)
        finally:
            stack.close()
    if "bigtx" in config.v2_parts:
        results["bigtx"] = _bigtx(config, pg)
    return results
