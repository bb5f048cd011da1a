"""Figure 3, fan-out: 1, 10, 100, 1000 observers (&mode=observe) on one stream at a fixed
total of deliveries/s (transactions/s = total / observers, capped at what the writer
sustains), then the gateway's capacity: the largest crowd at rising transaction rates
until p99 passes 100 ms. The observers are one C++ process (crowd.py). One consumer ACKs
between steps so that the stream never replays old steps. Per step: latency
percentiles, gateway CPU and resident memory per connection, closes."""

import asyncio
import json
import time

import websockets

from clients import nextlsn
from crowd import CrowdProcess
from send_floor import kernel_us_per_send
from stack import cpu_seconds, status_kib, wait_until
from writer import create_table, paced_writes

TABLE = "bench_fanout"
CAPACITY_P99_MS = 100


async def _step(config, pg, stack, stream, consumer, count, rate):
    gateway = stack.gateway.pid
    rss_before = status_kib(gateway, "VmRSS")
    connect_started = time.monotonic()
    crowd = CrowdProcess(config.crowd_bin, stack.port, stream, count)
    try:
        connect_seconds = time.monotonic() - connect_started
        rss_connected = status_kib(gateway, "VmRSS")  # idle connections: their own cost
        loop = asyncio.get_running_loop()
        cpu_before, client_before, wall_before = cpu_seconds(gateway), crowd.cpu(), time.monotonic()
        crowd.mark()
        writing = loop.run_in_executor(None, paced_writes, config.writer_bin, pg.dsn, TABLE, rate,
                                       config.fanout_seconds)
        rss_peak = rss_connected
        while not writing.done():
            rss_peak = max(rss_peak, status_kib(gateway, "VmRSS"))
            await asyncio.sleep(0.2)
        written, achieved = writing.result()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            delivered, closes = crowd.count()
            if delivered >= written * count or closes:
                break
            await asyncio.sleep(0.05)
        wall = time.monotonic() - wall_before
        gateway_cpu = cpu_seconds(gateway) - cpu_before
        client_cpu = crowd.cpu() - client_before
        report = crowd.report()
        delivered = report["messages"]
        await consumer.ack()
        return {"observers": count, "tx_rate": achieved, "expected": written * count, "delivered": delivered,
                "deliveries_per_s": delivered * achieved / max(written, 1),  # over the writing time
                "connect_seconds": connect_seconds,
                "gateway_cpu": gateway_cpu, "gateway_core_share": gateway_cpu / wall,
                "gateway_us_per_delivery": gateway_cpu / max(delivered, 1) * 1e6,
                "rss_before_mib": rss_before / 1024, "rss_peak_mib": rss_peak / 1024,
                "rss_per_connection_kib": (rss_peak - rss_before) / count,
                "idle_kib_per_connection": (rss_connected - rss_before) / count,
                "disconnects": report["closes"], "close_reasons": report["reasons"][:5],
                "client_core_share": client_cpu / wall,
                **{key: report[key] for key in ("p50", "p99", "p999", "max")}}
    finally:
        crowd.close()
        await asyncio.sleep(0.5)


def _print_step(step):
    print(f"  {step['observers']} observers at {step['tx_rate']:.0f} tx/s: {step['deliveries_per_s']:.0f} "
          f"deliveries/s, p99 {step['p99'] if step['p99'] is None else round(step['p99'], 2)} ms, gateway "
          f"{step['gateway_core_share'] * 100:.0f}% of a core, "
          f"{step['rss_per_connection_kib']:.0f} KiB/connection, "
          f"{step['disconnects']} disconnects, client {step['client_core_share'] * 100:.0f}% "
          f"of a core", flush=True)


def _kept_up(step):
    """The capacity's criterion (issue 6): p99 within 100 ms, every delivery made."""
    return (step["p99"] is not None and step["p99"] <= CAPACITY_P99_MS and not step["disconnects"]
            and step["delivered"] >= 0.99 * step["expected"])


class Consumer:
    """The stream's one consumer: reads everything, ACKs the last message when asked."""

    def __init__(self, ws):
        self.ws = ws
        self.last = None
        self.task = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            while True:
                self.last = await self.ws.recv()
        except websockets.exceptions.ConnectionClosed:
            pass  # the end of the run, or a close that ack() then reports

    async def ack(self):
        await asyncio.sleep(0.2)
        if self.last is not None:
            await self.ws.send(json.dumps({"lsn": nextlsn(self.last)}))


def run(config, pg, stack):
    create_table(pg, TABLE)

    async def main():
        stream = stack.create_stream()
        steps = []
        async with websockets.connect(stack.ws_url(stream), max_size=None, compression=None,
                                      ping_interval=None) as ws:
            consumer = Consumer(ws)
            wait_until(lambda: pg.walsender(stream), 15, "the stream to start")
            # Warm-up: the gateway's first traffic grows its heap; not any step's cost.
            await asyncio.get_running_loop().run_in_executor(None, paced_writes, config.writer_bin, pg.dsn,
                                                             TABLE, 1000, 2)
            await consumer.ack()
            for count in config.observers:
                rate = min(config.fanout_total / count, config.fanout_max_rate)
                step = await _step(config, pg, stack, stream, consumer, count, rate)
                steps.append(step)
                _print_step(step)
            # The capacity: the most observers' deliveries/s with p99 <= 100 ms, raising
            # the rate until a step misses it (or the last rate is reached).
            ramp = []
            count = max(config.observers)
            for rate in config.capacity_rates:
                step = await _step(config, pg, stack, stream, consumer, count, rate)
                step["kept_up"] = _kept_up(step)
                ramp.append(step)
                _print_step(step)
                if not step["kept_up"]:
                    break
            consumer.task.cancel()
        stack.drop_stream(stream)
        # The capacity's floor, measured with the stream's messages' size, between steps'
        # load: the median of three.
        size = len(consumer.last) if consumer.last else 256
        floor = sorted(kernel_us_per_send(size) for _ in range(3))[1]
        print(f"  loopback send floor: {floor:.2f} us of kernel time per {size}-byte send", flush=True)
        for step in steps + ramp:
            step["send_floor_us"] = floor
        return {"steps": steps, "ramp": ramp}

    return asyncio.run(main())
