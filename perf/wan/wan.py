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
                                  mtu=getattr(args, "mtu", scn.DEFAULT_MTU), verbose=verbose,
                                  sysctls=getattr(args, "sysctl", None) or (),
                                  wanem_args=getattr(args, "wanem_arg", None) or ())
        self.old_handlers = {}
        self.failed = False
        self.left = []

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
        except Exception as e:  # report, never mask the run's own outcome
            left = ["teardown failed (%s: %s); run 'wan.py cleanup'" % (type(e).__name__, e)]
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
                       bed.ns_exec(dst) + ["iperf3", "-s", "-1", "--forceflush", "-B", scn.address(dst),
                                           "-p", str(port)],
                       log=bed.log_path("iperf3-server-%d-%d" % (src, dst)), merge=True)
    try:
        end = time.monotonic() + 10
        while True:
            r = netenv.run_cmd(bed.ns_exec(dst) + ["ss", "-Hltn", "sport = :%d" % port],
                               check=False)
            if r.stdout.strip():
                break
            if time.monotonic() > end or server.poll() is not None:
                return None, "iperf3 server did not start: %s" % " / ".join(server.tail(3))
            time.sleep(0.1)
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
        with open(bed.log_path("iperf3-client-%d-%d" % (src, dst))) as f:
            text = f.read()
        try:
            data = json.loads(text[text.index("{"):text.rindex("}") + 1])
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
                if args.classes and not any(c in label for c in args.classes.split(",")):
                    continue
                cfg_rtt = sc.ping_rtt_ms(src, dst)
                cfg_rate = sc.path_rate_bps(src, dst)
                ping, perr = measure_ping(bed, src, dst, args.ping_count, args.ping_interval)
                streams = args.streams if args.streams != "auto" else (
                    8 if cfg_rtt >= 150 else 4)
                bps, ierr = measure_iperf(bed, src, dst, args.seconds, int(streams), args.omit)
                bound = args.tolerance * cfg_rtt
                why = []
                if ping is None:
                    why.append("no rtt")
                else:
                    if abs(ping[0] - cfg_rtt) > max(bound, args.rtt_slack_ms):
                        why.append("rtt min")
                    if abs(ping[1] - cfg_rtt) > max(bound, args.rtt_avg_slack_ms):
                        why.append("rtt avg")
                if bps is None:
                    why.append("no rate")
                elif abs(bps - cfg_rate) > args.tolerance * cfg_rate:
                    why.append("rate")
                ok = not why
                failures += 0 if ok else 1
                err = ", ".join(x for x in (", ".join(why), perr, ierr) if x)
                rows.append((label, src, dst, cfg_rtt, ping, cfg_rate, bps, ok, err))
                print_row(rows[-1], first=len(rows) == 1)
    except SetupError as e:
        say("setup failed: %s" % e)
        rc = EXIT_SETUP
    except Interrupted as e:
        rc = 128 + e.signum
    if rc == 0:
        print("# %d link classes, %d failed (tolerance %.0f %%; RTT slack %.2f ms on the "
              "minimum, %.2f ms on the average)" % (
                  len(rows), failures, args.tolerance * 100, args.rtt_slack_ms,
                  args.rtt_avg_slack_ms))
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


# ---- capacity --------------------------------------------------------------

