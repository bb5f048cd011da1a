#!/usr/bin/env python3
"""The walk-through's WebSocket step, for tests/deploy/containers.sh.

ws_client.py URL MARKER COMMAND... : connects to URL (ws:// or wss://) as the stream's
consumer, runs COMMAND (it commits an INSERT whose row contains MARKER), waits for the
message that carries MARKER, prints it, ACKs it with {"lsn": nextlsn} and closes. A
refused or dropped connection is retried until --deadline (the reader may be restarting).
Every message received before the one wanted is printed too, and one that carries
--not-again (a change ACKed earlier) fails the run: the stream resumed after the ACK.
Python 3.11 and Debian 12's python3-websockets (10.4, asyncio API). Exit 0 on success.
"""
import argparse
import asyncio
import json
import ssl
import subprocess
import sys
import time

import websockets


async def consume(args):
    ssl_context = None
    if args.url.startswith("wss://"):
        ssl_context = ssl.create_default_context(cafile=args.cafile)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    deadline = time.monotonic() + args.deadline
    command_ran = False
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        try:
            async with websockets.connect(args.url, ssl=ssl_context, extra_headers=headers,
                                          open_timeout=10) as socket:
                print(f"connected (attempt {attempt})", flush=True)
                if not command_ran:
                    subprocess.run(args.command, check=True)
                    command_ran = True
                while True:
                    left = deadline - time.monotonic()
                    text = await asyncio.wait_for(socket.recv(), timeout=max(left, 0.1))
                    message = json.loads(text)
                    if args.not_again and args.not_again in text:
                        print(f"an ACKed change came again: {text[:300]}", flush=True)
                        return 1
                    if args.marker not in text:
                        print(f"other message: {text[:300]}", flush=True)
                        continue
                    print(f"message: {text[:400]}", flush=True)
                    await socket.send(json.dumps({"lsn": message["nextlsn"]}))
                    print(f"ACK sent: {{\"lsn\": \"{message['nextlsn']}\"}}", flush=True)
                    # Give the gateway a moment to pass the ACK on before closing.
                    await asyncio.sleep(1)
                    return 0
        except asyncio.TimeoutError:
            break
        except (OSError, websockets.exceptions.WebSocketException) as error:
            print(f"attempt {attempt}: {type(error).__name__}: {error}", flush=True)
            await asyncio.sleep(1)
    print("no message with the marker before the deadline", flush=True)
    return 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cafile")
    parser.add_argument("--token")
    parser.add_argument("--not-again")
    parser.add_argument("--deadline", type=float, default=60)
    parser.add_argument("url")
    parser.add_argument("marker")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    return asyncio.run(consume(args))


if __name__ == "__main__":
    sys.exit(main())
