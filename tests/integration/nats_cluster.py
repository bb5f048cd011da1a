"""A throwaway NATS JetStream cluster for the integration tests: N real nats-server
processes on free loopback ports, one store directory each, killed and restarted on
demand (a restarted node rejoins with its store, as after a crash).

Standard library only: harness.py imports psycopg2 and zmq, which a NATS test needs
neither of, so its free_port() is repeated here rather than imported."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

CLUSTER_NAME = "deltastream-test"


def nats_server_binary():
    """Debian's nats-server package installs /usr/sbin/nats-server, which is not on a
    normal user's PATH."""
    for candidate in (shutil.which("nats-server"), "/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("nats-server not found: install the nats-server package")


def free_ports(count):
    """`count` distinct loopback ports that were free a moment ago: all sockets are held
    open together, so the kernel cannot hand out the same port twice."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class NatsCluster:
    """Nodes are numbered from 0; node i is the server named n{i+1} (index() maps a name
    such as a stream leader's back to its number)."""

    def __init__(self, workdir, size=3):
        self.workdir = os.path.abspath(workdir)
        self.size = size
        self.binary = nats_server_binary()
        ports = free_ports(3 * size)
        self.client_ports = ports[0:size]
        self.route_ports = ports[size:2 * size]
        self.http_ports = ports[2 * size:3 * size]
        self.processes = [None] * size
        self._logs = [None] * size
        os.makedirs(self.workdir, exist_ok=True)
        for i in range(size):
            with open(self.config_path(i), "w", encoding="utf-8") as f:
                f.write(self._config(i))
        try:
            for i in range(size):
                self.start(i)
        except BaseException:
            self.stop()
            raise

    # Layout -------------------------------------------------------------------------

    def name(self, i):
        return f"n{i + 1}"

    def index(self, name):
        return int(name[1:]) - 1

    def config_path(self, i):
        return os.path.join(self.workdir, f"{self.name(i)}.conf")

    def log_path(self, i):
        return os.path.join(self.workdir, f"{self.name(i)}.log")

    def url(self, i):
        return f"nats://127.0.0.1:{self.client_ports[i]}"

    @property
    def urls(self):
        return [self.url(i) for i in range(self.size)]

    @property
    def servers(self):
        """The --servers value of jetstream-read and deltastream-jetstream."""
        return ",".join(self.urls)

    def _config(self, i):
        routes = ", ".join(f"nats-route://127.0.0.1:{self.route_ports[j]}"
                           for j in range(self.size) if j != i)
        store = os.path.join(self.workdir, self.name(i))
        return (f"server_name: {self.name(i)}\n"
                f"listen: 127.0.0.1:{self.client_ports[i]}\n"
                f"http: 127.0.0.1:{self.http_ports[i]}\n"
                f"jetstream {{\n  store_dir: \"{store}\"\n}}\n"
                f"cluster {{\n  name: {CLUSTER_NAME}\n"
                f"  listen: 127.0.0.1:{self.route_ports[i]}\n"
                f"  routes: [{routes}]\n}}\n")

    # Processes ----------------------------------------------------------------------

    def running(self):
        """The numbers of the nodes whose process is alive."""
        return [i for i, p in enumerate(self.processes) if p is not None and p.poll() is None]

    def start(self, i, timeout=15.0):
        """Starts node i (again): same config, same store, so it rejoins the cluster.
        Returns once its monitoring port answers; wait_ready() is the cluster-wide wait."""
        if i in self.running():
            raise RuntimeError(f"{self.name(i)} is already running")
        if self._logs[i] is None:
            self._logs[i] = open(self.log_path(i), "ab")
        self._logs[i].write(f"\n=== start {time.strftime('%H:%M:%S')} ===\n".encode())
        self._logs[i].flush()
        self.processes[i] = subprocess.Popen([self.binary, "-c", self.config_path(i)],
                                             stdout=self._logs[i], stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while self.monitor(i, "varz") is None:
            if self.processes[i].poll() is not None:
                raise AssertionError(f"{self.name(i)} exited with {self.processes[i].returncode}:\n"
                                     f"{self.log(i)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name(i)} did not answer on its monitoring port "
                                     f"within {timeout}s:\n{self.log(i)}")
            time.sleep(0.05)

    def kill(self, i):
        """SIGKILL: a crash, no goodbye to the cluster."""
        process = self.processes[i]
        if process is None or process.poll() is not None:
            raise RuntimeError(f"{self.name(i)} is not running")
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self, timeout=10.0):
        """Every node: SIGTERM, then SIGKILL what is left after `timeout`."""
        for i in self.running():
            self.processes[i].send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for i, log in enumerate(self._logs):
            if log is not None:
                log.close()
                self._logs[i] = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def log(self, i):
        with open(self.log_path(i), encoding="utf-8", errors="replace") as f:
            return f.read()

    def logs(self):
        """Every node's log, for an assertion message."""
        return "\n".join(f"----- {self.name(i)} -----\n{self.log(i)}" for i in range(self.size))

    # Monitoring ---------------------------------------------------------------------

    def monitor(self, i, endpoint):
        """GET http://127.0.0.1:<http port>/<endpoint> as JSON, or None if the node
        does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_ports[i]}/{endpoint}",
                                        timeout=2) as response:
                return json.loads(response.read())
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def meta_leader(self, i):
        """The JetStream meta leader node i knows of ("" when none)."""
        jsz = self.monitor(i, "jsz")
        return ((jsz or {}).get("meta_cluster") or {}).get("leader", "")

    def _ready(self):
        running = self.running()
        leaders = set()
        for i in running:
            routez = self.monitor(i, "routez")
            if routez is None or routez.get("num_routes") != len(running) - 1:
                return False
            leaders.add(self.meta_leader(i))
        # A killed leader stays named until the survivors elect another one.
        return len(leaders) == 1 and leaders <= {self.name(i) for i in running}

    def wait_ready(self, timeout=30.0):
        """Until every running node is routed to every other and all of them name the
        same running node as JetStream meta leader. Returns the seconds it took."""
        start = time.monotonic()
        while not self._ready():
            for i, process in enumerate(self.processes):
                if process is not None and process.returncode is None and process.poll() is not None:
                    raise AssertionError(f"{self.name(i)} exited with {process.returncode}:\n"
                                         f"{self.log(i)}")
            if time.monotonic() - start > timeout:
                state = {self.name(i): (self.monitor(i, "routez") or {}).get("num_routes")
                         for i in self.running()}
                leaders = {self.name(i): self.meta_leader(i) for i in self.running()}
                raise AssertionError(f"cluster not ready after {timeout}s: routes {state}, "
                                     f"meta leaders {leaders}\n{self.logs()}")
            time.sleep(0.1)
        return time.monotonic() - start
