"""Figure 1, throughput: N transactions of M rows written up front, then four slots
created at the same point before the writes are drained one after another (the order
rotating each round): reader + gateway to a bare WebSocket consumer (the headline), the
same to a python3-websockets consumer, the reader alone to a ZeroMQ SUB, the reader to
deltastream-tail --ack to /dev/null, and pg_recvlogical to /dev/null."""

import os
import statistics
import subprocess
import time

from clients import recvlogical_drain, ws_drain, ws_drain_bare, zmq_drain
from stack import cpu_seconds, parse_lsn, peak_mib, wait_until

TABLE = "bench_bulk"


def create_table(pg, table):
    pg.sql(f"DROP TABLE IF EXISTS {table}")
    pg.sql(f"CREATE TABLE {table} (id bigint PRIMARY KEY, customer text, total numeric, note text)")


def write(pg, transactions, rows, table=TABLE):
    """`transactions` commits of `rows` rows each, in one DO block (COMMIT per loop)."""
    pg.sql(f"""DO $$ BEGIN
                 FOR i IN 0..{transactions - 1} LOOP
                   INSERT INTO {table} SELECT i::bigint * {rows} + g, 'customer-' || g,
                                              (g % 1000) * 1.25, md5(g::text)
                     FROM generate_series(1, {rows}) g;
                   COMMIT;
                 END LOOP; END $$""")


def _wait_acked(pg, slot, lsn):
    wait_until(lambda: parse_lsn(pg.confirmed(slot)) >= parse_lsn(lsn), 15, f"ACK of {slot}")


def _release(pg, stack, stream, detach):
    """Detach and wait for the walsender to end, so that the next drain runs alone."""
    pid = pg.walsender(stream)
    if detach:
        stack.control.ok("detach", stream=stream)
    wait_until(lambda: not pid or not os.path.exists(f"/proc/{pid}"), 15, f"walsender {pid} to end")


def measured_ws_drain(pg, stack, stream, drain):
    """`drain(before_close)`, a WebSocket drain of clients.py, with the CPU seconds the
    walsender, the reader and the gateway spent in it; then the ACK and the release."""
    before = stack.cpu()

    def before_close(lsn):
        pid = pg.walsender(stream)
        return cpu_seconds(pid), peak_mib(pid), stack.cpu()

    seconds, size, lsn, (walsender, walsender_peak, after), client = drain(before_close)
    _wait_acked(pg, stream, lsn)
    _release(pg, stack, stream, detach=True)
    return {"seconds": seconds, "bytes": size, "walsender_cpu": walsender, "walsender_peak_mib": walsender_peak,
            "client_cpu": client,
            "reader_cpu": after["reader"] - before["reader"],
            "gateway_cpu": after["gateway"] - before["gateway"]}


def _drain_ws(pg, stack, stream, rows, timeout, bare):
    if bare:
        path = f"/v1/lr/stream?slotName={stream}"
        return measured_ws_drain(pg, stack, stream,
                                 lambda before_close: ws_drain_bare(stack.port, path, rows, before_close, timeout))
    return measured_ws_drain(pg, stack, stream,
                             lambda before_close: ws_drain(stack.ws_url(stream), rows, before_close, timeout))


def _drain_zmq(pg, stack, stream, rows, timeout):
    before = stack.cpu()

    def before_detach(lsn):
        return cpu_seconds(pg.walsender(stream)), stack.cpu()

    seconds, size, lsn, (walsender, after), client = zmq_drain(stack, stream, rows, before_detach, timeout)
    _wait_acked(pg, stream, lsn)
    _release(pg, stack, stream, detach=False)
    return {"seconds": seconds, "bytes": size, "walsender_cpu": walsender, "client_cpu": client,
            "reader_cpu": after["reader"] - before["reader"]}


def _drain_tail(pg, stack, config, stream, transactions, timeout):
    """deltastream-tail --ack to /dev/null, until it printed every transaction (--count)."""
    before = stack.cpu()
    started = time.perf_counter()
    subprocess.run([config.tail_bin, "--control", stack.control_url, "--publish", stack.publish_url, "--ack",
                    "--count", str(transactions), "--log-level", "warn", stream],
                   stdout=subprocess.DEVNULL, check=True, timeout=timeout)
    seconds = time.perf_counter() - started
    after = stack.cpu()
    _release(pg, stack, stream, detach=True)
    return {"seconds": seconds, "reader_cpu": after["reader"] - before["reader"]}


