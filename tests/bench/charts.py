"""One PNG per figure (python3-matplotlib from Debian), into docs/bench/."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DS, ZMQ, FLOOR = "#1f77b4", "#9ecae1", "#7f7f7f"


def _save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return name


def _bars(ax, groups, series, colors, fmt="{:,.0f}"):
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, values, width, label=label, color=colors[i])
        for bar, value in zip(bars, values):
            if value is not None:
                ax.annotate(fmt.format(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)


def throughput(results, out_dir):
    figures = results["throughput"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    groups = [f"{t['workload']} (tx x rows)" for t in figures]
    _bars(left, groups, [("reader + gateway -> WebSocket (bare client)", [t["ws"]["rows_per_s"] for t in figures]),
                         ("... -> python3-websockets", [t.get("ws_lib", {}).get("rows_per_s", 0.0) for t in figures]),
                         ("reader alone -> ZeroMQ SUB", [t["zmq"]["rows_per_s"] for t in figures]),
                         ("pg_recvlogical -> /dev/null", [t["pg"]["rows_per_s"] for t in figures])],
          [DS, "#9ecae1", ZMQ, FLOOR])
    left.set_ylabel("rows/s (median of rounds)")
    left.set_title("Drain throughput")
    left.legend(fontsize=8)
    parts = [("walsender", "walsender_cpu_per_m", "#ff7f0e"), ("reader", "reader_cpu_per_m", DS),
             ("gateway", "gateway_cpu_per_m", "#2ca02c")]
    labels, bottoms = [], []
    for t in figures:
        labels += [f"{t['workload']}\ndeltastream", f"{t['workload']}\npg_recvlogical"]
    bottoms = [0.0] * len(labels)
    for name, key, color in parts:
        values = []
        for t in figures:
            values += [t["ws"].get(key, 0.0), t["pg"].get(key, 0.0)]
        right.bar(range(len(labels)), values, 0.6, bottom=bottoms, label=name, color=color)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    right.set_xticks(range(len(labels)))
    right.set_xticklabels(labels, fontsize=8)
    right.set_ylabel("CPU seconds per million rows")
    right.set_title("Where the CPU goes")
    right.legend(fontsize=8)
    return _save(fig, out_dir, "throughput.png")


def latency(results, out_dir):
    figures = results["latency"]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    groups, ds, floor, hop = [], [], [], []
    for lat in figures:
        for key, label in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
            groups.append(f"{lat['rate']:,}/s\n{label}")
            ds.append(lat["ws"][key])
            floor.append(lat["pg"][key])
            hop.append(lat["hop"][key] if "hop" in lat else None)
    series = [("deltastream (WebSocket)", ds), ("pg_recvlogical (floor)", floor)]
    if None not in hop:  # results from before the bare hop was measured have none
        series.append(("one bare ZeroMQ hop (PUB -> SUB)", hop))
    _bars(ax, groups, series, [DS, FLOOR, ZMQ], fmt="{:.2f}")
    ax.set_yscale("log")
    ax.set_ylabel("commit -> client latency, ms (log)")
    for i, lat in enumerate(figures):
        limit = 1.0 if lat["rate"] <= 1000 else 10.0
        ax.hlines(limit, i * 3 - 0.5, i * 3 + 2.5, colors="red", linestyles="dashed")
        ax.annotate(f"p99 target {limit:g} ms", (i * 3 + 1, limit), color="red", fontsize=7,
                    ha="center", va="bottom", bbox=dict(facecolor="white", edgecolor="none", alpha=0.8))
    ax.set_title("Latency at fixed rates of single-row transactions (median of rounds)")
    ax.legend(fontsize=8)
    return _save(fig, out_dir, "latency.png")


def fanout(results, out_dir):
    steps, ramp = results["fanout"]["steps"], results["fanout"]["ramp"]
    counts = [s["observers"] for s in steps]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    axes[0].plot(counts, [s["p99"] for s in steps], "o-", color=DS, label="p99")
    axes[0].plot(counts, [s["p50"] for s in steps], "o--", color=ZMQ, label="p50")
    axes[0].axhline(50, color="red", linestyle="dashed", label="target p99 50 ms")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("latency, ms (log)")
    axes[0].legend(fontsize=8)
    axes[1].plot(counts, [s["gateway_core_share"] * 100 for s in steps], "o-", color="#2ca02c",
                 label="gateway CPU, % of a core")
    axes[1].plot(counts, [s["deliveries_per_s"] / 1000 for s in steps], "s--", color=FLOOR,
                 label="deliveries/s (thousands)")
    axes[1].legend(fontsize=8)
    axes[2].plot(counts, [s["rss_per_connection_kib"] for s in steps], "o-", color="#ff7f0e",
                 label="peak during the step")
    axes[2].plot(counts, [s["idle_kib_per_connection"] for s in steps], "s--", color=FLOOR,
                 label="connected, idle")
    axes[2].set_ylabel("gateway RSS per connection, KiB")
    axes[2].legend(fontsize=8)
    for ax, title in zip(axes, ("Latency", "Load", "Memory")):
        ax.set_xscale("log")
        ax.set_xticks(counts)
        ax.set_xticklabels([str(c) for c in counts])
        ax.set_xlabel("observers")
        ax.set_title(title)
    if ramp:
        thousands = [s["deliveries_per_s"] / 1000 for s in ramp]
        axes[3].plot(thousands, [s["p99"] for s in ramp], "o-", color=DS, label="p99")
        axes[3].plot(thousands, [s["gateway_core_share"] * 100 for s in ramp], "s--", color="#2ca02c",
                     label="gateway CPU, % of a core")
        axes[3].axhline(100, color="red", linestyle="dashed", label="p99 limit 100 ms")
        axes[3].set_ylabel("p99 ms; gateway CPU %")
        axes[3].set_xlabel(f"deliveries/s (thousands), {ramp[0]['observers']} observers")
        axes[3].set_title("Capacity")
        axes[3].legend(fontsize=8)
    return _save(fig, out_dir, "fanout.png")


def snapshot(results, out_dir):
    snap = results["snapshot"]
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"/v1/snapshot/data\npages of {snap['page_rows']:,}",
              f"/v1/snapshot/data\npages of {snap['largest_page_rows']:,}"]
    values = [snap["paged"]["rows_per_s"], snap["largest"]["rows_per_s"]]
    if "streamed" in snap:
        labels.append("/v1/snapshot/stream\nNDJSON")
        values.append(snap["streamed"]["rows_per_s"])
    labels.append("psql \\copy\nrow_to_json")
    values.append(snap["copy"]["rows_per_s"])
    _bars(ax, labels, [("rows/s", values)], [DS])
    for bar in ax.patches[len(values) - 1:]:
        bar.set_color(FLOOR)
    ax.set_ylabel("rows/s (median of rounds)")
    ax.set_title(f"Reading a {snap['rows']:,}-row table")
    return _save(fig, out_dir, "snapshot.png")


def bigtx(results, out_dir):
    big = results["bigtx"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    _bars(left, ["deltastream\n(WebSocket)", "pg_recvlogical"],
          [("s", [big["ws"]["seconds"] or 0.0, big["pg"]["seconds"]])], [DS], fmt="{:.2f}")
    left.patches[1].set_color(FLOOR)
    if big["failed"] == len(big["rounds"]):
        left.texts[0].remove()  # the "0.00" of a bar that has no value
    if big["failed"]:
        left.annotate(f"{big['failed']} of {len(big['rounds'])} rounds:\nconsumer closed\nbefore the last row",
                      (0, 0), xytext=(0, 20), textcoords="offset points", ha="center", color="red", fontsize=8)
    left.set_ylabel("seconds to the last row")
    left.set_title(f"One {big['rows']:,}-row transaction")
    names = ["reader", "gateway", "walsender"]
    values = [big["ws"]["reader_peak_mib"], big["ws"]["gateway_peak_mib"], big["ws"]["walsender_peak_mib"] or 0.0]
    _bars(right, names, [("peak RSS", values)], ["#ff7f0e"])
    if big["failed"] == len(big["rounds"]):
        right.annotate("message never\narrived", (1, values[1]), xytext=(0, 14), textcoords="offset points",
                       ha="center", color="red", fontsize=8)
    right.axhline(200 / 1.048576, color="red", linestyle="dashed", label="target 200 MB")
    right.set_ylabel("peak RSS (VmHWM), MiB")
    right.set_title("Memory")
    right.legend(fontsize=8)
    return _save(fig, out_dir, "bigtx.png")


def draw(results, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    drawn = []
    for key, draw_one in (("throughput", throughput), ("latency", latency), ("fanout", fanout),
                          ("snapshot", snapshot), ("bigtx", bigtx)):
        if results.get(key):
            drawn.append((key, draw_one(results, out_dir)))
    return drawn
