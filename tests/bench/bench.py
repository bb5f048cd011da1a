"""deltastream's benchmarks (issue 6), run by tests/bench/run.sh against the throwaway
PostgreSQL it started: throughput, latency, fan-out, snapshot, one huge transaction, the
floors, the native API (v2) and the JetStream output, each beside PostgreSQL's own tools.
Prints a table, writes docs/benchmarks.md and one PNG per figure in docs/bench/, and the
raw figures as JSON."""

import argparse
import json
import os
import sys
import time
import traceback

import report
from stack import Postgres, Stack

SECTIONS = ("throughput", "latency", "fanout", "snapshot", "bigtx", "floors", "v2", "jetstream")


def _pairs(text):
    return [tuple(int(n) for n in item.split("x")) for item in text.split(",") if item]


def _ints(text):
    return [int(item) for item in text.split(",") if item]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes: about 3 minutes")
    p.add_argument("--rounds", type=int, help="alternated rounds per comparison (median; default 3)")
    p.add_argument("--workloads", help="throughput: TXxROWS,… (default 200x1000,20000x1)")
    p.add_argument("--rates", help="latency: transactions/s,… (default 1000,5000)")
    p.add_argument("--latency-seconds", type=float, help="latency: seconds per rate and side (default 10)")
    p.add_argument("--observers", help="fan-out steps (default 1,10,100,1000)")
    p.add_argument("--fanout-total", type=int, help="fan-out: deliveries/s in total (default 100000)")
    p.add_argument("--fanout-max-rate", type=int, help="fan-out: cap on transactions/s (default 2000)")
    p.add_argument("--fanout-seconds", type=float, help="fan-out: seconds of writes per step (default 10)")
    p.add_argument("--capacity-rates", help="fan-out: transactions/s of the capacity steps, with the "
                   "largest crowd, until p99 passes 100 ms (default 150,200,250,300,400,500)")
    p.add_argument("--snapshot-rows", type=int, help="snapshot table rows (default 1000000)")
    p.add_argument("--page-rows", type=int, default=10_000)
    p.add_argument("--largest-page-rows", type=int, default=100_000, help="the gateway's --max-page-rows")
    p.add_argument("--big-rows", type=int, help="rows of the huge transaction (default 1000000)")
    p.add_argument("--only", default=",".join(SECTIONS), help="sections to run: " + ",".join(SECTIONS))
    p.add_argument("--v2-parts", default="drains,snapshot,bigtx",
                   help="v2: what to measure (drains: --workloads; snapshot: --snapshot-rows; bigtx: --big-rows)")
    p.add_argument("--jetstream-parts", default="drains,latency",
                   help="jetstream: what to measure (drains: --workloads into JetStream; latency: at "
                        "--jetstream-rate for --jetstream-seconds)")
    p.add_argument("--jetstream-replicas", default="3,1",
                   help="jetstream: the drains' stream replicas, each a stream of its own (the first is also "
                        "the latency's; default 3,1: R1 shows what the replication costs)")
    p.add_argument("--jetstream-rate", type=int, default=1000, help="jetstream latency: transactions/s (default 1000)")
    p.add_argument("--jetstream-seconds", type=float,
                   help="jetstream latency: seconds per side and round (default 20; --quick 5)")
    p.add_argument("--write-docs", action="store_true",
                   help="write docs/ after a partial --only run too (a full run always does)")
    p.add_argument("--plugin", choices=("wal2json", "pgoutput"), default="wal2json",
                   help="the readers' --plugin: the output plugin of every stream the sections create "
                        "(floors measures both whatever this says)")
    p.add_argument("--timeout", type=float, default=600, help="seconds any one drain may take")
    p.add_argument("--cluster", required=True, help="the directory deploy/local-postgres.sh started")
    p.add_argument("--reader-bin", required=True)
    p.add_argument("--gateway-bin", required=True)
    p.add_argument("--tail-bin", required=True)
    p.add_argument("--writer-bin", required=True, help="deltastream-bench-writer (paced_writer.cpp)")
    p.add_argument("--crowd-bin", required=True, help="deltastream-bench-crowd (observer_crowd.cpp)")
    p.add_argument("--hop-bin", required=True, help="deltastream-bench-hop (zmq_hop.cpp)")
    p.add_argument("--jetstream-bin", help="deltastream-jetstream (the jetstream section)")
    p.add_argument("--js-probe-bin", help="deltastream-bench-js (jetstream_probe.cpp; the jetstream section)")
    p.add_argument("--log-dir", required=True)
    p.add_argument("--docs", required=True, help="where benchmarks.md and bench/*.png go")
    p.add_argument("--command", default="./tests/bench/run.sh", help="the command line, for the docs")
    config = p.parse_args(argv)
    quick = config.quick
    defaults = {
        "rounds": 3,
        "workloads": "50x1000,5000x1" if quick else "200x1000,20000x1",
        "rates": "1000,5000",
        "latency_seconds": 3 if quick else 10,
        "observers": "1,10,100" if quick else "1,10,100,1000",
        "fanout_total": 20000 if quick else 100_000,
        "fanout_max_rate": 2000,
        "fanout_seconds": 4 if quick else 10,
        "capacity_rates": "200,400" if quick else "150,200,250,300,400,500",
        "snapshot_rows": 200_000 if quick else 1_000_000,
        "big_rows": 200_000 if quick else 1_000_000,
        "jetstream_seconds": 5 if quick else 20,
    }
    for key, value in defaults.items():
        if getattr(config, key) is None:
            setattr(config, key, value)
    config.workloads = _pairs(config.workloads)
    config.rates = _ints(config.rates)
    config.observers = _ints(config.observers)
    config.capacity_rates = _ints(config.capacity_rates)
    config.only = [s for s in config.only.split(",") if s]
    config.v2_parts = [s for s in config.v2_parts.split(",") if s]
    config.jetstream_parts = [s for s in config.jetstream_parts.split(",") if s]
    config.jetstream_replicas = _ints(config.jetstream_replicas)
    if not set(config.jetstream_parts) <= {"drains", "latency"}:
        p.error("--jetstream-parts: some of drains,latency")
    if not config.jetstream_replicas or not all(1 <= r <= 3 for r in config.jetstream_replicas):
        p.error("--jetstream-replicas: one or more of 1,2,3 (the cluster has three nodes)")
    if "jetstream" in config.only and not (config.jetstream_bin and config.js_probe_bin):
        p.error("the jetstream section needs --jetstream-bin and --js-probe-bin")
    if not set(config.v2_parts) <= {"drains", "snapshot", "bigtx"}:
        p.error("--v2-parts: some of drains,snapshot,bigtx")
    unknown = set(config.only) - set(SECTIONS)
    if unknown:
        p.error(f"--only: unknown sections {sorted(unknown)}")
    return config


