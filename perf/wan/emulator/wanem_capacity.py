#!/usr/bin/env python3
"""Highest rate meridian-wanem sustains on this machine.

For each rate R: two network namespaces, one link per direction at rate R
with a 35 ms one-way delay (70 ms RTT) and a queue of one bandwidth-delay
product, TCP buffers up to 4 x BDP in both namespaces, iperf3 -P 4 for
--seconds seconds.  Prints, per rate, the throughput the receiver saw, the
emulator's CPU time (user + system, its own process) per second of run, the
whole machine's busy fraction, and the emulator's and the TUN devices'
drops.  A rate passes when the throughput is at least 90 % of R.

  wanem_capacity.py --bin-dir build/bin [--rates 500M,1G,2G,4G]
                    [--mtu 16000] [--seconds 10] [--streams 4] [--spin-us 0]

Needs root, /dev/net/tun, iproute2 and iperf3.  Exit status: 0 done,
2 usage or setup error, 77 skipped (not root, no TUN, no iperf3).  The
namespaces are deleted at the end whatever happens.  Standard library only.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
DELAY_US = 35000


def run(cmd, check=True, timeout=60):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r


def parse_rate(text):
    scale = {"k": 1e3, "m": 1e6, "g": 1e9}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale != 1 else text) * scale)


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v), idle


def tun_tx_dropped(ns):
    r = run(["ip", "-n", ns, "-s", "-j", "link", "show", "wan0"], check=False)
    try:
        return json.loads(r.stdout)[0]["stats64"]["tx"]["dropped"]
    except (ValueError, KeyError, IndexError):
        return -1


def measure(binary, rate, args, workdir):
    pid = os.getpid()
    ns = ["mdnwc%d%s" % (pid, s) for s in "ab"]
    bdp = max(rate * 2 * DELAY_US // 8 // 1000000, args.mtu)
    conf = os.path.join(workdir, "capacity.conf")
    with open(conf, "w") as f:
        f.write("mtu %d\npeer 0 %s 10.231.0.1\npeer 1 %s 10.231.0.2\n"
                "link ab %d %d 0 %d\nlink ba %d %d 0 %d\npath 0 1 ab\npath 1 0 ba\n"
                % (args.mtu, ns[0], ns[1], rate, DELAY_US, bdp, rate, DELAY_US, bdp))
    created, emu, server = [], None, None
    try:
        for i, n in enumerate(ns):
            run(["ip", "netns", "add", n])
            created.append(n)
            run(["ip", "-n", n, "link", "set", "lo", "up"])
            buf = "%d" % max(4 * bdp, 4 << 20)
            run(["ip", "netns", "exec", n, "sysctl", "-q", "-w",
                 "net.ipv4.tcp_rmem=4096 131072 " + buf,
                 "net.ipv4.tcp_wmem=4096 16384 " + buf])
        emu = subprocess.Popen([binary, "--config", conf, "--spin-us", str(args.spin_us),
                                "--exit-with-parent"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if emu.stdout.readline().strip() != "ready":
            raise RuntimeError("emulator did not start")
        for i, n in enumerate(ns):
            run(["ip", "-n", n, "addr", "add", "10.231.0.%d/16" % (i + 1), "dev", "wan0"])
            run(["ip", "-n", n, "link", "set", "wan0", "mtu", str(args.mtu), "up"])
        server = subprocess.Popen(["ip", "netns", "exec", ns[1], "iperf3", "-s", "-1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        cpu0, (tot0, idle0), t0 = proc_cpu_s(emu.pid), machine_busy(), time.monotonic()
        r = run(["ip", "netns", "exec", ns[0], "iperf3", "-c", "10.231.0.2", "-t",
                 str(args.seconds), "-P", str(args.streams), "-J"],
                check=False, timeout=args.seconds + 60)
        cpu1, (tot1, idle1), t1 = proc_cpu_s(emu.pid), machine_busy(), time.monotonic()
        drops = [tun_tx_dropped(n) for n in ns]
        result = json.loads(r.stdout)
        if "error" in result:
            raise RuntimeError("iperf3: " + result["error"])
        bps = result["end"]["sum_received"]["bits_per_second"]
        emu.send_signal(signal.SIGTERM)
        out, _ = emu.communicate(timeout=10)
        counters = {}
        for line in out.splitlines():
            w = line.split()
            if w and w[0] in ("link", "total"):
                key = w[1] if w[0] == "link" else "total"
                rest = w[2:] if w[0] == "link" else w[1:]
                counters[key] = dict(zip(rest[::2], rest[1::2]))
        return {
            "rate": rate, "bps": bps, "ratio": bps / rate,
            "emu_cpu": (cpu1 - cpu0) / (t1 - t0),
            "machine_busy": 1 - (idle1 - idle0) / max(1, tot1 - tot0),
            "queue_dropped": int(counters.get("ab", {}).get("queue_dropped", -1)),
            "late_us_avg": float(counters.get("total", {}).get("late_us_avg", -1)),
            "tun_tx_dropped": drops,
            "retransmits": result["end"]["sum_sent"].get("retransmits", -1),
        }
    finally:
        if server and server.poll() is None:
            server.kill()
            server.wait()
        if emu and emu.poll() is None:
            emu.kill()
            emu.wait()
        for n in created:
            run(["ip", "netns", "del", n], check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", default="build/bin")
    ap.add_argument("--rates", default="500M,1G,2G,4G")
    ap.add_argument("--mtu", type=int, default=16000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--spin-us", type=int, default=0)
    args = ap.parse_args()
    binary = os.path.join(args.bin_dir, "meridian-wanem")
    if not os.access(binary, os.X_OK):
        print("no executable %s" % binary, file=sys.stderr)
        return 2
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("iperf3"):
        print("skip: needs root, /dev/net/tun and iperf3", file=sys.stderr)
        return SKIP
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    workdir = tempfile.mkdtemp(prefix="wanem_capacity.")
    print("# mtu %d, one-way delay %d us, queue = BDP, iperf3 -P %d -t %d, spin %d us"
          % (args.mtu, DELAY_US, args.streams, args.seconds, args.spin_us))
    print("%8s %10s %6s %9s %9s %8s %8s %8s %s" % (
        "rate", "Mbit/s", "ratio", "emu_cpu", "mach_busy", "q_drops", "retrans",
        "late_us", "pass"))
    try:
        for text in args.rates.split(","):
            m = measure(binary, parse_rate(text), args, workdir)
            print("%8s %10.1f %6.3f %8.1f%% %8.1f%% %8d %8d %8.1f %s" % (
                text, m["bps"] / 1e6, m["ratio"], 100 * m["emu_cpu"],
                100 * m["machine_busy"], m["queue_dropped"], m["retransmits"],
                m["late_us_avg"], "yes" if m["ratio"] >= 0.9 else "no"), flush=True)
            if m["tun_tx_dropped"] != [0, 0]:
                print("#   TUN tx drops (kernel side, emulator too slow to read): %s"
                      % m["tun_tx_dropped"], flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
