#!/usr/bin/env python3
"""Chaos test: meridian-soak peers under random kills, hangs and joins.

Starts a coordinator on 127.0.0.1 (free port, random token, short heartbeat
timeout) and --peers meridian-soak processes, each in its own process group.
For --duration seconds a seeded RNG picks a fault every few seconds:

  kill   SIGKILL a running peer
  stop   SIGSTOP a running peer for longer than the heartbeat timeout, then
         SIGCONT it (it is evicted meanwhile, and joins again)
  start  start a new peer (it joins the formed group as a pending peer)

never leaving fewer than --min-running peers running.  Then it lets the group
settle, asks every peer to stop at a common step (--stop-file) and checks:

  * every peer the driver did not kill exits 0 (meridian-soak checks each
    result itself and exits 3 on a wrong one);
  * for each step, every peer that completed it printed the same digest,
    world size and epoch;
  * the shared state (--print-state) each peer held before a step is the same
    on every peer, and joiners reach the group's state;
  * after every fault some peer completes a new step within the bound
    (heartbeat timeout + op timeout + --margin);
  * no running (not stopped) peer goes longer than the bound without a step
    while the others progress;
  * every peer's step numbers increase, and joiners continue the group's
    numbering.

Exit status 0 on success, 1 on a failed check (the reasons are printed),
2 on a usage or setup error.  Only the standard library is used.
"""

import argparse
import collections
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time

STEP_RE = re.compile(r"^step (\d+) epoch (\d+) world (\d+) digest ([0-9a-f]+)$")
STATE_RE = re.compile(r"^state (\d+) epoch (\d+) world (\d+) digest ([0-9a-f]+) received (\d+)$")
FAULT_RE = re.compile(r"^fault (\S+) (.*)$")
REJOIN_RE = re.compile(r"^meridian-soak: rejoining")


def now():
    return time.monotonic()


class Peer:
    def __init__(self, pid_name, popen, started, joiner, log_dir):
        self.name = pid_name
        self.popen = popen
        self.pid = popen.pid
        self.started = started
        self.joiner = joiner
        self.lock = threading.Lock()
        self.steps = []      # (t, step, epoch, world, digest)
        self.states = []     # (t, step, epoch, world, digest, received)
        self.faults = []     # (t, text)
        self.rejoins = []    # t
        self.stderr_tail = collections.deque(maxlen=40)
        self.stops = []      # [t_stop, t_cont or None]
        self.killed_at = None
        self.exit_code = None
        self.exited_at = None
        self.out_log = open(os.path.join(log_dir, pid_name + ".out"), "w")
        self.err_log = open(os.path.join(log_dir, pid_name + ".err"), "w")
        self.threads = [
            threading.Thread(target=self._read, args=(popen.stdout, True), daemon=True),
            threading.Thread(target=self._read, args=(popen.stderr, False), daemon=True),
        ]
        for t in self.threads:
            t.start()

    def _read(self, stream, is_stdout):
        log = self.out_log if is_stdout else self.err_log
        for raw in iter(stream.readline, b""):
            t = now()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            log.write("%.3f %s\n" % (t, line))
            log.flush()
            with self.lock:
                if is_stdout:
                    m = STEP_RE.match(line)
                    if m:
                        self.steps.append((t, int(m.group(1)), int(m.group(2)),
                                           int(m.group(3)), m.group(4)))
                    else:
                        self.stderr_tail.append("(stdout) " + line)
                    continue
                m = STATE_RE.match(line)
                if m:
                    self.states.append((t, int(m.group(1)), int(m.group(2)), int(m.group(3)),
                                        m.group(4), int(m.group(5))))
                    continue
                self.stderr_tail.append(line)
                m = FAULT_RE.match(line)
                if m:
                    self.faults.append((t, line))
                elif REJOIN_RE.match(line):
                    self.rejoins.append(t)
        stream.close()

    def alive(self):
        return self.exit_code is None and self.killed_at is None

    def stopped(self):
        return bool(self.stops) and self.stops[-1][1] is None

    def running(self):
        return self.alive() and not self.stopped()

    def poll(self):
        if self.exit_code is None:
            rc = self.popen.poll()
            if rc is not None:
                self.exit_code = rc
                self.exited_at = now()
        return self.exit_code

    def last_step_time(self):
        with self.lock:
            return self.steps[-1][0] if self.steps else None

    def close_logs(self):
        for t in self.threads:
            t.join(timeout=5)
        self.out_log.close()
        self.err_log.close()


