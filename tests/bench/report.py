"""Prints the table and writes docs/benchmarks.md with the charts. Also runs alone on
a saved run: python3 tests/bench/report.py LOG_DIR/results.json --docs docs"""

import argparse
import json
import os
import platform
import subprocess

import targets

# Text after this line in docs/benchmarks.md is written by hand and kept across runs.
KEEP = "<!-- Observations below are written by hand and kept when run.sh rewrites this file. -->"


def machine():
    model = memory = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {"nproc": os.cpu_count(), "model": model, "memory": memory, "kernel": platform.release()}


def commit():
    """HEAD, and whether the sources built differ from it (others may be editing the tree)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "CMakeLists.txt", "common", "proto",
                                  "reader", "gateway"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return head + (" with uncommitted changes to the sources" if changed.strip() else "")


def _kept(path):
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        text = f.read()
    return text.split(KEEP, 1)[1].strip() if KEEP in text else ""


def print_table(results):
    table = targets.rows(results)
    print()
    print(targets.text_table(table))
    return table


def write(results, config):
    table = print_table(results)
    import charts  # matplotlib: only once there is something to draw (run.sh --help needs none)
    out_dir = os.path.join(config.docs, "bench")
    drawn = charts.draw(results, out_dir)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    m = machine()
    c = results["config"]
    path = os.path.join(config.docs, "benchmarks.md")
    kept = _kept(path)
    mode = "quick (`--quick`)" if results["quick"] else "full (the default)"
    workloads = ", ".join(f"{t}x{r}" for t, r in c["workloads"])
    lines = [
        "# Benchmarks",
        "",
        "Written by `tests/bench/run.sh`. Every comparison is side by side in one run, "
        "the median of alternated rounds.",
        "",
        f"- **Run**: {results['started']}, {mode} mode, {c['rounds']} rounds, "
        f"{results['seconds'] / 60:.1f} minutes of measuring, built from the working tree at commit "
        f"`{results.get('commit') or commit()}`",
        f"- **Machine**: {m['nproc']} CPUs ({m['model']}), {m['memory']} of memory, Linux {m['kernel']}; "
        f"load average {results.get('load_start', 0):.1f} at the start and {results.get('load_end', 0):.1f} "
        "at the end of the run",
        f"- **PostgreSQL**: {results['postgres']} (throwaway cluster from `deploy/local-postgres.sh`, "
        "`fsync = off`, autovacuum off)",
        f"- **Command**: `{config.command}`",
        "",
        "**These figures come from a shared machine**: other engineers' builds and test suites "
        "may have been using the 2 CPUs during the run, so absolute figures are noisy and can move "
        "by tens of percent between runs. Compare the ratios of one run (each round measures both "
        "sides back to back, and the ratio is the median of the rounds' own ratios).",
        "",
        "## Results",
        "",
        targets.markdown_table(table),
        "",
        "## How each figure is measured",
        "",
        f"1. **Throughput** ({workloads}; transactions x rows): the rows are written first, "
        "with four slots created at the same point before the writes; one is drained by "
        "reader + gateway to a bare WebSocket consumer (`tests/bench/bare_websocket.py`, "
        "asyncio.Protocol, no task or timer per message: the headline figure; it ACKs the "
        "last `nextlsn` at the end), one the same way to a python3-websockets consumer (what "
        "an application would write; its per-message cost makes the client the limit for "
        "small messages), one by a second reader with no gateway to a ZeroMQ SUB, one by "
        "`pg_recvlogical --endpos … -f /dev/null` with the reader's wal2json options "
        "(`format-version=1`, `include-lsn=on`, `pretty-print=off`, `write-in-chunks=on`). Time is from the client's "
        "first connection to its last row. MB/s counts the wal2json messages' bytes. CPU is "
        "utime+stime from `/proc/PID/stat` before and after: the walsender of the stream's slot "
        "(its `active_pid`), the reader and the gateway; pg_recvlogical's walsender by "
        "polling `/proc` every 10 ms while it runs (it ends with pg_recvlogical).",
        f"2. **Latency** ({', '.join(f'{r:,}' for r in c['rates'])} single-row transactions/s, "
        f"{c['latency_seconds']:g} s each): `deltastream-bench-writer` (`tests/bench/paced_writer.cpp`, "
        "libpq, a few connections, transaction i due at start + i / rate) paces the commits; each "
        "row carries CLOCK_REALTIME (`time.time_ns()`) taken just before its INSERT is sent, and the client subtracts it from "
        "the arrival time (same machine, same clock), so a figure includes the INSERT and COMMIT "
        "round trip. Five consumers take turns, each on a fresh slot, the order rotating each "
        "round: reader + gateway to the bare WebSocket client of figure 1 (the headline), the "
        "same to a python3-websockets client (a task wake-up per message), the reader alone to "
        "a ZeroMQ SUB (what the gateway adds is the difference), the floor, "
        "pg_recvlogical writing to a pipe read line by line, and one bare ZeroMQ hop: "
        "`deltastream-bench-hop` (`tests/bench/zmq_hop.cpp`) publishing its own clock at the "
        "same rate over loopback TCP to the same SUB, no PostgreSQL and none of our code "
        "(deltastream's shape puts such a hop, reader to gateway, on top of the floor's path). "
        "Each consumer runs on a thread of the benchmark's process; the writers are processes "
        "of their own.",
        f"3. **Fan-out** ({', '.join(str(o) for o in c['observers'])} observers, `&mode=observe`, "
        f"{c['fanout_total']:,} deliveries/s in total, transactions/s capped at "
        f"{c['fanout_max_rate']:,}, {c['fanout_seconds']:g} s per step): the observers are "
        "`deltastream-bench-crowd` (`tests/bench/observer_crowd.cpp`: every connection in one "
        "thread on epoll, so the client costs little; all from 127.0.0.1, so the gateway's "
        "per-address connection limit is lifted), and one consumer ACKs between steps. KiB per "
        "connection is (peak VmRSS during the step - VmRSS before connecting) / observers. "
        "**Capacity** is measured, not extrapolated: the largest crowd again at "
        f"{', '.join(str(r) for r in c['capacity_rates'])} transactions/s, stopping at the first "
        "step whose p99 passes 100 ms, that loses a delivery or a connection; the capacity is the "
        "most deliveries/s of a step that kept up, and per core that divided by the gateway's "
        "share of a core in it (utime+stime of the process, ZeroMQ's thread included). Its floor "
        "(`tests/bench/send_floor.py`) is the kernel time of one loopback TCP send "
        "of the stream's message size with TCP_NODELAY, a reader process draining the other "
        "end: 1 / that is what a core could send if a delivery cost nothing but its send. "
        "The gateway passes it when a connection's queued messages go out in one send "
        "(`gateway/write_coalescing_stream.hpp`), which happens once the load outruns one send "
        "per message.",
        f"4. **Snapshot** ({c['snapshot_rows']:,} rows): one `/v1/init`, then every row through "
        f"`POST /v1/snapshot/data` with `order_by` id on one keep-alive connection, in pages of "
        f"{c['page_rows']:,} and of {c['largest_page_rows']:,} (`--max-page-rows`, the largest "
        "page the gateway serves by default), and streamed whole by `GET /v1/snapshot/stream` "
        "(NDJSON, chunked: the fastest full-table read the gateway offers; a build without it "
        "skips it and the largest pages carry the 0.8x target), against "
        "`psql -c \"\\copy (select row_to_json(t) from t t) to /dev/null\"`.",
        f"5. **One {c['big_rows']:,}-row transaction**: written, then drained by a fresh reader + "
        "gateway to a WebSocket consumer and by pg_recvlogical; time to the last row, and peak "
        "RSS (`VmHWM` in `/proc/PID/status`) of reader, gateway and the walsender.",
        "7. **Native API (v2)**: a row stream (`POST /v2/streams`, its own pgoutput slot and "
        f"publication). Drains ({workloads}): written first, then drained by reader + gateway to a "
        "bare WebSocket consumer of `/v2/streams/NAME/changes` that ACKs every commit, and by "
        "`pg_recvlogical -o proto_version=1 -o publication_names=<the stream's> --endpos … -f /dev/null` "
        f"over the reader's transport. One {c['big_rows']:,}-row transaction through a fresh reader + "
        "gateway each round: the highest round's `VmHWM` of each. The snapshot of "
        f"{c['snapshot_rows']:,} rows: `GET /v2/streams/NAME/snapshot` to EOF against "
        "`psql -c \"\\copy (SELECT to_json(t) FROM t) to /dev/null\"` (and, for reference, the same in "
        "key order, as the v2 read is).",
        "8. **JetStream output** (`deltastream-jetstream`, a v2 row stream into NATS JetStream: a message "
        "a row, begin and commit on `._tx`): a three-node JetStream cluster on loopback "
        "(`tests/integration/nats_cluster.py`, Debian's nats-server, file storage, fresh for each round), "
        "its streams created by `deltastream-jetstream` itself before the writes. Drains "
        f"({workloads}): written first, then drained into an R"
        f"{' and an R'.join(str(r) for r in c.get('jetstream_replicas', [3]))} stream, each by a "
        "`deltastream-jetstream` (default `--max-in-flight`) on a reader of its own with no gateway, timed "
        "from the program's start until the slot's `confirmed_flush_lsn` reaches the WAL end after the "
        "writes (it ACKs a transaction only once JetStream stored all of it, so then JetStream holds "
        "everything; the stream's message count is checked), beside figure 7's WebSocket drain of the "
        "same rows, `pg_recvlogical` on pgoutput, and JetStream by itself: `deltastream-bench-js` "
        "(`tests/bench/jetstream_probe.cpp`) publishing as many messages of the stream's mean size into the "
        "same stream as fast as JetStream answers (asynchronously, at most 4,096 unanswered, as the output); "
        "CPU of the walsender, the reader, the output and the three nats-servers. Latency: "
        f"{c.get('jetstream_rate', 1000):,} single-row transactions/s for "
        f"{c.get('jetstream_seconds', 20):g} s a side and round, `deltastream-bench-writer`'s stamp to "
        f"its arrival at an ephemeral push consumer of the R{c.get('jetstream_replicas', [3])[0]} stream "
        "(`deltastream-bench-js`, its own process), beside `pg_recvlogical` (figure 2's floor) "
        "and the bare JetStream hop: the same consumer while `deltastream-bench-js` publishes its own "
        "clock into the same stream at the same rate, between a begin and a commit message as the output "
        "sends them (asynchronously, with a `Nats-Msg-Id`), none of our code on the way.",
        "",
        "## Charts",
        "",
    ]
    titles = {"throughput": "Throughput and CPU per million rows", "latency": "Latency",
              "fanout": "Fan-out", "snapshot": "Snapshot", "bigtx": "One huge transaction"}
    for key, name in drawn:
        lines += [f"### {titles[key]}", "", f"![{titles[key]}](bench/{name})", ""]
    lines += [
        "## Reproducing",
        "",
        "```sh",
        "./tests/bench/run.sh            # full: about 15 minutes on 2 cores, plus the build",
        "./tests/bench/run.sh --quick    # about 3 minutes, smaller sizes",
        "./tests/bench/run.sh --only latency,fanout --rounds 5   # any section, any size: --help",
        "```",
        "",
        "A run with `--only` prints its table and leaves this file alone (unless `--write-docs`).",
        "",
        "The raw figures of every round are in [bench/results.json](bench/results.json); "
        "`/usr/bin/python3 tests/bench/report.py docs/bench/results.json --docs docs` redraws the "
        "table and charts from them. Each run keeps the processes' logs in the directory it prints.",
        "",
        KEEP,
        "",
        kept,
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print(f"\nwrote {path} and {len(drawn)} charts in {out_dir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results")
    parser.add_argument("--docs", default="docs")
    parser.add_argument("--command", default="./tests/bench/run.sh")
    args = parser.parse_args()
    with open(args.results) as f:
        write(json.load(f), args)
