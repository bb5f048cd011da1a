"""Bearer tokens, WebSocket origins and the loopback-only default, against the real
gateway and reader with python3-websockets and http.client."""

import asyncio
import json
import os
import subprocess
import tempfile
import unittest
import urllib.request

import websockets
import websockets.exceptions

from harness import drop_slots, Gateway, Reader, free_port, sql, wait_until

ADMIN = "admin-" + "a" * 26
READ = "read-" + "r" * 27


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


class TokenTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.tokens = tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False)
        self.tokens.write(f"# scopes\nadmin {ADMIN}\nread {READ}\n")
        self.tokens.close()
        self.reader = Reader()
        self.gateway = Gateway(self.reader, "--token-file", self.tokens.name)

    def tearDown(self):
        self.gateway.http("GET", "/v1/init", headers=bearer(ADMIN))  # drops our last slot
        self.gateway.close()
        self.reader.close()
        os.unlink(self.tokens.name)
        drop_slots()

    async def test_scopes_refusals_and_a_token_in_the_websocket_url(self):
        http = self.gateway.http
        slots = sql("SELECT count(*) FROM pg_replication_slots")[0][0]
        status, body = http("GET", "/v1/init")
        self.assertEqual(status, 401)
        self.assertIn("missing bearer token", body["error"])
        self.assertEqual(http("GET", "/v1/init", headers=bearer("x" * 32))[0], 401)
        status, body = http("GET", "/v1/init", headers=bearer(READ))
        self.assertEqual(status, 403)
        self.assertIn("admin", body["error"])
        self.assertEqual(sql("SELECT count(*) FROM pg_replication_slots")[0][0], slots,
                         "a refused /v1/init created a slot")
        self.assertEqual(http("GET", "/healthz"), (200, {"status": "ok"}))

        sql("DROP TABLE IF EXISTS token_rows")
        sql("CREATE TABLE token_rows (id int PRIMARY KEY)")  # before the snapshot: it can read it
        status, body = http("GET", "/v1/init", headers=bearer(ADMIN))
        self.assertEqual(status, 200, body)
        slot = body["slotName"]
        page = json.dumps({"slotName": slot, "table": "token_rows", "offset": 0, "limit": 1})
        self.assertEqual(http("POST", "/v1/snapshot/data", page)[0], 401)
        self.assertEqual(http("POST", "/v1/snapshot/data", page, headers=bearer(READ))[0], 200)

        uri = f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as refused:
            await websockets.connect(uri)
        self.assertEqual(refused.exception.status_code, 401)
        async with websockets.connect(uri + "&access_token=" + READ) as ws:
            sql("INSERT INTO token_rows VALUES (1)")
            message = json.loads(await asyncio.wait_for(ws.recv(), 20))
            self.assertEqual(message["change"][0]["columnvalues"], [1])
        async with websockets.connect(uri, extra_headers=bearer(READ)):
            pass
        self.assertNotIn(READ, self.gateway.output())
        self.assertNotIn(ADMIN, self.gateway.output())

    async def test_foreign_origins_are_refused(self):
        status, body = self.gateway.http("GET", "/v1/init", headers=bearer(ADMIN))
        uri = f"{self.gateway.ws_url}/v1/lr/stream?slotName={body['slotName']}&access_token={READ}"
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as refused:
            await websockets.connect(uri, origin="http://evil.example")
        self.assertEqual(refused.exception.status_code, 403)
        async with websockets.connect(uri, origin=f"http://127.0.0.1:{self.gateway.port}"):
            pass


class BindingTest(unittest.TestCase):
    def test_without_tokens_the_gateway_stays_on_loopback_and_says_so(self):
        reader = Reader()
        env = dict(os.environ, DELTASTREAM_CONTROL=reader.control, DELTASTREAM_PUBLISH=reader.publish)
        with tempfile.TemporaryFile() as log:
            gateway = subprocess.Popen([os.environ["DELTASTREAM_GATEWAY_BIN"], "--server-host", "0.0.0.0",
                                        "--server-port", str(free_port())], stdout=log, stderr=log, env=env)
            try:
                def output():
                    log.seek(0)
                    return log.read().decode()
                wait_until(lambda: "listening on" in output(), what="the gateway to listen")
                self.assertIn("loopback only instead of 0.0.0.0", output())
                listening = [line for line in output().splitlines() if "listening on" in line]
                self.assertIn("http://127.0.0.1:", listening[0])
            finally:
                gateway.kill()
                gateway.wait()
                reader.close()

    def serve(self, *flags):
        """A gateway with `flags`: its port and its log line that names where it listens."""
        reader = Reader()
        self.addCleanup(reader.close)
        port = free_port()
        env = dict(os.environ, DELTASTREAM_CONTROL=reader.control, DELTASTREAM_PUBLISH=reader.publish)
        log = tempfile.TemporaryFile()
        self.addCleanup(log.close)
        gateway = subprocess.Popen([os.environ["DELTASTREAM_GATEWAY_BIN"], "--server-port", str(port), *flags],
                                   stdout=log, stderr=log, env=env)
        self.addCleanup(gateway.wait)
        self.addCleanup(gateway.kill)

        def listening():
            log.seek(0)
            return [line for line in log.read().decode().splitlines() if "listening on" in line]
        return port, wait_until(listening, what="the gateway to listen")[0]

    def healthy(self, url):
        with urllib.request.urlopen(url + "/healthz", timeout=10) as response:
            return json.loads(response.read())["status"] == "ok"

    def test_localhost_means_both_loopback_addresses(self):
        port, line = self.serve("--server-host", "localhost")
        for url in (f"http://127.0.0.1:{port}", f"http://[::1]:{port}"):
            self.assertIn(url, line)
            self.assertTrue(self.healthy(url))

    def test_allow_unauthenticated_listens_where_asked(self):
        port, line = self.serve("--server-host", "0.0.0.0", "--allow-unauthenticated")
        self.assertIn(f"listening on http://0.0.0.0:{port} ", line)  # not moved to loopback
        self.assertTrue(self.healthy(f"http://127.0.0.1:{port}"))

    def test_the_ipv6_wildcard_serves_both_families(self):
        port, line = self.serve("--server-host", "::", "--allow-unauthenticated")
        self.assertIn(f"http://[::]:{port}", line)
        for url in (f"http://127.0.0.1:{port}", f"http://[::1]:{port}"):
            self.assertTrue(self.healthy(url))

    def test_a_bad_token_file_stops_the_gateway_naming_it(self):
        with tempfile.NamedTemporaryFile("w", suffix=".tokens") as tokens:
            tokens.write("read short\n")
            tokens.flush()
            reader = Reader()
            try:
                with self.assertRaises(AssertionError) as failed:
                    Gateway(reader, "--token-file", tokens.name)
                self.assertIn(f"--token-file {tokens.name}:1: token shorter than 16", str(failed.exception))
            finally:
                reader.close()


if __name__ == "__main__":
    unittest.main()
