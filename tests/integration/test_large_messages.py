"""Large transactions travel in pieces (data_part frames) and reach WebSocket clients as
one message in continuation frames: byte for byte what wal2json makes of them whole, and
never acknowledged, nor lost, before their last piece."""

import asyncio
import json
import time
import unittest
import uuid

import websockets
import zmq

from harness import (drop_slots, Control, Gateway, Reader, Subscriber, format_lsn, parse_lsn, rows_of,
                     sql, wait_for_status_update, wait_until)

PART_BYTES = "1024"


def new_table(name):
    sql(f"DROP TABLE IF EXISTS {name}")
    sql(f"CREATE TABLE {name} (id int PRIMARY KEY, pad text)")
    return name


def comparison_slot():
    """A plain wal2json slot created now: what PostgreSQL's SQL interface decodes of the
    same transactions, whole (no write-in-chunks), to compare with."""
    name = "delta_cmp_" + uuid.uuid4().hex[:12]
    sql("SELECT pg_create_logical_replication_slot(%s, 'wal2json')", (name,))
    return name


def whole_messages(slot, table):
    """The wal2json format 1 messages of `slot` that change `table`, as PostgreSQL sends
    them without chunks, with the reader's options."""
    rows = sql("SELECT data FROM pg_logical_slot_peek_changes(%s, NULL, NULL, "
               "'format-version', '1', 'include-lsn', 'on', 'pretty-print', 'off')", (slot,))
    return [row[0] for row in rows if f'"table":"{table}"' in row[0]]


def confirmed_flush(stream):
    rows = sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
               (stream,))
    return parse_lsn(rows[0][0])


def drop_named_slots(*names):
    for name in names:
        drop_slots("slot_name = %s", (name,))


class ReaderCase(unittest.TestCase):
    """A reader started with `reader_args`, its control socket, and the slots to drop."""
    reader_args = ()

    def setUp(self):
        self.reader = Reader(*self.reader_args)
        self.control = Control(self.reader.control)
        self.slots = []

    def tearDown(self):
        self.control.close()
        self.reader.close()
        drop_named_slots(*self.slots)


class ReaderPiecesTest(ReaderCase):
    # A small high-water mark, so that a subscriber that reads nothing stops the reader
    # within a message instead of ZeroMQ queueing all of it.
    reader_args = ("--message-part-bytes", PART_BYTES, "--high-water-mark", "20", "--status-interval", "1")

    def attach(self, stream, high_water_mark=None):
        sub = Subscriber(self.reader.publish, stream)
        if high_water_mark:
            sub.socket.setsockopt(zmq.RCVHWM, high_water_mark)
        reply = self.control.ok("attach", stream=stream)
        return sub, reply

    def test_a_large_transaction_comes_in_pieces_that_join_into_the_whole_message(self):
        table = new_table("piece_rows")
        stream = self.control.ok("create")["stream"]
        self.slots += [stream, comparison_slot()]
        sub, _ = self.attach(stream)
        sql(f"INSERT INTO {table} SELECT g, repeat('p', 100) FROM generate_series(1, 300) g")
        sql(f"INSERT INTO {table} VALUES (0, 'small')")
        large, small = sub.data(2)
        expected = whole_messages(self.slots[1], table)
        self.assertEqual(len(expected), 2)
        self.assertGreater(large["pieces"], 30)  # about 45 KB in pieces of about 1 KiB
        self.assertEqual(large["payload"].decode(), expected[0])
        self.assertEqual(small["pieces"], 1)
        self.assertEqual(small["payload"].decode(), expected[1])
        self.assertEqual(small["seq"], large["seq"] + 1)
        # The message's position is acknowledgeable once its last piece is out.
        self.control.ok("ack", stream=stream, lsn=rows_of(large)["nextlsn"], epoch=large["epoch"])
        wait_until(lambda: confirmed_flush(stream) == large["lsn"], what="ack of the large one")
        sub.close()

    def test_a_reader_killed_in_the_middle_of_a_message_sends_it_whole_again(self):
        table = new_table("piece_crash_rows")
        stream = self.control.ok("create")["stream"]
        self.slots.append(stream)
        sub, _ = self.attach(stream)
        sql(f"INSERT INTO {table} VALUES (0, 'before')")
        (before,) = sub.data(1)
        self.control.ok("ack", stream=stream, lsn=format_lsn(before["lsn"]), epoch=before["epoch"])
        sub.close()

        # A subscriber that reads nothing holds the reader back in the middle of a
        # 20 MB transaction (more than the sockets' kernel buffers): pieces are out, the
        # rest is not.
        blocked, _ = self.attach(stream, high_water_mark=5)
        self.control.ok("attach", stream=stream, restart=True)
        sql(f"INSERT INTO {table} SELECT g, repeat('x', 1000) FROM generate_series(1, 20000) g")
        def stalled():
            (entry,) = [s for s in self.control.ok("list")["streams"] if s["stream"] == stream]
            return entry["delivered_lsn"] == format_lsn(before["lsn"]) and entry["seq"] > 10
        wait_until(stalled, timeout=30, what="the reader to stall in the middle of the message")
        wait_for_status_update(stream)  # what it says may not pass the message's start
        self.reader.kill()
        blocked.close()
        # While the transaction was being written, the idle flush position may have
        # moved into its WAL (it commits later, so it is still sent after a restart),
        # but never to its end.
        flushed = confirmed_flush(stream)
        self.reader.start()
        sub, _ = self.attach(stream)
        (again,) = sub.data(1, timeout=60)
        self.assertLess(flushed, again["lsn"])
        self.assertEqual(len(rows_of(again)["change"]), 20000)
        self.assertGreater(again["pieces"], 1000)
        sub.close()


