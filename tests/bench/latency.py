"""Figure 2, latency commit → client: single-row transactions at a fixed rate, each row
carrying its send time; the client subtracts it from the arrival time. deltastream
(reader + gateway + a python3-websockets consumer) and pg_recvlogical read line by line
from its stdout (the floor) take turns on fresh slots, the order alternating each round."""

import asyncio
import json
import statistics
import time

import websockets

from clients import RecvlogicalFollower, nextlsn, sent_ns
from stack import wait_until
from writer import create_table, paced_writes

TABLE = "bench_latency"


def percentiles(samples):
    ordered = sorted(samples)
    if not ordered:
        return {"p50": None, "p99": None, "p999": None, "max": None}

    def at(q):
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6  # ms

    return {"p50": at(0.50), "p99": at(0.99), "p999": at(0.999), "max": ordered[-1] / 1e6}


def _deltastream(config, pg, stack, rate):
    async def run():
        stream = stack.create_stream()
        latencies = []
        last = [None]
        client_share = [None]
        async with websockets.connect(stack.ws_url(stream), max_size=None, compression=None,
                                      ping_interval=None) as ws:
            wait_until(lambda: pg.walsender(stream), 15, "the stream to start")
            await asyncio.sleep(0.5)

            async def receive():
                while True:
                    message = await ws.recv()
                    now = time.time_ns()
                    latencies.append(now - sent_ns(message))
                    last[0] = message

            receiver = asyncio.ensure_future(receive())
            loop = asyncio.get_running_loop()
            client, wall = time.process_time(), time.monotonic()
            written, achieved = await loop.run_in_executor(
                None, paced_writes, pg.dsn, TABLE, rate, config.latency_seconds)
            deadline = time.monotonic() + 15
            while len(latencies) < written and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            client_share[0] = (time.process_time() - client) / (time.monotonic() - wall)
            receiver.cancel()
            if last[0] is not None:
                await ws.send(json.dumps({"lsn": nextlsn(last[0])}))
        stack.drop_stream(stream)
        return written, achieved, latencies, client_share[0]

    return asyncio.run(run())


def _recvlogical(config, pg, rate):
    slot = "bench_latency_floor"
    pg.create_slot(slot)
    latencies = []
    follower = RecvlogicalFollower(pg, slot, lambda line, now: latencies.append(now - sent_ns(line)))
    try:
        wait_until(lambda: pg.walsender(slot), 15, "pg_recvlogical to start")
        time.sleep(0.5)
        written, achieved = paced_writes(pg.dsn, TABLE, rate, config.latency_seconds)
        deadline = time.monotonic() + 15
        while len(latencies) < written and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        follower.close()
    pg.drop_slot(slot)
    return written, achieved, latencies, None


def run(config, pg, stack):
    create_table(pg, TABLE)
    figures = []
    for rate in config.rates:
        rounds = []
        for number in range(config.rounds):
            order = ["ws", "pg"] if number % 2 == 0 else ["pg", "ws"]
            result = {"order": order}
            for name in order:
                written, achieved, samples, client = (_deltastream(config, pg, stack, rate) if name == "ws"
                                              else _recvlogical(config, pg, rate))
                result[name] = {"written": written, "achieved_rate": achieved, "received": len(samples),
                                "client_core_share": client, **percentiles(samples)}
            rounds.append(result)
            print(f"  {rate}/s round {number + 1}: " + ", ".join(
                f"{name} p99 {result[name]['p99']:.2f} ms ({result[name]['achieved_rate']:.0f} tx/s)"
                for name in order), flush=True)
        summary = {"rate": rate, "rounds": rounds}
        for name in ("ws", "pg"):
            summary[name] = {key: statistics.median(r[name][key] for r in rounds)
                             for key in ("p50", "p99", "p999", "max", "achieved_rate")}
            summary[name]["lost"] = sum(r[name]["written"] - r[name]["received"] for r in rounds)
        summary["ws"]["client_core_share"] = statistics.median(r["ws"]["client_core_share"] for r in rounds)
        figures.append(summary)
    return figures
