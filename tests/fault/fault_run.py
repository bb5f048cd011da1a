#!/usr/bin/env python3
"""At-least-once under faults: a writer commits numbered rows while a WebSocket consumer
streams them through the real gateway and reader and ACKs at random points; meanwhile the
reader and the gateway are killed (SIGKILL) and restarted, PostgreSQL is restarted
(immediate stop), the client's connection is cut, and a second connection takes the
stream over (&takeover=true) while the first is sending an ACK. At the end every
committed row must have arrived, and none that PostgreSQL had confirmed may have come
again (the reader runs with --ack-journal). Exit status 0 when both hold.

  fault_run.py --duration 40 --seed 1234     (needs PGTEST_DSN, PGTEST_CLUSTER and the
                                              binaries: see tests/fault/run.sh)
"""

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import psycopg2  # noqa: E402
import websockets  # noqa: E402

from harness import Gateway, Reader, cluster, dsn, parse_lsn, sql  # noqa: E402

TABLE = "fault_rows"


class Writer(threading.Thread):
    """Commits one numbered row per transaction; survives PostgreSQL restarts."""

    def __init__(self, rate):
        super().__init__(daemon=True)
        self.rate = rate
        self.stop = threading.Event()
        self.next_id = 1

    def run(self):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = psycopg2.connect(dsn())
                    conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f"INSERT INTO {TABLE} VALUES (%s) ON CONFLICT DO NOTHING", (self.next_id,))
                self.next_id += 1
            except psycopg2.Error:
                # Outcome unknown: the row may or may not be committed. The table is the
                # truth at the end, and the id is retried (ON CONFLICT makes it safe).
                conn = None
                time.sleep(0.2)
            time.sleep(1.0 / self.rate)


class ConfirmedWatch(threading.Thread):
    """Follows the slot's confirmed_flush_lsn in PostgreSQL (the highest seen): a change at
    or below it was acknowledged and confirmed, and must not be delivered again while the
    reader runs (after a crash of both the reader and PostgreSQL it may: PROTOCOL.md)."""

    def __init__(self, slot):
        super().__init__(daemon=True)
        self.slot = slot
        self.highest = 0
        self.stop = threading.Event()

    def run(self):
        conn = None
        while not self.stop.wait(0.1):
            try:
                if conn is None:
                    conn = psycopg2.connect(dsn())
                    conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                                "WHERE slot_name = %s", (self.slot,))
                    row = cur.fetchone()
                if row and row[0]:
                    self.highest = max(self.highest, parse_lsn(row[0]))
            except psycopg2.Error:
                conn = None