class Driver:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.bound = (args.heartbeat_ms + args.op_timeout_ms) / 1000.0 + args.margin
        self.peers = []
        self.faults = []    # dicts: kind, peer, t, (t_cont), progress_s
        self.failures = []
        self.notes = []
        self.coordinator = None
        self.coordinator_address = None
        self.token = secrets.token_hex(32)
        self.stop_file = os.path.join(args.log_dir, "stop_at")
        self.next_id = 0
        self.ending = False
        self.t0 = now()

    # ------------------------------------------------------------ helpers --
    def say(self, msg):
        print("[chaos %7.2f] %s" % (now() - self.t0, msg), flush=True)

    def fail(self, msg):
        self.failures.append(msg)
        self.say("FAILURE: " + msg)

    def all_steps(self):
        out = []
        for p in self.peers:
            with p.lock:
                out.extend((s[0], s[1], p) for s in p.steps)
        out.sort(key=lambda x: x[0])
        return out

    def max_step(self):
        m = -1
        for p in self.peers:
            with p.lock:
                if p.steps:
                    m = max(m, max(s[1] for s in p.steps))
        return m

    def first_step_after(self, t, min_step):
        """Time of the first step line after t whose number is >= min_step."""
        best = None
        for p in self.peers:
            with p.lock:
                for s in p.steps:
                    if s[0] > t and s[1] >= min_step and (best is None or s[0] < best):
                        best = s[0]
        return best

    def soak_cmd(self):
        a = self.args
        return [os.path.join(a.bin_dir, "meridian-soak"), "--steps", str(a.max_steps),
                "--size", str(a.size), "--sleep-ms", str(a.sleep_ms),
                "--model-bytes", str(a.model_bytes), "--print-state",
                "--stop-file", self.stop_file]

    def peer_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MERIDIAN_") and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK",
                                                              "MASTER_ADDR", "MASTER_PORT")}
        env.update({
            "MERIDIAN_COORDINATOR": self.coordinator_address,
            "MERIDIAN_WORLD_SIZE": str(self.args.peers),
            "MERIDIAN_AUTH_TOKEN": self.token,
            "MERIDIAN_OP_TIMEOUT_MS": str(self.args.op_timeout_ms),
            "MERIDIAN_CONNECT_TIMEOUT_MS": str(self.args.connect_timeout_ms),
        })
        return env

    def start_peer(self, joiner):
        name = "p%d" % self.next_id
        self.next_id += 1
        popen = subprocess.Popen(self.soak_cmd(), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=self.peer_env(), start_new_session=True)
        p = Peer(name, popen, now(), joiner, self.args.log_dir)
        self.peers.append(p)
        self.say("started %s (pid %d)%s" % (name, p.pid, " as a joiner" if joiner else ""))
        return p

    def start_coordinator(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MERIDIAN_")}
        env["MERIDIAN_AUTH_TOKEN"] = self.token
        env["MERIDIAN_HEARTBEAT_TIMEOUT_MS"] = str(self.args.heartbeat_ms)
        self.coord_log = open(os.path.join(self.args.log_dir, "coordinator.log"), "w")
        self.coordinator = subprocess.Popen(
            [os.path.join(self.args.bin_dir, "meridian-coordinator"), "--listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.coord_log,
            env=env, start_new_session=True)
        line = self.coordinator.stdout.readline().decode("utf-8", "replace").strip()
        m = re.search(r"listening on (\S+)", line)
        if not m:
            raise RuntimeError("coordinator did not start: %r (see %s)" %
                               (line, self.coord_log.name))
        self.coordinator_address = m.group(1)
        self.say("coordinator pid %d on %s, heartbeat timeout %d ms"
                 % (self.coordinator.pid, self.coordinator_address, self.args.heartbeat_ms))
        # Keep draining its stdout so that it never blocks on a full pipe.
        def drain(stream, log):
            for raw in iter(stream.readline, b""):
                log.write(raw.decode("utf-8", "replace"))
                log.flush()
        threading.Thread(target=drain, args=(self.coordinator.stdout, self.coord_log),
                         daemon=True).start()

    def check_unexpected_exits(self):
        for p in self.peers:
            if p.killed_at is None and p.exit_code is None and p.poll() is not None:
                if p.exit_code != 0 or not self.ending:
                    p.reported = True
                    self.fail("%s (pid %d) exited with status %d during the run; last lines:\n  %s"
                              % (p.name, p.pid, p.exit_code, "\n  ".join(list(p.stderr_tail)[-8:])))
        if self.coordinator.poll() is not None:
            self.fail("the coordinator exited with status %d" % self.coordinator.returncode)

    def sleep(self, seconds):
        """Sleeps, watching for peers that exit on their own."""
        end = now() + seconds
        while True:
            self.check_unexpected_exits()
            left = end - now()
            if left <= 0 or self.failures:
                return
            time.sleep(min(0.1, left))

    def wait_for(self, predicate, timeout):
        end = now() + timeout
        while now() < end:
            self.check_unexpected_exits()
            if self.failures:
                return False
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    # ------------------------------------------------------------- faults --
    def running_peers(self):
        for p in self.peers:
            p.poll()
        return [p for p in self.peers if p.running()]

    def alive_peers(self):
        return [p for p in self.peers if p.alive()]

    def members(self):
        """Running peers that are in the group (they completed a step since
        they last started, resumed or joined again): the ones to fault."""
        out = []
        for p in self.running_peers():
            with p.lock:
                since = max([p.started] + [c for _, c in p.stops if c is not None] + p.rejoins)
                if p.steps and p.steps[-1][0] > since:
                    out.append(p)
        return out

    def pick_fault(self):
        running = self.running_peers()
        alive = self.alive_peers()
        choices = []
        if len(running) - 1 >= self.args.min_running and self.members():
            choices += [(k, 3) for k in ("kill", "stop") if k in self.args.faults]
        if len(alive) < self.args.max_peers and "start" in self.args.faults:
            # Refill faster when below the starting size.
            choices.append(("start", 2 if len(alive) >= self.args.peers else 5))
        if not choices:
            return None
        total = sum(w for _, w in choices)
        x = self.rng.uniform(0, total)
        for kind, w in choices:
            x -= w
            if x <= 0:
                return kind
        return choices[-1][0]

    def do_fault(self, kind):
        before_max = self.max_step()
        t = now()
        fault = {"kind": kind, "t": t, "max_step": before_max}
        if kind == "start":
            p = self.start_peer(joiner=True)
            fault["peer"] = p.name
        else:
            victim = self.rng.choice(self.members())
            fault["peer"] = victim.name
            if kind == "kill":
                os.kill(victim.pid, signal.SIGKILL)
                victim.killed_at = t
                self.say("fault %d: SIGKILL %s (pid %d) at step %d"
                         % (len(self.faults) + 1, victim.name, victim.pid, before_max))
            else:
                hold = self.rng.uniform(1.5, 2.5) * self.args.heartbeat_ms / 1000.0 + 0.5
                os.kill(victim.pid, signal.SIGSTOP)
                victim.stops.append([t, None])
                self.say("fault %d: SIGSTOP %s (pid %d) for %.1f s at step %d"
                         % (len(self.faults) + 1, victim.name, victim.pid, hold, before_max))
                fault["hold"] = hold
                fault["victim"] = victim
        self.faults.append(fault)
        if kind == "start":
            self.say("fault %d: started joiner %s at step %d"
                     % (len(self.faults), fault["peer"], before_max))
        return fault

    def await_progress(self, fault):
        """Waits for a step that began after the fault; records the delay."""
        # The step in flight at the fault may complete without noticing it;
        # one step after that shows that the group went on.
        min_step = fault["max_step"] + 2
        t = fault["t"]
        ok = self.wait_for(lambda: self.first_step_after(t, min_step) is not None,
                           self.bound + 0.5)
        first = self.first_step_after(t, min_step)
        if first is None or first - t > self.bound:
            if not self.failures:
                self.fail("no progress within %.1f s after fault %d (%s %s at step %d)"
                          % (self.bound, self.faults.index(fault) + 1, fault["kind"],
                             fault["peer"], fault["max_step"]))
            fault["progress_s"] = None
            return False
        fault["progress_s"] = first - t
        return ok

    def release(self, fault):
        victim = fault.get("victim")
        if victim is None or not victim.stopped():
            return
        os.kill(victim.pid, signal.SIGCONT)
        victim.stops[-1][1] = now()
        fault["t_cont"] = victim.stops[-1][1]
        self.say("SIGCONT %s (pid %d)" % (victim.name, victim.pid))

    # ---------------------------------------------------------------- run --
    def run(self):
        self.ending = False
        open(self.stop_file, "w").close()  # empty: no stop step yet
        self.start_coordinator()
        for _ in range(self.args.peers):
            self.start_peer(joiner=False)
        if not self.wait_for(lambda: self.max_step() >= 3,
                             self.args.connect_timeout_ms / 1000.0 + self.bound):
            if not self.failures:
                self.fail("the group of %d peers did not complete 3 steps in time"
                          % self.args.peers)
            return
        self.say("group formed; faults for %d s (seed %d, bound %.1f s)"
                 % (self.args.duration, self.args.seed, self.bound))
        t_end = now() + self.args.duration
        while now() < t_end and not self.failures:
            self.sleep(self.rng.uniform(self.args.min_interval, self.args.max_interval))
            if self.failures or now() >= t_end:
                break
            kind = self.pick_fault()
            if kind is None:
                continue
            fault = self.do_fault(kind)
            if kind == "stop":
                # Progress must come while the victim is still stopped.
                self.sleep(fault["hold"])
                if not self.failures:
                    self.await_progress(fault)
                self.release(fault)
            else:
                self.await_progress(fault)
            if fault.get("progress_s") is not None:
                self.say("  progress %.2f s after the fault" % fault["progress_s"])
        for f in self.faults:
            self.release(f)
        if self.failures:
            return
        self.settle_and_stop()

    def settle_and_stop(self):
        # Every live peer (joiners and the peers that were stopped included)
        # must be back in the group and completing steps.
        self.say("faults over; waiting for every peer to complete steps")
        t_quiet = now()
        def all_back():
            for p in self.alive_peers():
                with p.lock:
                    if not any(s[0] > t_quiet for s in p.steps):
                        return False
            return True
        if not self.wait_for(all_back, self.bound + self.args.connect_timeout_ms / 1000.0):
            if not self.failures:
                lagging = [p.name for p in self.alive_peers()
                           if not any(s[0] > t_quiet for s in p.steps)]
                self.fail("after the faults, peers %s completed no step within %.1f s"
                          % (", ".join(lagging), self.bound + self.args.connect_timeout_ms / 1000.0))
            return
        self.ending = True
        stop_at = self.max_step() + self.args.final_steps
        tmp = self.stop_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % stop_at)
        os.replace(tmp, self.stop_file)
        self.stop_at = stop_at
        self.say("asked every peer to stop at step %d" % stop_at)
        done = self.wait_for(lambda: all(p.poll() is not None for p in self.alive_peers()),
                             self.bound + 30)
        if not done and not self.failures:
            self.fail("peers %s did not finish at step %d"
                      % (", ".join(p.name for p in self.alive_peers() if p.poll() is None), stop_at))

    def shutdown(self):
        for p in self.peers:
            if p.poll() is None:
                # Still running when the run ends: either the run failed
                # already, or settle_and_stop reported that it did not finish.
                p.terminated = True
                if p.stopped():
                    os.kill(p.pid, signal.SIGCONT)
                os.kill(p.pid, signal.SIGTERM)
        end = now() + 5
        while now() < end and any(p.poll() is None for p in self.peers):
            time.sleep(0.05)
        for p in self.peers:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.popen.wait()
                p.poll()
        for p in self.peers:
            if p.popen.poll() is None:
                p.popen.wait()
            p.poll()
            p.close_logs()
        if self.coordinator is not None and self.coordinator.poll() is None:
            self.coordinator.send_signal(signal.SIGTERM)
            try:
                self.coordinator.wait(5)
            except subprocess.TimeoutExpired:
                self.coordinator.kill()
                self.coordinator.wait()

    # ------------------------------------------------------------- checks --
    def faulted_lines(self, p):
        """Step numbers of p's lines that may legitimately disagree with the
        group: the step in flight when p was killed or stopped, which p may
        have completed while the others did not (they redo it without p)."""
        allowed = set()
        with p.lock:
            steps = list(p.steps)
        if p.killed_at is not None and steps:
            allowed.add(steps[-1][1])
        for t_stop, t_cont in p.stops:
            before = [s for s in steps if s[0] <= t_stop]
            after = [s for s in steps if t_cont is not None and s[0] > t_cont]
            if before:
                allowed.add(before[-1][1])
            if after:
                allowed.add(after[0][1])
        return allowed

    def check(self):
        # Exit codes.
        for p in self.peers:
            if (p.killed_at is not None or getattr(p, "reported", False)
                    or getattr(p, "terminated", False)):
                continue
            if p.exit_code != 0:
                self.fail("%s (pid %d) exited with status %s; last lines:\n  %s"
                          % (p.name, p.pid, p.exit_code, "\n  ".join(list(p.stderr_tail)[-8:])))
        stop_at = getattr(self, "stop_at", None)
        if stop_at is not None:
            for p in self.peers:
                if p.killed_at is None and p.exit_code == 0:
                    last = p.steps[-1][1] if p.steps else None
                    if last != stop_at - 1:
                        self.fail("%s finished with last step %s, expected %d (stop step %d)"
                                  % (p.name, last, stop_at - 1, stop_at))

        # Consistency per step: digest, world and epoch.
        by_step = collections.defaultdict(list)
        for p in self.peers:
            for (t, step, epoch, world, digest) in p.steps:
                by_step[step].append((p, (digest, world, epoch)))
        orphans = 0
        allowed = {p.name: self.faulted_lines(p) for p in self.peers}
        for step, entries in sorted(by_step.items()):
            values = collections.Counter(v for _, v in entries)
            if len(values) == 1:
                continue
            # The group's value: the one printed by peers not allowed to
            # differ at this step.
            strict = collections.Counter(v for p, v in entries if step not in allowed[p.name])
            if len(strict) > 1:
                self.fail("step %d: peers disagree: %s" % (step, "; ".join(
                    "%s digest %s world %d epoch %d" % (p.name, v[0], v[1], v[2])
                    for p, v in entries)))
                continue
            group = next(iter(strict)) if strict else values.most_common(1)[0][0]
            for p, v in entries:
                if v != group:
                    orphans += 1
                    self.notes.append("step %d: %s (faulted then) printed digest %s world %d "
                                      "epoch %d; the group redid it as digest %s world %d "
                                      "epoch %d" % (step, p.name, v[0], v[1], v[2],
                                                    group[0], group[1], group[2]))
        self.orphans = orphans

        # Shared state before each step: the same on every peer.
        state_by_step = collections.defaultdict(list)
        for p in self.peers:
            for (t, step, epoch, world, digest, received) in p.states:
                state_by_step[step].append((p, digest))
        for step, entries in sorted(state_by_step.items()):
            digests = collections.Counter(d for p, d in entries
                                          if step not in allowed[p.name]
                                          and step - 1 not in allowed[p.name])
            if len(digests) > 1:
                self.fail("state before step %d differs between peers: %s" % (step, "; ".join(
                    "%s %s" % (p.name, d) for p, d in entries)))

        # Joiners (and peers that joined again) reach the group's state and
        # continue its numbering.
        self.joins_verified = 0
        for p in self.peers:
            join_times = ([p.started] if p.joiner else []) + list(p.rejoins)
            for tj in join_times:
                firsts = [s for s in p.states if s[0] > tj]
                if not firsts:
                    continue
                _, step, _, _, digest, _ = firsts[0]
                others = {d for q, d in state_by_step.get(step, []) if q is not p}
                if others and digest not in others:
                    self.fail("%s joined at step %d with state %s, the group held %s"
                              % (p.name, step, digest, ", ".join(sorted(others))))
                elif others:
                    self.joins_verified += 1
                before = [s[1] for q in self.peers if q is not p for s in q.steps if s[0] < tj]
                first_steps = [s for s in p.steps if s[0] > tj]
                if before and first_steps and first_steps[0][1] < max(before):
                    self.fail("%s joined after step %d was completed but then printed step %d"
                              % (p.name, max(before), first_steps[0][1]))
            nums = [s[1] for s in p.steps]
            for a, b in zip(nums, nums[1:]):
                if b <= a:
                    self.fail("%s printed step %d after step %d" % (p.name, b, a))
                    break

        # Progress after every fault (recorded while running).
        self.max_recovery = max([f["progress_s"] for f in self.faults
                                 if f.get("progress_s") is not None] or [0.0])

        # No running peer goes longer than the bound without a step while the
        # others progress.
        all_steps = self.all_steps()
        self.max_gap = 0.0
        self.max_gap_peer = None
        for p in self.peers:
            end = p.killed_at or p.exited_at or now()
            marks = [p.started] + [s[0] for s in p.steps] + [end]
            for a, b in zip(marks, marks[1:]):
                start = a
                for t_stop, t_cont in p.stops:
                    if t_stop < b and (t_cont is None or t_cont > a):
                        start = max(start, t_cont if t_cont is not None else b)
                gap = b - start
                if gap <= 0:
                    continue
                if gap > self.max_gap:
                    self.max_gap, self.max_gap_peer = gap, p.name
                if gap > self.bound:
                    # Hung while the others went on: they completed steps
                    # after this peer had been silent for the whole bound.
                    # (A stall of the whole group is the progress check's.)
                    progressed = any(start + self.bound < t < b and q is not p
                                     for t, _, q in all_steps)
                    if progressed:
                        self.fail("%s went %.1f s without a step (from %.1f s to %.1f s of "
                                  "the run) while others progressed (bound %.1f s)"
                                  % (p.name, gap, start - self.t0, b - self.t0, self.bound))

    def summary(self):
        kinds = collections.Counter(f["kind"] for f in self.faults)
        lines = sum(len(p.steps) for p in self.peers)
        print("chaos_soak summary: seed %d, %d peers started, faults %d (kill %d, stop %d, "
              "start %d), max step %d, %d step lines, %d orphaned lines, %d joins verified, "
              "max recovery %.2f s, max per-peer gap %.2f s (%s), bound %.1f s, logs in %s"
              % (self.args.seed, len(self.peers), len(self.faults), kinds["kill"], kinds["stop"],
                 kinds["start"], self.max_step(), lines, getattr(self, "orphans", 0),
                 getattr(self, "joins_verified", 0), getattr(self, "max_recovery", 0.0),
                 getattr(self, "max_gap", 0.0), getattr(self, "max_gap_peer", None),
                 self.bound, self.args.log_dir), flush=True)
        for n in self.notes[:20]:
            print("  note: " + n)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.environ.get(
        "MERIDIAN_BIN_DIR", os.path.join(here, "..", "..", "build", "bin")),
        help="folder with meridian-soak and meridian-coordinator (default: build/bin)")
    ap.add_argument("--duration", type=float, default=60, help="seconds of faults (default 60)")
    ap.add_argument("--seed", type=int, default=None, help="RNG seed (default: random, printed)")
    ap.add_argument("--peers", type=int, default=6, help="peers at the start (default 6)")
    ap.add_argument("--max-peers", type=int, default=8, help="most live peers at once (default 8)")
    ap.add_argument("--min-running", type=int, default=2,
                    help="never fewer running peers than this (default 2)")
    ap.add_argument("--size", type=int, default=65536, help="all-reduce bytes (default 65536)")
    ap.add_argument("--model-bytes", type=int, default=16384,
                    help="shared model tensor bytes (default 16384)")
    ap.add_argument("--sleep-ms", type=int, default=20, help="pause between steps (default 20)")
    ap.add_argument("--heartbeat-ms", type=int, default=1500,
                    help="coordinator heartbeat timeout (default 1500)")
    ap.add_argument("--op-timeout-ms", type=int, default=5000,
                    help="peers' per-operation timeout (default 5000)")
    ap.add_argument("--connect-timeout-ms", type=int, default=20000,
                    help="peers' connect timeout (default 20000)")
    ap.add_argument("--margin", type=float, default=5.0,
                    help="seconds added to heartbeat + op timeout for the progress bound")
    ap.add_argument("--min-interval", type=float, default=1.0,
                    help="least seconds between faults (default 1)")
    ap.add_argument("--max-interval", type=float, default=4.0,
                    help="most seconds between faults (default 4)")
    ap.add_argument("--faults", default="kill,stop,start",
                    help="fault kinds to pick from (default kill,stop,start)")
    ap.add_argument("--final-steps", type=int, default=50,
                    help="steps after the faults before every peer stops (default 50)")
    ap.add_argument("--max-steps", type=int, default=10 ** 12,
                    help="meridian-soak --steps (default: unbounded; the stop file ends the run)")
    ap.add_argument("--log-dir", default=None,
                    help="where peer logs go (default: a new temporary folder)")
    args = ap.parse_args()
    args.faults = set(f for f in args.faults.split(",") if f)
    if not args.faults or not args.faults <= {"kill", "stop", "start"}:
        ap.error("--faults takes a comma-separated subset of kill,stop,start")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2 ** 31)
    if args.peers < 2 or args.min_running < 1 or args.max_peers < args.peers:
        ap.error("need --peers >= 2, --min-running >= 1, --max-peers >= --peers")
    for tool in ("meridian-soak", "meridian-coordinator"):
        if not os.access(os.path.join(args.bin_dir, tool), os.X_OK):
            print("chaos_soak: %s not found in %s (--bin-dir)" % (tool, args.bin_dir),
                  file=sys.stderr)
            return 2
    if args.log_dir is None:
        args.log_dir = tempfile.mkdtemp(prefix="meridian-chaos-")
    else:
        os.makedirs(args.log_dir, exist_ok=True)
        for f in os.listdir(args.log_dir):
            if f.endswith((".out", ".err", ".log")) or f.startswith("stop_at"):
                os.remove(os.path.join(args.log_dir, f))
    args.bin_dir = os.path.abspath(args.bin_dir)
    print("chaos_soak: seed %d (rerun with --seed %d), duration %g s, logs in %s"
          % (args.seed, args.seed, args.duration, args.log_dir), flush=True)

    d = Driver(args)
    # Our own SIGTERM/SIGINT (ctest timeout, ^C) still cleans up.
    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    try:
        d.run()
    except KeyboardInterrupt:
        d.fail("interrupted")
    except Exception as e:  # setup errors: still stop what we started
        d.fail("driver error: %r" % (e,))
    finally:
        d.shutdown()
    d.check()
    d.summary()
    if d.failures:
        print("chaos_soak: FAILED (%d problems); first: %s" % (len(d.failures), d.failures[0]),
              flush=True)
        return 1
    print("chaos_soak: PASSED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
