"""Figure 2, latency commit → client: single-row transactions at a fixed rate, each row
carrying its send time; the client subtracts it from the arrival time. Four consumers
take turns on fresh slots, the order rotating each round: reader + gateway to a bare
WebSocket client (the headline), the same to a python3-websockets client, the reader
alone to a ZeroMQ SUB (what the gateway adds is the difference), pg_recvlogical read
line by line from its stdout (the floor), and a bare ZeroMQ PUB to the same SUB (what the
ZeroMQ hop between reader and gateway costs on this machine by itself)."""

import statistics
import subprocess
import time

from consumers import BareConsumer, HopConsumer, LibConsumer, RecvlogicalConsumer, ZmqConsumer
from stack import free_port, wait_until
from writer import create_table, paced_writes

TABLE = "bench_latency"
SIDES = ("ws", "ws_lib", "zmq", "pg", "hop")


def percentiles(samples):
    ordered = sorted(samples)
    if not ordered:
        return {"p50": None, "p99": None, "p999": None, "max": None}

    def at(q):
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6  # ms

    return {"p50": at(0.50), "p99": at(0.99), "p999": at(0.999), "max": ordered[-1] / 1e6}


def _measure(consumer, load, ready=lambda: None):
    """Runs `load()` -> (written, achieved rate) while `consumer` follows it, once `ready()`
    returned; returns (written, achieved rate, latencies in ns, the client's share of a core)."""
    with consumer:
        ready()
        client, wall = time.process_time(), time.monotonic()
        written, achieved = load()
        deadline = time.monotonic() + 15
        while len(consumer.latencies) < written and time.monotonic() < deadline:
            time.sleep(0.01)
        share = (time.process_time() - client) / (time.monotonic() - wall)
    return written, achieved, list(consumer.latencies), share


def _hop_load(config, endpoint, rate):
    done = subprocess.run([config.hop_bin, endpoint, str(rate), str(config.latency_seconds)],
                          capture_output=True, text=True, timeout=config.latency_seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"{config.hop_bin} exited with {done.returncode}: {done.stderr.strip()}")
    words = done.stdout.split()  # "sent N rate R"
    return int(words[1]), float(words[3])


def _side(name, config, pg, stack, reader_alone, rate):
    if name == "hop":
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        return _measure(HopConsumer(endpoint), lambda: _hop_load(config, endpoint, rate))

    def writes():
        return paced_writes(config.writer_bin, pg.dsn, TABLE, rate, config.latency_seconds)

    def streaming(slot):
        wait_until(lambda: pg.walsender(slot), 15, f"{slot} to start streaming")
        time.sleep(0.5)

    if name == "pg":
        slot = "bench_latency_floor"
        pg.create_slot(slot)
        try:
            return _measure(RecvlogicalConsumer(pg, slot), writes, lambda: streaming(slot))
        finally:
            pg.drop_slot(slot)
    owner = reader_alone if name == "zmq" else stack
    stream = owner.create_stream()
    try:
        consumer = {"ws": BareConsumer, "ws_lib": LibConsumer, "zmq": ZmqConsumer}[name](owner, stream)
        return _measure(consumer, writes, lambda: streaming(stream))
    finally:
        owner.drop_stream(stream)


def run(config, pg, stack, reader_alone):
    create_table(pg, TABLE)
    figures = []
    for rate in config.rates:
        rounds = []
        for number in range(config.rounds):
            order = list(SIDES[number % len(SIDES):] + SIDES[:number % len(SIDES)])
            result = {"order": order}
            for name in order:
                written, achieved, samples, client = _side(name, config, pg, stack, reader_alone, rate)
                result[name] = {"written": written, "achieved_rate": achieved, "received": len(samples),
                                "client_core_share": client, **percentiles(samples)}
            rounds.append(result)
            print(f"  {rate}/s round {number + 1}: " + ", ".join(
                f"{name} p99 {result[name]['p99']:.2f} ms ({result[name]['achieved_rate']:.0f} tx/s)"
                for name in order), flush=True)
        summary = {"rate": rate, "rounds": rounds}
        for name in SIDES:
            summary[name] = {key: statistics.median(r[name][key] for r in rounds)
                             for key in ("p50", "p99", "p999", "max", "achieved_rate", "client_core_share")}
            summary[name]["lost"] = sum(r[name]["written"] - r[name]["received"] for r in rounds)
        figures.append(summary)
    return figures
