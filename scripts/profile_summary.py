"""Summarise a py-spy raw profile (`py-spy record -f raw`): where the samples go, per thread, by
inclusive and by own time. Used by `make bench PROFILE=1`; readable on its own.

Run: python -m scripts.profile_summary PROFILE.txt [TOP]
"""

from __future__ import annotations

import re
import sys
from collections import Counter

IDLE = re.compile(
    r"\b(select|epoll_wait|poll|_worker|wait|run_forever|_run_once)\b.*\((selectors|threading|thread|concurrent|uvloop)"
)


def summarise(path: str, top: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    with open(path, encoding="utf-8", errors="replace") as lines:
        raw = list(lines)
    for line in raw:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        threads[frames[0]] += n
        for frame in set(frames[1:]):
            inclusive[_short(frame)] += n
        own[_short(frames[-1])] += n
    out = [f"{total} samples"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in threads.most_common(8)]
    out.append("inclusive:")
    out += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    out.append("own:")
    out += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    return "\n".join(out)


def _short(frame: str) -> str:
    frame = re.sub(r"/[^ ]*/site-packages/", "", frame)
    frame = re.sub(r"/work/[^ ]*?/(scenarios|nodes|teams|gateway|config)/", r"\1/", frame)
    return frame


if __name__ == "__main__":
    print(summarise(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25))
