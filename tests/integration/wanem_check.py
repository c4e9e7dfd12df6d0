#!/usr/bin/env python3
"""Functional check of meridian-wanem (perf/wan/emulator, docs/wan.md).

Three network namespaces A, B, C (mdnw<pid>a/b/c), MTU 16000, and a
configuration with different links per pair:

  A <-> B   1 Gbit/s, 10 ms one way        (20 ms RTT)
  A <-> C   1 Gbit/s, 30 ms one way        (60 ms RTT)
  B <-> C   5 Mbit/s, 5 ms one way         (10 ms RTT + serialisation)

Checks, with the emulator running:
  - minimum ping RTT of every pair (ping -c 5 -i 0.2) within 10 % + 0.3 ms of the
    configured RTT (delays plus the serialisation of the ping packets);
  - iperf3 B -> C (-t 4): the receiver's throughput within 10 % of
    5 Mbit/s;
  - SIGTERM: exit status 0, per-link counters printed, and then no wan0
    device left in any namespace and no emulator process.
Then a second emulator on the same namespaces (the devices of the first
must be gone for it to create them) with 10 % loss on A -> B:
  - ping -c 200 -i 0.01 A -> B loses between 5 % and 15 %, and the
    emulator's counter of lost packets on that link agrees.
And the errors: a namespace that does not exist, a bad configuration line
(exit status 2, message naming them).

The namespaces are deleted at the end whatever happens (also on Ctrl-C or
SIGTERM), and their absence is checked.

Exit status: 0 passed, 1 a check failed, 2 usage or setup error, 77 skipped
(not root, no /dev/net/tun, no ip/ping, or namespaces cannot be made).
Only the standard library is used.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
MTU = 16000
PING_BYTES = 84  # 56 bytes of data + ICMP header (8) + IPv4 header (20)


def say(msg):
    print("wanem_check: " + msg, flush=True)


def run(cmd, check=True, timeout=30):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                                r.stderr.strip()))
    return r


def netns_list():
    r = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


class Emulator:
    """One meridian-wanem process; stopped by PID."""

    def __init__(self, binary, config_text, workdir, tag, seed=1):
        self.path = os.path.join(workdir, "wanem-%s.conf" % tag)
        with open(self.path, "w") as f:
            f.write(config_text)
        self.err_path = os.path.join(workdir, "wanem-%s.err" % tag)
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--config", self.path, "--seed", str(seed),
             "--exit-with-parent"],
            stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.counters = None
        self.rc = None

    def wait_ready(self, timeout=10.0):
        line = self.proc.stdout.readline()  # "ready", or EOF on failure
        if line.strip() != "ready":
            self.proc.wait(timeout=timeout)
            raise RuntimeError("emulator did not start (exit %s): %s"
                               % (self.proc.returncode, self.stderr()))

    def stderr(self):
        self.err.flush()
        with open(self.err_path) as f:
            return f.read().strip()

    def stop(self):
        """SIGTERM; returns (exit status, stdout after 'ready')."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.err.close()
        self.rc = self.proc.returncode
        self.counters = parse_counters(out)
        return self.rc, out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.err.closed:
            self.err.close()


def parse_counters(text):
    """{'link NAME': {...}, 'total': {...}} from the emulator's final output."""
    out = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "link":
            key, rest = "link " + words[1], words[2:]
        elif words and words[0] == "total":
            key, rest = "total", words[1:]
        else:
            continue
        out[key] = {rest[i]: float(rest[i + 1]) for i in range(0, len(rest) - 1, 2)}
    return out


