"""The results as table rows: each figure beside the floor it is compared with, the
ratio, and issue 6's target for this 2-core machine with a met/missed mark."""

MET, MISSED, INFO = "met", "MISSED", ""


def _mark(ok):
    return MET if ok else MISSED


def _f(value, digits=2):
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def rows(results):
    """[(figure, deltastream, floor, ratio, target, mark)]"""
    out = []
    for t in results.get("throughput", []):
        w = t["workload"]
        ws, zmq, pg = t["ws"], t["zmq"], t["pg"]
        out.append((f"1. throughput {w}: drain time (s)", _f(ws["seconds"]),
                    f"{_f(pg['seconds'])} pg_recvlogical", _f(t["ws_ratio"]), "ratio <= 1.10",
                    _mark(t["ws_ratio"] <= 1.10)))
        out.append((f"   {w}: rows/s | MB/s", f"{_f(ws['rows_per_s'])} | {_f(ws['mb_per_s'], 1)}",
                    f"{_f(pg['rows_per_s'])} | {_f(pg['mb_per_s'], 1)}", "", "", INFO))
        if "ws_lib" in t:
            out.append((f"   {w}: to a python3-websockets consumer (s)", _f(t["ws_lib"]["seconds"]),
                        f"{_f(pg['seconds'])} pg_recvlogical", _f(t["ws_lib_ratio"]), "", INFO))
        out.append((f"   {w}: reader alone, ZeroMQ SUB (s)", _f(zmq["seconds"]),
                    f"{_f(pg['seconds'])} pg_recvlogical", _f(t["zmq_ratio"]), "", INFO))
        if "tail" in t:
            out.append((f"   {w}: deltastream-tail --ack to /dev/null (s)", _f(t["tail"]["seconds"]),
                        f"{_f(pg['seconds'])} pg_recvlogical", _f(t["tail_ratio"]), "ratio <= 1.0",
                        _mark(t["tail_ratio"] <= 1.0)))
        out.append((f"   {w}: CPU s per M rows, walsender", _f(ws["walsender_cpu_per_m"]),
                    _f(pg["walsender_cpu_per_m"]), "", "", INFO))
        out.append((f"   {w}: CPU s per M rows, reader | gateway",
                    f"{_f(ws['reader_cpu_per_m'])} | {_f(ws['gateway_cpu_per_m'])}", "", "", "", INFO))
        lib_share = t["ws_lib"]["client_core_share"] if "ws_lib" in t else None
        out.append((f"   {w}: Python client busy, WebSocket bare | python3-websockets | ZeroMQ",
                    f"{_f(ws['client_core_share'] * 100, 0)}% | {_f(lib_share * 100 if lib_share else None, 0)}% | "
                    f"{_f(zmq['client_core_share'] * 100, 0)}%", "", "", "", INFO))
    for lat in results.get("latency", []):
        rate, ws, pg = lat["rate"], lat["ws"], lat["pg"]
        limit = 1.0 if rate <= 1000 else 10.0
        out.append((f"2. latency at {rate:,} tx/s: p99 (ms)", _f(ws["p99"]), f"{_f(pg['p99'])} pg_recvlogical",
                    _f(ws["p99"] / pg["p99"] if pg["p99"] else None, 1), f"p99 <= {limit:g} ms",
                    _mark(ws["p99"] is not None and ws["p99"] <= limit)))
        out.append((f"   {rate:,} tx/s: p50 | p99.9 (ms)", f"{_f(ws['p50'])} | {_f(ws['p999'])}",
                    f"{_f(pg['p50'])} | {_f(pg['p999'])}", "", "", INFO))
        for side, label in (("ws_lib", "to a python3-websockets consumer"), ("zmq", "reader alone, ZeroMQ SUB"),
                            ("hop", "one bare ZeroMQ hop, PUB to the same SUB")):
            if side in lat:
                other = lat[side]
                out.append((f"   {rate:,} tx/s: {label}: p50 | p99 (ms)", f"{_f(other['p50'])} | {_f(other['p99'])}",
                            f"{_f(pg['p50'])} | {_f(pg['p99'])}", "", "", INFO))
        out.append((f"   {rate:,} tx/s: achieved rate | lost", f"{_f(ws['achieved_rate'])} | {ws['lost']}",
                    f"{_f(pg['achieved_rate'])} | {pg['lost']}", "", "", INFO))
        shares = " | ".join(f"{_f(lat[side]['client_core_share'] * 100, 0)}%"
                            for side in ("ws", "ws_lib", "zmq", "pg", "hop") if side in lat)
        out.append((f"   {rate:,} tx/s: Python client busy, WebSocket bare | python3-websockets | ZeroMQ | "
                    "pg_recvlogical's reader | bare hop", shares, "", "", "", INFO))
    fanout = results.get("fanout") or {}
    steps, ramp = fanout.get("steps", []), fanout.get("ramp", [])
    for step in steps:
        n = step["observers"]
        out.append((f"3. fan-out {n} observers at {_f(step['tx_rate'], 0)} tx/s: deliveries/s | p99 (ms)",
                    f"{_f(step['deliveries_per_s'])} | {_f(step['p99'])}", "", "",
                    "p99 <= 50 ms" if n >= 1000 else "", _mark(step["p99"] is not None and step["p99"] <= 50)
                    if n >= 1000 else INFO))
        out.append((f"   {n}: gateway CPU (% core) | KiB/conn idle, peak | disconnects",
                    f"{_f(step['gateway_core_share'] * 100, 0)} | {_f(step['idle_kib_per_connection'], 0)}, "
                    f"{_f(step['rss_per_connection_kib'], 0)} | "
                    f"{step['disconnects']}", "", "", "no disconnects" if n >= 1000 else "",
                    _mark(step["disconnects"] == 0) if n >= 1000 else INFO))
        out.append((f"   {n}: observers' process busy (% core)", f"{_f(step['client_core_share'] * 100, 0)}%",
                    "", "", "", INFO))
    if steps:
        last = steps[-1]
        out.append((f"   {last['observers']}: gateway RSS peak (MiB)", _f(last["rss_peak_mib"], 1), "", "",
                    "<= 100 MB", _mark(last["rss_peak_mib"] * 1.048576 <= 100)))
        tried = last["observers"] * last["tx_rate"] >= 90_000  # the load was offered
        out.append((f"   {last['observers']}: deliveries/s reached (offered "
                    f"{_f(last['observers'] * last['tx_rate'])})", _f(last["deliveries_per_s"]), "", "",
                    ">= 100,000/s", _mark(last["deliveries_per_s"] >= 95_000) if tried else "not run"))
    for step in ramp:
        out.append((f"   capacity step, {step['observers']} x {_f(step['tx_rate'], 0)} tx/s: deliveries/s | p99 (ms)",
                    f"{_f(step['deliveries_per_s'])} | {_f(step['p99'])}", "", "", "",
                    "kept up" if step["kept_up"] else "p99 > 100 ms or lost"))
        out.append((f"      gateway | observers' process busy (% core) | disconnects",
                    f"{_f(step['gateway_core_share'] * 100, 0)} | {_f(step['client_core_share'] * 100, 0)} | "
                    f"{step['disconnects']}", "", "", "", INFO))
    kept = [step for step in ramp if step["kept_up"]]
    if ramp:
        best = max(kept, key=lambda step: step["deliveries_per_s"]) if kept else None
        saturated = not ramp[-1]["kept_up"]
        measured = best["deliveries_per_s"] if best else 0
        out.append(("   capacity: most deliveries/s with p99 <= 100 ms" +
                    ("" if saturated else " (every step kept up: not saturated)"),
                    _f(measured), "", "", "", INFO))
        per_core = measured / max(best["gateway_core_share"], 1e-9) if best else 0
        floor = best.get("send_floor_us") if best else None
        out.append((f"   capacity per gateway core (at {_f(best['gateway_core_share'] * 100 if best else 0, 0)}% "
                    "of a core)", _f(per_core), f"{_f(1e6 / floor)} sends/s (kernel only)" if floor else "",
                    _f(per_core * floor / 1e6) if floor else "", ">= 250,000", _mark(per_core >= 250_000)))
    snap = results.get("snapshot")
    if snap:
        # The fastest full-table read carries the 0.8x target: the stream where the build
        # has it, the largest pages otherwise.
        fastest = "streamed" if "streamed" in snap else "largest"
        for name, label in (("paged", f"pages of {snap['page_rows']:,}"),
                            ("largest", f"pages of {snap['largest_page_rows']:,}"),
                            ("streamed", "GET /v1/snapshot/stream")):
            if name not in snap:
                continue
            s = snap[name]
            goal = 0.5 if name == "paged" else 0.8 if name == fastest else None
            out.append((f"4. snapshot {snap['rows']:,} rows, {label} (rows/s)", _f(s["rows_per_s"]),
                        f"{_f(snap['copy']['rows_per_s'])} \\copy", _f(s["rate_vs_copy"]),
                        f"rate >= {goal}x \\copy" if goal else "",
                        _mark(s["rate_vs_copy"] >= goal) if goal else ""))
    big = results.get("bigtx")
    if big:
        ws, pg = big["ws"], big["pg"]
        out.append((f"5. {big['rows']:,}-row transaction: time to last row (s)", _f(ws["seconds"]),
                    f"{_f(pg['seconds'])} pg_recvlogical", _f(big["ratio"]), "delivered",
                    _mark(not big["failed"])))
        if big["failed"]:
            out.append(("   rounds where the consumer was closed before the last row",
                        f"{big['failed']} of {len(big['rounds'])}", "", "", "", INFO))
            for error in big["errors"]:
                out.append(("   close", error.split(";")[0][:100], "", "", "", INFO))
        for name in ("reader", "gateway"):
            peak = ws[f"{name}_peak_mib"]
            # A gateway that never received the message has not been tested by it.
            untested = name == "gateway" and big["failed"] == len(big["rounds"])
            out.append((f"   peak RSS {name} (MiB)", _f(peak, 0) + (" (message never arrived)" if untested else ""),
                        "", "", "<= 200 MB", "not reached" if untested else _mark(peak * 1.048576 <= 200)))
        out.append(("   peak RSS walsender (MiB)", _f(ws["walsender_peak_mib"], 0),
                    f"{_f(pg['walsender_peak_mib'], 0)} pg_recvlogical's", "", "", INFO))
    out += _v2_rows(results.get("v2") or {})
    out += _jetstream_rows(results.get("jetstream") or {})
    for section, error in results.get("errors", {}).items():
        out.append((f"{section}: the section failed", error[:110], "", "", "", MISSED))
    return out


