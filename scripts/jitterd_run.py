"""Shared by scripts/load and scripts/soak: start jitterd on a free loopback
port, scrape it, read its memory, stop it. Standard library only."""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def binary():
    """The jitterd to run: $JITTERD_BIN, else target/release/jitterd (built if missing)."""
    path = os.environ.get("JITTERD_BIN")
    if path:
        return path
    path = ROOT / "target" / "release" / "jitterd"
    if not path.exists():
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return str(path)


class Daemon:
    """A jitterd on 127.0.0.1:<free port>, its JSON log lines kept."""

    def __init__(self, config_text, extra_args=()):
        self.dir = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"jitterd-script-{os.getpid()}-{time.monotonic_ns()}"
        self.dir.mkdir(parents=True)
        self.config = self.dir / "jitterd.toml"
        self.config.write_text(config_text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("JITTERD__") and k not in ("RUST_LOG", "NOTIFY_SOCKET")}
        self.proc = subprocess.Popen(
            [binary(), "--config.file", str(self.config), "--web.listen-address", "127.0.0.1:0", "--log.format", "json", *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 30
        self.addr = None
        while self.addr is None:
            for line in list(self.lines):
                if line.get("message") == "jitterd started":
                    self.addr = line["address"]
            if self.proc.poll() is not None:
                raise RuntimeError(f"jitterd exited with {self.proc.returncode}: {self.lines}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"jitterd did not start: {self.lines}")
            time.sleep(0.02)

    def _read(self):
        for raw in self.proc.stderr:
            try:
                self.lines.append(json.loads(raw))
            except ValueError:
                self.lines.append({"message": raw.decode(errors="replace").strip()})

    def url(self, path="/metrics"):
        return f"http://{self.addr}{path}"

    def metrics(self):
        with urllib.request.urlopen(self.url(), timeout=10) as response:
            return parse_metrics(response.read().decode())

    def rss_bytes(self):
        """Resident memory (VmRSS) of the process, from /proc."""
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self, timeout=10):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.reader.join(timeout=2)
        for path in self.dir.iterdir():
            path.unlink()
        self.dir.rmdir()
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()


# Every strategy, in the order of the contract.
STRATEGIES = [
    "threads-unsync",
    "threads-mutex",
    "threads-mutex-yield",
    "async",
    "threads-fair-mutex",
    "threads-channel",
    "threads-snapshot",
    "async-blocking",
]


TICKS = os.sysconf("SC_CLK_TCK")


def host_busy_seconds():
    """CPU seconds all CPUs have spent busy since boot, from /proc/stat
    (user, nice, system, irq, softirq and steal: what the host's own
    processes did not get)."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in stat.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICKS


def process_cpu_seconds(pid):
    """User plus system CPU seconds of a process and all its threads."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


class HostLoad:
    """Cores kept busy over a window: by jitterd, by this script and the
    programs it ran (wrk), and by everything else on the host. The last is
    what makes timing figures worthless without anyone noticing: a build or
    a test run beside a benchmark. Clock ticks are 10 ms, so read it over
    seconds, not milliseconds."""

    BUSY = 0.25  # other cores above this: the figures measure the host's load too

    def __init__(self, pid=None):
        self.pid = pid
        self.start = self._sample()

    def _sample(self):
        own = os.times()
        return (time.monotonic(), host_busy_seconds(), process_cpu_seconds(self.pid) if self.pid else 0.0,
                own.user + own.system + own.children_user + own.children_system)

    def cores(self):
        """{'jitterd', 'tools', 'other'}: average cores busy since the start."""
        end = self._sample()
        wall, busy, jitterd, tools = (e - s for e, s in zip(end, self.start))
        wall = wall or float("nan")
        return {"jitterd": jitterd / wall, "tools": tools / wall, "other": max(0.0, busy - jitterd - tools) / wall}


SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$")


def parse_metrics(text):
    """Prometheus text format → {series as printed: value}."""
    series = {}
    for line in text.splitlines():
        match = SERIES.match(line)
        if match:
            series[match.group(1)] = float(match.group(2))
    return series


def buckets(series, histogram):
    """[(le, cumulative count)] of a histogram, sorted by le."""
    out = []
    prefix = f"{histogram}_bucket{{le=\""
    for name, value in series.items():
        if name.startswith(prefix):
            le = name[len(prefix):-2]
            out.append((float("inf") if le == "+Inf" else float(le), value))
    return sorted(out)


def quantile(q, before, after, histogram):
    """histogram_quantile(q) over the observations between two scrapes:
    linear interpolation inside the bucket, as Prometheus does."""
    a = dict(buckets(after, histogram))
    b = dict(buckets(before, histogram))
    delta = sorted((le, a[le] - b.get(le, 0.0)) for le in a)
    total = delta[-1][1] if delta else 0.0
    if total <= 0:
        return float("nan")
    rank = q * total
    lower_le, lower_count = 0.0, 0.0
    for le, count in delta:
        if count >= rank:
            if le == float("inf"):
                return lower_le
            inside = count - lower_count
            return lower_le + (le - lower_le) * ((rank - lower_count) / inside if inside else 0.0)
        lower_le, lower_count = le, count
    return float("nan")


def mean(before, after, histogram):
    """Mean of the observations between two scrapes (exact: sum / count)."""
    count = after.get(f"{histogram}_count", 0.0) - before.get(f"{histogram}_count", 0.0)
    total = after.get(f"{histogram}_sum", 0.0) - before.get(f"{histogram}_sum", 0.0)
    return total / count if count else float("nan")


def human_seconds(value):
    if value != value:  # NaN
        return "n/a"
    if value < 1e-3:
        return f"{value * 1e6:.1f} µs"
    if value < 1:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.2f} s"


def human_bytes(value):
    return f"{value / (1 << 20):.1f} MiB"


def parse_duration(text):
    """'30s', '10m', '500ms', '2h' or a number of seconds → seconds."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s|m|h)?\s*", str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration: write e.g. 30s, 10m, 500ms")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]


def to_json(value):
    """JSON text with NaN and infinities as null (JSON has neither)."""

    def clean(v):
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), indent=2)


def host_load_main(argv):
    """`jitterd_run.py host-load CMD [ARG...]`: run CMD, then print how many
    cores it and everything else on the host kept busy meanwhile (for
    bench/run, whose figures mean little on a busy host)."""
    if len(argv) < 2 or argv[0] != "host-load":
        print("usage: jitterd_run.py host-load CMD [ARG...]", file=sys.stderr)
        return 2
    host = HostLoad()
    code = subprocess.run(argv[1:]).returncode
    cores = host.cores()
    verdict = "a busy host: these figures measure that load too" if cores["other"] > HostLoad.BUSY else "an idle host"
    print(f"\nHost load meanwhile: the command kept {cores['tools']:.2f} cores busy, everything else "
          f"{cores['other']:.2f} ({verdict}).")
    return code


if __name__ == "__main__":
    sys.exit(host_load_main(sys.argv[1:]))
