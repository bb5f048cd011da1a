"""Shared pieces of the integration tests: the real reader process, a DEALER control
client and a SUB subscriber written from proto/PROTOCOL.md alone, and the PostgreSQL
that tests/run.sh started (PGTEST_DSN; PGTEST_CLUSTER restarts it)."""

import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import uuid

import psycopg2
import psycopg2.errors
import zmq

HEADER = struct.Struct("!BBQQQQ")  # version, kind, epoch, seq, lsn, wal_lsn
DATA, HEARTBEAT, STREAM_END, DATA_PART = 1, 2, 3, 4


def dsn():
    value = os.environ.get("PGTEST_DSN")
    if not value:
        raise RuntimeError("PGTEST_DSN is not set: run the suite through ./tests/run.sh")
    return value


def cluster(action):
    """restart | kill | start | stop the test PostgreSQL."""
    command = os.environ.get("PGTEST_CLUSTER")
    if not command:
        raise RuntimeError("PGTEST_CLUSTER is not set: run the suite through ./tests/run.sh")
    subprocess.run(command.split() + [action], check=True)


def connect():
    conn = psycopg2.connect(dsn())
    conn.autocommit = True
    return conn


def sql(query, params=None):
    """One statement in autocommit (psycopg2's `with conn` would open a transaction)."""
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def drop_slots(condition="starts_with(slot_name, 'delta_')", params=None, timeout=15.0):
    """Drops the inactive slots that match: what a test leaves behind. The walsender of a
    process just closed may still hold its slot for a moment, and PostgreSQL then refuses
    the drop (object in use): it is tried again until the walsender has exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                f"WHERE ({condition}) AND NOT active", params)
            return
        except psycopg2.errors.ObjectInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wait_until(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def wait_for_status_update(slot, timeout=15.0):
    """Until PostgreSQL has a standby status update for `slot` sent after this call: the
    positive proof that a status interval went by, for a test asserting that one did not
    move the slot's position."""
    since = sql("SELECT clock_timestamp()")[0][0]
    wait_until(lambda: sql("SELECT r.reply_time > %s FROM pg_stat_replication r "
                           "JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = %s",
                           (since, slot)) == [(True,)],
               timeout, what=f"a status update for {slot}")


