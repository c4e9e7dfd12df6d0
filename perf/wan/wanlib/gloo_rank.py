#!/usr/bin/python3
"""One rank of the Gloo baseline across the emulated WAN.

perf/baselines/gloo_allreduce.py starts all its ranks itself on 127.0.0.1;
across namespaces each rank must be started in its own namespace and meet
the others at rank 0's wan0 address.  This runs that file's worker() for one
rank, with torch.distributed.init_process_group pointed at --master and
Gloo on --ifname, so that the measurement loop, the output and the JSON are
exactly the baseline's.  Run with /usr/bin/python3 (the interpreter that has
torch), by `wan.py sweep --baselines`:

    ip netns exec NS /usr/bin/python3 gloo_rank.py --rank R --np N \\
        --master 10.231.0.1:29500 -b 1M -e 64M -f 4 -n 5 -w 2 --json F
"""
import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "perf", "baselines"))

import gloo_allreduce as gloo  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rank", type=int, required=True)
    p.add_argument("--np", type=int, required=True)
    p.add_argument("--master", required=True, help="HOST:PORT of rank 0's rendezvous")
    p.add_argument("--ifname", default="wan0", help="GLOO_SOCKET_IFNAME (wan0)")
    p.add_argument("-b", "--minbytes", type=gloo.parse_size, default=32 << 20)
    p.add_argument("-e", "--maxbytes", type=gloo.parse_size, default=32 << 20)
    p.add_argument("-f", "--stepfactor", type=int, default=1)
    p.add_argument("-i", "--stepbytes", type=gloo.parse_size, default=1 << 20)
    p.add_argument("-n", "--iters", type=int, default=20)
    p.add_argument("-w", "--warmup_iters", type=int, default=5)
    p.add_argument("-c", "--check", type=int, choices=(0, 1), default=1)
    p.add_argument("--json", help="rank 0 writes the rows as JSON to this file")
    args = p.parse_args()
    os.environ["GLOO_SOCKET_IFNAME"] = args.ifname
    import torch.distributed as dist
    original = dist.init_process_group

    def init_process_group(backend, init_method=None, **kw):
        return original(backend, init_method="tcp://" + args.master, **kw)

    dist.init_process_group = init_process_group
    gloo.worker(args.rank, args, 0)  # the port is ignored: --master has it
    return 0


if __name__ == "__main__":
    sys.exit(main())
