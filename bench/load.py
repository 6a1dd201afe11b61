"""HTTP load from this machine with wrk, and web servers to aim it at.

    target = Target("intake", "POST", "http://127.0.0.1:8101/api/v1/intake/",
                    headers={"Idempotency-Key": "bench-@N@"}, body='{"content": "… @N@"}')
    result = hammer(target, seconds=20, connections=32)

``@N@`` in the body or a header value becomes a number unique to each request (the time,
the wrk thread, a counter), so every request is a new complaint or ticket; ``@P@`` in the
body becomes a mobile phone number, different for each request of a run. wrk's
Lua counts the answers by status; a run reports requests answered with one of the target's
``ok`` statuses per second and wrk's latency percentiles over all requests.

With ``rate`` set, the run offers that many requests per second: wrk's ``delay()`` holds
each connection's next request until its slot on a schedule of ``1 / rate`` seconds
apart, read from the monotonic clock (LuaJIT's FFI, which Debian's wrk has). A schedule
fallen more than a second behind (the server slower than the rate) starts again from now
rather than bursting to catch up. A wrk without LuaJIT pauses each connection for
``connections / rate`` on average instead, which offers less than the rate by the time
the answers take; ``at_rate`` corrects that once from a short run. Either way the
achieved rate is measured and reported, never assumed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

PLACEHOLDER = "@N@"


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    ok: Sequence[int] = (200, 201)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    ok: int
    socket_errors: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        """Successful answers per second."""
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return self.requests - self.ok + self.socket_errors


def _lua(value: str) -> str:
    # A JSON string (kept in UTF-8) is a valid Lua string literal.
    return json.dumps(value, ensure_ascii=False)


def _script(target: Target, delay_ms: float, interval_ms: float) -> str:
    path = urlparse(target.url).path or "/"
    if urlparse(target.url).query:
        path += "?" + urlparse(target.url).query
    headers = "\n".join(
        f"  headers[{_lua(k)}] = string.gsub({_lua(v)}, '@N@', n)"
        for k, v in target.headers.items()
    )
    return f"""
-- Globals, not locals: wrk reads and writes a thread's globals (thread:get / thread:set).
local threads = {{}}
counter = 0
statuses = {{}}
ident = 0

-- The monotonic clock in milliseconds, where wrk runs on LuaJIT (nil elsewhere).
local clock = nil
do
  local ok, ffi = pcall(require, "ffi")
  if ok then
    pcall(ffi.cdef, [[
      typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
      int clock_gettime(int clock_id, bench_timespec *ts);
    ]])
    local ts = ffi.new("bench_timespec")
    clock = function()
      ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
      return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
    end
  end
end
local next_slot = nil

function setup(thread)
  table.insert(threads, thread)
  thread:set("ident", #threads)
end

function init(args)
  math.randomseed(ident * 7919 + os.time())
end

function request()
  counter = counter + 1
  -- Digits only, unique per request and run: time, thread, counter.
  local n = string.format("%d%02d%07d", os.time(), ident, counter)
  local phone = string.format("13%02d%07d", ident, counter % 10000000)
  local headers = {{}}
{headers}
  local body = string.gsub(string.gsub({_lua(target.body)}, '@N@', n), '@P@', phone)
  if body == "" then body = nil end
  return wrk.format({_lua(target.method)}, {_lua(path)}, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function delay()
  if {interval_ms} <= 0 then return 0 end
  if clock == nil then return math.random() * 2 * {delay_ms} end
  local now = clock()
  if next_slot == nil or next_slot < now - 1000 then next_slot = now end
  local wait = next_slot - now
  next_slot = next_slot + {interval_ms}
  if wait <= 0 then return 0 end
  return wait
end

function done(summary, latency, requests)
  local merged = {{}}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses") or {{}}
    for status, count in pairs(seen) do
      merged[tostring(status)] = (merged[tostring(status)] or 0) + count
    end
  end
  local parts = {{}}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%s": %d', status, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK-RESULT {{"requests": %d, "duration_us": %d, "socket_errors": %d, '
    .. '"p50": %d, "p90": %d, "p99": %d, "statuses": {{%s}}}}\\n',
    summary.requests, summary.duration,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    table.concat(parts, ", ")))
end
"""


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed for the load benchmarks: apt-get install wrk (Debian/Ubuntu).")
    return found


def hammer(
    target: Target,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    rate: float | None = None,
) -> LoadResult:
    """Load ``target`` for ``seconds`` from ``connections`` keep-alive connections."""
    delay_ms = interval_ms = 0.0
    if rate:
        delay_ms = connections / rate * 1000.0  # without a clock: each connection's pause
        interval_ms = threads / rate * 1000.0  # with one: each wrk thread's schedule
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_script(target, delay_ms, interval_ms))
    try:
        parts = urlparse(target.url)
        base = f"{parts.scheme}://{parts.netloc}"
        completed = subprocess.run(  # noqa: S603 (our own arguments)
            [
                wrk_binary(),
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                base,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(script.name)
    line = next(
        (line for line in completed.stdout.splitlines() if line.startswith("WRK-RESULT ")), None
    )
    if line is None:
        raise RuntimeError(f"wrk failed: {completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("WRK-RESULT "))
    statuses = {int(k): v for k, v in data["statuses"].items()}
    return LoadResult(
        requests=data["requests"],
        ok=sum(count for status, count in statuses.items() if status in target.ok),
        socket_errors=data["socket_errors"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50"] / 1000,
        p90_ms=data["p90"] / 1000,
        p99_ms=data["p99"] / 1000,
        statuses=statuses,
    )


def at_rate(
    target: Target, *, rate: float, seconds: float, connections: int
) -> tuple[LoadResult, LoadResult]:
    """Offer ``rate`` requests per second for ``seconds``, after a short run at the same
    rate (warming up, and checking the rate is reached). Where the short run fell short
    by more than 5 % — a wrk without a clock, whose pauses do not count the answers' time
    — the rate asked of the measured run is raised once by the shortfall (at most
    fourfold). Returns the short run and the measured one."""
    trial = hammer(target, seconds=min(5.0, seconds), connections=connections, rate=rate)
    asked = rate
    if 0 < trial.rate < 0.95 * rate:
        asked = rate * min(4.0, rate / trial.rate)
    return trial, hammer(target, seconds=seconds, connections=connections, rate=asked)


def wait_until_up(
    url: str, *, timeout: float = 60.0, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own localhost URL)
                return
        except urllib.error.HTTPError:
            return  # it answers; the status is not our concern here
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def serve(
    command: Sequence[str],
    *,
    probe_url: str,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    log: str | Path | None = None,
) -> Iterator[subprocess.Popen]:
    """Start a server (gunicorn), wait until ``probe_url`` answers, stop it afterwards."""
    output: IO[bytes] | int = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(  # noqa: S603 (our own arguments)
        list(command),
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(probe_url, process=process)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if not isinstance(output, int):
            output.close()


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(child) for child in path.read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
