#!/usr/bin/env python3
"""Fault scenarios: one fault at a time against meridian-soak peers, with
timing bounds.

Each scenario starts its own meridian-coordinator (a free port, a random
token, MERIDIAN_HEARTBEAT_TIMEOUT_MS=1000) and meridian-soak peers, injects
one fault, and checks correctness and timing:

  kill9                4 peers, SIGKILL one: every survivor reports a fault
                       naming the lost rank within 3 s and completes a step
                       in world 3 within 5 s.
  sigstop              4 peers, SIGSTOP one: survivors report the fault within
                       heartbeat timeout + 3 s and progress in world 3; after
                       SIGCONT the stopped peer learns it was evicted, joins
                       again and completes the group's steps.
  silent_drop          like sigstop, but one peer lives in its own network
                       namespace whose link goes down (packets vanish, no
                       RST, no FIN); needs root (exit 77: skipped otherwise).
  mass_failure         10 peers, SIGKILL 8 at once: the 2 left re-form
                       (world 2) and complete steps within 5 s.
  coordinator_restart  3 peers, SIGKILL the coordinator: steps go on while it
                       is down; restart it on the same address, then a
                       joiner is admitted (world 4); no step number has two
                       digests and every peer's steps are contiguous.

Correctness in every scenario: for each step number, the peers that
completed it printed the same digest and world (only the step a faulted peer
had in flight may differ on that peer); steps increase on every peer; every
peer that was not killed exits 0 at the common stop step (meridian-soak
checks each result itself and exits 3 on a wrong one).

Times are time.monotonic() (CLOCK_MONOTONIC, the clock of the soak's stderr
stamps when it prints them; otherwise the time a line arrived).  Every
process is started in its own process group with PR_SET_PDEATHSIG, and ended
by PID (SIGTERM, then SIGKILL) whatever happens.  The namespace and veth pair
of silent_drop are deleted at the end, and their absence is checked.

Exit status: 0 passed, 1 a check failed, 2 usage or setup error, 77 skipped.
Only the standard library is used.  The functions run_scenario() and the
Scenario results are also used by perf/fault/fault_figures.py.
"""

import argparse
import collections
import ctypes
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
HEARTBEAT_MS = 1000

STAMP = r"^(?:(\d+\.\d+) )?"  # optional leading CLOCK_MONOTONIC stamp
STEP_RE = re.compile(STAMP + r"step (\d+) epoch (\d+) world (\d+) digest ([0-9a-f]+)\s*$")
STATE_RE = re.compile(STAMP + r"state (\d+) epoch (\d+) world (\d+) digest ([0-9a-f]+)"
                      r" received (\d+)")
FAULT_RE = re.compile(STAMP + r"fault (.*)$")
REJOIN_RE = re.compile(STAMP + r"meridian-soak: rejoining")
CONNECTED_RE = re.compile(r"rank (\d+)/(\d+) connected, epoch (\d+)")


def now():
    return time.monotonic()


class CheckFailed(Exception):
    pass


class Skipped(Exception):
    pass


_libc = None


