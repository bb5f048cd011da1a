"""CURVE on the ZeroMQ hop: the reader with --curve-secret-key and
--curve-authorized-keys, gateways and pyzmq clients with their own keys. Authorized
clients get everything; plain clients and unknown keys get nothing, and the reader logs
the refused keys; bad key files stop both programs at start, naming the file."""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import websockets
import zmq
import zmq.auth
from zmq.utils.monitor import recv_monitor_message

from harness import (drop_slots, DATA, Control, Gateway, Reader, Subscriber, dsn, sql, wait_until)


def write_keypair(path, public, secret):
    """A keypair file as pyzmq's zmq.auth.create_certificates writes it."""
    with open(path, "w") as f:
        f.write("#   ZeroMQ CURVE **Secret** Certificate\n\nmetadata\ncurve\n"
                f'    public-key = "{public.decode()}"\n    secret-key = "{secret.decode()}"\n')
    os.chmod(path, 0o600)


class Keys:
    """One party's keypair: files for the programs, bytes for pyzmq sockets."""

    def __init__(self, directory, name):
        self.secret_file = os.path.join(directory, name + ".key_secret")
        self.public_file = os.path.join(directory, name + ".key")
        self.public, self.secret = zmq.curve_keypair()
        write_keypair(self.secret_file, self.public, self.secret)
        with open(self.public_file, "w") as f:
            f.write(f'public-key = "{self.public.decode()}"\n')

    def client(self, socket, server):
        """Make `socket` a CURVE client of `server` (before connect)."""
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret
        socket.curve_serverkey = server.public


class CurveControl(Control):
    def __init__(self, endpoint, keys, server):
        self.keys, self.server = keys, server
        super().__init__(endpoint)

    def _open(self):
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.keys.client(self.socket, self.server)
        self.socket.connect(self.endpoint)


class CurveSubscriber(Subscriber):
    def __init__(self, endpoint, topic, keys, server):
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SUBSCRIBE, topic)
        keys.client(self.socket, server)
        self.socket.connect(endpoint)


class CurveReader(Reader):
    """The reader as a CURVE server; `tool` is an authorized client key for its checks."""

    def __init__(self, server, authorized, tool, *extra):
        self.server, self.tool = server, tool
        super().__init__("--curve-secret-key", server.secret_file,
                         "--curve-authorized-keys", authorized, *extra)

    def start(self):  # Reader.start, but ready once it answers a CURVE client
        args = [self.binary, "--pg", dsn(), "--control", self.control, "--publish", self.publish,
                "--log-level", "debug", *self.extra]
        self.process = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        with self.control_client() as control:
            wait_until(lambda: self.alive() and control.try_request("status"), what="reader start")

    def control_client(self, keys=None):
        return CurveControl(self.control, keys or self.tool, self.server)


HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                    | zmq.EVENT_HANDSHAKE_FAILED_AUTH)


# libzmq closes a plain client's connection to a CURVE server without saying why, or
# names the mechanism mismatch, depending on which side notices first.
PLAIN_REFUSED = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)


def monitored(kind, endpoint, keys=None, server=None):
    """A socket of `kind` watched from before it connects: (socket, its monitor)."""
    socket = zmq.Context.instance().socket(kind)
    socket.setsockopt(zmq.LINGER, 0)
    if kind == zmq.SUB:
        socket.setsockopt(zmq.SUBSCRIBE, b"")  # everything, not one topic
    if keys:
        keys.client(socket, server)
    monitor = socket.get_monitor_socket(HANDSHAKE_FAILED | zmq.EVENT_HANDSHAKE_SUCCEEDED)
    socket.connect(endpoint)
    return socket, monitor


def handshake_outcome(monitor, timeout=15):
    """The first handshake event: proof that the reader answered the connection, which a
    client that merely heard nothing yet cannot tell from a refusal."""
    if not monitor.poll(int(timeout * 1000)):
        raise AssertionError(f"no handshake event within {timeout}s")
    return recv_monitor_message(monitor)["event"]


