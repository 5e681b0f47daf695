#!/usr/bin/env python3
"""Time two commands as whole processes, alternating them run by run (scripts/bench-run with BASE=PATH).

A VM's speed drifts by a quarter within minutes; timing all runs of one build and then all of the
other (as hyperfine does) puts that drift between them. Here run i of each command follows run i of the
other, in alternating order, so both see the same drift.

Usage: bench-interleaved.py RUNS PREPARE COMMAND_A COMMAND_B
  COMMAND_A, COMMAND_B: commands, split into words as a shell would (no shell is started).
  PREPARE: a shell command run (untimed) before each timed run, or "" for none.
Prints "MEAN_A SD_A MEAN_B SD_B" in milliseconds. Exits 1, with the command's output, if a run fails.
"""

import shlex
import statistics
import subprocess
import sys
import time

WARM_UPS = 3


def timed(command, prepare):
    """Wall time of one run of `command` (words split as a shell would, no shell started), in seconds,
    `prepare` (a shell command) run first."""
    if prepare:
        subprocess.run(prepare, shell=True, check=True)
    start = time.perf_counter()
    done = subprocess.run(shlex.split(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(f"failed ({done.returncode}): {command}\n{done.stderr.decode(errors='replace')}")
        sys.exit(1)
    return elapsed


def main():
    runs, prepare, a, b = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    for _ in range(WARM_UPS):
        timed(a, prepare)
        timed(b, prepare)
    # By position, not by text: the two commands may be the same (a check of the method itself).
    times = ([], [])
    for i in range(runs):
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            times[which].append(timed((a, b)[which], prepare))
    figures = []
    for which in (0, 1):
        spread = statistics.stdev(times[which]) if runs > 1 else 0.0
        figures += [statistics.mean(times[which]) * 1000, spread * 1000]
    print(" ".join(f"{f:.2f}" for f in figures))


if __name__ == "__main__":
    main()