def _pdeathsig():
    """preexec_fn: the child gets SIGKILL if this driver dies (e.g. killed
    by ctest on a timeout), so nothing outlives a run."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A child process in its own process group; its output lines are
    parsed and logged with their times."""

    def __init__(self, name, argv, env, log_dir):
        self.name = name
        self.lock = threading.Lock()
        self.steps = []      # (t, step, epoch, world, digest)
        self.states = []     # (t, step, epoch, world, digest, received)
        self.faults = []     # (t, text)
        self.rejoins = []    # t
        self.ranks = []      # (t, rank, world, epoch) from "connected" log lines
        self.lines = []      # (t, stream, text): everything
        self.killed_at = None
        self.stopped_at = None
        self.exit_code = None
        self.log = open(os.path.join(log_dir, name + ".log"), "w")
        self.started = now()
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env, start_new_session=True,
                                      preexec_fn=_pdeathsig)
        self.pid = self.popen.pid
        self.threads = [threading.Thread(target=self._read, args=(s, tag), daemon=True)
                        for s, tag in ((self.popen.stdout, "out"), (self.popen.stderr, "err"))]
        for t in self.threads:
            t.start()

    def _read(self, stream, tag):
        for raw in iter(stream.readline, b""):
            t_arrival = now()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.lock:
                self.log.write("%.3f %s %s\n" % (t_arrival, tag, line))
                self.log.flush()
                self.lines.append((t_arrival, tag, line))
                m = STEP_RE.match(line)
                if m:
                    t = float(m.group(1)) if m.group(1) else t_arrival
                    self.steps.append((t, int(m.group(2)), int(m.group(3)), int(m.group(4)),
                                       m.group(5)))
                    continue
                m = STATE_RE.match(line)
                if m:
                    t = float(m.group(1)) if m.group(1) else t_arrival
                    self.states.append((t, int(m.group(2)), int(m.group(3)), int(m.group(4)),
                                        m.group(5), int(m.group(6))))
                    continue
                m = FAULT_RE.match(line)
                if m:
                    t = float(m.group(1)) if m.group(1) else t_arrival
                    self.faults.append((t, m.group(2)))
                    continue
                m = REJOIN_RE.match(line)
                if m:
                    self.rejoins.append(float(m.group(1)) if m.group(1) else t_arrival)
                    continue
                m = CONNECTED_RE.search(line)
                if m:
                    self.ranks.append((t_arrival, int(m.group(1)), int(m.group(2)),
                                       int(m.group(3))))
        stream.close()

    def poll(self):
        if self.exit_code is None:
            self.exit_code = self.popen.poll()
        return self.exit_code

    def alive(self):
        return self.poll() is None

    def signal(self, sig):
        """Signals this process (never a group or a name)."""
        if self.poll() is None:
            os.kill(self.pid, sig)

    def end(self, grace=3.0):
        """SIGTERM then SIGKILL to this process's own group (it leads it)."""
        if self.poll() is None:
            for sig in (signal.SIGCONT, signal.SIGTERM):
                try:
                    os.killpg(self.pid, sig)
                except ProcessLookupError:
                    pass
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait()
        else:
            # The leader is gone; anything it left in its group goes too.
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.poll()
        for t in self.threads:
            t.join(timeout=5)
        with self.lock:
            self.log.close()

    def snapshot_steps(self):
        with self.lock:
            return list(self.steps)

    def snapshot_faults(self):
        with self.lock:
            return list(self.faults)

    def rank_at(self, t):
        """This peer's rank in the last mesh it built before t."""
        with self.lock:
            r = [x for x in self.ranks if x[0] <= t]
        return r[-1][1] if r else None

    def tail(self, n=10):
        with self.lock:
            return ["%s %s" % (tag, l) for _, tag, l in self.lines[-n:]]


class NetNs:
    """A network namespace joined to the root one by a veth pair:
    host side HOST_ADDR/30 in the root namespace, NS_ADDR/30 inside."""

    def __init__(self):
        self.name = "mdnf%d" % os.getpid()
        self.host_if = self.name + "h"
        self.ns_if = self.name + "n"
        x = os.getpid() % 250
        self.host_addr = "10.231.%d.1" % x
        self.ns_addr = "10.231.%d.2" % x
        self.created = False

    @staticmethod
    def _ip(*args, check=True):
        r = subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=20)
        if check and r.returncode != 0:
            raise RuntimeError("ip %s: %s" % (" ".join(args), r.stdout.decode().strip()))
        return r

    @classmethod
    def cleanup_stale(cls):
        """Removes namespaces/veths of earlier runs of this script whose
        driver is dead (it was killed before it could clean up)."""
        if shutil.which("ip") is None:
            return
        r = cls._ip("netns", "list", check=False)
        for line in r.stdout.decode().splitlines():
            m = re.match(r"^mdnf(\d+)\b", line.strip())
            if m and not os.path.exists("/proc/%s" % m.group(1)):
                cls._ip("netns", "del", "mdnf" + m.group(1), check=False)
        r = cls._ip("-o", "link", "show", check=False)
        for line in r.stdout.decode().splitlines():
            m = re.search(r"^\d+: (mdnf(\d+)h)[@:]", line)
            if m and not os.path.exists("/proc/%s" % m.group(2)):
                cls._ip("link", "del", m.group(1), check=False)

    def create(self):
        if os.geteuid() != 0:
            raise Skipped("network namespaces need root (euid %d)" % os.geteuid())
        if shutil.which("ip") is None:
            raise Skipped("the 'ip' tool (iproute2) is not installed")
        self.cleanup_stale()
        r = self._ip("netns", "add", self.name, check=False)
        if r.returncode != 0:
            raise Skipped("cannot create a network namespace: %s" % r.stdout.decode().strip())
        self.created = True
        try:
            self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            self._ip("link", "set", self.ns_if, "netns", self.name)
            self._ip("addr", "add", self.host_addr + "/30", "dev", self.host_if)
            self._ip("link", "set", self.host_if, "up")
            self._ip("netns", "exec", self.name, "ip", "addr", "add", self.ns_addr + "/30",
                     "dev", self.ns_if)
            self._ip("netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up")
            self._ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        except RuntimeError as e:
            raise Skipped("cannot set up the veth pair: %s" % e)
        # Wait until the pair carries traffic (DAD does not apply to IPv4,
        # but the carrier takes a moment).
        end = now() + 5
        while now() < end:
            r = self._ip("-o", "link", "show", self.host_if, check=False)
            if b"LOWER_UP" in r.stdout:
                break
            time.sleep(0.05)

    def exec_prefix(self):
        return ["ip", "netns", "exec", self.name]

    def link(self, up):
        """Takes the namespace's end of the pair down (or up).  Down, the
        root side keeps its address and route but loses the carrier: what it
        sends is dropped without any error, and nothing comes back."""
        self._ip("netns", "exec", self.name, "ip", "link", "set", self.ns_if,
                 "up" if up else "down")

    def destroy(self):
        """Deletes the pair and the namespace; returns what is left (should
        be nothing)."""
        left = []
        if self.created:
            self._ip("link", "del", self.host_if, check=False)
            self._ip("netns", "del", self.name, check=False)
        r = self._ip("netns", "list", check=False)
        if any(l.split()[:1] == [self.name] for l in r.stdout.decode().splitlines()):
            left.append("netns " + self.name)
        r = self._ip("-o", "link", "show", check=False)
        if self.host_if.encode() in r.stdout:
            left.append("link " + self.host_if)
        return left


