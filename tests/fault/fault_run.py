#!/usr/bin/env python3
"""At-least-once under faults: writers commit numbered rows while WebSocket consumers
stream them through the real gateway and reader and ACK at random points (a v1 consumer of
a /v1/init slot, and two services with v2 streams of tables of their own, while a v1 client
of a second gateway calls /v1/init again and again); meanwhile the
reader and the gateway are killed (SIGKILL) and restarted, PostgreSQL is restarted
(immediate stop), the client's connection is cut, and a second connection takes the
stream over (&takeover=true) while the first is sending an ACK. At the end every
committed row must have arrived on its stream, none that PostgreSQL had confirmed may
have come again (the reader runs with --ack-journal), and the v2 streams must have
outlived every /v1/init. Exit status 0 when all hold.

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

from harness import Gateway, Reader, cluster, drop_slots, dsn, parse_lsn, sql  # noqa: E402

TABLE = "fault_rows"


V2_TABLES = {"fault_orders": "orders_service", "fault_invoices": "billing_service"}


class Writer(threading.Thread):
    """Commits one numbered row per transaction; survives PostgreSQL restarts."""

    def __init__(self, rate, table=TABLE):
        super().__init__(daemon=True)
        self.rate = rate
        self.table = table
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
                    cur.execute(f"INSERT INTO {self.table} VALUES (%s) ON CONFLICT DO NOTHING", (self.next_id,))
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
    """Streams the slot, records every row id, ACKs at random points, reconnects. A v2
    consumer (`v2_stream`) counts a transaction, begin to commit, as one message."""

    def __init__(self, rng, ack_probability, confirmed, v2_stream=None):
        self.rng = rng
        self.v2_stream = v2_stream
        self.pending_rows = []  # v2: the rows of the transaction in progress
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
        url = (f"ws://127.0.0.1:{gateway.port}/v2/streams/{self.v2_stream}/changes?mode=consume" if self.v2_stream
               else f"ws://127.0.0.1:{gateway.port}/v1/lr/stream?slotName={slot}")
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
        self.pending_rows = []  # a transaction cut short comes again whole
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
                        await ws.send(json.dumps({"lsn": last}))
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
            if self.v2_stream:
                if message["op"] == "insert":
                    self.pending_rows.append(message["new"]["id"])
                if message["op"] != "commit":
                    continue
                rows, last = self.pending_rows, message["lsn"]
                self.pending_rows = []
            else:
                rows = [change["columnvalues"][0] for change in message["change"]
                        if change["table"] == TABLE and change["kind"] == "insert"]
                last = message["nextlsn"]
            self.duplicate_messages += any(row in self.received for row in rows)
            for row in rows:
                self.received[row] = self.received.get(row, 0) + 1
                self.acked_again += row in self.acked_rows
                self.unacked_rows.append(row)
                first = self.first_lsn.setdefault(row, parse_lsn(last))
                self.confirmed_again += self.received[row] > 1 and first <= self.confirmed.highest
            self.messages_since_ack += 1
            if self.rng.random() < self.ack_probability:
                await ws.send(json.dumps({"lsn": last}))
                self.note_ack()
        return None

    def note_ack(self):
        self.acked_rows.update(self.unacked_rows)
        self.unacked_rows = []
        self.window_before_last_ack = self.messages_since_ack
        self.messages_since_ack = 0


class Watched:
    """One stream under the faults: its table, writer, consumer and confirmed position."""

    def __init__(self, table, slot, rate, rng_seed, v2_stream=None):
        self.table = table
        self.slot = slot
        self.confirmed = ConfirmedWatch(slot)
        self.consumer = Consumer(random.Random(rng_seed), ack_probability=0.3, confirmed=self.confirmed,
                                 v2_stream=v2_stream)
        self.writer = Writer(rate, table)
        self.task = None
        self.committed = set()


async def keep_calling_v1_init(gateway, stop):
    """A v1 client on a gateway of its own: each /v1/init drops the slot of the one before."""
    calls = 0
    while not stop.is_set():
        try:
            status, _ = await asyncio.get_running_loop().run_in_executor(None, gateway.http, "GET", "/v1/init")
            calls += status == 200
        except OSError:
            pass
        await asyncio.sleep(1.0)
    return calls


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=40, help="seconds of faults")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rate", type=float, default=200, help="rows per second of the v1 table")
    parser.add_argument("--v2-rate", type=float, default=50, help="rows per second of each v2 table")
    parser.add_argument("--fault-interval", type=float, default=5, help="mean seconds between faults")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    print(f"fault run: seed {seed} (replay with --seed {seed}), {args.duration:.0f} s, "
          f"{args.rate:.0f} rows/s (v1), {args.v2_rate:.0f} rows/s into each of {len(V2_TABLES)} v2 streams",
          flush=True)
    rng = random.Random(seed)  # the faults: same seed, same sequence of faults

    for table in [TABLE, *V2_TABLES]:
        sql(f"DROP TABLE IF EXISTS {table}")
        sql(f"CREATE TABLE {table} (id bigint PRIMARY KEY)")
    slots_before = [name for (name,) in sql("SELECT slot_name FROM pg_replication_slots")]
    journal = os.path.join(tempfile.mkdtemp(prefix="fault-run-"), "acknowledged")
    reader = Reader("--status-interval", "1", "--ack-journal", journal)
    gateway = Gateway(reader)
    init_gateway = Gateway(reader)  # the v1 client that keeps calling /v1/init
    watched = [Watched(TABLE, gateway.init(), args.rate, seed + 1)]
    for number, (table, service) in enumerate(V2_TABLES.items()):
        status, body = gateway.http("POST", "/v2/streams", json.dumps({"name": service, "tables": [{"table": table}]}))
        assert status == 201, body
        watched.append(Watched(table, f"delta_v2_{service}", args.v2_rate, seed + 2 + number, v2_stream=service))
    faults = {"kill -9 reader": 0, "kill -9 gateway": 0, "restart PostgreSQL": 0, "cut client": 0,
              "take over": 0}
    for stream in watched:
        stream.confirmed.start()
        stream.task = asyncio.ensure_future(stream.consumer.run(gateway, stream.slot))
        stream.writer.start()
    stop_init = asyncio.Event()
    init_task = asyncio.ensure_future(keep_calling_v1_init(init_gateway, stop_init))
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
            else:
                for stream in watched:  # every consumer, each at its own point
                    (stream.consumer.take_over if fault == "take over" else stream.consumer.cut).set()
        stop_init.set()
        init_calls = await init_task
        for stream in watched:
            stream.writer.stop.set()
            stream.writer.join()
        reader.alive()
        gateway.alive()
        deadline = time.monotonic() + 90
        for stream in watched:
            stream.committed = {row for (row,) in sql(f"SELECT id FROM {stream.table}")}
            while not stream.committed <= set(stream.consumer.received) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            stream.consumer.done = True
            await asyncio.wait_for(stream.task, 10)
        v2_kept = all(gateway.http("GET", f"/v2/streams/{service}")[0] == 200 for service in V2_TABLES.values())
    finally:
        for stream in watched:
            stream.confirmed.stop.set()
        init_gateway.close()
        gateway.close()
        reader.close()
    print(f"faults injected: {sum(faults.values())} ({', '.join(f'{k}: {v}' for k, v in faults.items())})")
    print(f"/v1/init calls meanwhile: {init_calls}; the v2 streams outlived them: {v2_kept}")
    ok = v2_kept and init_calls > 0
    for stream in watched:
        ok = report(stream) and ok
    every_kind = sum(faults.values()) < len(faults) or all(faults.values())
    ok = ok and every_kind
    for table in [TABLE, *V2_TABLES]:
        sql(f"DROP TABLE IF EXISTS {table}")
    drop_slots("starts_with(slot_name, 'delta_') AND NOT slot_name = ANY (%s)", (slots_before,))
    for service in V2_TABLES.values():
        sql(f'DROP PUBLICATION IF EXISTS "delta_v2_{service}"')
    print("fault run: " + ("1 passed, 0 failed" if ok else "0 passed, 1 failed"))
    return 0 if ok else 1


def report(stream):
    """Prints what one stream's consumer saw; whether it lost nothing and kept its bounds."""
    consumer, committed = stream.consumer, stream.committed
    missing = sorted(committed - set(consumer.received))
    duplicates = sum(count - 1 for count in consumer.received.values())
    name = f"v2 stream {consumer.v2_stream}" if consumer.v2_stream else f"v1 slot {stream.slot}"
    print(f"{name}: rows committed: {len(committed)}, received: {len(consumer.received)}, "
          f"missing: {len(missing)}, reconnects: {consumer.reconnects}, takeovers: {consumer.takeovers}")
    # Duplicates by cause. Never ACKed: the messages since the last ACK at each reconnect.
    # ACK sent, not taken: one in flight when the gateway or the reader was killed, or the
    # connection cut, never reached PostgreSQL. Confirmed by PostgreSQL: must be none, even
    # after a PostgreSQL crash rewound the slot (the reader resumes from its ack journal).
    # In messages, all of them stay within the windows of the last two ACKs at each reconnect.
    print(f"  duplicate rows: {duplicates}: never ACKed {duplicates - consumer.acked_again}, "
          f"ACK sent but not taken {consumer.acked_again - consumer.confirmed_again}, "
          f"confirmed by PostgreSQL {consumer.confirmed_again}; duplicate messages "
          f"{consumer.duplicate_messages}, bound from the ACK windows {consumer.duplicate_bound}")
    # An ACK the reader could not take because of a fault (it restarted, or did not answer
    # in time) is refused with "ACK not committed": its rows come again, counted above.
    # Any other error frame (a malformed ACK, one past what was delivered) is a bug.
    unexpected = {error: count for error, count in consumer.error_frames.items()
                  if not error.startswith("ACK not committed: ") or "beyond what was delivered" in error}
    for error, count in consumer.error_frames.items():
        print(f"  error frame x{count}{' (unexpected)' if error in unexpected else ''}: {error}")
    if missing:
        print(f"  MISSING rows (first 20): {missing[:20]}")
    return not missing and consumer.confirmed_again == 0 and \
        consumer.duplicate_messages <= consumer.duplicate_bound and not unexpected


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