def resident_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class QueuedBytesTest(ReaderCase):
    """--max-queued-bytes: ZeroMQ's high-water mark counts messages, so without a byte
    budget a subscriber that reads nothing would let the reader queue up to 10,000 pieces
    (here 160 MiB) of a large transaction."""
    reader_args = ("--message-part-bytes", "16384", "--max-queued-bytes", str(1 << 20))

    def test_a_stalled_subscriber_holds_the_reader_within_its_byte_budget(self):
        table = new_table("budget_rows")
        stream = self.control.ok("create")["stream"]
        self.slots.append(stream)
        # A SUB that holds at most 5 pieces, and reads nothing until the reader stalls.
        sub = Subscriber(self.reader.publish, stream, receive_hwm=5)
        self.control.ok("attach", stream=stream)
        sub.wait_for(lambda frame: True, what="a first frame (the SUB is subscribed)")
        before = resident_mib(self.reader.process.pid)
        sql(f"INSERT INTO {table} SELECT g, repeat('q', 1000) FROM generate_series(1, 40000) g")

        def stalled():
            """The stream's seq once the reader says it holds a frame back (queues full)."""
            (entry,) = [s for s in self.control.ok("list")["streams"] if s["stream"] == stream]
            return entry["held_back"] and entry["seq"] > 10 and entry["seq"]
        last = wait_until(stalled, timeout=60, what="the reader to stall")
        self.assertLess(last, 2000, "most of the 40 MB transaction should still be in PostgreSQL")
        grown = resident_mib(self.reader.process.pid) - before
        self.assertLess(grown, 12, f"the reader grew by {grown:.1f} MiB while its subscriber stalled")

        (whole,) = sub.data(1, timeout=120)  # now read: every piece, in order
        self.assertEqual(len(rows_of(whole)["change"]), 40000)
        self.assertGreater(whole["pieces"], 2000)
        sub.close()


class GatewayPiecesTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.reader = Reader("--message-part-bytes", PART_BYTES)
        self.gateway = Gateway(self.reader)
        self.slots = []

    def tearDown(self):
        self.gateway.close()
        self.reader.close()
        drop_named_slots(*self.slots)

    async def test_websocket_clients_get_a_large_transaction_as_one_message(self):
        table = new_table("piece_ws_rows")
        slot = self.gateway.init()
        self.slots += [slot, comparison_slot()]
        url = f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"
        async with websockets.connect(url, max_size=None) as consumer, \
                websockets.connect(url + "&mode=observe", max_size=None) as observer:
            sql(f"INSERT INTO {table} SELECT g, repeat('w', 100) FROM generate_series(1, 2000) g")
            sql(f"INSERT INTO {table} VALUES (0, 'small')")
            expected = whole_messages(self.slots[1], table)
            for client in (consumer, observer):
                large = await asyncio.wait_for(client.recv(), 30)
                small = await asyncio.wait_for(client.recv(), 30)
                self.assertEqual(large, expected[0])
                self.assertEqual(small, expected[1])
            # An ACK of the large message is accepted: the next frame is the next change,
            # not an error frame.
            await consumer.send(json.dumps({"lsn": json.loads(large)["nextlsn"]}))
            await consumer.send(json.dumps({"lsn": json.loads(small)["nextlsn"]}))
            wait_until(lambda: confirmed_flush(slot) == parse_lsn(json.loads(small)["nextlsn"]),
                       what="the ACKs to reach PostgreSQL")
            sql(f"INSERT INTO {table} VALUES (-1, 'marker')")
            marker = json.loads(await asyncio.wait_for(consumer.recv(), 30))
            self.assertEqual(marker["change"][0]["columnvalues"][0], -1, marker)


if __name__ == "__main__":
    unittest.main()