class Consumer:
    """Streams the slot, records every row id, ACKs at random points, reconnects."""

    def __init__(self, rng, ack_probability, confirmed):
        self.rng = rng
        self.confirmed = confirmed  # a ConfirmedWatch
        self.ack_probability = ack_probability
        self.received = {}  # id -> times seen
        self.messages_since_ack = 0
        self.window_before_last_ack = 0
        self.duplicate_bound = 0
        self.duplicate_messages = 0  # messages that brought a row again
        self.reconnects = 0
        self.takeovers = 0
        self.error_frames = {}  # error text -> times
        self.acked_rows = set()  # rows of messages up to the last ACK sent
        self.unacked_rows = []   # rows received since
        self.acked_again = 0     # rows that arrived again after their ACK was sent
        self.first_lsn = {}      # row -> nextlsn of the first message that brought it
        self.confirmed_again = 0  # rows that arrived again after PostgreSQL confirmed them
        self.cut = asyncio.Event()
        self.take_over = asyncio.Event()
        self.done = False

    async def run(self, gateway, slot):
        url = f"ws://127.0.0.1:{gateway.port}/v1/lr/stream?slotName={slot}"
        successor = None
        while not self.done:
            try:
                if successor is None:
                    successor = asyncio.ensure_future(websockets.connect(url, open_timeout=15, max_size=None))
                ws = await successor
                successor = None
                try:
                    successor = await self.consume(ws, url)
                finally:
                    await ws.close()
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException):
                if successor is not None and not successor.done():
                    successor.cancel()
                successor = None
            if self.done:
                return
            # Whatever arrives again must come from after the last ACK that reached
            # PostgreSQL: at most the messages since the ACK before the last one.
            self.duplicate_bound += self.messages_since_ack + self.window_before_last_ack
            if successor is not None:  # taken over by our own second connection
                self.takeovers += 1
                continue
            self.reconnects += 1
            await asyncio.sleep(0.2)

    async def consume(self, ws, url):
        """Until the connection ends; returns the connection that takes it over, if any."""
        self.cut.clear()
        self.take_over.clear()
        last = None
        while not self.done:
            recv = asyncio.ensure_future(ws.recv())
            cut = asyncio.ensure_future(self.cut.wait())
            take_over = asyncio.ensure_future(self.take_over.wait())
            finished, _ = await asyncio.wait({recv, cut, take_over}, timeout=1.0,
                                             return_when=asyncio.FIRST_COMPLETED)
            cut.cancel()
            take_over.cancel()
            if take_over in finished:
                recv.cancel()
                # A second connection takes the stream over while this one's ACK is on
                # its way: the ACK must not skip what the successor has not seen.
                successor = asyncio.ensure_future(websockets.connect(
                    url + "&takeover=true", open_timeout=15, max_size=None))
                if last is not None:
                    try:
                        await ws.send(json.dumps({"lsn": last["nextlsn"]}))
                        self.note_ack()
                    except websockets.ConnectionClosed:
                        pass  # closed meanwhile: the ACK did not go out
                return successor
            if cut in finished or not finished:
                recv.cancel()
                if cut in finished:  # the client's connection is cut, no close handshake
                    ws.transport.abort()
                    return None
                continue
            message = json.loads(recv.result())
            if "error" in message:
                self.error_frames[message["error"]] = self.error_frames.get(message["error"], 0) + 1
                continue
            last = message
            rows = [change["columnvalues"][0] for change in message["change"]
                    if change["table"] == TABLE and change["kind"] == "insert"]
            self.duplicate_messages += any(row in self.received for row in rows)
            for row in rows:
                self.received[row] = self.received.get(row, 0) + 1
                self.acked_again += row in self.acked_rows
                self.unacked_rows.append(row)
                first = self.first_lsn.setdefault(row, parse_lsn(message["nextlsn"]))
                self.confirmed_again += self.received[row] > 1 and first <= self.confirmed.highest
            self.messages_since_ack += 1
            if self.rng.random() < self.ack_probability:
                await ws.send(json.dumps({"lsn": message["nextlsn"]}))
                self.note_ack()
        return None

    def note_ack(self):
        self.acked_rows.update(self.unacked_rows)
        self.unacked_rows = []
        self.window_before_last_ack = self.messages_since_ack
        self.messages_since_ack = 0


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=40, help="seconds of faults")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rate", type=float, default=200, help="rows per second")
    parser.add_argument("--fault-interval", type=float, default=5, help="mean seconds between faults")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    print(f"fault run: seed {seed} (replay with --seed {seed}), {args.duration:.0f} s, "
          f"{args.rate:.0f} rows/s", flush=True)
    rng = random.Random(seed)  # the faults: same seed, same sequence of faults

    sql(f"DROP TABLE IF EXISTS {TABLE}")
    sql(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY)")
    journal = os.path.join(tempfile.mkdtemp(prefix="fault-run-"), "acknowledged")
    reader = Reader("--status-interval", "1", "--ack-journal", journal)
    gateway = Gateway(reader)
    slot = gateway.init()
    faults = {"kill -9 reader": 0, "kill -9 gateway": 0, "restart PostgreSQL": 0, "cut client": 0,
              "take over": 0}
    confirmed = ConfirmedWatch(slot)
    confirmed.start()
    consumer = Consumer(random.Random(seed + 1), ack_probability=0.3, confirmed=confirmed)
    writer = Writer(args.rate)
    task = asyncio.ensure_future(consumer.run(gateway, slot))
    writer.start()
    try:
        end = time.monotonic() + args.duration
        schedule = []
        while time.monotonic() < end:
            await asyncio.sleep(rng.expovariate(1 / args.fault_interval))
            # Neither process may have died of the last fault (a PostgreSQL restart, a
            # vanished peer): a later kill -9 and restart would hide it.
            reader.alive()
            gateway.alive()
            if not schedule:  # every kind of fault once per round, in a random order
                schedule = rng.sample(list(faults), len(faults))
            fault = schedule.pop()
            faults[fault] += 1
            print(f"  {time.strftime('%H:%M:%S')} {fault}", flush=True)
            if fault == "kill -9 reader":
                reader.kill()
                await asyncio.sleep(rng.uniform(0, 2))
                reader.start()
            elif fault == "kill -9 gateway":
                gateway.process.kill()
                gateway.process.wait()
                await asyncio.sleep(rng.uniform(0, 2))
                gateway.start()
            elif fault == "restart PostgreSQL":
                await asyncio.get_running_loop().run_in_executor(None, cluster, "restart")
            elif fault == "take over":
                consumer.take_over.set()
            else:
                consumer.cut.set()
        writer.stop.set()
        writer.join()
        reader.alive()
        gateway.alive()
        committed = {row for (row,) in sql(f"SELECT id FROM {TABLE}")}
        deadline = time.monotonic() + 90
        while not committed <= set(consumer.received) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        consumer.done = True
        await asyncio.wait_for(task, 10)
    finally:
        confirmed.stop.set()
        gateway.close()
        reader.close()
    missing = sorted(committed - set(consumer.received))
    duplicates = sum(count - 1 for count in consumer.received.values())
    print(f"faults injected: {sum(faults.values())} ({', '.join(f'{k}: {v}' for k, v in faults.items())})")
    print(f"rows committed: {len(committed)}, received: {len(consumer.received)}, "
          f"missing: {len(missing)}, reconnects: {consumer.reconnects}, takeovers: {consumer.takeovers}")
    # Duplicates by cause. Never ACKed: the messages since the last ACK at each reconnect.
    # ACK sent, not taken: one in flight when the gateway or the reader was killed, or the
    # connection cut, never reached PostgreSQL. Confirmed by PostgreSQL: must be none, even
    # after a PostgreSQL crash rewound the slot (the reader resumes from its ack journal).
    # In messages, all of them stay within the windows of the last two ACKs at each reconnect.
    print(f"duplicate rows: {duplicates}: never ACKed {duplicates - consumer.acked_again}, "
          f"ACK sent but not taken {consumer.acked_again - consumer.confirmed_again}, "
          f"confirmed by PostgreSQL {consumer.confirmed_again}; duplicate messages "
          f"{consumer.duplicate_messages}, bound from the ACK windows {consumer.duplicate_bound}")
    # An ACK the reader could not take because of a fault (it restarted, or did not answer
    # in time) is refused with "ACK not committed": its rows come again, counted above.
    # Any other error frame (a malformed ACK, one past what was delivered) is a bug.
    unexpected = {error: count for error, count in consumer.error_frames.items()
                  if not error.startswith("ACK not committed: ") or "beyond what was delivered" in error}
    for error, count in consumer.error_frames.items():
        print(f"error frame x{count}{' (unexpected)' if error in unexpected else ''}: {error}")
    if missing:
        print(f"MISSING rows (first 20): {missing[:20]}")
    sql(f"DROP TABLE IF EXISTS {TABLE}")
    every_kind = sum(faults.values()) < len(faults) or all(faults.values())
    ok = not missing and every_kind and consumer.confirmed_again == 0 and \
        consumer.duplicate_messages <= consumer.duplicate_bound and not unexpected
    print("fault run: " + ("1 passed, 0 failed" if ok else "0 passed, 1 failed"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
