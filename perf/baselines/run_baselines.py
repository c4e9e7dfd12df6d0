#!/usr/bin/python3
"""Runs Meridian's all_reduce_perf, the Gloo baseline and the Open MPI
baseline on the same float32-sum size sweep and writes one comparison table
(markdown) to stdout and to perf/out/.

    /usr/bin/python3 perf/baselines/run_baselines.py -n 2,4 -b 8 -e 64M -f 2

Meridian runs under build/bin/meridian-run with -z 1 (blocking, as the
baselines are) and reports its out-of-place column; it is skipped with a
note when not built.  MPI runs over TCP on loopback without shared memory.
Each (implementation, ranks) run is repeated --repeat times and combined per
size by --stat (median, or best: the least disturbed run).  The machine is loopback-only: numbers measure the
software path, not a network.
"""
import argparse
import datetime
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PYTHON = "/usr/bin/python3"  # the interpreter that has torch
# TCP over loopback, no shared memory: ob1 with only the tcp and self
# transports, tcp on lo (excluded by default).  Unbound and yielding when idle,
# as the other two block rather than spin: on a shared 2-core box a spinning
# rank starves the ranks it waits for.
MPI_FLAGS = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
             "--mca", "pml", "ob1", "--mca", "btl", "tcp,self",
             "--mca", "btl_tcp_if_include", "lo", "--mca", "mpi_yield_when_idle", "1"]
IMPLS = ("meridian", "gloo", "mpi")


def ranks_list(text):
    return [int(x) for x in text.split(",") if x]


def sweep_args(size_args, iters, warmup):
    return size_args + ["-n", str(iters), "-w", str(warmup)]


def commands(impl, nranks, args, size_args, iters, warmup, json_path):
    """The command line for one run, or (None, why not)."""
    bin_dir = os.path.join(args.build_dir, "bin")
    sweep = sweep_args(size_args, iters, warmup) + ["--json", json_path]
    if impl == "meridian":
        run = os.path.join(bin_dir, "meridian-run")
        perf = os.path.join(bin_dir, "all_reduce_perf")
        missing = [p for p in (run, perf) if not os.access(p, os.X_OK)]
        if missing:
            return None, "not built (%s missing)" % ", ".join(missing)
        return ([run, "-n", str(nranks)] + shlex.split(args.meridian_run_args) +
                ["--", perf, "-z", "1", "-c", "1"] + sweep), None
    if impl == "gloo":
        return [PYTHON, os.path.join(HERE, "gloo_allreduce.py"), "--np", str(nranks)] + sweep, None
    bench = os.path.join(bin_dir, "mpi_allreduce_bench")
    if not os.access(bench, os.X_OK):
        return None, "not built (%s missing)" % bench
    if not shutil.which("mpirun"):
        return None, "mpirun not found"
    return ["mpirun"] + MPI_FLAGS + ["-np", str(nranks), bench] + sweep, None


def run_one(cmd, log_path, timeout):
    """Runs cmd in its own process group; returns (ok, note)."""
    with open(log_path, "w") as log:
        log.write("$ %s\n" % " ".join(shlex.quote(c) for c in cmd))
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return False, "timed out after %ds" % timeout
    return rc == 0, "" if rc == 0 else "exit status %d (see %s)" % (rc, log_path)


def load_rows(impl, json_path):
    """{size: (time_us, busbw, wrong)} from a run's JSON."""
    with open(json_path) as f:
        data = json.load(f)
    rows = {}
    for r in data["results"]:
        m = r["out_of_place"] if impl == "meridian" else r
        rows[r["size"]] = (m["time_us"], m["busbw_gbps"], m["wrong"] or 0)
    return rows


def measure(impl, nranks, args, size_args, iters, warmup, tag):
    """(rows combined over args.repeat runs or None, note or None).  A run
    that fails after rank 0 wrote its JSON still counts, with a note."""
    runs, notes = [], []
    for rep in range(args.repeat):
        base = os.path.join(args.run_dir, "%s-%s-n%d-%d" % (tag, impl, nranks, rep))
        cmd, why = commands(impl, nranks, args, size_args, iters, warmup, base + ".json")
        if cmd is None:
            return None, why
        if args.nice:
            cmd = ["nice", "-n", str(args.nice)] + cmd
        args.commands.append(" ".join(shlex.quote(c) for c in cmd))
        print("# running: %s" % args.commands[-1], file=sys.stderr, flush=True)
        ok, note = run_one(cmd, base + ".log", args.timeout)
        if not ok:
            notes.append("run %d: %s" % (rep, note))
        try:
            runs.append(load_rows(impl, base + ".json"))
        except (OSError, ValueError, KeyError) as e:
            notes.append("run %d: no usable JSON (%s)" % (rep, e))
    if not runs:
        return None, "; ".join(notes) or "no JSON written"
    rows = {}
    for size in runs[0]:
        samples = [r[size] for r in runs if size in r]
        if args.stat == "best":  # the fastest run: least disturbed on a shared box
            time_us, busbw = min(s[0] for s in samples), max(s[1] for s in samples)
        else:
            time_us = statistics.median(s[0] for s in samples)
            busbw = statistics.median(s[1] for s in samples)
        rows[size] = (time_us, busbw, max(s[2] for s in samples))
    return rows, "; ".join(notes) or None


def human(size):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return "%d %s" % (size >> shift, unit)
    return "%d B" % size