class Scenario:
    """One run: a coordinator, peers, checks.  Subclasses implement body()."""

    peers_at_start = 4
    size = 4096
    model_bytes = 4096
    sleep_ms = 10
    op_timeout_ms = 5000
    connect_timeout_ms = 20000
    deadline_s = 95.0  # below the ctest TIMEOUT (120 s): we clean up ourselves

    def __init__(self, bin_dir, log_dir, verbose=True):
        self.bin_dir = bin_dir
        self.log_dir = log_dir
        self.verbose = verbose
        self.token = secrets.token_hex(32)
        self.coordinators = []   # every coordinator Proc started (restarts too)
        self.coordinator = None
        self.coord_host = "127.0.0.1"
        self.coord_address = None
        self.peers = []
        self.next_id = 0
        self.stop_file = os.path.join(log_dir, "stop_at")
        self.failures = []
        self.metrics = {}        # figures for perf/fault/fault_figures.py
        self.faulted = {}        # peer name -> set of step numbers allowed to differ
        self.netns = None
        self.t0 = now()
        self.hard_deadline = self.t0 + self.deadline_s

    # ------------------------------------------------------------ helpers --
    def say(self, msg):
        if self.verbose:
            print("[%s %6.2f] %s" % (self.name, now() - self.t0, msg), flush=True)

    def fail(self, msg):
        self.failures.append(msg)
        self.say("FAILURE: " + msg)

    def require(self, cond, msg):
        if not cond:
            raise CheckFailed(msg)

    def start_coordinator(self, port=0, host=None):
        host = host or self.coord_host
        env = {k: v for k, v in os.environ.items() if not k.startswith("MERIDIAN_")}
        env["MERIDIAN_AUTH_TOKEN"] = self.token
        env["MERIDIAN_HEARTBEAT_TIMEOUT_MS"] = str(HEARTBEAT_MS)
        env["MERIDIAN_LOG_LEVEL"] = "info"
        name = "coordinator%d" % len(self.coordinators)
        c = Proc(name, [os.path.join(self.bin_dir, "meridian-coordinator"), "--listen",
                        "%s:%d" % (host, port)], env, self.log_dir)
        self.coordinators.append(c)
        self.coordinator = c
        end = now() + 10
        address = None
        while now() < end and address is None:
            with c.lock:
                for _, tag, line in c.lines:
                    m = re.search(r"listening on (\S+)", line)
                    if m:
                        address = m.group(1)
            if address is None:
                if c.poll() is not None:
                    break
                time.sleep(0.02)
        if address is None:
            raise RuntimeError("coordinator did not start; last lines:\n  " +
                               "\n  ".join(c.tail()))
        self.coord_address = address
        self.say("coordinator pid %d on %s" % (c.pid, address))
        return c

    def peer_env(self, world, advertise=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MERIDIAN_") and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK",
                                                              "MASTER_ADDR", "MASTER_PORT")}
        env.update({
            "MERIDIAN_COORDINATOR": self.coord_address,
            "MERIDIAN_WORLD_SIZE": str(world),
            "MERIDIAN_AUTH_TOKEN": self.token,
            "MERIDIAN_OP_TIMEOUT_MS": str(self.op_timeout_ms),
            "MERIDIAN_CONNECT_TIMEOUT_MS": str(self.connect_timeout_ms),
            # "rank R/W connected, epoch E" lines tell which rank a peer is.
            "MERIDIAN_LOG_LEVEL": "info",
        })
        if advertise:
            env["MERIDIAN_ADVERTISE_ADDR"] = advertise
        return env

    def start_peer(self, world, prefix=(), advertise=None):
        name = "p%d" % self.next_id
        self.next_id += 1
        argv = list(prefix) + [os.path.join(self.bin_dir, "meridian-soak"),
                               "--steps", str(10 ** 12), "--size", str(self.size),
                               "--sleep-ms", str(self.sleep_ms),
                               "--model-bytes", str(self.model_bytes), "--print-state",
                               "--stop-file", self.stop_file]
        p = Proc(name, argv, self.peer_env(world, advertise), self.log_dir)
        self.peers.append(p)
        self.say("started %s (pid %d)" % (name, p.pid))
        return p

    def check_exits(self):
        """A peer that was not killed must not exit while the scenario runs."""
        for p in self.peers:
            if p.killed_at is None and p.poll() is not None and not getattr(p, "ending", False):
                raise CheckFailed("%s (pid %d) exited with status %d during the run; last "
                                  "lines:\n  %s" % (p.name, p.pid, p.exit_code,
                                                    "\n  ".join(p.tail())))

    def wait_for(self, what, predicate, timeout):
        """Waits until predicate() is true; raises CheckFailed after timeout."""
        end = min(now() + timeout, self.hard_deadline)
        while True:
            self.check_exits()
            v = predicate()
            if v:
                return v
            if now() >= end:
                if now() >= self.hard_deadline:
                    raise CheckFailed("scenario deadline (%.0f s) passed while waiting for %s"
                                      % (self.deadline_s, what))
                raise CheckFailed("timed out after %.1f s waiting for %s" % (timeout, what))
            time.sleep(0.02)

    def sleep(self, seconds):
        end = now() + seconds
        while now() < end:
            self.check_exits()
            time.sleep(min(0.05, max(0.0, end - now())))

    def live(self):
        return [p for p in self.peers if p.killed_at is None]

    def max_step(self, peers=None):
        m = -1
        for p in (peers or self.peers):
            s = p.snapshot_steps()
            if s:
                m = max(m, s[-1][1])
        return m

    def wait_formed(self, peers, world, steps=3):
        self.wait_for("%d peers to complete %d steps in world %d" % (len(peers), steps, world),
                      lambda: all(sum(1 for s in p.snapshot_steps() if s[3] == world) >= steps
                                  for p in peers),
                      self.connect_timeout_ms / 1000.0 + 10)

    def first_step_after(self, p, t, world=None, min_step=None):
        for s in p.snapshot_steps():
            if s[0] > t and (world is None or s[3] == world) and \
                    (min_step is None or s[1] >= min_step):
                return s
        return None

    def first_fault_after(self, p, t, pattern=None):
        for f in p.snapshot_faults():
            if f[0] > t and (pattern is None or re.search(pattern, f[1])):
                return f
        return None

    def allow_differ(self, p, t_fault):
        """The step p had in flight at its fault (and the one after it, which
        it may complete against a stale view before it learns it was
        evicted) may differ from the group's."""
        steps = p.snapshot_steps()
        before = [s for s in steps if s[0] <= t_fault]
        allowed = self.faulted.setdefault(p.name, set())
        if before:
            allowed.add(before[-1][1])
            allowed.add(before[-1][1] + 1)
        else:
            allowed.add(0)

    def kill(self, p):
        t = now()
        p.signal(signal.SIGKILL)
        p.killed_at = t
        self.allow_differ(p, t)
        return t

    def check_survivor_faults(self, victim_rank, survivors, t_fault, bound, what):
        """Each survivor reports a fault naming the lost rank within bound;
        returns the delays."""
        pattern = r"\brank %d\b" % victim_rank if victim_rank is not None else None
        self.wait_for("every survivor to report the %s%s" % (
                          what, " naming rank %d" % victim_rank if pattern else ""),
                      lambda: all(self.first_fault_after(p, t_fault, pattern) for p in survivors),
                      bound + 2.0)
        delays = []
        for p in survivors:
            f = self.first_fault_after(p, t_fault, pattern)
            d = f[0] - t_fault
            delays.append(d)
            self.say("  %s: fault after %.3f s: %s" % (p.name, d, f[1][:160]))
            if d > bound:
                self.fail("%s reported the %s after %.2f s (bound %.1f s): %s"
                          % (p.name, what, d, bound, f[1]))
        return delays

    def check_progress(self, survivors, t_fault, world, bound, what):
        """Each survivor completes a step in `world` after t_fault within
        bound; returns the delays."""
        self.wait_for("every survivor to complete a step in world %d" % world,
                      lambda: all(self.first_step_after(p, t_fault, world) for p in survivors),
                      bound + 2.0)
        delays = []
        for p in survivors:
            s = self.first_step_after(p, t_fault, world)
            d = s[0] - t_fault
            delays.append(d)
            if d > bound:
                self.fail("%s completed its first step in world %d %.2f s after the %s "
                          "(bound %.1f s)" % (p.name, world, d, what, bound))
        self.say("  survivors stepped in world %d after %s s" % (
            world, ", ".join("%.3f" % d for d in delays)))
        return delays

    def victim_rank(self, p, t):
        r = p.rank_at(t)
        if r is None:
            self.fail("%s printed no 'rank R/W connected' log line before the fault; cannot "
                      "tell its rank (MERIDIAN_LOG_LEVEL=info)" % p.name)
        return r

    # ------------------------------------------------------------- ending --
    def stop_all(self):
        """Asks every live peer to stop at a common step; they must exit 0."""
        live = [p for p in self.live() if p.poll() is None]
        if not live:
            return
        target = self.max_step(live) + 5
        tmp = self.stop_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % target)
        os.replace(tmp, self.stop_file)
        for p in live:
            p.ending = True
        self.say("asked the peers to stop at step %d" % target)
        self.wait_for("every peer to finish at step %d" % target,
                      lambda: all(p.poll() is not None for p in live), 30)
        for p in live:
            if p.exit_code != 0:
                self.fail("%s exited with status %d%s; last lines:\n  %s"
                          % (p.name, p.exit_code, " (WRONG RESULT)" if p.exit_code == 3 else "",
                             "\n  ".join(p.tail())))
            else:
                last = p.snapshot_steps()[-1][1] if p.snapshot_steps() else None
                if last != target - 1:
                    self.fail("%s finished at step %s, expected %d" % (p.name, last, target - 1))

    def check_consistency(self):
        by_step = collections.defaultdict(list)
        for p in self.peers:
            steps = p.snapshot_steps()
            for s in steps:
                by_step[s[1]].append((p, (s[4], s[3])))
            nums = [s[1] for s in steps]
            for a, b in zip(nums, nums[1:]):
                if b <= a:
                    self.fail("%s printed step %d after step %d" % (p.name, b, a))
                    break
            if p.killed_at is None and p.exit_code not in (None, 0):
                pass  # reported by stop_all / check_exits
        differing = 0
        for step, entries in sorted(by_step.items()):
            strict = collections.Counter(v for p, v in entries
                                         if step not in self.faulted.get(p.name, ()))
            if len(strict) > 1:
                self.fail("step %d: peers disagree: %s" % (step, "; ".join(
                    "%s digest %s world %d" % (p.name, v[0], v[1]) for p, v in entries)))
            elif strict:
                group = next(iter(strict))
                differing += sum(1 for _, v in entries if v != group)
        self.metrics["steps_checked"] = len(by_step)
        self.metrics["orphaned_lines"] = differing
        # Shared state before each step: the same on every peer.
        state_by_step = collections.defaultdict(set)
        for p in self.peers:
            allowed = self.faulted.get(p.name, ())
            with p.lock:
                states = list(p.states)
            for s in states:
                if s[1] not in allowed and s[1] - 1 not in allowed:
                    state_by_step[s[1]].add(s[4])
        for step, digests in sorted(state_by_step.items()):
            if len(digests) > 1:
                self.fail("shared state before step %d differs between peers: %s"
                          % (step, ", ".join(sorted(digests))))
                break

    def check_contiguous(self, peers):
        for p in peers:
            nums = [s[1] for s in p.snapshot_steps()]
            for a, b in zip(nums, nums[1:]):
                if b != a + 1:
                    self.fail("%s: step %d follows step %d (a step %s)"
                              % (p.name, b, a, "was repeated" if b <= a else "was lost"))
                    break

    def shutdown(self):
        for p in self.peers:
            p.end()
        for c in self.coordinators:
            c.end()
        if self.netns is not None and self.netns.created:
            left = self.netns.destroy()
            if left:
                self.fail("left behind after cleanup: %s" % ", ".join(left))
            else:
                self.say("deleted netns %s and its veth pair" % self.netns.name)
        # Nothing we started may be left.
        for proc in self.peers + self.coordinators:
            if os.path.exists("/proc/%d" % proc.pid):
                try:
                    with open("/proc/%d/stat" % proc.pid) as f:
                        state = f.read().rsplit(")", 1)[1].split()[0]
                except OSError:
                    continue
                if state != "Z":
                    self.fail("%s (pid %d) is still running after cleanup" % (proc.name, proc.pid))

    def run(self):
        try:
            open(self.stop_file, "w").close()
            self.setup()
            self.body()
            self.stop_all()
        except CheckFailed as e:
            self.fail(str(e))
        except Skipped:
            raise
        except Exception as e:  # setup errors: still end what we started
            import traceback
            self.fail("driver error: %r\n%s" % (e, traceback.format_exc()))
        finally:
            self.shutdown()
        self.check_consistency()
        return not self.failures

    def setup(self):
        self.start_coordinator()

    def body(self):
        raise NotImplementedError


