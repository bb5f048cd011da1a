"""The reader's one loop never waits on PostgreSQL: while one stream's reconnect hangs (a
server that accepts the connection and never answers), the other streams deliver and
control requests are answered, and the hanging stream gives up after connect_timeout
and comes back with everything it had not had acknowledged. The same holds while the
reader's SQL connection (slot list, positions, drops, status) reconnects into a hang."""

import json
import socket
import threading
import unittest
import uuid

from harness import (drop_slots, HEARTBEAT, STREAM_END, Control, Reader, Subscriber, dsn, format_lsn,
                     sql, wait_until)
from test_reader import changes_to, collect


class Proxy(threading.Thread):
    """A TCP proxy in front of the test PostgreSQL. With `hold_new`, it accepts new
    connections and never answers them; connections it passes go on as they were."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.hold_new = False
        self.held = []

    @property
    def address(self):
        return self.listener.getsockname()[1]

    def run(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.hold_new:
                self.held.append(client)
                continue
            server = socket.create_connection(("127.0.0.1", self.port))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def still_held(self, connection):
        """The reader has not given up on a held connection (closing it would show as EOF)."""
        connection.setblocking(False)
        try:
            return connection.recv(65536) != b""
        except BlockingIOError:
            return True

    def close(self):
        self.listener.close()
        for connection in self.held:
            connection.close()


class ReaderNeverBlocksTest(unittest.TestCase):
    def test_a_hanging_reconnect_holds_up_no_other_stream_and_no_control_reply(self):
        table = "never_blocks_rows"
        sql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY)")
        parts = dict(item.split("=", 1) for item in dsn().split())
        proxy = Proxy(int(parts["port"]))
        proxy.start()
        through_proxy = f"{dsn()} host=127.0.0.1 port={proxy.address} connect_timeout=3"
        reader = Reader("--status-interval", "1", pg=through_proxy)
        streams, subs = [], {}
        try:
            with Control(reader.control) as control:
                for _ in range(2):
                    stream = control.ok("create")["stream"]
                    control.ok("release", stream=stream)
                    streams.append(stream)
                    subs[stream] = Subscriber(reader.publish, stream)
                    attached = control.ok("attach", stream=stream, restart=True)
                    subs[stream].wait_for(lambda f, e=attached["epoch"]: f["kind"] == HEARTBEAT
                                          and f["epoch"] == e, what="the epoch")
                hanging, live = streams
                sql(f"INSERT INTO {table} VALUES (1)")
                for stream in streams:
                    self.assertEqual([v for _, v, _ in collect(subs[stream], table, 1)], [1])

                proxy.hold_new = True
                sql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                    "WHERE slot_name = %s", (hanging,))
                end = subs[hanging].wait_for(lambda f: f["kind"] == STREAM_END, what="stream_end")
                self.assertEqual(json.loads(end["payload"])["code"], "connection_lost")
                held = wait_until(lambda: proxy.held and proxy.held[0], what="the reconnect to hang")

                # Meanwhile: the other stream delivers, and control requests are answered.
                sql(f"INSERT INTO {table} VALUES (2)")
                self.assertEqual([v for _, v, _ in collect(subs[live], table, 1)], [2])
                self.assertTrue(control.ok("status")["postgres"])
                listed = {s["stream"]: s for s in control.ok("list")["streams"]}
                self.assertFalse(listed[hanging]["streaming"])
                self.assertTrue(listed[live]["streaming"])
                self.assertTrue(proxy.still_held(held), "the loop waited for the hanging connection")

                # After connect_timeout it gives up, retries, and resumes from its last ACK.
                proxy.hold_new = False
                wait_until(lambda: not proxy.still_held(held), what="the reader to give up")
                again = []
                while len(changes_to(again, table)) < 2:
                    again += subs[hanging].data(1, timeout=30)
                self.assertEqual([v for _, v, _ in changes_to(again, table)], [1, 2])
                for stream in streams:
                    control.ok("drop", stream=stream)
        finally:
            for sub in subs.values():
                sub.close()
            reader.close()
            proxy.close()
            for stream in streams:
                drop_slots("slot_name = %s", (stream,))


    def test_a_hanging_sql_reconnect_holds_up_no_stream_and_no_other_request(self):
        table = "never_blocks_sql_rows"
        sql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY)")
        parts = dict(item.split("=", 1) for item in dsn().split())
        proxy = Proxy(int(parts["port"]))
        proxy.start()
        name = f"never_blocks_{uuid.uuid4().hex[:8]}"
        through_proxy = (f"{dsn()} host=127.0.0.1 port={proxy.address} connect_timeout=4 "
                         f"application_name={name}")
        reader = Reader("--status-interval", "1", pg=through_proxy)
        stream, sub = None, None
        try:
            with Control(reader.control) as control:
                stream = control.ok("create")["stream"]
                control.ok("release", stream=stream)
                sub = Subscriber(reader.publish, stream)
                attached = control.ok("attach", stream=stream, restart=True)
                sub.wait_for(lambda f: f["kind"] == HEARTBEAT and f["epoch"] == attached["epoch"],
                             what="the epoch")
                self.assertTrue(control.ok("status")["postgres"])  # the SQL connection is up

                # Its SQL connection dies; the next one hangs in the proxy.
                proxy.hold_new = True
                killed = sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE application_name = %s AND backend_type = 'client backend'",
                             (name,))
                self.assertEqual(killed[0][0], 1)
                control.socket.send(json.dumps({"op": "list", "id": "slow-list"}).encode())
                wait_until(lambda: proxy.held, what="the SQL reconnect to hang")

                # Meanwhile the stream delivers and an ACK is answered: before the list.
                sql(f"INSERT INTO {table} VALUES (1)")
                (_, value, frame), = collect(sub, table, 1)
                self.assertEqual(value, 1)
                control.socket.send(json.dumps({
                    "op": "ack", "id": "quick-ack", "stream": stream,
                    "lsn": format_lsn(frame["lsn"]), "epoch": frame["epoch"]}).encode())
                first = json.loads(control.socket.recv())
                self.assertEqual(first["id"], "quick-ack", "the loop waited for the SQL reconnect")
                self.assertTrue(first["ok"], first)

                # The list gives up after connect_timeout with PostgreSQL's code; then,
                # with PostgreSQL reachable again, the next one is answered.
                self.assertTrue(control.socket.poll(15000), "the list was never answered")
                slow = json.loads(control.socket.recv())
                self.assertEqual((slow["id"], slow["ok"], slow["code"]), ("slow-list", False, "postgres"))
                self.assertIn("did not answer within 4 s", slow["error"])
                proxy.hold_new = False
                listed = {s["stream"]: s for s in control.ok("list")["streams"]}
                self.assertEqual(listed[stream]["acked_lsn"], format_lsn(frame["lsn"]))
                control.ok("drop", stream=stream)
                stream = None
        finally:
            if sub:
                sub.close()
            reader.close()
            proxy.close()
            if stream:
                drop_slots("slot_name = %s", (stream,))


if __name__ == "__main__":
    unittest.main()
