"""Run the web server, one Celery worker and beat together in the foreground.

This is what ``make run`` starts. Ctrl-C (SIGINT) or SIGTERM asks each process to stop
the way it expects — gunicorn and the worker finish what they are doing (a warm
shutdown) — and only a process still running after the grace period is killed. If one
process dies on its own, the others are stopped too, so nothing runs half-started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

# Ctrl-C: a warm shutdown first, then Celery's cold one, then (only if stuck) a kill.
WARM_SECONDS = 10
COLD_SECONDS = 10


class Command(BaseCommand):
    help = "Run web, worker and beat together; Ctrl-C stops all three cleanly."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1:8000"))
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--worker-concurrency", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        commands = {
            "web": [
                python, "-m", "gunicorn", "config.wsgi",
                "--bind", options["bind"],
                "--workers", str(options["web_workers"]),
                "--access-logfile", "-",
                "--graceful-timeout", "5",
                # gunicorn's control socket defaults to one path per user (~/.gunicorn);
                # two instances would fight over it, and nothing here uses it.
                "--no-control-socket",
            ],
            "worker": [
                python, "-m", "celery", "-A", "config", "worker",
                "--loglevel=INFO",
                f"--concurrency={options['worker_concurrency']}",
                "--hostname=worker@%h",
                "--without-mingle", "--without-gossip",
            ],
            "beat": [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"],
        }  # fmt: skip
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
        self.stdout.write(
            f"Sutong on http://{options['bind']} — database {database}, broker {broker}. "
            "Ctrl-C stops everything."
        )
        self.stdout.flush()
        self._output_lock = threading.Lock()
        processes = {name: self._start(name, command) for name, command in commands.items()}

        stopping = threading.Event()

        def request_stop(signum: int, frame: Any) -> None:
            stopping.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        failed = None
        while not stopping.is_set():
            for name, process in processes.items():
                if process.poll() is not None:
                    failed = name
                    stopping.set()
            stopping.wait(0.5)

        if failed:
            self.stderr.write(
                f"{failed} exited with code {processes[failed].returncode}; stopping."
            )
        self._stop(processes)
        if failed:
            sys.exit(1)

    def _start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        # Own session: a terminal's Ctrl-C reaches only this supervisor, which then
        # stops each child in order instead of all of them being interrupted at once.
        process = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        threading.Thread(target=self._relay, args=(name, process), daemon=True).start()
        return process

    def _relay(self, name: str, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            with self._output_lock:
                sys.stdout.write(f"{name:<6} | {line}\n")
                sys.stdout.flush()

    def _stop(self, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # warm shutdown for each main process
        self._wait(processes, WARM_SECONDS)
        for name, process in processes.items():
            if process.poll() is None and name in ("worker", "beat"):
                # A long task (training the classifier) is still running. Celery's cold
                # shutdown stops it; acknowledged late, it goes back to the queue.
                self.stderr.write(
                    f"{name} is still busy after {WARM_SECONDS}s; cold shutdown "
                    "(its unfinished tasks go back to the queue)."
                )
                process.send_signal(signal.SIGQUIT)
        self._wait(processes, COLD_SECONDS)
        for name, process in processes.items():
            if process.poll() is None:
                self.stderr.write(f"{name} did not stop; killing it.")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        time.sleep(0.2)  # let the relay threads print the last lines
        self.stdout.write("Stopped web, worker and beat.")

    @staticmethod
    def _wait(processes: dict[str, subprocess.Popen[bytes]], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for process in processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