def run_to_exit(args, timeout=15):
    """(exit status, output) of a program expected to stop at start."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


class CurveTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="curve-")
        self.server = Keys(self.dir, "reader")
        self.tool = Keys(self.dir, "tool")
        self.stranger = Keys(self.dir, "stranger")
        # The gateway's keys come from the reader's own generator.
        self.gateway_prefix = os.path.join(self.dir, "gateway")
        done = subprocess.run([os.environ["DELTASTREAM_READER_BIN"], "--generate-curve-keys",
                               self.gateway_prefix], capture_output=True, text=True, check=True)
        self.assertIn(self.gateway_prefix + ".key_secret", done.stdout)
        self.assertEqual(os.stat(self.gateway_prefix + ".key_secret").st_mode & 0o777, 0o600)
        gateway_public, gateway_secret = zmq.auth.load_certificate(self.gateway_prefix + ".key_secret")
        self.assertEqual(zmq.curve_public(gateway_secret), gateway_public)
        self.assertIn(gateway_public.decode(), done.stdout)
        self.secrets = [self.server.secret, self.tool.secret, self.stranger.secret, gateway_secret]
        # Authorized: a directory of public key files (the stranger's is not among them).
        self.authorized = os.path.join(self.dir, "authorized")
        os.mkdir(self.authorized)
        for path in (self.tool.public_file, self.gateway_prefix + ".key"):
            shutil.copy(path, self.authorized)
        self.reader = None
        self.gateways = []

    def tearDown(self):
        for gateway in self.gateways:
            gateway.close()
        if self.reader:
            self.reader.close()
        shutil.rmtree(self.dir)
        drop_slots()

    def start_reader(self, *extra):
        self.reader = CurveReader(self.server, self.authorized, self.tool, "--status-interval", "1",
                                  *extra)
        return self.reader

    def start_gateway(self, secret_file, *extra):
        gateway = Gateway(self.reader, "--curve-secret-key", secret_file,
                          "--curve-server-key", self.server.public_file, *extra)
        self.gateways.append(gateway)
        return gateway

    def assert_no_secrets(self, output):
        for secret in self.secrets:
            self.assertNotIn(secret.decode(), output)

    async def test_a_gateway_with_its_keys_streams_end_to_end(self):
        reader = self.start_reader()
        gateway = self.start_gateway(self.gateway_prefix + ".key_secret")
        sql("DROP TABLE IF EXISTS curve_rows")
        sql("CREATE TABLE curve_rows (id int PRIMARY KEY, name text)")
        slot = gateway.init()
        async with websockets.connect(f"{gateway.ws_url}/v1/lr/stream?slotName={slot}") as ws:
            for i in range(1, 6):
                sql("INSERT INTO curve_rows VALUES (%s, 'secret row')", (i,))
            seen, last = [], None
            deadline = time.monotonic() + 30
            while len(seen) < 5:
                message = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
                seen += [c["columnvalues"][0] for c in message["change"] if c["table"] == "curve_rows"]
                last = message["nextlsn"]
            self.assertEqual(seen, [1, 2, 3, 4, 5])
            await ws.send(json.dumps({"lsn": last}))
            wait_until(lambda: sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                                   "WHERE slot_name = %s", (slot,))[0][0] == last,
                       what="the ACK to reach PostgreSQL through the CURVE link")
        self.assertIn("(CURVE)", gateway.output())
        self.assertIn("CURVE on: 2 authorized client key(s)", reader.output())
        self.assertNotIn("unauthenticated and unencrypted", reader.output() + gateway.output())
        self.assert_no_secrets(reader.output() + gateway.output())

    def test_deltastream_tail_with_its_keys_follows_a_stream_and_without_them_gets_nothing(self):
        reader = self.start_reader()
        sql("DROP TABLE IF EXISTS curve_tail_rows; CREATE TABLE curve_tail_rows (id int)")
        tail_bin = os.environ["DELTASTREAM_TAIL_BIN"]
        base = [tail_bin, "--control", reader.control, "--publish", reader.publish, "--reader-timeout-ms", "2000"]
        tail = subprocess.Popen(base + ["--curve-secret-key", self.tool.secret_file,
                                        "--curve-server-key", self.server.public_file, "--create", "--count", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        created = tail.stderr.readline()
        self.assertTrue(created.startswith("created stream delta_"), created)
        sql("INSERT INTO curve_tail_rows VALUES (42)")
        out, _ = tail.communicate(timeout=30)
        self.assertEqual(tail.returncode, 0)
        self.assertEqual(json.loads(out)["change"][0]["columnvalues"], [42])
        for keys in (["--curve-secret-key", self.stranger.secret_file, "--curve-server-key", self.server.public_file],
                     []):  # an unauthorized key, and none at all: no answer, exit code 2
            code, output = run_to_exit(base + keys + ["--list"])
            self.assertEqual(code, 2, output)
            self.assertIn("did not answer", output)

    def test_a_plain_zeromq_client_gets_nothing(self):
        reader = self.start_reader()
        with reader.control_client() as control:
            stream = control.ok("create")["stream"]
            control.ok("release", stream=stream)
            authorized = CurveSubscriber(reader.publish, b"", self.tool, self.server)
            plain, plain_monitor = monitored(zmq.SUB, reader.publish)
            try:
                # The reader refuses the plain client's handshake (no CURVE).
                self.assertIn(handshake_outcome(plain_monitor), PLAIN_REFUSED)
                control.ok("attach", stream=stream)  # the epoch waits for the authorized subscription
                sql("DROP TABLE IF EXISTS curve_plain")
                sql("CREATE TABLE curve_plain (id int PRIMARY KEY)")
                sql("INSERT INTO curve_plain VALUES (1)")
                # There are frames to get: the authorized subscriber gets data...
                authorized.wait_for(lambda f: f["kind"] == DATA and b"curve_plain" in f["payload"],
                                    what="data on the CURVE subscriber")
                # ...while the plain one, refused before any data existed, has nothing.
                self.assertEqual(plain.poll(0), 0)
            finally:
                authorized.close()
                plain_monitor.close()
                plain.close()
            plain_control, monitor = monitored(zmq.DEALER, reader.control)
            plain_control.send(json.dumps({"op": "status", "id": "plain"}).encode())
            self.assertIn(handshake_outcome(monitor), PLAIN_REFUSED)
            self.assertTrue(control.ok("status"))  # the reader answers its authorized clients...
            self.assertEqual(plain_control.poll(0), 0)  # ...and never answered the plain one
            monitor.close()
            plain_control.close()
            control.ok("drop", stream=stream)

    def test_an_unauthorized_key_is_refused_and_logged(self):
        reader = self.start_reader()
        stranger, monitor = monitored(zmq.DEALER, reader.control, self.stranger, self.server)
        stranger.send(json.dumps({"op": "status", "id": "stranger"}).encode())
        # The reader's ZAP handler answers 400: the handshake fails on authentication.
        self.assertEqual(handshake_outcome(monitor), zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        with reader.control_client() as control:
            self.assertTrue(control.ok("status"))
        self.assertEqual(stranger.poll(0), 0)
        monitor.close()
        stranger.close()
        stranger_key = self.stranger.public.decode()
        wait_until(lambda: f"public key {stranger_key} is not in --curve-authorized-keys"
                   in reader.output(), what="the reader to log the refused key")
        # A gateway with a key the reader does not know: its requests fail, and it says why.
        stranger_keys = os.path.join(self.dir, "stranger-copy.key_secret")
        shutil.copy(self.stranger.secret_file, stranger_keys)
        gateway = self.start_gateway(stranger_keys, "--reader-timeout-ms", "1500")
        status, body = gateway.http("GET", "/v1/init")
        self.assertEqual(status, 503, body)
        wait_until(lambda: "refused the handshake" in gateway.output(),
                   what="the gateway to log the refusal")
        self.assertEqual(gateway.output().count("refused the handshake"), 1)  # once, not per retry
        self.assert_no_secrets(reader.output() + gateway.output())

    def test_bad_key_files_stop_both_programs_at_start(self):
        reader_bin = os.environ["DELTASTREAM_READER_BIN"]
        gateway_bin = os.environ["DELTASTREAM_GATEWAY_BIN"]
        missing = os.path.join(self.dir, "missing.key_secret")
        short = os.path.join(self.dir, "short.key")
        with open(short, "w") as f:
            f.write("public-key = \"abc\"\n")
        not_z85 = os.path.join(self.dir, "tilde.key_secret")
        with open(not_z85, "w") as f:
            f.write("secret-key = " + "~" * 40 + "\n")
        reader_args = [reader_bin, "--pg", dsn(), "--control", "tcp://127.0.0.1:*",
                       "--publish", "tcp://127.0.0.1:*"]
        cases = [
            (reader_args + ["--curve-secret-key", missing, "--curve-authorized-keys",
                            self.authorized], f"--curve-secret-key: {missing}: no such file"),
            (reader_args + ["--curve-secret-key", self.server.secret_file,
                            "--curve-authorized-keys", short],
             f"--curve-authorized-keys: {short} line 1: public-key is 3 characters long"),
            (reader_args + ["--curve-secret-key", not_z85, "--curve-authorized-keys",
                            self.authorized],
             f"--curve-secret-key: {not_z85} line 1: secret-key is not Z85"),
            (reader_args + ["--curve-secret-key", self.server.secret_file],
             "--curve-secret-key and --curve-authorized-keys go together"),
            ([gateway_bin, "--curve-secret-key", self.tool.secret_file, "--curve-server-key",
              missing], f"--curve-server-key: {missing}: no such file"),
            ([gateway_bin, "--curve-secret-key", self.server.public_file, "--curve-server-key",
              self.server.public_file],
             f"--curve-secret-key: {self.server.public_file}: no secret-key line"),
        ]
        for args, message in cases:
            with self.subTest(message=message):
                status, output = run_to_exit(args)
                self.assertEqual(status, 2, output)
                self.assertIn(message, output)
        # The variables work as the flags do.
        env = dict(os.environ, DELTASTREAM_CURVE_SECRET_KEY=self.tool.secret_file,
                   DELTASTREAM_CURVE_SERVER_KEY=short)
        done = subprocess.run([gateway_bin], capture_output=True, text=True, env=env, timeout=15)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn(f"--curve-server-key: {short} line 1", done.stderr)
        # --help works whatever the variables name.
        done = subprocess.run([gateway_bin, "--help"], capture_output=True, text=True, env=env,
                              timeout=15)
        self.assertEqual(done.returncode, 0, done.stderr)
        # The generator never overwrites.
        status, output = run_to_exit([reader_bin, "--generate-curve-keys", self.gateway_prefix])
        self.assertEqual(status, 2, output)
        self.assertIn(f"{self.gateway_prefix}.key: cannot create: File exists", output)

    def test_a_reader_without_curve_warns_when_reachable_from_other_machines(self):
        class WideReader(Reader):
            def start(self):
                self.publish = self.publish.replace("127.0.0.1", "0.0.0.0")
                super().start()

        self.reader = WideReader()
        wait_until(lambda: "the ZeroMQ hop is unauthenticated and unencrypted"
                   in self.reader.output(), what="the warning")
        self.assertIn("tcp://0.0.0.0:", self.reader.output())
        self.assertEqual(self.reader.output().count("unauthenticated and unencrypted"), 1,
                         "the loopback control socket is not warned about")


if __name__ == "__main__":
    unittest.main()
