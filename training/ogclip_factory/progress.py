"""Progress with rate and ETA for every long step of the factory (features, training, export).

On a terminal one line is redrawn; in a log file a line is written at most every `every`
seconds, so a CI log stays short and still shows the process is alive."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    def __init__(self, label: str, total: int, unit: str = "it", every: float = 10.0,
                 write: Callable[[str], None] | None = None, tty: bool | None = None):
        self.label, self.total, self.unit, self.every = label, total, unit, every
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.write = write or (lambda line: print(line, file=sys.stderr, end="\r" if self.tty else "\n", flush=True))
        self.done = 0
        self.t0 = self.last = time.monotonic()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta_s = _clock(eta) if eta != float("inf") else "?"
        return (f"{self.label}: {self.done}/{self.total} {self.unit} ({rate:.2f} {self.unit}/s, "
                f"elapsed {_clock(elapsed)}, ETA {eta_s})")

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.done >= self.total or now - self.last >= (0.2 if self.tty else self.every):
            self.last = now
            self.write(self.line())
            if self.tty and self.done >= self.total:
                print(file=sys.stderr)


def track(items: Iterable[T], label: str, total: int, unit: str = "it", **kw) -> Iterator[T]:
    p = Progress(label, total, unit, **kw)
    for x in items:
        yield x
        p.update()


def logger(path: Path) -> Callable[[str], None]:
    """Timestamped lines to stdout and appended to `path` (a build's log, kept across resumes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    log_file = path.open("a")

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    return log