def _failures(figure):
    if not figure.get("failed"):
        return []
    after = f" (after {figure['failed_after']:.2f} s)" if figure.get("failed_after") else ""
    return [("   rounds that failed", f"{figure['failed']} of {figure['rounds']}{after}", "", "", "", INFO)] + \
           [("   failure", error[:100], "", "", "", INFO) for error in figure["errors"]]


def _v2_rows(v2):
    out = []
    for d in v2.get("drains", []):
        w, pg = d["workload"], d["pg"]
        for side, label, target in (("ws", "an ACK per commit", "ratio <= 1.10, every ACK taken"),
                                    ("ws_ack_last", "one ACK at the end", "")):
            ws = d[side]
            ok = not ws["failed"] and ws["ratio"] <= 1.10
            out.append((f"{'7. v2 row stream' if side == 'ws' else '  '} {w}, {label}: drain time (s)",
                        _f(ws["seconds"]), f"{_f(pg['seconds'])} pg_recvlogical pgoutput", _f(ws["ratio"]),
                        target, _mark(ok) if target else INFO))
            out += _failures(ws)
            if ws["seconds"] is None:
                continue
            out.append((f"   {w}, {label}: rows/s | MB/s", f"{_f(ws['rows_per_s'])} | {_f(ws['mb_per_s'], 1)}",
                        _f(pg["rows_per_s"]), "", "", INFO))
            out.append((f"   {w}, {label}: CPU s per M rows, walsender", _f(ws["walsender_cpu_per_m"]),
                        _f(pg["walsender_cpu_per_m"]), "", "", INFO))
            out.append((f"   {w}, {label}: CPU s per M rows, reader | gateway | Python client",
                        f"{_f(ws['reader_cpu_per_m'])} | {_f(ws['gateway_cpu_per_m'])} | "
                        f"{_f(ws['client_cpu_per_m'])}", "", "", "", INFO))
    snap = v2.get("snapshot")
    if snap:
        s = snap["v2"]
        out.append((f"7. v2 snapshot {snap['rows']:,} rows, GET /v2/streams/NAME/snapshot (rows/s)",
                    _f(s["rows_per_s"]), f"{_f(snap['copy']['rows_per_s'])} \\copy to_json",
                    _f(s["rate_vs_copy"]), "rate >= 1.0x \\copy", _mark(s["rate_vs_copy"] >= 1.0)))
        out.append(("   the same \\copy in key order (ORDER BY id, as the v2 read is)", "",
                    f"{_f(snap['copy_ordered']['rows_per_s'])} \\copy", _f(s["rate_vs_copy_ordered"]), "", INFO))
    big = v2.get("bigtx")
    if big:
        out.append((f"7. v2 {big['rows']:,}-row transaction: time to last row (s)", _f(big["ws"]["seconds"]),
                    f"{_f(big['pg']['seconds'])} pg_recvlogical pgoutput", _f(big["ratio"]), "delivered",
                    _mark(not big["failed"])))
        out += _failures(dict(big, rounds=len(big["rounds"])))
        for name in ("reader", "gateway"):
            peak = big[f"{name}_peak_mib"]
            out.append((f"   peak RSS {name}, highest round (MiB)", _f(peak, 1), "", "", "<= 50 MB",
                        _mark(peak * 1.048576 <= 50)))
        out.append(("   peak RSS walsender (MiB)", _f(big["ws"]["walsender_peak_mib"], 0),
                    f"{_f(big['pg']['walsender_peak_mib'], 0)} pg_recvlogical's", "", "", INFO))
    return out


