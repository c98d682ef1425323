#!/usr/bin/python3
"""Runs benchmark processes step by step in turn, so that all of them see the same machine.

  interleave.py OUTDIR NAME=COMMAND [NAME=COMMAND ...]

Each COMMAND (one shell-quoted string) gets `--gate IN,OUT` appended (`rmgait bench --gate`,
`bench/peer_torch.py --gate`): before each unit of work (a training step, an inference run) the
process waits for a byte on IN, after it writes "KIND SECONDS" on OUT. All processes start
together and build their models at once; from then on exactly one of them runs a unit at a
time, in turns, the order rotated every turn so that none always follows the same other. On a
machine whose speed drifts within minutes (a VM's shared cores), a ratio of two processes' k-th
steps then compares work done seconds apart, not runs minutes apart.

Writes each process's stdout and stderr to OUTDIR/NAME.out and OUTDIR/NAME.err; prints
  units NAME KIND SECONDS SECONDS ...
per process and kind of unit (warm, train, infer-warm, infer), in the order run. Exits non-zero,
naming the process and showing its stderr's end, when one fails.
"""
import os
import shlex
import subprocess
import sys


def main():
    if len(sys.argv) < 3 or any("=" not in a for a in sys.argv[2:]):
        sys.exit(__doc__.split("\n\n")[1])
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    sides = []
    for arg in sys.argv[2:]:
        name, command = arg.split("=", 1)
        go_r, go_w = os.pipe()
        done_r, done_w = os.pipe()
        with open(os.path.join(outdir, name + ".out"), "wb") as out, \
                open(os.path.join(outdir, name + ".err"), "wb") as err:
            proc = subprocess.Popen(shlex.split(command) + ["--gate", f"{go_r},{done_w}"],
                                    stdout=out, stderr=err, pass_fds=(go_r, done_w))
        os.close(go_r)  # the child's ends: EOF on done_r once the child exits
        os.close(done_w)
        sides.append({"name": name, "proc": proc, "go": go_w,
                      "done": os.fdopen(done_r, "r"), "units": {}})
    live, turn = list(sides), 0
    while live:
        order = live[turn % len(live):] + live[:turn % len(live)]
        turn += 1
        for side in order:
            try:
                os.write(side["go"], b"g")
            except BrokenPipeError:  # exited: its done pipe reads EOF below
                pass
            line = side["done"].readline()
            if not line:  # no more units: the process has finished (or failed)
                side["proc"].wait()
                live.remove(side)
                continue
            kind, seconds = line.split()
            side["units"].setdefault(kind, []).append(seconds)
    failed = False
    for side in sides:
        os.close(side["go"])
        side["done"].close()
        for kind, times in side["units"].items():
            print("units", side["name"], kind, " ".join(times))
        if side["proc"].returncode != 0:
            failed = True
            with open(os.path.join(outdir, side["name"] + ".err")) as err:
                tail = err.read().splitlines()[-5:]
            print(f"interleave: {side['name']} exited with {side['proc'].returncode}:",
                  *tail, sep="\n  ", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