class Check:
    def __init__(self, binary):
        self.binary = binary
        self.pid = os.getpid()
        self.ns = ["mdnw%d%s" % (self.pid, s) for s in "abc"]
        self.created = []
        self.failures = []
        self.emulators = []
        self.servers = []
        self.workdir = tempfile.mkdtemp(prefix="wanem_check.")

    def expect(self, ok, what):
        say(("ok:   " if ok else "FAIL: ") + what)
        if not ok:
            self.failures.append(what)

    def ns_exec(self, i, *cmd, **kw):
        return run(["ip", "netns", "exec", self.ns[i]] + list(cmd), **kw)

    # ---- setup and teardown -------------------------------------------------
    def setup_namespaces(self):
        for name in self.ns:
            r = run(["ip", "netns", "add", name], check=False)
            if r.returncode != 0:
                raise PermissionError("ip netns add %s: %s" % (name, r.stderr.strip()))
            self.created.append(name)
            run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"])

    def configure_devices(self):
        for i in range(3):
            self.ns_exec(i, "ip", "addr", "add", "10.231.0.%d/16" % (i + 1), "dev", "wan0")
            self.ns_exec(i, "ip", "link", "set", "wan0", "mtu", str(MTU), "up")

    def wan0_left(self):
        return [n for n in self.created
                if run(["ip", "netns", "exec", n, "ip", "link", "show", "wan0"],
                       check=False).returncode == 0]

    def teardown(self):
        for p in self.servers:
            if p.poll() is None:
                p.kill()
                p.wait()
        for e in self.emulators:
            e.kill()
        for name in self.created:
            run(["ip", "netns", "del", name], check=False)
        left = [n for n in netns_list() if n in self.ns]
        if self.created:
            self.expect(not left, "namespaces deleted (left: %s)" % (left or "none"))
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- configurations -------------------------------------------------------
    def config(self, links, paths):
        lines = ["# written by wanem_check.py", "mtu %d" % MTU]
        for i, name in enumerate(self.ns):
            lines.append("peer %d %s 10.231.0.%d" % (i, name, i + 1))
        for name, rate, delay_us, loss, queue in links:
            lines.append("link %s %d %d %g %d" % (name, rate, delay_us, loss, queue))
        for (a, b), names in paths.items():
            lines.append("path %d %d %s" % (a, b, " ".join(names)))
        return "\n".join(lines) + "\n"

    LINKS = [  # name, bit/s, one-way delay us, loss, queue bytes
        ("ab", 1000000000, 10000, 0, 0),
        ("ba", 1000000000, 10000, 0, 0),
        ("ac", 1000000000, 30000, 0, 0),
        ("ca", 1000000000, 30000, 0, 0),
        ("bc", 5000000, 5000, 0, 128 * 1024),
        ("cb", 5000000, 5000, 0, 128 * 1024),
    ]
    PATHS = {(0, 1): ["ab"], (1, 0): ["ba"], (0, 2): ["ac"], (2, 0): ["ca"],
             (1, 2): ["bc"], (2, 1): ["cb"]}

    def start(self, config_text, tag, seed=1):
        e = Emulator(self.binary, config_text, self.workdir, tag, seed)
        self.emulators.append(e)
        e.wait_ready()
        self.configure_devices()
        return e

    def expected_rtt_ms(self, a, b):
        links = {l[0]: l for l in self.LINKS}
        total = 0.0
        for name in self.PATHS[(a, b)] + self.PATHS[(b, a)]:
            _, rate, delay_us, _, _ = links[name]
            total += delay_us / 1000.0 + PING_BYTES * 8 / rate * 1000.0
        return total

    # ---- checks -----------------------------------------------------------------
    def ping(self, a, b, count, interval):
        r = self.ns_exec(a, "ping", "-c", str(count), "-i", str(interval), "-q",
                         "-W", "2", "10.231.0.%d" % (b + 1), check=False,
                         timeout=count * interval + 30)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
        # The minimum: the emulator never delivers early, but on a loaded
        # host (ctest -j2) a reply can be late by a scheduling delay, which
        # would drag an average off the configured delay.
        rtt = re.search(r"= ([\d.]+)/[\d.]+/", r.stdout)
        if not m:
            raise RuntimeError("ping %s -> %s: %s %s" % (a, b, r.stdout, r.stderr))
        return int(m.group(1)), int(m.group(2)), float(rtt.group(1)) if rtt else None

    def check_rtts(self):
        for a, b in [(0, 1), (0, 2), (1, 2)]:
            want = self.expected_rtt_ms(a, b)
            sent, got, rtt = self.ping(a, b, 5, 0.2)
            ok = rtt is not None and abs(rtt - want) <= 0.1 * want + 0.3
            self.expect(ok, "ping %s -> %s: min rtt %s ms, configured %.3f ms (%d/%d replies)"
                        % ("ABC"[a], "ABC"[b], rtt, want, got, sent))

    def check_throughput(self):
        if not shutil.which("iperf3"):
            say("skip: iperf3 not installed, no throughput check")
            return
        port = "5201"
        server = subprocess.Popen(
            ["ip", "netns", "exec", self.ns[2], "iperf3", "-s", "-1", "-p", port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.servers.append(server)
        result = None
        for _ in range(20):  # until the server listens
            r = self.ns_exec(1, "iperf3", "-c", "10.231.0.3", "-p", port, "-t", "4",
                             "-J", check=False, timeout=30)
            try:
                result = json.loads(r.stdout)
            except ValueError:
                result = None
            if r.returncode == 0 and result and "error" not in result:
                break
            result = None
            time.sleep(0.1)
        server.wait(timeout=10)
        if result is None:
            self.expect(False, "iperf3 B -> C ran")
            return
        # What the receiver got over the whole run, slow start included: a
        # slight underestimate.  (Its 1-s intervals are no better: data held
        # out of order during a loss recovery reaches the application in one
        # burst.  The sender's count writes into its socket buffer.)
        bps = result["end"]["sum_received"]["bits_per_second"]
        want = 5e6
        self.expect(abs(bps - want) <= 0.1 * want,
                    "iperf3 B -> C: %.3f Mbit/s received over 4 s, link 5 Mbit/s"
                    % (bps / 1e6))

    def check_stop(self, e, links):
        pid = e.proc.pid
        rc, out = e.stop()
        self.expect(rc == 0, "emulator exits 0 on SIGTERM (got %s)" % rc)
        missing = [l for l in links if "link " + l not in e.counters]
        self.expect(not missing and "total" in e.counters,
                    "emulator prints per-link counters (missing: %s)" % (missing or "none"))
        self.expect(not os.path.exists("/proc/%d" % pid) or
                    open("/proc/%d/stat" % pid).read().split()[2] == "Z",
                    "no emulator process left")
        left = self.wan0_left()
        self.expect(not left, "no wan0 device left (in: %s)" % (left or "none"))

    def check_errors(self):
        bad_ns = self.config(self.LINKS, self.PATHS).replace(
            self.ns[1], self.ns[1] + "x")
        path = os.path.join(self.workdir, "bad-ns.conf")
        with open(path, "w") as f:
            f.write(bad_ns)
        r = run([self.binary, "--config", path], check=False)
        self.expect(r.returncode == 2 and (self.ns[1] + "x") in r.stderr
                    and "does not exist" in r.stderr,
                    "a missing namespace: exit 2 naming it (%d: %s)"
                    % (r.returncode, r.stderr.strip()))
        left = self.wan0_left()
        self.expect(not left, "no wan0 left after the failed start (in: %s)"
                    % (left or "none"))
        path = os.path.join(self.workdir, "bad-line.conf")
        text = self.config(self.LINKS, self.PATHS)
        bad_line = len(text.splitlines()) + 1
        with open(path, "w") as f:
            f.write(text + "link zz 1G 10 0.5.5 0\n")
        r = run([self.binary, "--config", path], check=False)
        self.expect(r.returncode == 2 and ("line %d:" % bad_line) in r.stderr,
                    "a bad config line: exit 2 naming it (%d: %s)"
                    % (r.returncode, r.stderr.strip()))

    def main(self):
        t0 = time.monotonic()
        try:
            self.setup_namespaces()
        except (PermissionError, RuntimeError) as ex:
            say("skip: cannot create network namespaces: %s" % ex)
            self.teardown()
            return SKIP
        try:
            say("namespaces %s; workdir %s" % (" ".join(self.ns), self.workdir))
            e = self.start(self.config(self.LINKS, self.PATHS), "main")
            self.check_rtts()
            self.check_throughput()
            self.check_stop(e, [l[0] for l in self.LINKS])

            loss_links = [l if l[0] != "ab" else ("ab", 1000000000, 1000, 0.1, 0)
                          for l in self.LINKS]
            e = self.start(self.config(loss_links, self.PATHS), "loss", seed=7)
            sent, got, _ = self.ping(0, 1, 200, 0.01)
            lost = (sent - got) / sent
            self.expect(0.05 <= lost <= 0.15,
                        "10 %% loss on A -> B: ping lost %.1f %% of %d" % (lost * 100, sent))
            self.check_stop(e, [l[0] for l in loss_links])
            counted = e.counters.get("link ab", {}).get("lost", -1)
            self.expect(counted == sent - got,
                        "emulator counted %d lost on A -> B, ping missed %d"
                        % (counted, sent - got))
            self.check_errors()
        except Exception as ex:  # a setup step failed: report, clean up
            self.expect(False, "unexpected error: %r" % ex)
            for e in self.emulators:
                if e.proc.poll() is not None and e.rc is None:
                    say("emulator stderr: " + e.stderr())
        finally:
            self.teardown()
        say("%s in %.1f s" % ("FAILED: " + "; ".join(self.failures) if self.failures
                              else "passed", time.monotonic() - t0))
        return 1 if self.failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", required=True, help="directory of meridian-wanem")
    args = ap.parse_args()
    binary = os.path.join(args.bin_dir, "meridian-wanem")
    if not os.access(binary, os.X_OK):
        say("no executable %s" % binary)
        return 2
    if os.geteuid() != 0:
        say("skip: needs root (network namespaces, TUN devices)")
        return SKIP
    if not os.path.exists("/dev/net/tun"):
        say("skip: no /dev/net/tun")
        return SKIP
    for tool in ("ip", "ping"):
        if not shutil.which(tool):
            say("skip: %s not installed" % tool)
            return SKIP
    # SIGTERM (ctest's, a user's) unwinds like Ctrl-C so that the namespaces
    # are deleted.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    return Check(binary).main()


if __name__ == "__main__":
    sys.exit(main())