def _jetstream_rows(js):
    out = []
    for d in js.get("drains", []):
        w, pg, ws = d["workload"], d["pg"], d["ws"]
        first = True
        for side in (key for key in d if key.startswith("js_r")):
            figure, label = d[side], f"R{d[side]['replicas']}"
            out.append((f"{'8. JetStream' if first else '  '} {w}, {label}: start to all stored and confirmed (s)",
                        _f(figure["seconds"]), f"{_f(pg['seconds'])} pg_recvlogical pgoutput", _f(figure["ratio"]),
                        "", INFO))
            first = False
            out += _failures(figure)
            if figure["seconds"] is None:
                continue
            out.append((f"   {w}, {label}: rows/s | JetStream messages/s",
                        f"{_f(figure['rows_per_s'])} | {_f(figure['messages_per_s'])}", _f(pg["rows_per_s"]), "",
                        "", INFO))
            out.append((f"   {w}, {label}: CPU s per M rows, walsender | reader | output | 3 NATS servers",
                        f"{_f(figure['walsender_cpu_per_m'])} | {_f(figure['reader_cpu_per_m'])} | "
                        f"{_f(figure['output_cpu_per_m'])} | {_f(figure['nats_cpu_per_m'])}", "", "", "", INFO))
            out.append((f"   {w}, {label} over the WebSocket drain of the same rows", "",
                        f"{_f(ws['seconds'])} s WebSocket", _f(figure["vs_ws"]), "", INFO))
            if figure.get("vs_r1") is not None:
                out.append((f"   {w}, {label} over R1 (what the replication costs)", "", "", _f(figure["vs_r1"]),
                            "", INFO))
            bare = d.get(f"bare_r{figure['replicas']}")
            if bare:
                out.append((f"   {w}, {label}: JetStream alone, as many {_f(d['message_bytes'], 0)}-byte messages "
                            "(s | messages/s)", "", f"{_f(bare['seconds'])} | {_f(bare.get('messages_per_s'))}",
                            _f(figure["vs_bare"]), "", INFO))
                out += _failures(bare)
                if bare["seconds"] is not None:
                    out.append((f"   {w}, {label}: JetStream alone: CPU s per M rows' messages, 3 NATS servers", "",
                                _f(bare["nats_cpu_per_m"]), "", "", INFO))
        out.append((f"   {w}: the v2 WebSocket drain, an ACK per commit (s)", _f(ws["seconds"]),
                    f"{_f(pg['seconds'])} pg_recvlogical pgoutput", _f(ws["ratio"]), "", INFO))
        out += _failures(ws)
    lat = js.get("latency")
    if lat:
        rate, ours, pg, hop = lat["rate"], lat["js"], lat["pg"], lat["hop"]
        out.append((f"8. JetStream latency at {rate:,} tx/s, R{lat['replicas']}, commit to consumer: p50 | p99 (ms)",
                    f"{_f(ours['p50'])} | {_f(ours['p99'])}", f"{_f(pg['p50'])} | {_f(pg['p99'])} pg_recvlogical",
                    _f(ours["p99"] / pg["p99"] if ours["p99"] and pg["p99"] else None, 1), "", INFO))
        out.append(("   the same: p99.9 | max (ms)", f"{_f(ours['p999'])} | {_f(ours['max'])}",
                    f"{_f(pg['p999'])} | {_f(pg['max'])}", "", "", INFO))
        out.append(("   bare JetStream hop, publish to the same consumer: p50 | p99 (ms), lost", "",
                    f"{_f(hop['p50'])} | {_f(hop['p99'])}, {hop['lost']}", "", "", INFO))
        out.append(("   achieved rate | lost", f"{_f(ours['achieved_rate'])} | {ours['lost']}",
                    f"{_f(pg['achieved_rate'])} | {pg['lost']}", "", "", INFO))
        cores = ours.get("core_shares") or {}
        if cores:
            out.append(("   busy (% of a core): walsender | reader | output | 3 NATS servers; hop: NATS",
                        " | ".join(_f(cores.get(k, 0) * 100, 0) for k in ("walsender", "reader", "output", "nats")),
                        _f((hop.get("core_shares") or {}).get("nats", 0) * 100, 0), "", "", INFO))
    return out


HEAD = ("figure", "deltastream", "floor", "ratio", "target", "")


def text_table(table):
    widths = [max(len(str(r[i])) for r in [HEAD] + table) for i in range(len(HEAD))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(HEAD, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in table]
    return "\n".join(lines)


def markdown_table(table):
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    for r in table:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(lines)
