"""A three-node RabbitMQ cluster on this machine, for the cluster tests and ``make cluster``.

Each node has its own name (``taskhook-cluster-N@localhost``), AMQP and distribution ports, data
and log directories under one base directory, and the cluster's own Erlang cookie; none of them
is the machine's node on 5672, which is never touched. Nodes run the packaged server script
(``/usr/lib/rabbitmq/bin/rabbitmq-server``, what Debian's ``rabbitmq-server`` package installs)
as the current user, so root needs no ``su``.

    python -m tests.support.cluster start|stop|status [--base DIR]
"""

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE = Path(os.environ.get("TASKHOOK_CLUSTER_DIR", "/tmp/taskhook-cluster"))  # noqa: S108
SIZE = 3
FIRST_AMQP_PORT = 5681
FIRST_DIST_PORT = 25681
SERVER_CANDIDATES = (
    "/usr/lib/rabbitmq/bin/rabbitmq-server",
    "/usr/lib/rabbitmq/sbin/rabbitmq-server",
)
CTL_CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmqctl", "/usr/lib/rabbitmq/sbin/rabbitmqctl")
START_TIMEOUT_S = 120.0
CTL_TIMEOUT_S = 120.0


class ClusterError(Exception):
    """What went wrong, in one line, with the log to look at."""


@dataclass(frozen=True)
class Node:
    number: int
    base: Path

    @property
    def name(self) -> str:
        return f"taskhook-cluster-{self.number}@localhost"

    @property
    def port(self) -> int:
        return FIRST_AMQP_PORT + self.number - 1

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def home(self) -> Path:
        return self.base / f"node-{self.number}"

    @property
    def log(self) -> Path:
        return self.home / "log" / "console.log"

    def environment(self) -> dict[str, str]:
        home = self.home
        return {
            **os.environ,
            # The cluster's cookie lives in HOME: every node and every rabbitmqctl shares it.
            "HOME": str(self.base),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(FIRST_DIST_PORT + self.number - 1),
            "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(home / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(home / "data"),
            "RABBITMQ_LOG_BASE": str(home / "log"),
            "RABBITMQ_PID_FILE": str(home / "rabbitmq.pid"),
            "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
        }


_LAUNCHED: dict[str, "subprocess.Popen[bytes]"] = {}


def nodes(base: Path = BASE) -> list[Node]:
    return [Node(number, base) for number in range(1, SIZE + 1)]


def urls(base: Path = BASE) -> str:
    """``TASKHOOK_AMQP_URL`` for the whole cluster: one URL per node, comma-separated."""
    return ",".join(node.url for node in nodes(base))


def start(base: Path = BASE) -> list[Node]:
    """Start the nodes and join them into one cluster; a cluster already running is reused."""
    members = nodes(base)
    if all(answers(node) for node in members):
        return members
    stop(base)
    base.mkdir(parents=True, exist_ok=True)
    cookie = base / ".erlang.cookie"
    cookie.write_text(secrets.token_hex(20))
    cookie.chmod(0o400)
    for node in members:
        _prepare(node)
        _launch(node)
    for node in members:
        ctl(node, "await_startup")
    for node in members[1:]:
        ctl(node, "stop_app")
        ctl(node, "reset")
        ctl(node, "join_cluster", members[0].name)
        ctl(node, "start_app")
        ctl(node, "await_startup")
    return members


def stop(base: Path = BASE) -> None:
    """Stop every node this base started, and remove its directory."""
    for node in nodes(base):
        stop_node(node)
    shutil.rmtree(base, ignore_errors=True)


def stop_node(node: Node) -> None:
    """Stop one node's Erlang VM (``start_node`` brings it back with its data)."""
    pid_file = node.home / "rabbitmq.pid"
    if not pid_file.exists():
        return
    try:
        ctl(node, "stop", timeout_s=60.0)
    except ClusterError:
        pid = pid_file.read_text().strip()
        if pid.isdigit():
            _kill(int(pid))
    pid_file.unlink(missing_ok=True)
    launched = _LAUNCHED.pop(node.name, None)
    if launched is not None:  # reaped, so it leaves no zombie and no warning behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            launched.wait(timeout=30)


def start_node(node: Node) -> None:
    """Start a stopped node again; it rejoins the cluster from its own data."""
    _launch(node)
    ctl(node, "await_startup")


def ctl(node: Node, *args: str, timeout_s: float = CTL_TIMEOUT_S) -> str:
    """``rabbitmqctl -n <node> args``; raises ``ClusterError`` with its output if it fails."""
    command = [_find(CTL_CANDIDATES, "rabbitmqctl"), "-n", node.name, *args]
    try:
        done = subprocess.run(  # noqa: S603  # our own fixed command
            command,
            env=node.environment(),
            cwd=node.base if node.base.exists() else None,  # where an erl_crash.dump lands
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ClusterError(
            f"rabbitmqctl {' '.join(args)} on {node.name} took over {timeout_s:.0f} s"
        ) from None
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        last = output[-1] if output else "no output"
        raise ClusterError(
            f"rabbitmqctl {' '.join(args)} on {node.name} failed: {last} (log: {node.log})"
        )
    return done.stdout


def _prepare(node: Node) -> None:
    for folder in (node.home / "data", node.home / "log"):
        folder.mkdir(parents=True, exist_ok=True)
    (node.home / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {node.port}\n"
        # What the Kubernetes manifest sets: a node cut off from the majority stops serving.
        "cluster_partition_handling = pause_minority\n"
        "loopback_users = none\n"
        "log.console = false\n"
        "log.file.level = info\n"
    )
    (node.home / "advanced.config").write_text("[].\n")
    (node.home / "enabled_plugins").write_text("[].\n")  # no management plugin: no 15672 clash
    (node.home / "rabbitmq-env.conf").write_text("")


def _launch(node: Node) -> None:
    out = node.home / "log" / "stdout.log"
    with out.open("ab") as log:  # the child keeps its own copy of the descriptor
        # Kept, not dropped: a Popen collected while its node runs warns (an error in pytest).
        _LAUNCHED[node.name] = subprocess.Popen(  # noqa: S603  # our own fixed command
            [_find(SERVER_CANDIDATES, "rabbitmq-server")],
            env=node.environment(),
            cwd=node.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (node.home / "rabbitmq.pid").exists():
        if time.monotonic() > deadline:
            raise ClusterError(
                f"{node.name} did not start within {START_TIMEOUT_S:.0f} s (log: {out.name})"
            )
        time.sleep(0.2)


def answers(node: Node) -> bool:
    """True when ``node`` is up and answers rabbitmqctl."""
    try:
        ctl(node, "status", timeout_s=20.0)
    except (ClusterError, FileNotFoundError):
        return False
    return True


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _find(candidates: tuple[str, ...], name: str) -> str:
    for path in candidates:
        if Path(path).exists():
            return path
    raise ClusterError(f"{name} is not installed: apt-get install rabbitmq-server")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.cluster", description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--base", type=Path, default=BASE, help=f"default: {BASE}")
    args = parser.parse_args()
    try:
        if args.action == "start":
            start(args.base)
            print(f"TASKHOOK_AMQP_URL={urls(args.base)}")
        elif args.action == "stop":
            stop(args.base)
        else:
            print(ctl(nodes(args.base)[0], "cluster_status"))
    except ClusterError as e:
        print(f"cluster: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
