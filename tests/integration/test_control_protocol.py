"""The control protocol's success paths as proto/PROTOCOL.md describes them, from a tool's
side: a REQ socket, a DEALER with the empty delimiter frame, `create` with a name of its
own, a consumer's `hold`/`unhold` claim, `detach`, a restart while the slot's old walsender
is still exiting, and the 64 KiB request limit."""

import json
import os
import signal
import threading
import unittest
import uuid

import zmq

from harness import (DATA, HEARTBEAT, STREAM_END, ReaderCase, Subscriber, format_lsn, parse_lsn, sql,
                     wait_until)


class ControlProtocolTest(ReaderCase):
    def attached(self, **fields):
        """A new stream, streaming to a subscriber of its own: (stream, subscriber, attach reply)."""
        stream = self.control.ok("create")["stream"]
        self.streams.append(stream)
        sub = Subscriber(self.reader.publish, stream)
        self.subs.append(sub)
        reply = self.control.ok("attach", stream=stream, **fields)
        sub.wait_for(lambda f: f["kind"] == HEARTBEAT and f["epoch"] == reply["epoch"], what="its first heartbeat")
        return stream, sub, reply

    def request(self, socket, op, **fields):
        socket.send(json.dumps({"op": op, "id": uuid.uuid4().hex, **fields}).encode())
        self.assertTrue(socket.poll(20_000), f"no reply to {op}")
        return json.loads(socket.recv())

    def test_a_req_socket_and_a_dealer_with_a_delimiter_frame_are_answered(self):
        req = zmq.Context.instance().socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(self.reader.control)
        try:
            self.assertTrue(self.request(req, "status")["ok"])
            self.assertTrue(self.request(req, "list")["ok"])  # a REQ alternates: a second one too
        finally:
            req.close()
        dealer = self.control.socket
        request_id = uuid.uuid4().hex
        dealer.send_multipart([b"", json.dumps({"op": "status", "id": request_id}).encode()])
        self.assertTrue(dealer.poll(20_000))
        delimiter, body = dealer.recv_multipart()  # the same routing frames come back
        self.assertEqual(delimiter, b"")
        self.assertEqual((json.loads(body)["id"], json.loads(body)["ok"]), (request_id, True))

    def test_create_with_a_name_of_its_own(self):
        name = "delta_tool" + uuid.uuid4().hex[:6]
        created = self.control.ok("create", stream=name)
        self.streams.append(name)
        self.assertEqual((created["stream"], created["slot"]), (name, name))
        self.assertEqual(sql("SELECT plugin FROM pg_replication_slots WHERE slot_name = %s", (name,)),
                         [(os.environ.get("DELTASTREAM_PLUGIN", "wal2json"),)])
        again = self.control.request("create", stream=name)
        self.assertFalse(again["ok"], again)

    def test_a_tools_claim_hold_unhold_and_detach(self):
        sql("DROP TABLE IF EXISTS tool_rows; CREATE TABLE tool_rows (id int PRIMARY KEY, name text)")
        table = "tool_rows"
        stream, sub, attached = self.attached(consumer="tool-a")
        self.assertTrue(self.control.ok("hold", stream=stream, consumer="tool-a"))
        # Claimed: another consumer is refused...
        refused = self.control.request("attach", stream=stream, consumer="tool-b")
        self.assertEqual((refused["ok"], refused["code"]), (False, "conflict"))
        # ...until the claim is given up: then it attaches at once, no waiting for a lapse.
        self.control.ok("unhold", stream=stream, consumer="tool-a")
        self.control.ok("attach", stream=stream, consumer="tool-b")
        refused = self.control.request("hold", stream=stream, consumer="tool-a")
        self.assertEqual((refused["ok"], refused["code"]), (False, "taken_over"))

        sql(f"INSERT INTO {table} VALUES (1, 'before detach')")
        frame = sub.wait_for(lambda f: f["kind"] == DATA and table.encode() in f["payload"],
                             what="the row before the detach")
        self.control.ok("ack", stream=stream, lsn=format_lsn(frame["lsn"]), epoch=attached["epoch"],
                        consumer="tool-b")
        detached = self.control.ok("detach", stream=stream)
        self.assertEqual(detached["stream"], stream)
        end = sub.wait_for(lambda f: f["kind"] == STREAM_END, what="the stream_end of the detach")
        self.assertEqual(json.loads(end["payload"])["code"], "detached")
        listed = {s["stream"]: s for s in self.control.ok("list")["streams"]}
        self.assertFalse(listed[stream]["attached"])
        # The final status update carried the ACK (or, all being ACKed, the WAL end past it);
        # the walsender may still be reading it when the detach is answered.
        wait_until(lambda: parse_lsn({s["stream"]: s for s in self.control.ok("list")["streams"]}[stream]
                                     ["confirmed_flush_lsn"]) >= frame["lsn"],
                   what="the final status update to reach PostgreSQL")

    def test_a_restart_or_reattach_right_after_the_end_waits_for_the_old_walsender(self):
        # Ending a stream closes its replication connection, and its walsender lets go of the
        # slot a moment later: a start meanwhile is refused "slot is active" (55006) by
        # PostgreSQL, which the reader must wait out rather than pass on as a failed attach.
        stream, sub, attached = self.attached()
        epoch = attached["epoch"]
        for round in range(10):
            if round % 2:
                self.control.ok("detach", stream=stream)
                reply = self.control.ok("attach", stream=stream)
            else:
                reply = self.control.ok("attach", stream=stream, restart=True)
                self.assertEqual(reply["ended_epoch"], epoch)
            self.assertNotEqual(reply["epoch"], epoch)
            epoch = reply["epoch"]
        sub.wait_for(lambda f: f["kind"] == HEARTBEAT and f["epoch"] == epoch, what="the last epoch streaming")

    def test_a_restart_waits_while_the_old_walsender_holds_the_slot(self):
        # The same, made certain: the old walsender is stopped (SIGSTOP) across the restart,
        # so PostgreSQL refuses every start until it is let go a second later.
        stream, sub, attached = self.attached()
        walsender = sql("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (stream,))[0][0]
        def let_go():
            try:
                os.kill(walsender, signal.SIGCONT)
            except ProcessLookupError:
                pass  # already let go, and gone
        os.kill(walsender, signal.SIGSTOP)
        resume = threading.Timer(1.0, let_go)
        resume.start()
        try:
            reply = self.control.request("attach", stream=stream, restart=True)
        finally:
            resume.cancel()
            let_go()
        self.assertTrue(reply["ok"], reply)
        self.assertEqual(reply["ended_epoch"], attached["epoch"])
        sub.wait_for(lambda f: f["kind"] == HEARTBEAT and f["epoch"] == reply["epoch"], what="the new epoch streaming")
        now_active = sql("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (stream,))[0][0]
        self.assertNotEqual(now_active, walsender)

    def test_a_request_over_64_kib_is_dropped_and_the_next_is_answered(self):
        big = json.dumps({"op": "status", "id": "big", "pad": "x" * (64 << 10)}).encode()
        self.control.socket.send(big)
        # ZeroMQ (ZMQ_MAXMSGSIZE) drops it with the connection that sent it, so what was
        # queued behind it is lost too: a tool times out and asks again, and is answered.
        reply = wait_until(lambda: self.control.try_request("status"), what="the reader to answer again")
        self.assertNotEqual(reply["id"], "big")
        self.assertTrue(reply["ok"])


if __name__ == "__main__":
    unittest.main()