def gbps(v):
    return "%.4f" % v if v < 0.01 else "%.2f" % v


def cell(rows, size, index, fmt):
    if rows is None or size not in rows:
        return "–"
    text = fmt(rows[size][index])
    return text + " (wrong!)" if rows[size][2] else text


def ratio(a_rows, b_rows, size):
    if not a_rows or not b_rows or size not in a_rows or size not in b_rows:
        return "–"
    b = b_rows[size][1]
    return "%.2fx" % (a_rows[size][1] / b) if b > 0 else "–"


def load_average():
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--nranks", type=ranks_list, default=[2, 4],
                   help="comma-separated world sizes (default 2,4)")
    p.add_argument("-b", "--minbytes", default="8")
    p.add_argument("-e", "--maxbytes", default="64M")
    p.add_argument("-f", "--stepfactor", default="2")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--latency-iters", type=int, default=1000,
                   help="iterations of the 8-byte latency run at 2 ranks (0: skip)")
    p.add_argument("--repeat", type=int, default=1, help="runs per point")
    p.add_argument("--stat", choices=("median", "best"), default="median",
                   help="how repeated runs combine per size (best: least time, most busbw)")
    p.add_argument("--only", default=",".join(IMPLS), help="subset of meridian,gloo,mpi")
    p.add_argument("--nice", type=int, default=0,
                   help="run every benchmark under nice -n NICE (negative, as root: "
                        "less disturbed by other work on a shared machine)")
    p.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    p.add_argument("--meridian-run-args", default="", help="extra meridian-run arguments")
    p.add_argument("--timeout", type=int, default=600, help="seconds per run")
    p.add_argument("--out", help="markdown file (default perf/out/baselines-<time>.md)")
    args = p.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)
    impls = [i for i in IMPLS if i in args.only.split(",")]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = os.path.join(REPO, "perf", "out")
    args.run_dir = os.path.join(out_dir, "baselines-" + stamp)
    os.makedirs(args.run_dir, exist_ok=True)
    args.out = args.out or os.path.join(out_dir, "baselines-%s.md" % stamp)
    args.commands = []
    size_args = ["-b", args.minbytes, "-e", args.maxbytes, "-f", args.stepfactor]
    load_before = load_average()

    results, notes = {}, []
    for n in args.nranks:
        for impl in impls:
            rows, why = measure(impl, n, args, size_args, args.iters, args.warmup, "sweep")
            results[(impl, n)] = rows
            if why:
                notes.append("%s at %d ranks: %s" % (impl, n, why))
    latency = {}
    if args.latency_iters > 0:
        lat_sizes = ["-b", "8", "-e", "8", "-f", "2"]
        for impl in impls:
            rows, why = measure(impl, 2, args, lat_sizes, args.latency_iters,
                                max(1, args.latency_iters // 10), "latency")
            latency[impl] = rows
            if why:
                notes.append("%s 8-byte latency: %s" % (impl, why))

    names = {"meridian": "Meridian", "gloo": "Gloo", "mpi": "MPI"}
    md = ["# All-reduce baselines: float32 sum, loopback TCP", ""]
    md.append("%s on %s, %d cores; load average %s before, %s after." % (
        datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), socket.gethostname(),
        os.cpu_count() or 0, load_before, load_average()))
    md.append("Sweep `%s`, %d iterations after %d warmup, %s of %d run(s). busbw = "
              "algbw * 2(n-1)/n in GB/s (1e9 B/s); Meridian: all_reduce_perf -z 1, "
              "out-of-place column; Gloo: torch.distributed all_reduce (in place); "
              "MPI: MPI_Allreduce, TCP btl on lo." % (
                  " ".join(size_args), args.iters, args.warmup, args.stat, args.repeat))
    if args.nice:
        md.append("Every run under `nice -n %d`." % args.nice)
    md.append("")
    for n in args.nranks:
        m, g, x = (results.get((i, n)) for i in IMPLS)
        md.append("## %d ranks" % n)
        md.append("")
        md.append("| size | Meridian busbw | Gloo busbw | MPI busbw | Meridian/Gloo | Meridian/MPI |")
        md.append("|---:|---:|---:|---:|---:|---:|")
        sizes = sorted(set().union(*(r.keys() for r in (m, g, x) if r)))
        for size in sizes:
            md.append("| %s | %s | %s | %s | %s | %s |" % (
                human(size), cell(m, size, 1, gbps), cell(g, size, 1, gbps),
                cell(x, size, 1, gbps), ratio(m, g, size), ratio(m, x, size)))
        md.append("")
    if latency:
        md.append("## 8-byte all-reduce latency, 2 ranks (%d iterations)" % args.latency_iters)
        md.append("")
        md.append("| | " + " | ".join(names[i] for i in impls) + " |")
        md.append("|---|" + "---:|" * len(impls))
        md.append("| time (us) | " + " | ".join(
            cell(latency[i], 8, 0, lambda v: "%.1f" % v) for i in impls) + " |")
        md.append("")
    if notes:
        md.append("Notes:")
        md.extend("- " + n for n in notes)
        md.append("")
    md.append("Commands (logs and JSON in `%s`):" % os.path.relpath(args.run_dir, REPO))
    md.append("")
    md.extend("    " + c for c in args.commands)
    text = "\n".join(md) + "\n"
    sys.stdout.write(text)
    with open(args.out, "w") as f:
        f.write(text)
    print("# written to %s" % args.out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
