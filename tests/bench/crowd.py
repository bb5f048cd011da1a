"""deltastream-bench-crowd (observer_crowd.cpp) from Python: N WebSocket observers of one
stream in one C++ process, whose latencies are read back as percentiles."""

import json
import subprocess

from stack import cpu_seconds


class CrowdProcess:
    def __init__(self, crowd_bin, port, stream, count, timeout=60):
        path = f"/v1/lr/stream?slotName={stream}&mode=observe"
        self.process = subprocess.Popen([crowd_bin, "127.0.0.1", str(port), path, str(count)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip()  # blocks until every observer is upgraded
        if line != "ready":
            self.close()
            raise RuntimeError(f"{crowd_bin}: {count} observers did not connect (exit {self.process.returncode})")

    def _command(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def mark(self):
        """Forget the latencies so far: a step counts from here (once it answers)."""
        self._command("mark")
        if self.process.stdout.readline().strip() != "marked":
            raise RuntimeError("the crowd did not answer mark")

    def count(self):
        """(messages since the mark, closes)."""
        self._command("count")
        messages, closes = self.process.stdout.readline().split()
        return int(messages), int(closes)

    def report(self):
        """messages, p50/p99/p999/max in ms (None without messages), closes, reasons."""
        self._command("report")
        out = json.loads(self.process.stdout.readline())
        for key in ("p50", "p99", "p999", "max"):
            if out[key] < 0:
                out[key] = None
        return out

    def cpu(self):
        return cpu_seconds(self.process.pid)

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()  # end of input: it exits
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
