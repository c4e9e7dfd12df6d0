#!/usr/bin/python3
"""Gloo baseline for all_reduce_perf: torch.distributed all_reduce (float32
sum) on the nccl-tests size sweep, over TCP on loopback.

Starts its own N processes (torch.multiprocessing) that meet at
tcp://127.0.0.1:<free port>.  Prints the nccl-tests columns (time is the
slowest rank's mean per iteration; busbw = algbw * 2(n-1)/n) and can write
the rows as JSON.  Run with /usr/bin/python3 (the interpreter that has torch):

    /usr/bin/python3 perf/baselines/gloo_allreduce.py --np 4 -b 8 -e 64M -f 2

torch's all_reduce is in place, so unlike all_reduce_perf's out-of-place
column the buffer is both input and output.
"""
import argparse
import json
import os
import re
import socket
import sys
import time


def parse_size(text):
    m = re.fullmatch(r"(\d+)([kKmMgG]?)[bB]?", text)
    if not m:
        raise argparse.ArgumentTypeError("bad size '%s' (e.g. 8, 64K, 4M, 1G)" % text)
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]


def size_sweep(min_bytes, max_bytes, step_factor, step_bytes):
    sizes, size = [], min_bytes
    while size <= max_bytes:
        sizes.append(size)
        size = size * step_factor if step_factor > 1 else size + step_bytes
    return sizes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def format_time(us):
    return "%7.0f" % us if us >= 10000 else "%7.1f" % us if us >= 100 else "%7.2f" % us


def input_values(torch, rank, count):
    """Small integers: every sum is exact in float32, in any order."""
    i = torch.arange(count, dtype=torch.int64)
    return ((i * 7 + rank * 13) % 17 - 8).to(torch.float32)


def worker(rank, args, port):
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)  # the reduction runs in gloo's threads anyway
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port,
                            rank=rank, world_size=args.np)
    n = args.np
    rows = []
    if rank == 0:
        print("# Gloo all_reduce baseline (torch %s)" % torch.__version__)
        step = ("%d(factor)" % args.stepfactor if args.stepfactor > 1
                else "%d(bytes)" % args.stepbytes)
        print("# nRanks %d minBytes %d maxBytes %d step: %s warmup iters: %d iters: %d "
              "validation: %d\n#" % (n, args.minbytes, args.maxbytes, step,
                                     args.warmup_iters, args.iters, args.check))
        print("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s" % (
            "size", "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong"))
        print("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s" % (
            "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", ""), flush=True)
    for size in size_sweep(args.minbytes, args.maxbytes, args.stepfactor, args.stepbytes):
        count = size // 4
        data = input_values(torch, rank, count)
        for _ in range(args.warmup_iters):
            dist.all_reduce(data)
        dist.barrier()
        start = time.perf_counter()
        for _ in range(args.iters):
            dist.all_reduce(data)
        seconds = torch.tensor([(time.perf_counter() - start) / args.iters], dtype=torch.float64)
        dist.all_reduce(seconds, op=dist.ReduceOp.MAX)
        seconds = seconds.item()

        wrong = None
        if args.check:
            data = input_values(torch, rank, count)
            dist.all_reduce(data)
            expected = sum(input_values(torch, r, count) for r in range(n))
            bad = torch.tensor([int((data != expected).sum())], dtype=torch.int64)
            dist.all_reduce(bad)
            wrong = int(bad.item())
        algbw = count * 4 / 1e9 / seconds if seconds > 0 else 0.0
        busbw = algbw * 2 * (n - 1) / n
        rows.append({"size": count * 4, "count": count, "type": "float", "redop": "sum",
                     "time_us": seconds * 1e6, "algbw_gbps": algbw, "busbw_gbps": busbw,
                     "wrong": wrong})
        if rank == 0:
            print("%12d  %12d  %8s  %6s  %6d  %7s  %6.2f  %6.2f  %5s" % (
                count * 4, count, "float", "sum", -1, format_time(seconds * 1e6), algbw,
                busbw, "N/A" if wrong is None else wrong), flush=True)
    dist.barrier()
    dist.destroy_process_group()
    if rank == 0:
        total_wrong = sum(r["wrong"] or 0 for r in rows)
        avg = sum(r["busbw_gbps"] for r in rows) / len(rows) if rows else 0.0
        print("# Out of bounds values : %d %s" % (total_wrong, "FAILED" if total_wrong else "OK"))
        print("# Avg bus bandwidth    : %.4f \n#" % avg, flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"benchmark": "all_reduce", "implementation": "gloo",
                           "library_version": "torch " + torch.__version__, "world_size": n,
                           "results": rows, "out_of_bounds": total_wrong,
                           "avg_busbw_gbps": avg}, f, indent=2)
        if total_wrong:
            sys.exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--np", "-N", type=int, default=2, help="number of ranks (default 2)")
    p.add_argument("-b", "--minbytes", type=parse_size, default=32 << 20)
    p.add_argument("-e", "--maxbytes", type=parse_size, default=32 << 20)
    p.add_argument("-f", "--stepfactor", type=int, default=1)
    p.add_argument("-i", "--stepbytes", type=parse_size, default=1 << 20)
    p.add_argument("-n", "--iters", type=int, default=20)
    p.add_argument("-w", "--warmup_iters", type=int, default=5)
    p.add_argument("-c", "--check", type=int, choices=(0, 1), default=1)
    p.add_argument("--json", help="write the rows as JSON to this file")
    args = p.parse_args()
    if (args.np < 1 or args.iters < 1 or args.minbytes > args.maxbytes
            or (args.stepfactor > 1 and args.minbytes == 0)
            or (args.stepfactor <= 1 and args.stepbytes == 0)):
        p.error("inconsistent arguments")

    import torch.multiprocessing as mp
    # spawn raises if a worker exited non-zero (rank 0 does on wrong results).
    try:
        mp.spawn(worker, args=(args, free_port()), nprocs=args.np, join=True)
    except mp.ProcessRaisedException as e:
        print(e, file=sys.stderr)
        return 2
    except mp.ProcessExitedException as e:
        return 1 if e.exit_code == 1 else 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