def _run_section(section, config, pg):
    module = __import__(section)
    if section in ("bigtx", "v2"):  # their own processes (bigtx: fresh for each round)
        return module.run(config, pg)
    # Every observer comes from 127.0.0.1: lift the gateway's per-address connection
    # limit (a variable, not a flag: builds without the setting ignore it).
    stack = Stack(config, pg, name=f"-{section}",
                  gateway_args=("--max-page-rows", str(config.largest_page_rows)),
                  gateway_env={"DELTASTREAM_MAX_CONNECTIONS_PER_CLIENT": str(max(config.observers) + 64)})
    try:
        if section not in ("throughput", "latency", "floors", "jetstream"):
            return module.run(config, pg, stack)
        reader_alone = Stack(config, pg, with_gateway=False, name="-alone")
        try:
            return module.run(config, pg, stack, reader_alone)
        finally:
            reader_alone.close()
    finally:
        stack.close()


def main(argv):
    config = parse_args(argv)
    pg = Postgres(config.cluster)
    # No autovacuum worker in the middle of a measurement (the tables are written once).
    pg.sql("ALTER SYSTEM SET autovacuum = off")
    pg.sql("SELECT pg_reload_conf()")
    results = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "quick": config.quick,
               "config": {k: v for k, v in vars(config).items() if not k.endswith(("bin", "dir", "cluster"))},
               "postgres": pg.value("SELECT version()"), "load_start": os.getloadavg()[0],
               "commit": report.commit()}
    began = time.monotonic()
    titles = {"throughput": "1. throughput", "latency": "2. latency", "fanout": "3. fan-out",
              "snapshot": "4. snapshot", "bigtx": "5. one huge transaction",
              "floors": "6. floors: each PostgreSQL mode and transport, the reader on both plugins",
              "v2": "7. the native API (v2): row stream drains, one huge transaction, snapshot",
              "jetstream": "8. the JetStream output: drains into a 3-node cluster, latency commit to consumer"}
    for section in SECTIONS:
        if section not in config.only:
            continue
        print(titles[section], flush=True)
        try:
            results[section] = _run_section(section, config, pg)
            if section == "floors":
                __import__("floors").print_figures(results[section])
        except Exception as error:  # one broken section must not cost the others' figures
            traceback.print_exc()
            results.setdefault("errors", {})[section] = f"{type(error).__name__}: {error}"[:200]
    results["seconds"] = time.monotonic() - began
    results["load_end"] = os.getloadavg()[0]
    with open(os.path.join(config.log_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    if set(config.only) == set(SECTIONS) or config.write_docs:
        report.write(results, config)
    else:  # a partial run must not replace the whole run's figures in docs/
        report.print_table(results)
        print(f"\ndocs/ left as they were (a partial run; --write-docs writes them): "
              f"{config.log_dir}/results.json has the figures")


if __name__ == "__main__":
    main(sys.argv[1:])