# ------------------------------------------------------------- scenarios --

class Kill9(Scenario):
    name = "kill9"
    peers_at_start = 4

    def body(self):
        peers = [self.start_peer(4) for _ in range(4)]
        self.wait_formed(peers, 4)
        self.sleep(0.5)
        victim = peers[1]
        rank = self.victim_rank(victim, now())
        t = self.kill(victim)
        self.say("SIGKILL %s (pid %d, rank %s) at step %d" % (victim.name, victim.pid, rank,
                                                               self.max_step()))
        survivors = [p for p in peers if p is not victim]
        err = self.check_survivor_faults(rank, survivors, t, 3.0, "lost peer")
        prog = self.check_progress(survivors, t, 3, 5.0, "SIGKILL")
        self.metrics.update({"kill_to_error_s": err, "kill_to_step_s": prog})
        self.sleep(0.5)


class SigStop(Scenario):
    name = "sigstop"

    def body(self):
        peers = [self.start_peer(4) for _ in range(4)]
        self.wait_formed(peers, 4)
        self.sleep(0.5)
        victim = peers[2]
        rank = self.victim_rank(victim, now())
        t = now()
        victim.signal(signal.SIGSTOP)
        victim.stopped_at = t
        self.allow_differ(victim, t)
        self.say("SIGSTOP %s (pid %d, rank %s) at step %d" % (victim.name, victim.pid, rank,
                                                               self.max_step()))
        survivors = [p for p in peers if p is not victim]
        bound = HEARTBEAT_MS / 1000.0 + 3.0
        err = self.check_survivor_faults(rank, survivors, t, bound, "hung peer")
        prog = self.check_progress(survivors, t, 3, bound + 2.0, "SIGSTOP")
        self.metrics.update({"stop_to_error_s": err, "stop_to_step_s": prog,
                             "heartbeat_timeout_s": HEARTBEAT_MS / 1000.0})
        # A few steps of the group without it, then let it go on.
        self.sleep(0.5)
        t_cont = now()
        victim.signal(signal.SIGCONT)
        victim.stopped_at = None
        self.say("SIGCONT %s" % victim.name)
        self.check_rejoin(victim, survivors, t_cont, 20.0)

    def check_rejoin(self, victim, others, t_back, bound):
        """The victim learns it was evicted, joins again and completes the
        group's steps (world 4 again), with the group's digests."""
        self.wait_for("%s to learn it was evicted and join again" % victim.name,
                      lambda: [r for r in victim.rejoins if r > t_back - 0.001], bound)
        t_rejoin = [r for r in victim.rejoins if r > t_back - 0.001][0]
        self.say("  %s is joining again %.2f s after it was let go; its last fault: %s"
                 % (victim.name, t_rejoin - t_back,
                    (victim.snapshot_faults() or [(0, "(none)")])[-1][1][:160]))
        s = self.wait_for("%s to complete steps in world 4 after joining again" % victim.name,
                          lambda: len([x for x in victim.snapshot_steps()
                                       if x[0] > t_rejoin and x[3] == 4]) >= 3, bound)
        own = [x for x in victim.snapshot_steps() if x[0] > t_rejoin and x[3] == 4]
        self.say("  %s completed step %d in world 4 %.2f s after it was let go"
                 % (victim.name, own[0][1], own[0][0] - t_back))
        self.metrics["back_to_step_s"] = own[0][0] - t_back
        # Compare with the others' digests for the same steps once they
        # printed them.
        nums = {x[1]: x[4] for x in own}
        self.wait_for("the others to print the steps %s printed" % victim.name,
                      lambda: all(any(y[1] == n for y in q.snapshot_steps())
                                  for q in others for n in nums), 10)
        for q in others:
            theirs = {y[1]: y[4] for y in q.snapshot_steps() if y[1] in nums}
            for n, d in sorted(nums.items()):
                if theirs.get(n) != d:
                    self.fail("after joining again %s printed step %d digest %s, %s printed %s"
                              % (victim.name, n, d, q.name, theirs.get(n)))


