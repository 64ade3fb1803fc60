"""The one-machine stack as supervised child processes: a Prefect server, the worker, the web app.

`run_local_stack` starts the Prefect server (SQLite, its home in var/prefect), waits until
its health endpoint returns 200, starts `spets worker` against it and then `spets serve`. It
returns when the user presses Ctrl+C, the supervisor gets SIGTERM, or a child exits. It then
stops the web app, the worker and the server in that order, each with SIGTERM. The worker
must stop before the server, because it pauses its deployments through the server's API on
the way out and hangs if the server is already gone.

Each child runs in a session of its own, so Ctrl+C in the terminal reaches only the
supervisor, which then stops the children in order.
"""

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVER_START_TIMEOUT = 120.0  # seconds; on a loaded two-core machine the server took about 15 s
STOP_TIMEOUT = 30.0  # seconds each child gets to exit after SIGTERM before SIGKILL
POLL_INTERVAL = 0.5


class StackError(RuntimeError):
    """A child process failed to start or a port it needs is taken."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path | None = None

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class LocalStack:
    """Addresses, files and environment of the three processes of the one-machine set-up."""

    config: Path
    var_dir: Path
    web_address: str  # host:port of the web app, as [server:main] listen sets
    prefect_port: int = 4200
    echo: Callable[[str], None] = print
    children: list[Child] = field(default_factory=list)

    @property
    def prefect_home(self) -> Path:
        return self.var_dir / "prefect"

    @property
    def prefect_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}"

    @property
    def api_url(self) -> str:
        return f"{self.prefect_url}/api"

    def environment(self) -> dict[str, str]:
        """Return the environment of every child: offline Prefect, its home in var/prefect."""
        env = dict(os.environ)
        env.update(
            {
                "DO_NOT_TRACK": "1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_HOME": str(self.prefect_home),
                "PREFECT_API_URL": self.api_url,
                "SPETS_CONFIG": str(self.config),
            }
        )
        return env

    def _spawn(self, name: str, args: list[str], log_path: Path | None) -> Child:
        output = log_path.open("w", encoding="utf-8") if log_path else None
        try:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
                args,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=True,
            )
        finally:
            if output:
                output.close()  # the child keeps its own copy of the descriptor
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def check_ports(self) -> None:
        """Raise StackError when the Prefect port or the web app's port is already taken."""
        _check_port_free("127.0.0.1", self.prefect_port, "--prefect-port")
        host, _, port = self.web_address.rpartition(":")
        _check_port_free(host or "127.0.0.1", int(port), "listen in [server:main]")

    def start_server(self) -> Child:
        self.prefect_home.mkdir(parents=True, exist_ok=True)
        return self._spawn(
            "Prefect server",
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--analytics-off",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.prefect_port),
            ],
            self.prefect_home / "server.log",
        )

    def wait_for_server(self, server: Child, timeout: float = SERVER_START_TIMEOUT) -> float:
        """Wait until the server's health endpoint returns 200; return the seconds it took."""
        started = time.monotonic()
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() - started < timeout:
                if server.process.poll() is not None:
                    raise StackError(
                        f"The Prefect server exited with code {server.process.returncode} "
                        f"before it was healthy. Last lines of {server.log_path}:\n"
                        f"{server.log_tail()}"
                    )
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                time.sleep(POLL_INTERVAL)
        raise StackError(
            f"The Prefect server did not respond on {self.api_url}/health within {timeout:.0f} s. "
            f"Last lines of {server.log_path}:\n{server.log_tail()}"
        )

    def start_worker(self) -> Child:
        return self._spawn(
            "worker",
            [sys.executable, "-m", "spets.cli", "-c", str(self.config), "worker"],
            self.prefect_home / "worker.log",
        )

    def start_web(self) -> Child:
        return self._spawn(
            "web app", [sys.executable, "-m", "spets.cli", "-c", str(self.config), "serve"], None
        )

    def wait_for_web(self, web: Child, timeout: float = 60.0) -> None:
        host, _, port = self.web_address.rpartition(":")
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if web.process.poll() is not None:
                raise StackError(f"The web app exited with code {web.process.returncode}.")
            try:
                with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
                    return
            except OSError:
                time.sleep(POLL_INTERVAL)
        raise StackError(f"The web app did not listen on {self.web_address} within {timeout} s.")

    def first_exited(self) -> Child | None:
        for child in self.children:
            if child.process.poll() is not None:
                return child
        return None

    def stop_all(self) -> None:
        """Stop the children in the reverse order of their start: web app, worker, server."""
        if not self.children:
            return
        for child in reversed(self.children):
            _stop(child, self.echo)
        self.children.clear()
        self.echo("Stopped.")


def _check_port_free(host: str, port: int, option: str) -> None:
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex((host, port)) == 0:
            raise StackError(
                f"Port {port} on {host} is already in use: stop the program that uses it "
                f"or choose another port ({option})."
            )


def _stop(child: Child, echo: Callable[[str], None]) -> None:
    """Send SIGTERM, wait, then SIGKILL; finally end anything left in the child's session."""
    process = child.process
    if process.poll() is None:
        echo(f"Stopping the {child.name} (pid {process.pid}) ...")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            echo(f"The {child.name} did not stop within {STOP_TIMEOUT:.0f} s; killing it.")
            process.kill()
            process.wait()
    # The child led a process group of its own; flow-run processes of the worker or the
    # server's own children may outlive it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)


class _Terminated(Exception):
    """Raised in the main thread when the supervisor receives SIGTERM."""


def _raise_terminated(signum, frame):
    raise _Terminated()


def run_local_stack(stack: LocalStack) -> int:
    """Start server, worker and web app; supervise them until Ctrl+C or a child exits.

    Returns 0 after a stop requested by the user, 1 when a child failed.
    """
    echo = stack.echo
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per health poll
    stack.check_ports()
    previous_int = signal.getsignal(signal.SIGINT)
    previous_term = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        echo(f"Starting the Prefect server on {stack.prefect_url}/ (log: {_log(stack, 'server')})")
        server = stack.start_server()
        seconds = stack.wait_for_server(server)
        echo(f"The Prefect server is healthy after {seconds:.0f} s.")

        echo(f"Starting the worker (log: {_log(stack, 'worker')})")
        stack.start_worker()
        web = stack.start_web()
        stack.wait_for_web(web)
        echo("")
        echo(f"Prefect UI:  {stack.prefect_url}/")
        echo(f"SPeTS:       http://{stack.web_address}/")
        echo(
            "The worker runs every scheduled flow: engine, attendance, health, parents and outbox."
        )
        echo("Press Ctrl+C to stop the web app, the worker and the server.")

        while True:
            exited = stack.first_exited()
            if exited is not None:
                echo(f"The {exited.name} exited with code {exited.process.returncode}.")
                tail = exited.log_tail()
                if tail:
                    echo(f"Last lines of {exited.log_path}:\n{tail}")
                return 1
            time.sleep(POLL_INTERVAL)
    except (KeyboardInterrupt, _Terminated):
        echo("")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not cut the stop short
        stack.stop_all()
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)


def _log(stack: LocalStack, name: str) -> Path:
    return stack.prefect_home / f"{name}.log"
