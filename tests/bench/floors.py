"""Figure 6, floors: what the walsender itself spends to deliver the same rows in each mode
PostgreSQL offers, over TCP and over a Unix socket (pg_recvlogical to /dev/null), beside
the reader alone draining the same rows from a wal2json and from a pgoutput slot on each
transport. Every slot is created before the writes and drained one after another (the
order rotating each round). Ratios: a reader drain over its own walsender's CPU seconds
(our work hidden behind PostgreSQL's: <= 1.10), and over the cheapest floor of all,
whole wal2json transactions (which no bounded reader can use: wal2json builds them whole)."""

import statistics

from clients import recvlogical_drain
from stack import Stack
from throughput import _drain_zmq, create_table, write

TABLE = "bench_bulk"
WAL2JSON = ["-o", "format-version=1", "-o", "include-lsn=on", "-o", "pretty-print=off"]
MODES = {
    "wal2json whole": ("wal2json", WAL2JSON),
    "wal2json chunks": ("wal2json", WAL2JSON + ["-o", "write-in-chunks=on"]),
    "pgoutput": ("pgoutput", ["-o", "proto_version=1", "-o", "publication_names=deltastream,deltastream_keyed",
                              "-o", "messages=true"]),
}
TRANSPORTS = ("tcp", "unix")


def run(config, pg, stack, reader_alone):
    del stack  # the reader alone on each transport is what is measured
    create_table(pg, TABLE)
    readers = {"tcp": reader_alone,
               "unix": Stack(config, pg, with_gateway=False, name="-alone-unix", reader_dsn=pg.unix_dsn())}
    try:
        readers["tcp"].create_stream("pgoutput")  # makes the publications pg_recvlogical reads too
        return [_workload(config, pg, readers, transactions, rows_per)
                for transactions, rows_per in config.workloads]
    finally:
        readers["unix"].close()


def _workload(config, pg, readers, transactions, rows_per):
    rows = transactions * rows_per
    rounds = []
    for number in range(config.rounds):
        pg.sql(f"TRUNCATE {TABLE}")
        slots, streams = {}, {}
        for mode, (plugin, _) in MODES.items():
            for transport in TRANSPORTS:
                slots[mode, transport] = slot = f"bench_floor_{plugin}_{len(slots)}"
                pg.create_slot(slot, plugin)
        for plugin in ("wal2json", "pgoutput"):
            for transport in TRANSPORTS:
                streams[plugin, transport] = readers[transport].create_stream(plugin)
        write(pg, transactions, rows_per, TABLE)
        endpos = pg.wal_lsn()
        drains = {}
        for (mode, transport), slot in slots.items():
            dsn = pg.dsn if transport == "tcp" else pg.unix_dsn()
            drains[f"pg {mode} {transport}"] = (lambda slot=slot, mode=mode, dsn=dsn:
                                                _recv(pg, slot, endpos, MODES[mode][1], dsn, config.timeout))
        for (plugin, transport), stream in streams.items():
            drains[f"reader {plugin} {transport}"] = (lambda stream=stream, transport=transport:
                                                      _drain_zmq(pg, readers[transport], stream, rows, config.timeout))
        names = list(drains)
        order = names[number % len(names):] + names[:number % len(names)]
        result = {name: drains[name]() for name in order}
        rounds.append(result)
        print(f"  {transactions}x{rows_per} round {number + 1}: " +
              ", ".join(f"{name} {result[name]['seconds']:.2f}s" for name in names), flush=True)
        for slot in slots.values():
            pg.drop_slot(slot)
        for (plugin, transport), stream in streams.items():
            readers[transport].drop_stream(stream)
    return summarize(transactions, rows_per, rounds)


def _recv(pg, slot, endpos, options, dsn, timeout):
    seconds, walsender, _ = recvlogical_drain(pg, slot, endpos, timeout, options, dsn)
    return {"seconds": seconds, "walsender_cpu": walsender}


def summarize(transactions, rows_per, rounds):
    rows = transactions * rows_per

    def med(name, key):
        return statistics.median(r[name][key] for r in rounds)

    summary = {"workload": f"{transactions}x{rows_per}", "rows": rows, "paths": {}}
    for name in rounds[0]:
        summary["paths"][name] = {"seconds": med(name, "seconds"),
                                  "walsender_cpu_per_m": med(name, "walsender_cpu") / rows * 1e6}
    for plugin in ("wal2json", "pgoutput"):
        for transport in TRANSPORTS:
            name = f"reader {plugin} {transport}"
            floor = f"pg wal2json whole {transport}"
            summary["paths"][name]["over_own_walsender"] = statistics.median(
                r[name]["seconds"] / max(r[name]["walsender_cpu"], 0.01) for r in rounds)  # CPU ticks are 10 ms
            summary["paths"][name]["over_whole_floor"] = statistics.median(
                r[name]["seconds"] / r[floor]["seconds"] for r in rounds)
    return summary


def print_figures(figures):
    for summary in figures:
        print(f"\n  {summary['workload']} ({summary['rows']} rows)")
        print(f"  {'path':32} {'seconds':>8} {'walsender CPU s/M rows':>23} {'/own walsender':>15} {'/whole floor':>13}")
        for name, path in summary["paths"].items():
            own = f"{path['over_own_walsender']:.2f}x" if "over_own_walsender" in path else ""
            whole = f"{path['over_whole_floor']:.2f}x" if "over_whole_floor" in path else ""
            print(f"  {name:32} {path['seconds']:8.2f} {path['walsender_cpu_per_m']:23.2f} {own:>15} {whole:>13}")