def parse_lsn(text):
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(value):
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Reader:
    """deltastream-reader as a child process on fixed free ports (so a restart keeps them)."""

    def __init__(self, *extra, pg=None):
        self.pg = pg or dsn()
        self.binary = os.environ.get("DELTASTREAM_READER_BIN")
        if not self.binary:
            raise RuntimeError("DELTASTREAM_READER_BIN is not set")
        self.control = f"tcp://127.0.0.1:{free_port()}"
        self.publish = f"tcp://127.0.0.1:{free_port()}"
        self.extra = list(extra)
        self.log = tempfile.NamedTemporaryFile(prefix="reader-", suffix=".log", delete=False)
        self.process = None
        self.start()

    def start(self):
        args = [self.binary, "--pg", self.pg, "--control", self.control, "--publish", self.publish,
                "--log-level", "debug", *self.extra]
        self.process = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        with Control(self.control) as control:  # ready once it answers
            wait_until(lambda: self.alive() and control.try_request("status"), what="reader start")

    def alive(self):
        if self.process.poll() is not None:
            raise AssertionError(f"reader exited with {self.process.returncode}:\n{self.output()}")
        return True

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout=15):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def output(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def close(self):
        if self.process and self.process.poll() is None:
            self.kill()
        os.unlink(self.log.name)


class Control:
    """A DEALER on the reader's control endpoint: one JSON request, one JSON reply."""

    def __init__(self, endpoint):
        self.context = zmq.Context.instance()
        self.endpoint = endpoint
        self._open()

    def _open(self):
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(self.endpoint)

    def send_raw(self, body, timeout=20.0):
        self.socket.send(body)
        if not self.socket.poll(int(timeout * 1000)):
            raise TimeoutError(f"no reply to {body!r}")
        return json.loads(self.socket.recv())

    def request(self, op, timeout=20.0, **fields):
        request_id = uuid.uuid4().hex
        reply = self.send_raw(json.dumps({"op": op, "id": request_id, **fields}).encode(), timeout)
        assert reply["id"] == request_id, reply
        return reply

    def try_request(self, op):
        """For polling a process that may not be up yet: a lost request leaves the
        DEALER's queue in an unknown state, so reopen it."""
        try:
            return self.request(op, timeout=0.5)
        except TimeoutError:
            self.socket.close()
            self._open()
            return None

    def ok(self, op, **fields):
        reply = self.request(op, **fields)
        assert reply["ok"], reply
        return reply

    def close(self):
        self.socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Subscriber:
    """A SUB socket on one stream's topic, decoding frames as PROTOCOL.md says."""

    def __init__(self, endpoint, stream, receive_hwm=None):
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        if receive_hwm:  # set before connecting: it applies to connections made after it
            self.socket.setsockopt(zmq.RCVHWM, receive_hwm)
            self.socket.setsockopt(zmq.RCVBUF, 1 << 16)
        self.socket.setsockopt(zmq.SUBSCRIBE, stream.encode() + b"\0")
        self.socket.connect(endpoint)

    def recv(self, timeout=15.0):
        if not self.socket.poll(int(timeout * 1000)):
            raise AssertionError(f"no frame within {timeout}s")
        topic, header, payload = self.socket.recv_multipart()
        version, kind, epoch, seq, lsn, wal = HEADER.unpack(header)
        assert version == 1
        return {"stream": topic[:-1].decode(), "kind": kind, "epoch": epoch, "seq": seq,
                "lsn": lsn, "wal": wal, "payload": payload}

    def wait_for(self, predicate, timeout=20.0, what="frame"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            frame = self.recv(left)
            if predicate(frame):
                return frame

    def data(self, count, timeout=20.0):
        """The next `count` messages, skipping heartbeats: a data frame, or the pieces of
        a large message (data_part frames, then a data frame) checked and joined into one,
        with "pieces" saying how many frames it took."""
        frames = []
        pieces = []
        while len(frames) < count:
            frame = self.wait_for(lambda f: f["kind"] in (DATA, DATA_PART, STREAM_END), timeout,
                                  "data")
            assert frame["kind"] != STREAM_END, frame
            if pieces:  # every piece of one message: same epoch, lsn and wal, seq + 1
                last = pieces[-1]
                assert (frame["epoch"], frame["seq"], frame["lsn"], frame["wal"]) == \
                    (last["epoch"], last["seq"] + 1, last["lsn"], last["wal"]), (last, frame)
            pieces.append(frame)
            if frame["kind"] == DATA:
                frames.append({**frame, "payload": b"".join(p["payload"] for p in pieces),
                               "pieces": len(pieces)})
                pieces = []
        return frames

    def close(self):
        self.socket.close()


def rows_of(frame):
    """The wal2json message of a data frame, parsed."""
    return json.loads(frame["payload"])


class Gateway:
    """deltastream-gateway as a child process, on a free port, talking to `reader`."""

    def __init__(self, reader, *extra, pgdeltastream_flags=False, pg=None, host="127.0.0.1", pg_env=None):
        """pgdeltastream_flags: PostgreSQL named by the Go server's flags (-pgHost …);
        pg_env: by these variables (PGHOST …) instead of --pg."""
        self.pg = pg or dsn()
        self.pg_env = pg_env
        self.host = host
        self.binary = os.environ.get("DELTASTREAM_GATEWAY_BIN")
        if not self.binary:
            raise RuntimeError("DELTASTREAM_GATEWAY_BIN is not set")
        self.reader = reader
        self.port = free_port()
        self.extra = list(extra)
        self.pgdeltastream_flags = pgdeltastream_flags
        self.log = tempfile.NamedTemporaryFile(prefix="gateway-", suffix=".log", delete=False)
        self.process = None
        self.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}"

    def start(self):
        env = dict(os.environ, DELTASTREAM_CONTROL=self.reader.control,
                   DELTASTREAM_PUBLISH=self.reader.publish, **(self.pg_env or {}))
        if self.pg_env is not None:
            args = ["--server-host", self.host, "--server-port", str(self.port)]
        elif self.pgdeltastream_flags:  # the Go server's own flags, single dash
            parts = dict(item.split("=", 1) for item in self.pg.split())
            args = ["-serverHost", self.host, "-serverPort", str(self.port),
                    "-pgHost", parts["host"], "-pgPort", parts["port"],
                    "-user", parts["user"], "-db", parts["dbname"]]
        else:
            args = ["--pg", self.pg, "--server-host", self.host, "--server-port", str(self.port)]
        self.process = subprocess.Popen([self.binary, *args, "--log-level", "debug", *self.extra],
                                        stdout=self.log, stderr=self.log, env=env)
        wait_until(lambda: self.alive() and self.healthy(), what="gateway start")

    def healthy(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def alive(self):
        if self.process.poll() is not None:
            raise AssertionError(f"gateway exited with {self.process.returncode}:\n{self.output()}")
        return True

    def connection(self):
        """A new http.client connection to the gateway (test_tls.py's makes it HTTPS)."""
        import http.client
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def http(self, method, path, body=None, headers=None):
        """(status, parsed JSON body) of one request."""
        conn = self.connection()
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data

    def init(self):
        status, body = self.http("GET", "/v1/init")
        assert status == 200, body
        return body["slotName"]

    def terminate(self, timeout=15):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def output(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def close(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.unlink(self.log.name)


class ReaderCase(unittest.TestCase):
    """A test with its own reader and control socket; the streams it lists in
    self.streams are dropped afterwards, the subscribers in self.subs closed."""

    def setUp(self):
        self.reader = Reader("--status-interval", "1")
        self.control = Control(self.reader.control)
        self.streams = []
        self.subs = []

    def tearDown(self):
        for stream in self.streams:
            try:
                self.control.request("drop", stream=stream)
            except Exception:  # the reader may be the thing under test
                pass
        for sub in self.subs:
            sub.close()
        self.control.close()
        self.reader.close()
        for stream in self.streams:  # whatever the reader could not drop
            drop_slots("slot_name = %s", (stream,))