def _drain_pg(pg, slot, endpos, timeout):
    seconds, walsender, _ = recvlogical_drain(pg, slot, endpos, timeout)
    return {"seconds": seconds, "walsender_cpu": walsender}


def run(config, pg, stack, reader_alone):
    create_table(pg, TABLE)
    figures = []
    for transactions, rows_per in config.workloads:
        rows = transactions * rows_per
        rounds = []
        for number in range(config.rounds):
            pg.sql(f"TRUNCATE {TABLE}")
            ws_stream = stack.create_stream()
            lib_stream = stack.create_stream()
            zmq_stream = reader_alone.create_stream()
            tail_stream = reader_alone.create_stream()
            slot = f"bench_recv_{number}"
            pg.create_slot(slot)
            write(pg, transactions, rows_per)
            endpos = pg.wal_lsn()
            drains = {
                "ws": lambda: _drain_ws(pg, stack, ws_stream, rows, config.timeout, bare=True),
                "ws_lib": lambda: _drain_ws(pg, stack, lib_stream, rows, config.timeout, bare=False),
                "zmq": lambda: _drain_zmq(pg, reader_alone, zmq_stream, rows, config.timeout),
                "pg": lambda: _drain_pg(pg, slot, endpos, config.timeout),
                "tail": lambda: _drain_tail(pg, reader_alone, config, tail_stream, transactions, config.timeout),
            }
            order = list(drains)[number % len(drains):] + list(drains)[:number % len(drains)]
            result = {name: drains[name]() for name in order}
            result["order"] = order
            rounds.append(result)
            print(f"  {transactions}x{rows_per} round {number + 1}: " +
                  ", ".join(f"{name} {result[name]['seconds']:.2f}s" for name in order), flush=True)
            stack.drop_stream(ws_stream)
            stack.drop_stream(lib_stream)
            reader_alone.drop_stream(zmq_stream)
            reader_alone.drop_stream(tail_stream)
            pg.drop_slot(slot)
        figures.append(summarize(transactions, rows_per, rounds))
    return figures


def summarize(transactions, rows_per, rounds):
    rows = transactions * rows_per

    def med(path, key):
        return statistics.median(r[path][key] for r in rounds)

    def per_million(value):
        return value / rows * 1e6

    size = med("ws", "bytes")
    summary = {"workload": f"{transactions}x{rows_per}", "transactions": transactions,
               "rows": rows, "bytes": size, "rounds": rounds}
    for path in ("ws", "ws_lib", "zmq", "pg"):
        seconds = med(path, "seconds")
        summary[path] = {"seconds": seconds, "rows_per_s": rows / seconds, "mb_per_s": size / seconds / 1e6,
                         "walsender_cpu_per_m": per_million(med(path, "walsender_cpu"))}
    summary["ws"]["reader_cpu_per_m"] = per_million(med("ws", "reader_cpu"))
    summary["ws"]["gateway_cpu_per_m"] = per_million(med("ws", "gateway_cpu"))
    summary["zmq"]["reader_cpu_per_m"] = per_million(med("zmq", "reader_cpu"))
    # The Python client's own CPU share of the drain: near 1.0, the client is the limit.
    for path in ("ws", "ws_lib", "zmq"):
        summary[path]["client_core_share"] = statistics.median(r[path]["client_cpu"] / r[path]["seconds"]
                                                               for r in rounds)
    # The ratio of each round's own pair, then the median: rounds share the machine's noise.
    summary["ws_ratio"] = statistics.median(r["ws"]["seconds"] / r["pg"]["seconds"] for r in rounds)
    summary["ws_lib_ratio"] = statistics.median(r["ws_lib"]["seconds"] / r["pg"]["seconds"] for r in rounds)
    summary["zmq_ratio"] = statistics.median(r["zmq"]["seconds"] / r["pg"]["seconds"] for r in rounds)
    summary["tail"] = {"seconds": med("tail", "seconds"), "reader_cpu_per_m": per_million(med("tail", "reader_cpu"))}
    summary["tail_ratio"] = statistics.median(r["tail"]["seconds"] / r["pg"]["seconds"] for r in rounds)
    return summary