class SilentDrop(SigStop):
    name = "silent_drop"

    def setup(self):
        self.netns = NetNs()
        self.netns.create()
        self.coord_host = self.netns.host_addr
        self.say("netns %s: root side %s (%s), namespace side %s (%s)"
                 % (self.netns.name, self.netns.host_addr, self.netns.host_if,
                    self.netns.ns_addr, self.netns.ns_if))
        self.start_coordinator(host=self.netns.host_addr)

    def body(self):
        ns = self.netns
        peers = [self.start_peer(4, advertise=ns.host_addr) for _ in range(3)]
        victim = self.start_peer(4, prefix=ns.exec_prefix(), advertise=ns.ns_addr)
        peers.append(victim)
        self.wait_formed(peers, 4)
        self.sleep(0.5)
        rank = self.victim_rank(victim, now())
        t = now()
        ns.link(up=False)
        self.allow_differ(victim, t)
        self.say("link of %s (pid %d, rank %s) down at step %d: its packets vanish"
                 % (victim.name, victim.pid, rank, self.max_step()))
        survivors = [p for p in peers if p is not victim]
        bound = HEARTBEAT_MS / 1000.0 + 3.0
        try:
            err = self.check_survivor_faults(rank, survivors, t, bound, "silent peer")
            prog = self.check_progress(survivors, t, 3, bound + 2.0, "link drop")
        finally:
            self.sleep(0.5)
            t_up = now()
            ns.link(up=True)
            self.say("link of %s up again" % victim.name)
        self.metrics.update({"drop_to_error_s": err, "drop_to_step_s": prog})
        # TCP retransmission backoff decides when it hears of its eviction.
        self.check_rejoin(victim, survivors, t_up, 30.0)


