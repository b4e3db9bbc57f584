"""Summarize py-spy collapsed stacks (``--format raw``): where a server spends its time.

    .venv/bin/python bench/stacks.py bench/results/<run>/<file>.collapsed [--top 30] [--match chat/]

Prints the functions with the most samples on the stack (inclusive) and at the
top of the stack (self), so a cost can be traced to a file and function.
"""

from __future__ import annotations

import argparse
import collections
import re


def short(frame: str) -> str:
    m = re.match(r"^(.*) \((.*?)(?::\d+)?\)$", frame)
    if not m:
        return frame
    func, path = m.groups()
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{func}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--match", default="", help="only count stacks containing this text")
    args = p.parse_args()
    inclusive, own = collections.Counter(), collections.Counter()
    total = 0
    for path in args.files:
        with open(path) as f:
            for line in f:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                if not stack or (args.match and args.match not in stack):
                    continue
                n = int(count)
                total += n
                frames = [short(fr) for fr in stack.split(";")]
                for fr in set(frames):
                    inclusive[fr] += n
                own[frames[-1]] += n
    print(f"{total} samples")
    print("\n-- inclusive --")
    for fr, n in inclusive.most_common(args.top):
        print(f"{100 * n / total:5.1f}%  {fr}")
    print("\n-- self --")
    for fr, n in own.most_common(args.top):
        print(f"{100 * n / total:5.1f}%  {fr}")


if __name__ == "__main__":
    main()
