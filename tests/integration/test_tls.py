"""TLS on the gateway (--tls-cert, --tls-key): a real external client (openssl s_client)
completes a handshake, http.client gets /healthz and /v1/init over HTTPS, python3-websockets
streams a change over wss://, plain HTTP on the TLS port gets no HTTP answer, and bad
certificate or key files stop the gateway at start, naming the file."""

import asyncio
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest

import websockets

from harness import drop_slots, Gateway, Reader, sql, wait_until


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def self_signed(directory, name):
    """(certificate, key) files of a new self-signed certificate for 127.0.0.1."""
    cert, key = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", key, "-out", cert)
    return cert, key


class TlsGateway(Gateway):
    """The harness's gateway with its certificate: HTTPS instead of HTTP."""

    def __init__(self, reader, cert, key):
        self.client_context = ssl.create_default_context(cafile=cert)
        super().__init__(reader, "--tls-cert", cert, "--tls-key", key)

    @property
    def ws_url(self):
        return f"wss://127.0.0.1:{self.port}"

    def connection(self):
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                           context=self.client_context)


class TlsTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tls-")
        cls.cert, cls.key = self_signed(cls.dir, "gateway")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def setUp(self):
        self.reader = Reader()
        self.gateway = TlsGateway(self.reader, self.cert, self.key)

    def tearDown(self):
        try:
            self.gateway.http("GET", "/v1/init")  # drops the slot this gateway created last
        except OSError:
            pass
        self.gateway.close()
        self.reader.close()
        drop_slots()

    def test_openssl_s_client_completes_a_handshake(self):
        done = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{self.gateway.port}",
             "-CAfile", self.cert, "-verify_return_error", "-servername", "127.0.0.1", "-ign_eof"],
            input=b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            capture_output=True, timeout=30)
        output = done.stdout.decode(errors="replace")
        self.assertEqual(done.returncode, 0, output + done.stderr.decode(errors="replace"))
        self.assertIn("Verify return code: 0 (ok)", output)
        self.assertRegex(output, r"Protocol *: TLSv1\.[23]")
        self.assertIn("HTTP/1.1 200 OK", output)
        self.assertIn('{"status":"ok"}', output)

    def test_tls_1_2_is_served_and_1_1_refused(self):
        """"TLS 1.2 or later" (README), probed from both sides of the line."""
        def handshake(version):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.load_verify_locations(self.cert)
            context.minimum_version = context.maximum_version = version
            if version < ssl.TLSVersion.TLSv1_2:
                context.set_ciphers("DEFAULT:@SECLEVEL=0")  # else this client refuses first
            with socket.create_connection(("127.0.0.1", self.gateway.port), timeout=10) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    return tls.version()
        self.assertEqual(handshake(ssl.TLSVersion.TLSv1_2), "TLSv1.2")
        with self.assertRaises(ssl.SSLError) as refused:
            handshake(ssl.TLSVersion.TLSv1_1)
        # The server's refusal (a protocol version alert), not this client's own.
        self.assertEqual(refused.exception.reason, "TLSV1_ALERT_PROTOCOL_VERSION", refused.exception)

    def test_https_healthz_and_init(self):
        self.assertEqual(self.gateway.http("GET", "/healthz"), (200, {"status": "ok"}))
        status, body = self.gateway.http("GET", "/v1/init")
        self.assertEqual(status, 200, body)
        self.assertRegex(body["slotName"], r"^delta_[a-z0-9_]+$")
        # Without the CA, a client refuses the self-signed certificate: it is TLS for real.
        with self.assertRaises(ssl.SSLCertVerificationError):
            conn = http.client.HTTPSConnection("127.0.0.1", self.gateway.port, timeout=10,
                                               context=ssl.create_default_context())
            conn.request("GET", "/healthz")

    async def test_wss_streams_a_change_end_to_end(self):
        sql("DROP TABLE IF EXISTS tls_rows")
        sql("CREATE TABLE tls_rows (id int PRIMARY KEY, name text)")
        slot = self.gateway.init()
        async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}",
                                      ssl=self.gateway.client_context) as ws:
            sql("INSERT INTO tls_rows VALUES (1, 'over tls')")
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 20))
                ours = [c for c in message["change"] if c["table"] == "tls_rows"]
                if ours:
                    break
            self.assertEqual(ours[0]["kind"], "insert")
            self.assertEqual(ours[0]["columnvalues"], [1, "over tls"])
            await ws.send(json.dumps({"lsn": message["nextlsn"]}))
            wait_until(lambda: sql("SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots "
                                   "WHERE slot_name = %s", (message["nextlsn"], slot))[0][0],
                       what="the ACK sent over wss:// to reach PostgreSQL")
        self.assertIn("consumer connected", self.gateway.output())

    def test_plain_http_on_the_tls_port_gets_no_http_answer(self):
        with socket.create_connection(("127.0.0.1", self.gateway.port), timeout=35) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            try:
                while chunk := s.recv(4096):
                    answer += chunk
            except ConnectionResetError:
                pass
        self.assertFalse(answer.startswith(b"HTTP/"), answer)
        wait_until(lambda: "TLS handshake" in self.gateway.output(), what="the failed handshake in the log")
        self.gateway.alive()
        self.assertEqual(self.gateway.http("GET", "/healthz"), (200, {"status": "ok"}))


class BadTlsFilesTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tls-bad-")
        self.cert, self.key = self_signed(self.dir, "one")
        _, self.other_key = self_signed(self.dir, "two")
        self.garbage = os.path.join(self.dir, "garbage.pem")
        with open(self.garbage, "w") as f:
            f.write("not a certificate\n")
        self.unreadable = os.path.join(self.dir, "missing.pem")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def start(self, *args, env=None):
        """(exit status, stderr) of a gateway expected to stop at start (no reader needed)."""
        done = subprocess.run([os.environ["DELTASTREAM_GATEWAY_BIN"], "--server-host", "127.0.0.1",
                               "--server-port", "0", *args],
                              capture_output=True, text=True, timeout=30,
                              env=dict(os.environ, **(env or {})))
        return done.returncode, done.stderr

    def test_bad_files_stop_the_gateway_naming_the_file(self):
        for args, named in [
            (["--tls-cert", self.unreadable, "--tls-key", self.key], f"--tls-cert {self.unreadable}: cannot read"),
            (["--tls-cert", self.cert, "--tls-key", self.unreadable], f"--tls-key {self.unreadable}: cannot read"),
            (["--tls-cert", self.garbage, "--tls-key", self.key], f"--tls-cert {self.garbage}"),
            (["--tls-cert", self.cert, "--tls-key", self.garbage], f"--tls-key {self.garbage}"),
            (["--tls-cert", self.cert, "--tls-key", self.other_key],
             f"--tls-key {self.other_key}: not the PEM private key of --tls-cert {self.cert}: "
             "key values mismatch"),
            (["--tls-cert", self.cert], "--tls-cert and --tls-key"),
        ]:
            with self.subTest(args=args):
                status, stderr = self.start(*args)
                self.assertEqual(status, 2, stderr)
                self.assertIn(named, stderr)
        # The variables are read as the flags are.
        status, stderr = self.start(env={"DELTASTREAM_TLS_CERT": self.cert,
                                         "DELTASTREAM_TLS_KEY": self.other_key})
        self.assertEqual(status, 2, stderr)
        self.assertIn(f"--tls-key {self.other_key}: not the PEM private key", stderr)


if __name__ == "__main__":
    unittest.main()
