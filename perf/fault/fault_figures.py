#!/usr/bin/env python3
"""Fault-tolerance figures on loopback: detection, recovery and join times.

Runs the scenarios of tests/integration/fault_scenarios.py --repeat times
(kill9, sigstop and, where network namespaces can be made, silent_drop) and
perf/fault/join_latency (a joiner receiving a --bytes shared tensor from
--members members), then prints a Markdown table:

  kill -9 -> error          SIGKILL to the fault line of the slowest survivor
  kill -9 -> next step      SIGKILL to the slowest survivor's first step in
                            the smaller world
  SIGSTOP -> eviction       SIGSTOP to the slowest survivor's fault (eviction
                            by missed heartbeats), with the configured timeout
  SIGSTOP -> next step      as above, first step in the smaller world
  silent drop -> ...        the same for a peer whose link drops everything
  join (B bytes)            joiner process start to the end of its first
                            mdnSharedStateSync (B bytes received, verified)
  admission (members)       a member's time from seeing the pending joiner to
                            the end of the sync after mdnCommUpdate

Each row gives the median and the maximum over the runs (each run counts its
slowest survivor).  Only the standard library is used.
"""

import argparse
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import fault_scenarios as fs  # noqa: E402

JOINER_RE = re.compile(r"^joiner bytes (\d+) join_s (\S+) create_s (\S+) sync_s (\S+) "
                       r"received (\d+) verified (\d) rank (\d+) world (\d+)"
                       r"(?: from_spawn_s (\S+))?")
MEMBER_RE = re.compile(r"^member rank (\d+) bytes (\d+) iterations (\d+) steady_iter_ms (\S+) "
                       r"admission_ms (\S+) update_ms (\S+) sync_ms (\S+) sent (\d+)")


def med_max(values, scale=1.0, fmt="%.3f"):
    if not values:
        return "—", "—"
    return fmt % (statistics.median(values) * scale), fmt % (max(values) * scale)


def run_faults(args, log_root):
    rows = {}
    for name, keys in (("kill9", ("kill_to_error_s", "kill_to_step_s")),
                       ("sigstop", ("stop_to_error_s", "stop_to_step_s")),
                       ("silent_drop", ("drop_to_error_s", "drop_to_step_s"))):
        if name not in args.scenarios:
            continue
        samples = {k: [] for k in keys}
        skipped = None
        for i in range(args.repeat):
            log_dir = os.path.join(log_root, "%s-%d" % (name, i))
            status, sc = fs.run_scenario(name, args.bin_dir, log_dir, verbose=False)
            if status == "skipped":
                skipped = sc.skip_reason
                break
            got = {k: sc.metrics.get(k) for k in keys}
            print("  %s run %d: %s%s" % (name, i + 1, status, "".join(
                " %s max %.3f s" % (k, max(v)) for k, v in got.items() if v)), flush=True)
            if status != "passed":
                args.failed_runs.append("%s run %d" % (name, i + 1))
                print("    failures: %s" % "; ".join(sc.failures), flush=True)
            for k, v in got.items():
                if v:
                    samples[k].append(max(v))  # the slowest survivor
        rows[name] = (samples, skipped)
    return rows