def cmd_capacity(args):
    """Two peers on one link (rtt --rtt-ms): the highest configured rate at
    which iperf3 still gets within the tolerance of it."""
    check_preflight(args)
    if not shutil.which("iperf3"):
        say("iperf3 not found")
        return EXIT_SETUP
    rates = [float(x) for x in args.rates.split(",") if x]
    best = None
    for rate in rates:
        data = {"name": "capacity-%g" % rate, "peers": ["a", "a"], "coordinator_region": "a",
                "intra_region": {"rtt_ms": args.rtt_ms, "rate_mbit": rate}, "trunks": []}
        sc = scn.Scenario(data, "capacity")
        h = Harness(sc, args, verbose=not args.quiet)
        bps, err = None, None
        try:
            with h as bed:
                bed.build()
                bps, err = measure_iperf(bed, 0, 1, args.seconds, args.streams, args.omit)
        except SetupError as e:
            err = str(e)
        except Interrupted as e:
            return 128 + e.signum
        ok = bps is not None and bps >= (1 - args.tolerance) * rate * 1e6
        print("  %10.0f Mbit/s configured  %10s Mbit/s measured  %s %s" % (
            rate, "%.1f" % (bps / 1e6) if bps is not None else "-", "ok" if ok else "SHORT",
            err or ""), flush=True)
        if getattr(h, "left", None):
            return EXIT_LEFT_BEHIND
        if not ok:
            break
        best = rate
    if best is None:
        print("# the emulator did not sustain %g Mbit/s" % rates[0])
        return 1
    print("# highest sustained rate: %g Mbit/s (rtt %.2f ms, mtu %d, %d streams, within %.0f %%)"
          % (best, args.rtt_ms, args.mtu, args.streams, args.tolerance * 100))
    return 0


# ---- sweep -----------------------------------------------------------------

GLOO_PYTHON = "/usr/bin/python3"   # the interpreter that has torch
GLOO_PORT = 29500
MPI_FLAGS = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
             "--mca", "pml", "ob1", "--mca", "btl", "tcp,self",
             "--mca", "btl_tcp_if_include", "wan0", "--mca", "mpi_yield_when_idle", "1"]


def parse_connections(text):
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if item == "auto":
            out.append(None)
        else:
            k = int(item)
            if k < 1:
                raise argparse.ArgumentTypeError("connections must be >= 1 or 'auto'")
            out.append(k)
    if not out:
        raise argparse.ArgumentTypeError("no connection counts")
    return out


def parse_sizes(text):
    """MIN:MAX[:FACTOR] -> all_reduce_perf's -b MIN -e MAX -f FACTOR."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError("--sizes wants MIN:MAX[:FACTOR], e.g. 1M:64M:4")
    try:
        lo, hi = scn.parse_size(parts[0]), scn.parse_size(parts[1])
        factor = int(parts[2]) if len(parts) == 3 else 2
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    if lo < 4 or hi < lo or factor < 2:
        raise argparse.ArgumentTypeError("--sizes: need 4 <= MIN <= MAX and FACTOR >= 2")
    return ["-b", parts[0], "-e", parts[1], "-f", str(factor)]


def load_rows(path, column=None):
    """[{size, time_us, algbw_gbps, busbw_gbps, wrong}] from a benchmark's
    JSON (all_reduce_perf: the `column` measurement of each row), plus the
    file's connections_per_peer (None when absent)."""
    with open(path) as f:
        data = json.load(f)
    rows = []
    for r in data["results"]:
        m = r[column] if column else r
        rows.append({"size": r["size"], "time_us": m["time_us"], "algbw_gbps": m["algbw_gbps"],
                     "busbw_gbps": m["busbw_gbps"], "wrong": m.get("wrong")})
    return rows, data.get("connections_per_peer")


def quoted(argv):
    return " ".join(shlex.quote(a) for a in argv)


def sweep_meridian(bed, args, size_args, k, deadline, runs):
    label = "auto" if k is None else str(k)
    path = os.path.join(bed.work_dir, "meridian-k%s.json" % label)
    argv = [os.path.join(bed.bin_dir, "all_reduce_perf")] + size_args + [
        "-n", str(args.iters), "-w", str(args.warmup), "-z", "1", "-c", "1", "--json", path]
    say("meridian, connections per peer %s: %s" % (label, quoted(argv)))
    codes, timed_out = bed.run_peers(lambda i: argv, lambda i: bed.peer_env(i, k, args.extra_env),
                                     min(deadline, time.monotonic() + args.run_timeout),
                                     tag="meridian-k%s-rank" % label, echo_rank0=args.verbose)
    run = {"impl": "meridian", "connections": k, "command": quoted(argv),
           "exit_codes": codes, "timed_out": timed_out}
    try:
        run["results"], run["connections_per_peer"] = load_rows(path, "out_of_place")
    except (OSError, ValueError, KeyError) as e:
        run["results"], run["note"] = [], "no usable JSON (%s)" % e
    runs.append(run)
    report_run(run)


