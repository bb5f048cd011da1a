"""Figure 8, the JetStream output: deltastream-jetstream (proto/jetstream/) following a v2
row stream as its consumer and publishing each change into NATS JetStream, on a
three-node JetStream cluster on loopback (tests/integration/nats_cluster.py, fresh stores
for each round), beside the same rows' other ways out in the same run, the order rotating
each round:
- drains: the throughput workloads written first, then drained by deltastream-jetstream
  into an R3 stream (and an R1 stream: what the replication costs), timed from its start
  until the slot's confirmed_flush_lsn reaches the WAL end after the writes (a transaction
  is ACKed only once JetStream stored all its messages, so then JetStream holds them all;
  the stream's message count is checked: rows + a begin and a commit a transaction);
  beside the v2 section's WebSocket drain (reader + gateway, an ACK per commit) and
  pg_recvlogical on pgoutput, and JetStream by itself: deltastream-bench-js
  (jetstream_probe.cpp) publishing as many messages of the same mean size into the same
  stream as fast as JetStream takes them, at most 4,096 unanswered as deltastream-jetstream.
  The outputs follow a reader of their own, with no gateway (which would take every
  message the reader publishes), like throughput.py's ZeroMQ drain;
- latency: single-row transactions at --jetstream-rate (paced_writer.cpp), from the row's
  stamp (taken before its INSERT) to an ephemeral push consumer of the R3 stream
  (deltastream-bench-js, jetstream_probe.cpp, in its own process) receiving it; beside
  pg_recvlogical (latency.py's floor) and the bare JetStream hop: the same consumer while
  deltastream-bench-js publishes its own clock into the same stream at the same rate,
  none of our code on the way (what JetStream R3 costs on this machine by itself).

Each JetStream stream is created by deltastream-jetstream itself (with its settings:
file storage, the duplicate window, discard new) before the writes, so no drain times a
stream's creation."""

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import latency
import v2
from consumers import JetStreamConsumer
from nats_cluster import NatsCluster
from stack import Child, cpu_seconds, parse_lsn, wait_until
from throughput import _release, create_table, write
from writer import create_table as create_latency_table, paced_writes

TABLE = "bench_js"
LATENCY_STREAM = "BENCH_LATENCY"
LATENCY_PREFIX = "bench_lat"
LATENCY_SIDES = ("js", "hop", "pg")
# The begin and commit lines of a transaction, about: {"op":"begin","xid":745,"commit_lsn":"0/16D3B10",
# "commit_time":"2026-12-02T17:00:00.123456+00:00"} and {"op":"commit","xid":745,"lsn":"0/16D3B40","changes":4}
MARKER_BYTES = 100 + 60


@contextlib.contextmanager
def _nats(config, label):
    """A fresh three-node cluster; its nodes' logs are kept in the run's log directory."""
    workdir = tempfile.mkdtemp(prefix="deltastream-bench-nats-")
    cluster = NatsCluster(workdir)
    try:
        cluster.wait_ready()
        yield cluster
    finally:
        cluster.stop()
        for i in range(cluster.size):
            shutil.copy(cluster.log_path(i), os.path.join(config.log_dir, f"nats-{label}-{cluster.name(i)}.log"))
        shutil.rmtree(workdir, ignore_errors=True)


def _nats_cpu(cluster):
    return sum(cpu_seconds(process.pid) for process in cluster.processes)