class MassFailure(Scenario):
    name = "mass_failure"
    peers_at_start = 10

    def body(self):
        peers = [self.start_peer(10) for _ in range(10)]
        self.wait_formed(peers, 10)
        self.sleep(0.5)
        victims, survivors = peers[:8], peers[8:]
        t = now()
        for v in victims:
            v.signal(signal.SIGKILL)
        for v in victims:
            v.killed_at = t
            self.allow_differ(v, t)
        self.say("SIGKILL 8 of 10 peers at step %d" % self.max_step())
        prog = self.check_progress(survivors, t, 2, 5.0, "mass SIGKILL")
        self.metrics["mass_kill_to_step_s"] = prog
        self.wait_for("the survivors to complete 5 steps in world 2",
                      lambda: all(len([s for s in p.snapshot_steps() if s[0] > t and s[3] == 2])
                                  >= 5 for p in survivors), 10)


class CoordinatorRestart(Scenario):
    name = "coordinator_restart"
    down_s = 3.0

    def setup(self):
        self.port = free_port(self.coord_host)
        self.start_coordinator(port=self.port)

    def body(self):
        peers = [self.start_peer(3) for _ in range(3)]
        self.wait_formed(peers, 3)
        self.sleep(0.5)
        old = self.coordinator
        t_kill = now()
        old.signal(signal.SIGKILL)
        old.killed_at = t_kill
        self.say("SIGKILL the coordinator (pid %d) at step %d" % (old.pid, self.max_step()))
        self.sleep(self.down_s)
        t_restart = now()
        # Steps went on meanwhile (the data plane does not need it).
        for p in peers:
            n = len([s for s in p.snapshot_steps() if t_kill + 0.5 < s[0] <= t_restart])
            if n < 5:
                self.fail("%s completed only %d steps in the %.1f s the coordinator was down"
                          % (p.name, n, self.down_s))
        self.start_coordinator(port=self.port)
        self.require(self.coord_address.endswith(":%d" % self.port),
                     "restarted coordinator is on %s, not port %d" % (self.coord_address,
                                                                      self.port))
        # Let the peers reconnect and report before the joiner arrives.
        self.sleep(1.5)
        t_join = now()
        joiner = self.start_peer(3)
        s = self.wait_for("the joiner to be admitted (world 4 steps)",
                          lambda: self.first_step_after(joiner, t_join, 4), 30)
        self.say("  joiner completed step %d in world 4 %.2f s after it started"
                 % (s[1], s[0] - t_join))
        self.metrics["restart_join_s"] = s[0] - t_join
        self.wait_for("every peer to complete steps in world 4",
                      lambda: all(len([x for x in p.snapshot_steps() if x[3] == 4]) >= 3
                                  for p in peers + [joiner]), 15)
        for p in peers:
            if any(f[0] > t_kill for f in p.snapshot_faults()):
                self.say("  note: %s reported faults: %s" % (p.name, "; ".join(
                    f[1][:120] for f in p.snapshot_faults() if f[0] > t_kill)))

    def check_consistency(self):
        super().check_consistency()
        self.check_contiguous(self.peers)