def sweep_gloo(bed, args, size_args, deadline, runs):
    n = len(bed.scenario.peers)
    path = os.path.join(bed.work_dir, "gloo.json")
    gloo_rank = os.path.join(HERE, "wanlib", "gloo_rank.py")
    master = "%s:%d" % (scn.address(0), GLOO_PORT)

    def argv(i):
        return [GLOO_PYTHON, gloo_rank, "--rank", str(i), "--np", str(n), "--master", master] + \
            size_args + ["-n", str(args.iters), "-w", str(args.warmup), "-c", "1", "--json", path]

    run = {"impl": "gloo", "connections": None, "command": quoted(argv(0))}
    if not os.access(GLOO_PYTHON, os.X_OK):
        run.update(results=[], note="%s not found" % GLOO_PYTHON)
    else:
        say("gloo: %s (and ranks 1..%d)" % (run["command"], n - 1))

        def env(i):
            e = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
            e["GLOO_SOCKET_IFNAME"] = "wan0"
            e["OMP_NUM_THREADS"] = "1"
            return e

        codes, timed_out = bed.run_peers(argv, env, min(deadline, time.monotonic() +
                                                        args.run_timeout),
                                         tag="gloo-rank", echo_rank0=args.verbose)
        run.update(exit_codes=codes, timed_out=timed_out)
        try:
            run["results"], _ = load_rows(path)
        except (OSError, ValueError, KeyError) as e:
            run["results"], run["note"] = [], "no usable JSON (%s)" % e
    runs.append(run)
    report_run(run)


def sweep_mpi(bed, args, size_args, deadline, runs):
    """mpirun in the root namespace; each rank enters its peer's namespace
    through a wrapper (ip netns exec <prefix>$OMPI_COMM_WORLD_RANK) and talks
    to the others over the TCP BTL on wan0."""
    n = len(bed.scenario.peers)
    path = os.path.join(bed.work_dir, "mpi.json")
    bench = os.path.join(bed.bin_dir, "mpi_allreduce_bench")
    prefix = bed.namespaces[0][:-1]          # mdnw<pid>n
    wrapper = [sys.executable, os.path.join(HERE, "wanlib", "mpi_rank.py"), prefix, "--"]
    argv = ["mpirun"] + MPI_FLAGS + ["-np", str(n)] + wrapper + [bench] + size_args + [
        "-n", str(args.iters), "-w", str(args.warmup), "--json", path]
    run = {"impl": "mpi", "connections": None, "command": quoted(argv)}
    if not shutil.which("mpirun"):
        run.update(results=[], note="mpirun not found")
    elif not os.access(bench, os.X_OK):
        run.update(results=[], note="%s not built" % bench)
    else:
        say("mpi: %s" % run["command"])
        p = bed.start("mpirun", argv, log=bed.log_path("mpirun"),
                      echo_out=sys.stdout if args.verbose else None,
                      echo_err=sys.stderr if args.verbose else None)
        end = min(deadline, time.monotonic() + args.run_timeout)
        while p.poll() is None and time.monotonic() < end:
            time.sleep(0.1)
        timed_out = p.poll() is None
        code = p.end()
        run.update(exit_codes=[code], timed_out=timed_out)
        try:
            run["results"], _ = load_rows(path)
        except (OSError, ValueError, KeyError) as e:
            run["results"] = []
            run["note"] = "no usable JSON (%s); exit %s; last lines: %s" % (
                e, code, " | ".join(p.tail(6)))
    runs.append(run)
    report_run(run)


def report_run(run):
    k = run.get("connections")
    what = run["impl"] + ("" if run["impl"] != "meridian" else
                          " K=%s" % ("auto(%s)" % run.get("connections_per_peer")
                                     if k is None else k))
    if run.get("note"):
        say("%s: %s" % (what, run["note"]))
    for r in run["results"]:
        print("%-16s %12d bytes  busbw %8.4f GB/s  time %10.1f us  wrong %s" % (
            what, r["size"], r["busbw_gbps"], r["time_us"], r["wrong"]), flush=True)


