#!/usr/bin/env python3
"""WAN emulation harness (docs/wan.md): runs Meridian and the baselines
across emulated continents on one machine.

    wan.py run SCENARIO [options] -- COMMAND ARGS...   one command per peer
    wan.py validate SCENARIO                           ping / iperf3 per link class
    wan.py sweep SCENARIO --out results.json           busbw vs connections and size
    wan.py plot results.json --out DIR                 PNG figures of a sweep
    wan.py cleanup                                     stale mdnw* namespaces

SCENARIO is a name in perf/wan/scenarios/ (without .json) or a path.  Needs
root, /dev/net/tun, iproute2 and build/bin/meridian-wanem; standard library
only (plot: matplotlib, e.g. Debian's python3-matplotlib under
/usr/bin/python3).
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from wanlib import scenario as scn  # noqa: E402
from wanlib import netenv  # noqa: E402
from wanlib.netenv import say, SetupError  # noqa: E402

EXIT_LEFT_BEHIND = 3
EXIT_SETUP = 2
EXIT_TIMEOUT = 124
EXIT_SKIP = 77
DEFAULT_BIN_DIR = os.path.join(REPO, "build", "bin")


class Interrupted(Exception):
    def __init__(self, signum):
        Exception.__init__(self, "signal %d" % signum)
        self.signum = signum


class Harness:
    """try/finally + signal handlers around one Testbed."""

    def __init__(self, scenario, args, verbose=True):
        self.scenario = scenario
        self.args = args
        self.keep = getattr(args, "keep_logs", None)
        if self.keep:
            os.makedirs(self.keep, exist_ok=True)
            self.work_dir = os.path.abspath(self.keep)
        else:
            self.work_dir = tempfile.mkdtemp(prefix="mdnw-%d-" % os.getpid())
        self.bed = netenv.Testbed(scenario, os.path.abspath(args.bin_dir), self.work_dir,
                                  mtu=getattr(args, "mtu", scn.DEFAULT_MTU), verbose=verbose)
        self.old_handlers = {}
        self.failed = False

    def _raise(self, signum, frame):
        raise Interrupted(signum)

    def _ignore(self, signum, frame):
        say("signal %d during teardown: still cleaning up" % signum)

    def __enter__(self):
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self.old_handlers[s] = signal.signal(s, self._raise)
        return self.bed

    def __exit__(self, etype, evalue, tb):
        for s in self.old_handlers:
            signal.signal(s, self._ignore)
        try:
            left = self.bed.teardown()
        finally:
            for s, h in self.old_handlers.items():
                signal.signal(s, h)
        if self.bed.counters and getattr(self.args, "show_counters", True):
            for line in self.bed.counters:
                print("# wanem: %s" % line, file=sys.stderr)
        self.left = left
        if left:
            say("WARNING: left behind: %s" % ", ".join(left))
        if etype is not None or left or self.failed:
            if not self.keep:
                say("logs kept in %s" % self.work_dir)
        elif not self.keep:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        if etype is Interrupted:
            say("interrupted by signal %d; torn down" % evalue.signum)
        return False


def load_scenario(name):
    try:
        return scn.load(name)
    except (scn.ScenarioError, OSError) as e:
        sys.exit("wan.py: %s" % e)


def parse_env(items):
    env = {}
    for item in items or []:
        if "=" not in item:
            sys.exit("wan.py: --env wants K=V, not '%s'" % item)
        k, v = item.split("=", 1)
        env[k] = v
    return env


def check_preflight(args, need=("meridian-wanem",)):
    why = netenv.preflight(os.path.abspath(args.bin_dir), need)
    if why:
        say("cannot build a testbed: %s" % why)
        sys.exit(EXIT_SKIP if args.skip_code else EXIT_SETUP)


# ---- run -----------------------------------------------------------------

def cmd_run(args):
    command = args.command
    if not command:
        sys.exit("wan.py run: no COMMAND (wan.py run SCENARIO [options] -- COMMAND ARGS...)")
    sc = load_scenario(args.scenario)
    check_preflight(args, ("meridian-wanem", "meridian-coordinator"))
    extra = parse_env(args.env)
    deadline = time.monotonic() + args.timeout
    worst = 0
    h = Harness(sc, args, verbose=not args.quiet)
    try:
        with h as bed:
            bed.build()
            bed.start_coordinator()
            codes, timed_out = bed.run_peers(
                lambda i: command,
                lambda i: bed.peer_env(i, args.connections, extra),
                deadline, fail_grace=args.fail_grace)
            # The worst status of the peers that exited on their own; those
            # the harness ended (after a failure elsewhere) count as 1.
            own = [c for i, c in enumerate(codes) if i not in bed.ended_by_harness]
            worst = max(own) if own else 0
            if bed.ended_by_harness:
                worst = max(worst, 1)
            if timed_out:
                say("timed out after %d s" % args.timeout)
                worst = EXIT_TIMEOUT
            if worst:
                h.failed = True
                say("exit codes by rank: %s" % " ".join(map(str, codes)))
    except SetupError as e:
        say("setup failed: %s" % e)
        worst = EXIT_SETUP
    except Interrupted as e:
        worst = 128 + e.signum
    if h.left:
        return worst or EXIT_LEFT_BEHIND
    return worst


# ---- cleanup ---------------------------------------------------------------

def cmd_cleanup(args):
    if os.geteuid() != 0:
        sys.exit("wan.py cleanup: needs root")
    deleted, kept, failed = netenv.cleanup_stale()
    for ns in deleted:
        print("deleted %s" % ns)
    for ns in kept:
        print("kept %s (its harness is running)" % ns)
    for ns in failed:
        print("could not delete %s" % ns)
    if not (deleted or kept or failed):
        print("no mdnw* namespaces")
    return 1 if failed else 0


# ---- validate --------------------------------------------------------------

PING_RE = re.compile(r"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")


def measure_ping(bed, src, dst, count=10, interval=0.2):
    r = netenv.run_cmd(bed.ns_exec(src) + ["ping", "-c", str(count), "-i", str(interval), "-q",
                                           scn.address(dst)], check=False, timeout=count * 2 + 20)
    m = PING_RE.search(r.stdout or "")
    if not m:
        return None, "ping failed: %s" % ((r.stdout or "") + (r.stderr or "")).strip()[-200:]
    return (float(m.group(1)), float(m.group(2))), None


def measure_iperf(bed, src, dst, seconds, streams, omit, port=5201):
    server = bed.start("iperf3-s-%d" % dst,
                       bed.ns_exec(dst) + ["iperf3", "-s", "-1", "-B", scn.address(dst),
                                           "-p", str(port)],
                       log=bed.log_path("iperf3-server-%d-%d" % (src, dst)), merge=True)
    try:
        if not server.wait_for_line(r"[Ss]erver listening", 10):
            return None, "iperf3 server did not start: %s" % " / ".join(server.tail(3))
        client = bed.start("iperf3-c-%d" % src,
                           bed.ns_exec(src) + ["iperf3", "-c", scn.address(dst), "-p", str(port),
                                               "-t", str(seconds), "-P", str(streams),
                                               "-O", str(omit), "-J"],
                           log=bed.log_path("iperf3-client-%d-%d" % (src, dst)))
        try:
            client.popen.wait(timeout=seconds + omit + 60)
        except subprocess.TimeoutExpired:
            client.end()
            return None, "iperf3 client timed out"
        client.end()
        text = "\n".join(client.tail(400))
        try:
            data = json.loads(text[text.index("{"):])
            bps = data["end"]["sum_received"]["bits_per_second"]
        except (ValueError, KeyError) as e:
            return None, "iperf3 output not understood (%s): %s" % (e, text[-300:])
        return bps, None
    finally:
        server.end()


def cmd_validate(args):
    sc = load_scenario(args.scenario)
    check_preflight(args)
    if not shutil.which("iperf3"):
        say("iperf3 not found")
        return EXIT_SKIP if args.skip_code else EXIT_SETUP
    rows, failures = [], 0
    h = Harness(sc, args, verbose=not args.quiet)
    rc = 0
    try:
        with h as bed:
            bed.build()
            for label, src, dst in sc.link_classes():
                cfg_rtt = sc.rtt_ms(src, dst)
                cfg_rate = sc.path_rate_bps(src, dst)
                ping, perr = measure_ping(bed, src, dst, args.ping_count, args.ping_interval)
                bps, ierr = measure_iperf(bed, src, dst, args.seconds, args.streams, args.omit)
                rtt_ok = ping is not None and abs(ping[1] - cfg_rtt) <= max(
                    args.tolerance * cfg_rtt, args.rtt_slack_ms)
                rate_ok = bps is not None and abs(bps - cfg_rate) <= args.tolerance * cfg_rate
                ok = rtt_ok and rate_ok
                failures += 0 if ok else 1
                rows.append((label, src, dst, cfg_rtt, ping, cfg_rate, bps, ok, perr or ierr))
                print_row(rows[-1], first=len(rows) == 1)
    except SetupError as e:
        say("setup failed: %s" % e)
        rc = EXIT_SETUP
    except Interrupted as e:
        rc = 128 + e.signum
    if rc == 0:
        print("# %d link classes, %d failed (tolerance %.0f %%, RTT at least %.2f ms)" % (
            len(rows), failures, args.tolerance * 100, args.rtt_slack_ms))
        rc = 1 if failures else 0
    if h.left:
        rc = rc or EXIT_LEFT_BEHIND
    return rc


def print_row(row, first):
    label, src, dst, cfg_rtt, ping, cfg_rate, bps, ok, err = row
    if first:
        print("# %-28s %5s %9s %9s %9s %10s %10s %6s  %s" % (
            "link class", "peers", "rtt cfg", "rtt min", "rtt avg", "Mbit/s cfg",
            "Mbit/s got", "", ""))
        print("# %-28s %5s %9s %9s %9s %10s %10s" % ("", "", "(ms)", "(ms)", "(ms)", "", ""))
    print("  %-28s %5s %9.3f %9s %9s %10.1f %10s %6s  %s" % (
        label, "%d>%d" % (src, dst), cfg_rtt,
        "%.3f" % ping[0] if ping else "-", "%.3f" % ping[1] if ping else "-",
        cfg_rate / 1e6, "%.1f" % (bps / 1e6) if bps is not None else "-",
        "PASS" if ok else "FAIL", err or ""), flush=True)


# ---- main ------------------------------------------------------------------

def add_common(p):
    p.add_argument("--bin-dir", default=DEFAULT_BIN_DIR,
                   help="meridian-wanem, meridian-coordinator, ... (default build/bin)")
    p.add_argument("--mtu", type=int, default=scn.DEFAULT_MTU, help="TUN MTU (default 16000)")
    p.add_argument("--keep-logs", metavar="DIR", help="write logs and the emulator "
                   "config to DIR and keep them (default: a temporary folder, kept on failure)")
    p.add_argument("--quiet", action="store_true", help="fewer '# wan:' lines")
    p.add_argument("--skip-code", action="store_true",
                   help="exit 77 when the testbed cannot be built here (not root, no TUN, "
                        "no emulator)")


def main(argv=None):
    p = argparse.ArgumentParser(prog="wan.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    sub = p.add_subparsers(dest="cmd")

    r = sub.add_parser("run", help="run COMMAND once per peer across the scenario")
    r.add_argument("scenario")
    add_common(r)
    r.add_argument("--connections", type=int, metavar="K",
                   help="MERIDIAN_CONNECTIONS_PER_PEER for every peer")
    r.add_argument("--env", action="append", metavar="K=V", help="extra environment (repeatable)")
    r.add_argument("--timeout", type=float, default=600, help="seconds for the whole run (600)")
    r.add_argument("--fail-grace", type=float, default=30,
                   help="seconds the other peers get after one fails (30)")
    r.add_argument("command", nargs="*", help="after '--': the command each peer runs")

    v = sub.add_parser("validate", help="ping and iperf3 per link class")
    v.add_argument("scenario")
    add_common(v)
    v.add_argument("--tolerance", type=float, default=0.10, help="relative (0.10)")
    v.add_argument("--rtt-slack-ms", type=float, default=0.1,
                   help="RTTs pass within max(tolerance, this) (0.1 ms: the forwarding "
                        "hop's own latency matters only on sub-ms links)")
    v.add_argument("--seconds", type=int, default=5, help="iperf3 -t (5)")
    v.add_argument("--omit", type=int, default=2, help="iperf3 -O: slow start left out (2)")
    v.add_argument("--streams", type=int, default=4, help="iperf3 -P (4)")
    v.add_argument("--ping-count", type=int, default=10)
    v.add_argument("--ping-interval", type=float, default=0.2)

    c = sub.add_parser("cleanup", help="delete stale mdnw* namespaces")

    argv = list(sys.argv[1:] if argv is None else argv)
    command = []
    if "--" in argv:  # everything after the first '--' is the peers' command
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    args = p.parse_args(argv)
    if args.cmd == "run":
        args.command = list(args.command) + command
    elif command:
        p.error("'--' COMMAND is only for 'run'")
    if args.cmd == "run":
        return cmd_run(args)
    if args.cmd == "validate":
        return cmd_validate(args)
    if args.cmd == "cleanup":
        return cmd_cleanup(args)
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
