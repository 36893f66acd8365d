"""``jtrader run``: start the desk processes, keep them up, stop them in order.

Children start in dependency order (venue, OMS, strategy host) and stop in
reverse on SIGTERM/SIGINT, each given ``stop_timeout`` seconds before SIGKILL.
A child that dies unexpectedly is restarted (``run.restart_crashed``), with
a back-off; the OMS recovers from its journal and reconciles with the venue
on every start, so a crash loses nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from jtrader.config import Settings
from jtrader.live.config import RunConfig, RunConfigError
from jtrader.live.process import COMPONENTS

__all__ = ["Supervisor", "ChildState"]

log = logging.getLogger("jtrader.supervisor")

HEALTHY_AFTER_S = 2.0  # a child up this long was healthy: restart it at once
MAX_BACKOFF_S = 5.0


@dataclass
class ChildState:
    component: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    fast_crashes: int = 0  # consecutive exits within HEALTHY_AFTER_S of starting: a crash loop
    exit_codes: list[int] = field(default_factory=list)


class Supervisor:
    """Runs the three desk processes for ``config_path`` until stopped or ``duration_s`` passes."""

    def __init__(self, config: RunConfig, config_path: Path, settings: Settings, stop_timeout: float = 10.0) -> None:
        if config.run.transport == "inproc":
            raise RunConfigError(
                "run.transport: inproc joins components inside one process (jtrader.live.lockstep); "
                "the desk runs them as separate processes: use ipc or tcp"
            )
        self.config = config
        self.config_path = config_path.resolve()
        self.settings = settings
        self.stop_timeout = stop_timeout
        self.run_dir = settings.resolve(Path(config.run.run_dir))
        self.children = {name: ChildState(name) for name in COMPONENTS}
        self._stop = threading.Event()

    def _spawn(self, child: ChildState) -> None:
        pid_file = self.run_dir / f"{child.component}.pid"
        pid_file.unlink(missing_ok=True)
        child.started_at = time.monotonic()
        child.process = subprocess.Popen(
            [sys.executable, "-m", "jtrader.live.process", child.component, "--config", str(self.config_path)],
            cwd=self.settings.root,
            stdout=subprocess.DEVNULL,  # each child logs JSON lines to <run_dir>/<component>.log
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not pid_file.exists() and child.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        log.info("%s running (pid %d)", child.component, child.process.pid)

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in COMPONENTS:
            self._spawn(self.children[name])

    def run(self) -> int:
        """Supervise until stopped; return 0 if every child stopped cleanly."""
        duration = self.config.run.duration_s
        deadline = time.monotonic() + duration if duration > 0 else None
        while not self._stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            for child in self.children.values():
                process = child.process
                if process is None or process.poll() is None:
                    continue
                child.exit_codes.append(process.returncode)
                if not self.config.run.restart_crashed:
                    log.error("%s exited with %d; stopping the desk", child.component, process.returncode)
                    self._stop.set()
                    break
                child.restarts += 1
                crashed_fast = time.monotonic() - child.started_at < HEALTHY_AFTER_S
                child.fast_crashes = child.fast_crashes + 1 if crashed_fast else 0
                log.warning("%s exited with %d; restart #%d", child.component, process.returncode, child.restarts)
                if child.fast_crashes:
                    time.sleep(min(0.2 * 2 ** (child.fast_crashes - 1), MAX_BACKOFF_S))
                self._spawn(child)
            self._stop.wait(0.1)
        return self.shutdown()

    def stop(self) -> None:
        self._stop.set()

    def shutdown(self) -> int:
        clean = True
        for name in reversed(COMPONENTS):
            child = self.children[name]
            process = child.process
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.error("%s did not stop in %.0fs; killing it", name, self.stop_timeout)
                process.kill()
                code = process.wait()
            child.exit_codes.append(code)
            clean = clean and code == 0
        return 0 if clean else 1

    def pid(self, component: str) -> int | None:
        process = self.children[component].process
        return process.pid if process is not None and process.poll() is None else None


def run_supervised(config: RunConfig, config_path: Path, settings: Settings) -> int:
    """Run the desk in the foreground; SIGTERM/SIGINT stop it gracefully."""
    supervisor = Supervisor(config, config_path, settings)
    signal.signal(signal.SIGTERM, lambda *_: supervisor.stop())
    signal.signal(signal.SIGINT, lambda *_: supervisor.stop())
    supervisor.start()
    log.info("desk %s running in %s (pid %d)", config.run.name, supervisor.run_dir, os.getpid())
    return supervisor.run()
