#!/usr/bin/env python3
"""ctest wan_allreduce_2region: all_reduce_perf across the emulated WAN of
perf/wan/scenarios/two-regions-ci.json (2 peers, 20 ms RTT, 200 Mbit/s),
through perf/wan/wan.py run.

Checks: wan.py exits 0; rank 0 printed a result table with busbw numbers,
every row with 0 wrong values, and the "Out of bounds values : 0 OK" footer;
the harness reported nothing left behind and no namespace of its run
remains.  Prints the busbw lines.

Exit status: 0 passed, 1 failed, 77 skipped (not root, no /dev/net/tun, no
meridian-wanem or all_reduce_perf in --bin-dir).
"""

import argparse
import ctypes
import os
import re
import signal
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WAN = os.path.join(REPO, "perf", "wan", "wan.py")
sys.path.insert(0, os.path.join(REPO, "perf", "wan"))
from wanlib import netenv, scenario as scn  # noqa: E402

SKIP = 77
ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(-?\d+)"
                 r"\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)"
                 r"\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)\s*$")


def term_with_parent():
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin-dir", default=os.path.join(REPO, "build", "bin"))
    p.add_argument("--scenario", default="two-regions-ci")
    p.add_argument("--timeout", type=int, default=150, help="wan.py run --timeout")
    p.add_argument("--sizes", default="-b 1M -e 8M -f 2 -n 3 -w 1 -c 1",
                   help="all_reduce_perf arguments")
    args = p.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    why = netenv.preflight(bin_dir, ("meridian-wanem", "meridian-coordinator",
                                     "all_reduce_perf"))
    if why:
        print("SKIPPED: %s" % why)
        return SKIP

    cmd = [sys.executable, WAN, "run", args.scenario, "--bin-dir", bin_dir,
           "--timeout", str(args.timeout), "--", os.path.join(bin_dir, "all_reduce_perf")]
    cmd += args.sizes.split()
    print("$ %s" % " ".join(cmd), flush=True)
    # SIGTERM (which wan.py answers with its teardown) if this script dies,
    # e.g. killed by ctest on its own timeout.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, preexec_fn=term_with_parent)
    try:
        out, err = proc.communicate(timeout=args.timeout + 20)
    except subprocess.TimeoutExpired:
        proc.terminate()  # wan.py tears down on SIGTERM
        out, err = proc.communicate(timeout=60)
    failures = []
    if proc.returncode != 0:
        failures.append("wan.py exited %d" % proc.returncode)
    rows = [m for m in (ROW.match(l) for l in out.splitlines()) if m]
    if not rows:
        failures.append("rank 0 printed no result rows")
    for m in rows:
        if m.group(9) != "0" or m.group(13) != "0":
            failures.append("wrong values at %s bytes: %s / %s" % (m.group(1), m.group(9),
                                                                   m.group(13)))
    if "# Out of bounds values : 0 OK" not in out:
        failures.append("no '# Out of bounds values : 0 OK' footer")
    if "left behind" in err:
        failures.append("the harness left something behind")
    ns_left = [ns for ns in netenv.list_namespaces()
               if (scn.parse_namespace_name(ns) or (None,))[0] == proc.pid]
    if ns_left:
        failures.append("namespaces left: %s" % " ".join(ns_left))

    n = re.search(r"# nRanks (\d+)", out)
    factor = 2.0 * (int(n.group(1)) - 1) / int(n.group(1)) if n else 1.0
    print("busbw across %s (out-of-place / in-place; GB/s as printed, Mbit/s from the "
          "time column):" % args.scenario)
    for m in rows:
        mbit = [int(m.group(1)) * 8 / float(t) * factor for t in (m.group(6), m.group(10))]
        print("  %10s bytes  busbw %s / %s GB/s  = %.1f / %.1f Mbit/s  #wrong %s / %s" % (
            m.group(1), m.group(8), m.group(12), mbit[0], mbit[1], m.group(9), m.group(13)))
    if failures:
        print("--- rank 0 stdout ---\n%s--- harness stderr ---\n%s" % (out, err))
        for f in failures:
            print("FAILED: %s" % f)
        return 1
    print("PASSED: %d sizes, 0 wrong, nothing left behind" % len(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