def run_join(args, log_root, i):
    """One admission: coordinator, members, one joiner.  Returns (joiner
    dict, [member dicts])."""
    token = secrets.token_hex(32)
    log = open(os.path.join(log_root, "join-%d.log" % i), "w")
    procs = []

    def start(argv, env):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=log, env=env, start_new_session=True,
                             preexec_fn=fs._pdeathsig)
        procs.append(p)
        return p

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MERIDIAN_")}
    try:
        cenv = dict(base_env, MERIDIAN_AUTH_TOKEN=token)
        coord = start([os.path.join(args.bin_dir, "meridian-coordinator"), "--listen",
                       "127.0.0.1:0"], cenv)
        line = coord.stdout.readline().decode()
        m = re.search(r"listening on (\S+)", line)
        if not m:
            raise RuntimeError("coordinator did not start: %r" % line)
        penv = dict(base_env, MERIDIAN_AUTH_TOKEN=token, MERIDIAN_COORDINATOR=m.group(1),
                    MERIDIAN_WORLD_SIZE=str(args.members),
                    MERIDIAN_CONNECT_TIMEOUT_MS="60000")
        tool = os.path.join(args.bin_dir, "join_latency")
        members = [start([tool, "--role", "member", "--bytes", str(args.bytes),
                          "--sleep-ms", str(args.sleep_ms)], penv)
                   for _ in range(args.members)]
        # Let the members fill their tensors, form and run steady iterations.
        time.sleep(args.settle)
        for p in members:
            if p.poll() is not None:
                raise RuntimeError("a member exited early with status %d" % p.returncode)
        t_spawn = time.monotonic()
        joiner = start([tool, "--role", "joiner", "--bytes", str(args.bytes),
                        "--spawn-time", "%.6f" % t_spawn], penv)
        out = {}
        for p in [joiner] + members:
            try:
                o, _ = p.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                raise RuntimeError("join_latency did not finish in 120 s (see %s)" % log.name)
            if p.returncode != 0:
                raise RuntimeError("join_latency exited with %d: %s (see %s)"
                                   % (p.returncode, o.decode().strip(), log.name))
            out[p.pid] = o.decode()
        m = JOINER_RE.search(out[joiner.pid])
        if not m or m.group(6) != "1" or int(m.group(5)) != args.bytes:
            raise RuntimeError("joiner did not verify the state: %r" % out[joiner.pid])
        j = {"join_s": float(m.group(2)), "create_s": float(m.group(3)),
             "sync_s": float(m.group(4)),
             "from_spawn_s": float(m.group(9)) if m.group(9) else None}
        ms = []
        for p in members:
            mm = MEMBER_RE.search(out[p.pid])
            if mm:
                ms.append({"admission_ms": float(mm.group(5)), "update_ms": float(mm.group(6)),
                           "sync_ms": float(mm.group(7)), "steady_iter_ms": float(mm.group(4))})
        return j, ms
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scenarios", default="kill9,sigstop,silent_drop",
                    help="fault scenarios to time (default kill9,sigstop,silent_drop)")
    ap.add_argument("--bytes", type=int, default=256 << 20,
                    help="shared tensor bytes for the join (default 256 MiB)")
    ap.add_argument("--members", type=int, default=2, help="members the joiner joins (default 2)")
    ap.add_argument("--sleep-ms", type=int, default=10, help="members' pause per iteration")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds the members run before the joiner starts (default 3)")
    ap.add_argument("--no-join", action="store_true", help="skip the join latency runs")
    ap.add_argument("--log-dir", default=None)
    args = ap.parse_args()
    args.bin_dir = os.path.abspath(args.bin_dir)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.failed_runs = []
    log_root = args.log_dir or tempfile.mkdtemp(prefix="meridian-fault-figures-")
    os.makedirs(log_root, exist_ok=True)
    print("fault_figures: %d runs each, logs in %s" % (args.repeat, log_root), flush=True)

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)

    rows = run_faults(args, log_root)
    joins, members = [], []
    if not args.no_join:
        for i in range(args.repeat):
            j, ms = run_join(args, log_root, i)
            joins.append(j)
            members.extend(ms)
            print("  join run %d: join %.3f s (create %.3f s, sync %.3f s, from spawn %.3f s); "
                  "members' admission %s ms" % (i + 1, j["join_s"], j["create_s"], j["sync_s"],
                                                j["from_spawn_s"] or -1, ", ".join(
                                                    "%.1f" % m["admission_ms"] for m in ms)),
                  flush=True)

    hb = fs.HEARTBEAT_MS / 1000.0
    print()
    print("| measurement | median | max | runs | target |")
    print("|---|---:|---:|---:|---|")
    labels = {
        "kill_to_error_s": ("kill -9 → error at every survivor (s)", "< 1 s"),
        "kill_to_step_s": ("kill -9 → next successful step, world 3 (s)", "< 2 s"),
        "stop_to_error_s": ("SIGSTOP → eviction (error at every survivor) (s), "
                            "heartbeat timeout %.1f s" % hb, "< timeout + 1 s"),
        "stop_to_step_s": ("SIGSTOP → next successful step, world 3 (s)", "< 2 s after eviction"),
        "drop_to_error_s": ("silent packet drop → eviction (error at every survivor) (s), "
                            "heartbeat timeout %.1f s" % hb, "< timeout + 1 s"),
        "drop_to_step_s": ("silent packet drop → next successful step, world 3 (s)", "—"),
    }
    for name, (samples, skipped) in rows.items():
        if skipped:
            print("| %s | skipped: %s | | | |" % (name, skipped))
            continue
        for k, v in samples.items():
            a, b = med_max(v)
            print("| %s | %s | %s | %d | %s |" % (labels[k][0], a, b, len(v), labels[k][1]))
    if joins:
        mib = args.bytes / float(1 << 20)
        a, b = med_max([j["join_s"] for j in joins])
        print("| join incl. %.0f MiB shared state, joiner main() → first sync done (s), "
              "%d members | %s | %s | %d | — |" % (mib, args.members, a, b, len(joins)))
        sp = [j["from_spawn_s"] for j in joins if j["from_spawn_s"] is not None]
        a, b = med_max(sp)
        print("| … the same from process spawn (s) | %s | %s | %d | — |" % (a, b, len(sp)))
        a, b = med_max([j["create_s"] for j in joins])
        print("| … of which mdnCommCreate until admitted (s) | %s | %s | %d | — |"
              % (a, b, len(joins)))
        a, b = med_max([j["sync_s"] for j in joins])
        print("| … of which the first mdnSharedStateSync (s) | %s | %s | %d | — |"
              % (a, b, len(joins)))
        a, b = med_max([m["admission_ms"] for m in members], fmt="%.1f")
        print("| members: admission, pending seen → sync after update done (ms) | %s | %s | %d "
              "| — |" % (a, b, len(members)))
        a, b = med_max([m["steady_iter_ms"] for m in members], fmt="%.1f")
        print("| members: steady iteration for comparison (ms, %d ms sleep included) | %s | %s "
              "| %d | — |" % (args.sleep_ms, a, b, len(members)))
    if args.failed_runs:
        print("\nfault_figures: checks failed in %s (their times are still counted)"
              % ", ".join(args.failed_runs))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