SCENARIOS = {c.name: c for c in (Kill9, SigStop, SilentDrop, MassFailure, CoordinatorRestart)}


def run_scenario(name, bin_dir, log_dir, verbose=True):
    """Runs one scenario; returns (status, scenario) with status 'passed',
    'failed' or 'skipped' (scenario.skip_reason says why)."""
    os.makedirs(log_dir, exist_ok=True)
    for f in os.listdir(log_dir):
        if f.endswith(".log") or f.startswith("stop_at"):
            os.remove(os.path.join(log_dir, f))
    sc = SCENARIOS[name](bin_dir, log_dir, verbose)
    try:
        ok = sc.run()
    except Skipped as e:
        sc.skip_reason = str(e)
        return "skipped", sc
    return ("passed" if ok else "failed"), sc


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS) + ["all"])
    ap.add_argument("--bin-dir", default=os.environ.get(
        "MERIDIAN_BIN_DIR", os.path.join(here, "..", "..", "build", "bin")),
        help="folder with meridian-soak and meridian-coordinator (default: build/bin)")
    ap.add_argument("--log-dir", default=None,
                    help="where process logs go (default: a new temporary folder)")
    args = ap.parse_args()
    args.bin_dir = os.path.abspath(args.bin_dir)
    for tool in ("meridian-soak", "meridian-coordinator"):
        if not os.access(os.path.join(args.bin_dir, tool), os.X_OK):
            print("fault_scenarios: %s not found in %s (--bin-dir)" % (tool, args.bin_dir),
                  file=sys.stderr)
            return 2
    base = args.log_dir or tempfile.mkdtemp(prefix="meridian-faults-")

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)

    names = sorted(SCENARIOS) if args.scenario == "all" else [args.scenario]
    results = {}
    for name in names:
        log_dir = os.path.join(base, name) if args.scenario == "all" else base
        print("fault_scenarios: %s, logs in %s" % (name, log_dir), flush=True)
        t = now()
        try:
            status, sc = run_scenario(name, args.bin_dir, log_dir)
        except KeyboardInterrupt:
            print("fault_scenarios: %s interrupted" % name, flush=True)
            return 1
        results[name] = status
        if status == "skipped":
            print("fault_scenarios: %s SKIPPED: %s" % (name, sc.skip_reason), flush=True)
        elif status == "failed":
            print("fault_scenarios: %s FAILED (%d problems, %.1f s):\n  %s"
                  % (name, len(sc.failures), now() - t, "\n  ".join(sc.failures)), flush=True)
        else:
            print("fault_scenarios: %s PASSED (%.1f s; %d step numbers checked, %d lines of "
                  "faulted peers set aside)" % (name, now() - t, sc.metrics.get("steps_checked", 0),
                                                sc.metrics.get("orphaned_lines", 0)), flush=True)
    if any(s == "failed" for s in results.values()):
        return 1
    if all(s == "skipped" for s in results.values()):
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
