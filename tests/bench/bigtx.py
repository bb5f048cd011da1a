"""Figure 5, one huge transaction: N rows in one COMMIT (in wal2json format 1, the
pgdeltastream format, that is one message), drained through a fresh reader + gateway
to a WebSocket consumer and by pg_recvlogical, the order alternating each round. Fresh
processes each round, so VmHWM is the peak this transaction caused."""

import asyncio
import statistics
import time

import websockets

from clients import recvlogical_drain, ws_drain
from stack import Stack, peak_mib
from throughput import _wait_acked, create_table, write

TABLE = "bench_big"


def _describe(error):
    received = getattr(error, "rcvd", None)
    if received is not None:
        return f"closed by the gateway: {received.code} {received.reason}"[:120]
    return f"{type(error).__name__}: {error}"[:120]


def _drain_ws(config, pg, stack, stream):
    """The WebSocket drain; a connection the gateway closes is a result, not a crash."""
    walsender = pg.walsender
    started = time.perf_counter()
    try:
        seconds, size, lsn, walsender_peak, _ = ws_drain(
            stack.ws_url(stream), config.big_rows,
            lambda lsn: peak_mib(walsender(stream)), config.timeout)
        _wait_acked(pg, stream, lsn)
        outcome = {"seconds": seconds, "bytes": size, "walsender_peak_mib": walsender_peak}
    except (websockets.exceptions.ConnectionClosed, TimeoutError, asyncio.TimeoutError) as error:
        pid = walsender(stream)
        outcome = {"seconds": None, "bytes": None, "failed_after": time.perf_counter() - started,
                   "error": _describe(error),
                   "walsender_peak_mib": peak_mib(pid)}
    outcome.update({f"{k}_peak_mib": v for k, v in stack.peak_rss_mib().items()})
    return outcome


def _round(config, pg, number):
    stack = Stack(config, pg, name=f"-bigtx-{number}")
    slot = "bench_big_floor"
    result = {}
    try:
        stream = stack.create_stream()
        pg.create_slot(slot)
        pg.sql(f"TRUNCATE {TABLE}")
        write(pg, 1, config.big_rows, table=TABLE)
        endpos = pg.wal_lsn()
        order = ["ws", "pg"] if number % 2 == 0 else ["pg", "ws"]
        for name in order:
            if name == "ws":
                result["ws"] = _drain_ws(config, pg, stack, stream)
            else:
                seconds, _, walsender_peak = recvlogical_drain(pg, slot, endpos, config.timeout)
                result["pg"] = {"seconds": seconds, "walsender_peak_mib": walsender_peak}
        result["order"] = order
        stack.drop_stream(stream)
        pg.drop_slot(slot)
    finally:
        stack.close()
    return result


def run(config, pg):
    create_table(pg, TABLE)
    rounds = []
    for number in range(config.rounds):
        result = _round(config, pg, number)
        rounds.append(result)
        ws = result["ws"]
        got = f"{ws['seconds']:.2f}s" if ws["seconds"] is not None else \
            f"FAILED after {ws['failed_after']:.1f}s ({ws['error']})"
        print(f"  {config.big_rows}-row transaction round {number + 1}: deltastream {got} "
              f"(reader {ws['reader_peak_mib']:.0f} MiB, gateway {ws['gateway_peak_mib']:.0f} MiB peak), "
              f"pg_recvlogical {result['pg']['seconds']:.2f}s", flush=True)
    done = [r for r in rounds if r["ws"]["seconds"] is not None]
    summary = {"rows": config.big_rows, "rounds": rounds, "failed": len(rounds) - len(done),
               "errors": sorted({r["ws"]["error"] for r in rounds if r["ws"]["seconds"] is None}),
               "ratio": statistics.median(r["ws"]["seconds"] / r["pg"]["seconds"] for r in done) if done else None}

    def med(name, key, among):
        values = [r[name][key] for r in among if r[name].get(key) is not None]
        return statistics.median(values) if values else None

    summary["ws"] = {key: med("ws", key, done if key in ("seconds", "bytes") else rounds)
                     for key in ("seconds", "bytes", "walsender_peak_mib", "reader_peak_mib", "gateway_peak_mib")}
    summary["pg"] = {key: med("pg", key, rounds) for key in ("seconds", "walsender_peak_mib")}
    return summary