def cmd_sweep(args):
    sc = load_scenario(args.scenario)
    check_preflight(args, ("meridian-wanem", "meridian-coordinator", "all_reduce_perf"))
    args.extra_env = parse_env(args.env)
    size_args = args.sizes
    deadline = time.monotonic() + args.timeout
    runs = []
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_before = os.getloadavg()
    h = Harness(sc, args, verbose=not args.quiet)
    rc = 0
    try:
        with h as bed:
            bed.build()
            impls = args.only.split(",") if args.only else ["meridian"] + (
                ["gloo", "mpi"] if args.baselines else [])
            if "meridian" in impls:
                bed.start_coordinator()
                for k in args.connections:
                    sweep_meridian(bed, args, size_args, k, deadline, runs)
                bed.stop_coordinator()
            if "gloo" in impls:
                sweep_gloo(bed, args, size_args, deadline, runs)
            if "mpi" in impls:
                sweep_mpi(bed, args, size_args, deadline, runs)
            h.failed = any(not r["results"] or any(r.get("exit_codes", [0])) for r in runs)
    except SetupError as e:
        say("setup failed: %s" % e)
        rc = EXIT_SETUP
    except Interrupted as e:
        rc = 128 + e.signum
    out = {
        "scenario": sc.name, "scenario_file": os.path.relpath(sc.source, REPO),
        "description": sc.description, "peers": sc.peers, "world_size": len(sc.peers),
        "links": sc.to_json()["links"], "mtu": args.mtu,
        "started": started, "host": socket.gethostname(), "cpus": os.cpu_count(),
        "load_before": list(load_before), "load_after": list(os.getloadavg()),
        "options": {"sizes": size_args, "iters": args.iters, "warmup": args.warmup,
                    "connections": args.connections, "baselines": args.baselines,
                    "env": args.extra_env},
        "measurement": "busbw = algbw * 2(n-1)/n in GB/s (1e9 B/s); Meridian: all_reduce_perf "
                       "-z 1 -c 1, out-of-place column; Gloo: torch.distributed all_reduce "
                       "(in place), perf/baselines/gloo_allreduce.py; MPI: MPI_Allreduce, "
                       "TCP btl on wan0, perf/baselines/mpi_allreduce_bench.c",
        "runs": runs,
        "emulator_counters": h.bed.counters,
        "left_behind": getattr(h, "left", []),
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    say("results written to %s" % args.out)
    failed = [r for r in runs if not r["results"] or any(c for c in r.get("exit_codes", [0]))]
    if rc == 0 and failed:
        say("runs without clean results: %s" % ", ".join(
            "%s/%s" % (r["impl"], r["connections"]) for r in failed))
        rc = 1
    if getattr(h, "left", None):
        rc = rc or EXIT_LEFT_BEHIND
    return rc


# ---- plot ------------------------------------------------------------------

def human(size):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return "%d %s" % (size >> shift, unit)
    return "%d B" % size


def _save_busbw_plot(plt, fig, ax, xlabel, title, path):
    """The part both plots share: labels, grid, legend, PNG.  Returns path."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("busbw (GB/s)")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def cmd_plot(args):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("wan.py plot: matplotlib is missing (run with /usr/bin/python3, which has "
                 "Debian's python3-matplotlib)")
    with open(args.results) as f:
        data = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    name = data.get("scenario", "scenario")
    runs = [r for r in data["runs"] if r.get("results")]
    ours = [r for r in runs if r["impl"] == "meridian"]
    fixed = sorted((r for r in ours if r["connections"] is not None),
                   key=lambda r: r["connections"])
    auto = [r for r in ours if r["connections"] is None]
    baselines = [r for r in runs if r["impl"] != "meridian"]
    names = {"gloo": "Gloo (torch)", "mpi": "Open MPI (TCP)"}
    sizes = sorted({row["size"] for r in runs for row in r["results"]})
    title = "%s: %s" % (name, data.get("description") or "%d peers" % data.get("world_size", 0))
    written = []

    def busbw(run, size):
        for row in run["results"]:
            if row["size"] == size:
                return row["busbw_gbps"]
        return None

    # busbw vs connections per peer, one line per size; baselines dashed.
    fig, ax = plt.subplots(figsize=(8, 5))
    cmap = plt.get_cmap("viridis")
    for n, size in enumerate(sizes):
        color = cmap(n / max(1, len(sizes) - 1))
        pts = [(r["connections"], busbw(r, size)) for r in fixed if busbw(r, size) is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=color,
                    label="Meridian %s" % human(size))
        for r in auto:
            v, k = busbw(r, size), r.get("connections_per_peer")
            if v is not None and k:
                ax.plot([k], [v], "*", color=color, markersize=14,
                        label="Meridian auto K=%d, %s" % (k, human(size)) if n == len(sizes) - 1
                        else None)
    styles = {"gloo": "--", "mpi": ":"}
    largest = sizes[-1] if sizes else None
    for r in baselines:
        v = busbw(r, largest) if largest else None
        if v is not None:
            ax.axhline(v, linestyle=styles.get(r["impl"], "-."), color="grey" if
                       r["impl"] == "gloo" else "black",
                       label="%s %s" % (names.get(r["impl"], r["impl"]), human(largest)))
    ax.set_xscale("log", base=2)
    if fixed:
        ax.set_xticks([r["connections"] for r in fixed])
        ax.set_xticklabels([str(r["connections"]) for r in fixed])
    written.append(_save_busbw_plot(
        plt, fig, ax, "TCP connections per peer pair (MERIDIAN_CONNECTIONS_PER_PEER)",
        title, os.path.join(args.out, "%s-busbw-vs-connections.png" % name)))

    # busbw vs message size, one line per K; baselines thick dashed.
    fig, ax = plt.subplots(figsize=(8, 5))
    for n, r in enumerate(fixed + auto):
        k = r["connections"]
        label = "Meridian K=%d" % k if k is not None else \
            "Meridian auto (K=%s)" % r.get("connections_per_peer")
        xs = [row["size"] for row in r["results"]]
        ax.plot(xs, [row["busbw_gbps"] for row in r["results"]],
                "*-" if k is None else "o-", label=label,
                color=cmap(n / max(1, len(fixed) + len(auto) - 1)))
    for r in baselines:
        xs = [row["size"] for row in r["results"]]
        ax.plot(xs, [row["busbw_gbps"] for row in r["results"]], styles.get(r["impl"], "-."),
                linewidth=2.5, color="grey" if r["impl"] == "gloo" else "black",
                label=names.get(r["impl"], r["impl"]))
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes)
    ax.set_xticklabels([human(s) for s in sizes], rotation=30, fontsize=7)
    written.append(_save_busbw_plot(
        plt, fig, ax, "message size (float32 sum)", title,
        os.path.join(args.out, "%s-busbw-vs-size.png" % name)))
    for p in written:
        print(p)
    return 0


# ---- main ------------------------------------------------------------------

def add_common(p):
    p.add_argument("--bin-dir", default=DEFAULT_BIN_DIR,
                   help="meridian-wanem, meridian-coordinator, ... (default build/bin)")
    p.add_argument("--mtu", type=int, default=scn.DEFAULT_MTU, help="TUN MTU (default 16000)")
    p.add_argument("--keep-logs", metavar="DIR", help="write logs and the emulator "
                   "config to DIR and keep them (default: a temporary folder, kept on failure)")
    p.add_argument("--quiet", action="store_true", help="fewer '# wan:' lines")
    p.add_argument("--sysctl", action="append", metavar="K=V",
                   help="sysctl set in every peer namespace, e.g. "
                        "'net.ipv4.tcp_wmem=4096 16384 33554432' (repeatable; default: "
                        "the namespaces inherit the host's TCP settings)")
    p.add_argument("--wanem-arg", action="append", metavar="ARG",
                   help="extra meridian-wanem argument, e.g. --wanem-arg=--spin-us=100 "
                        "(repeatable)")
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
    v.add_argument("--rtt-slack-ms", type=float, default=0.25,
                   help="the minimum RTT passes within max(tolerance, this) (0.25 ms: the "
                        "forwarding path's own latency, which matters only on sub-ms links)")
    v.add_argument("--rtt-avg-slack-ms", type=float, default=0.5,
                   help="the average RTT passes within max(tolerance, this) (0.5 ms: "
                        "wake-up jitter of a shared VM)")
    v.add_argument("--classes", help="only link classes whose label contains one of these "
                   "comma-separated strings (e.g. 'trunk,access')")
    v.add_argument("--seconds", type=int, default=5, help="iperf3 -t (5)")
    v.add_argument("--omit", type=int, default=2, help="iperf3 -O: slow start left out (2)")
    v.add_argument("--streams", default="auto", help="iperf3 -P (auto: 4, 8 on paths of "
                   "150 ms RTT and more, where 4 TCP flows recover from the queue's drops "
                   "too slowly to fill the link)")
    v.add_argument("--ping-count", type=int, default=10)
    v.add_argument("--ping-interval", type=float, default=0.2)

    cp = sub.add_parser("capacity", help="highest rate the emulator sustains here")
    add_common(cp)
    cp.add_argument("--rates", default="500,1000,2000,4000,8000,16000",
                    help="Mbit/s to try in order, stopping at the first short one")
    cp.add_argument("--rtt-ms", type=float, default=1.0, help="RTT of the test link (1 ms)")
    cp.add_argument("--tolerance", type=float, default=0.10)
    cp.add_argument("--seconds", type=int, default=5)
    cp.add_argument("--omit", type=int, default=1)
    cp.add_argument("--streams", type=int, default=4)

    w = sub.add_parser("sweep", help="all_reduce_perf busbw per connections and size "
                       "(and the baselines) across the scenario")
    w.add_argument("scenario")
    add_common(w)
    w.add_argument("--out", required=True, help="results JSON")
    w.add_argument("--connections", type=parse_connections,
                   default=parse_connections("1,2,4,8,16,32,auto"),
                   help="comma-separated K (MERIDIAN_CONNECTIONS_PER_PEER); 'auto': unset, "
                        "the library chooses (default 1,2,4,8,16,32,auto)")
    w.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1M:64M:4"),
                   help="MIN:MAX[:FACTOR] as all_reduce_perf -b/-e/-f (default 1M:64M:4)")
    w.add_argument("--iters", type=int, default=5, help="timed iterations per size (5)")
    w.add_argument("--warmup", type=int, default=2, help="warmup iterations per size (2)")
    w.add_argument("--baselines", action="store_true",
                   help="also Gloo (torch, /usr/bin/python3) and Open MPI over TCP")
    w.add_argument("--only", help="comma-separated subset of meridian,gloo,mpi "
                   "(overrides --baselines)")
    w.add_argument("--env", action="append", metavar="K=V", help="extra environment for "
                   "the Meridian peers (repeatable)")
    w.add_argument("--run-timeout", type=float, default=900, help="seconds per run (900)")
    w.add_argument("--timeout", type=float, default=7200, help="seconds for the sweep (7200)")
    w.add_argument("--verbose", action="store_true", help="echo rank 0's output")

    pl = sub.add_parser("plot", help="PNGs of a sweep's results")
    pl.add_argument("results")
    pl.add_argument("--out", required=True, help="folder for the PNGs")

    sub.add_parser("cleanup", help="delete stale mdnw* namespaces")

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
    if args.cmd == "sweep":
        return cmd_sweep(args)
    if args.cmd == "capacity":
        return cmd_capacity(args)
    if args.cmd == "plot":
        return cmd_plot(args)
    if args.cmd == "cleanup":
        return cmd_cleanup(args)
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