def _probe(config, cluster, *args, timeout=60):
    done = subprocess.run([config.js_probe_bin, cluster.servers, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"deltastream-bench-js {args[0]} exited with {done.returncode}: {done.stderr.strip()}")
    return done.stdout.split()


def _stored(config, cluster, js_stream):
    return int(_probe(config, cluster, "info", js_stream)[1])  # "messages N bytes B"


def _js_names(replicas):
    """The JetStream stream and subject prefix of the drains into R`replicas`."""
    return f"BENCH_R{replicas}", f"bench_r{replicas}"


def _output(config, reader, cluster, follow, js_stream, prefix, replicas, label):
    return Child(f"jetstream-{label}", [config.jetstream_bin, "--follow", follow, "--nats-servers", cluster.servers,
                                        "--js-stream", js_stream, "--subject-prefix", prefix,
                                        "--js-replicas", str(replicas), "--control", reader.control_url,
                                        "--publish", reader.publish_url, "--log-level", "info"], config.log_dir)


def _create_js_stream(config, reader, cluster, js_stream, prefix, replicas):
    """deltastream-jetstream makes the stream as it starts, before it follows anything:
    started on a v2 stream that does not exist (it waits for it), stopped once it is there."""
    output = _output(config, reader, cluster, "bench_js_absent", js_stream, prefix, replicas, "create")

    def created():
        output.alive()
        try:
            _stored(config, cluster, js_stream)
            return True
        except RuntimeError:  # not there yet
            return False

    try:
        wait_until(created, 60, f"JetStream stream {js_stream}")
    finally:
        output.stop()


def _create_v2(reader, name, table):
    """A row stream of every column of `table` through the reader's control socket (the
    gateway's POST /v2/streams makes the same); its slot and publication are delta_v2_<name>."""
    slot = f"delta_v2_{name}"
    reader.control.ok("create", stream=slot, tables=[{"table": f"public.{table}"}])
    reader.control.ok("release", stream=slot)  # no exported snapshot held open
    return slot


def _failed(started, error):
    return {"seconds": None, "failed_after": time.perf_counter() - started, "error": str(error)[:300]}


def _drain_js(config, pg, reader, cluster, name, replicas, endpos, expected):
    """deltastream-jetstream from its start until the slot is confirmed at `endpos`."""
    slot = f"delta_v2_{name}"
    js_stream, prefix = _js_names(replicas)
    stored_before = _stored(config, cluster, js_stream)
    before, nats_before = reader.cpu(), _nats_cpu(cluster)
    started = time.perf_counter()
    output = _output(config, reader, cluster, name, js_stream, prefix, replicas, f"r{replicas}")
    try:
        wait_until(lambda: output.alive() and parse_lsn(pg.confirmed(slot)) >= parse_lsn(endpos), config.timeout,
                   f"{slot} confirmed at {endpos}")
        seconds = time.perf_counter() - started
        walsender = pg.walsender(slot)
        result = {"seconds": seconds, "walsender_cpu": cpu_seconds(walsender) if walsender else 0.0,
                  "reader_cpu": reader.cpu()["reader"] - before["reader"], "output_cpu": output.cpu(),
                  "nats_cpu": _nats_cpu(cluster) - nats_before}
    except (RuntimeError, TimeoutError) as error:
        result = _failed(started, error)
    finally:
        output.stop()  # it lets go of the stream, which streams on until detached
    if pg.walsender(slot):
        _release(pg, reader, slot, detach=True)
    result["stored"] = _stored(config, cluster, js_stream) - stored_before
    result["expected"] = expected
    if result["seconds"] is not None and result["stored"] != expected:
        result.update(_failed(started, f"JetStream holds {result['stored']} new messages, not {expected}"))
    return result


def _drain_bare(config, cluster, replicas, messages, size):
    """deltastream-bench-js flooding the stream with `messages` of `size` bytes, from its start
    until JetStream answered every one."""
    js_stream, prefix = _js_names(replicas)
    stored_before, nats_before = _stored(config, cluster, js_stream), _nats_cpu(cluster)
    started = time.perf_counter()
    try:
        _probe(config, cluster, "flood", js_stream, f"{prefix}.bare", messages, size, timeout=config.timeout)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        return _failed(started, error)
    result = {"seconds": time.perf_counter() - started, "nats_cpu": _nats_cpu(cluster) - nats_before,
              "stored": _stored(config, cluster, js_stream) - stored_before, "expected": messages}
    if result["stored"] != messages:
        result.update(_failed(started, f"JetStream holds {result['stored']} new messages, not {messages}"))
    return result


def _mean_message_bytes(pg, transactions, rows):
    """The mean size of the stream's messages: an insert line is {"op":"insert","table":"public.<table>","new":
    <the row as to_json writes it>} (proto/PROTOCOL.md), and each transaction adds a begin and a commit."""
    wrapper = len('{"op":"insert","table":"public.%s","new":}' % TABLE)
    row = float(pg.value(f"SELECT avg(octet_length(to_json(t)::text)) FROM {TABLE} t"))
    return round((rows * (wrapper + row) + transactions * MARKER_BYTES) / (rows + 2 * transactions))


def _drain_round(config, pg, stack, reader, cluster, transactions, rows_per, number):
    rows = transactions * rows_per
    pg.sql(f"TRUNCATE {TABLE}")
    ws_name = f"bench_js_ws_{number}"
    publication = v2._create(stack, ws_name, TABLE)  # the floor reads the same table through it
    js = {replicas: f"bench_js_r{replicas}_{number}" for replicas in config.jetstream_replicas}
    for replicas, name in js.items():
        _create_v2(reader, name, TABLE)
        _create_js_stream(config, reader, cluster, *_js_names(replicas), replicas)
    pg.create_slot(v2.FLOOR_SLOT, "pgoutput")
    try:
        write(pg, transactions, rows_per, TABLE)
        endpos = pg.wal_lsn()
        messages = rows + 2 * transactions
        size = _mean_message_bytes(pg, transactions, rows)
        drains = {"ws": lambda: v2._drain_ws(config, pg, stack, ws_name, rows, ack="each"),
                  "pg": lambda: v2._drain_floor(config, pg, publication, endpos)}
        for replicas, name in js.items():
            drains[f"js_r{replicas}"] = (lambda replicas=replicas, name=name: _drain_js(
                config, pg, reader, cluster, name, replicas, endpos, messages))
            drains[f"bare_r{replicas}"] = (lambda replicas=replicas: _drain_bare(config, cluster, replicas, messages,
                                                                                 size))
        order = v2._alternate(number, list(drains))
        result = {side: drains[side]() for side in order}
        result["order"] = order
        result["message_bytes"] = size
    finally:
        v2._api(stack, "DELETE", f"/v2/streams/{ws_name}")
        for name in js.values():
            reader.drop_stream(f"delta_v2_{name}")
        pg.drop_slot(v2.FLOOR_SLOT)
    print(f"  jetstream {transactions}x{rows_per} round {number + 1}: " +
          ", ".join(f"{side} {v2._seconds(result[side])}" for side in order), flush=True)
    return result


def _paired(rounds, side, other):
    """The median of each round's own ratio of two sides' seconds (rounds share the noise)."""
    ratios = [r[side]["seconds"] / r[other]["seconds"] for r in rounds
              if r[side]["seconds"] is not None and r[other]["seconds"] is not None]
    return statistics.median(ratios) if ratios else None


def _summarize_drains(config, transactions, rows_per, rounds):
    rows = transactions * rows_per
    pg = statistics.median(r["pg"]["seconds"] for r in rounds)
    summary = {"workload": f"{transactions}x{rows_per}", "rows": rows, "messages": rows + 2 * transactions,
               "message_bytes": statistics.median(r["message_bytes"] for r in rounds),
               "rounds": rounds, "pg": {"seconds": pg, "rows_per_s": rows / pg},
               "ws": v2.summarize_side(rounds, "ws", rows, ("walsender_cpu", "reader_cpu", "gateway_cpu",
                                                             "client_cpu"))}
    for replicas in config.jetstream_replicas:
        side, bare = f"js_r{replicas}", f"bare_r{replicas}"
        figure = summary[side] = v2.summarize_side(rounds, side, rows, ("walsender_cpu", "reader_cpu", "output_cpu",
                                                                         "nats_cpu"))
        summary[bare] = v2.summarize_side(rounds, bare, rows, ("nats_cpu",))
        figure["replicas"] = summary[bare]["replicas"] = replicas
        figure["vs_ws"] = _paired(rounds, side, "ws")
        figure["vs_bare"] = _paired(rounds, side, bare)
        if replicas != 1 and 1 in config.jetstream_replicas:
            figure["vs_r1"] = _paired(rounds, side, "js_r1")
        for name in (side, bare):
            if summary[name]["seconds"] is not None:
                summary[name]["messages_per_s"] = summary["messages"] / summary[name]["seconds"]
    return summary


def _drains(config, pg, stack, reader):
    create_table(pg, TABLE)
    figures = []
    for transactions, rows_per in config.workloads:
        rounds = []
        for number in range(config.rounds):
            with _nats(config, f"{transactions}x{rows_per}-{number + 1}") as cluster:
                rounds.append(_drain_round(config, pg, stack, reader, cluster, transactions, rows_per, number))
        figures.append(_summarize_drains(config, transactions, rows_per, rounds))
    return figures


def _shares(processes, before, started):
    """Each process's (or group's) share of a core since `started`: CPU seconds over wall seconds."""
    wall = time.monotonic() - started
    return {name: (cpu() - before[name]) / wall for name, cpu in processes.items()}


def _latency_side(side, config, pg, reader, cluster, number):
    """(written, achieved rate, latencies in ns, {process: share of a core}) of one side for one round."""
    replicas = config.jetstream_replicas[0]
    rate, seconds = config.jetstream_rate, config.jetstream_seconds
    if side == "pg":  # latency.py's floor, for as long as the other sides
        written, achieved, samples, _ = latency._side(
            "pg", argparse.Namespace(**{**vars(config), "latency_seconds": seconds}), pg, None, None, rate)
        return written, achieved, samples, {}
    if side == "hop":
        subject = f"{LATENCY_PREFIX}.hop"

        def publish():
            words = _probe(config, cluster, "publish", LATENCY_STREAM, subject, rate, seconds, f"{subject}_tx",
                           timeout=seconds + 60)
            return int(words[1]), float(words[3])  # "sent N rate R"

        processes = {"nats": lambda: _nats_cpu(cluster)}
        before, started = {k: cpu() for k, cpu in processes.items()}, time.monotonic()
        written, achieved, samples, _ = latency._measure(
            JetStreamConsumer(config.js_probe_bin, cluster.servers, LATENCY_STREAM, subject), publish)
        return written, achieved, samples, _shares(processes, before, started)
    name = f"bench_js_latency_{number}"
    slot = _create_v2(reader, name, latency.TABLE)
    output = _output(config, reader, cluster, name, LATENCY_STREAM, LATENCY_PREFIX, replicas, "latency")
    try:
        wait_until(lambda: output.alive() and pg.walsender(slot), 60, f"{slot} to start streaming")
        time.sleep(0.5)
        consumer = JetStreamConsumer(config.js_probe_bin, cluster.servers, LATENCY_STREAM,
                                     f"{LATENCY_PREFIX}.{name}.public.{latency.TABLE}")
        walsender = pg.walsender(slot)
        processes = {"walsender": lambda: cpu_seconds(walsender), "reader": lambda: reader.cpu()["reader"],
                     "output": output.cpu, "nats": lambda: _nats_cpu(cluster)}
        before, started = {k: cpu() for k, cpu in processes.items()}, time.monotonic()
        written, achieved, samples, _ = latency._measure(
            consumer, lambda: paced_writes(config.writer_bin, pg.dsn, latency.TABLE, rate, seconds))
        return written, achieved, samples, _shares(processes, before, started)
    finally:
        output.stop()
        if pg.walsender(slot):
            _release(pg, reader, slot, detach=True)
        reader.drop_stream(slot)


def _latency(config, pg, reader):
    create_latency_table(pg, latency.TABLE)
    rounds = []
    with _nats(config, "latency") as cluster:
        _create_js_stream(config, reader, cluster, LATENCY_STREAM, LATENCY_PREFIX, config.jetstream_replicas[0])
        for number in range(config.rounds):
            order = list(v2._alternate(number, list(LATENCY_SIDES)))
            result = {"order": order}
            for side in order:
                written, achieved, samples, cores = _latency_side(side, config, pg, reader, cluster, number)
                result[side] = {"written": written, "achieved_rate": achieved, "received": len(samples),
                                "core_shares": cores, **latency.percentiles(samples)}
            rounds.append(result)
            print(f"  jetstream latency at {config.jetstream_rate}/s round {number + 1}: " + ", ".join(
                f"{side} p50 {result[side]['p50']:.2f} p99 {result[side]['p99']:.2f} ms "
                f"({result[side]['achieved_rate']:.0f}/s)" for side in order), flush=True)
    summary = {"rate": config.jetstream_rate, "seconds": config.jetstream_seconds,
               "replicas": config.jetstream_replicas[0], "rounds": rounds}
    for side in LATENCY_SIDES:
        summary[side] = {key: statistics.median(r[side][key] for r in rounds)
                         for key in ("p50", "p99", "p999", "max", "achieved_rate")}
        summary[side]["lost"] = sum(r[side]["written"] - r[side]["received"] for r in rounds)
        summary[side]["core_shares"] = {process: statistics.median(r[side]["core_shares"][process] for r in rounds)
                                        for process in rounds[0][side]["core_shares"]}
    return summary


def run(config, pg, stack, reader_alone):
    """The parts in config.jetstream_parts: the WebSocket drains through `stack`, the
    outputs through `reader_alone`."""
    results = {}
    if "drains" in config.jetstream_parts:
        results["drains"] = _drains(config, pg, stack, reader_alone)
    if "latency" in config.jetstream_parts:
        results["latency"] = _latency(config, pg, reader_alone)
    return results
