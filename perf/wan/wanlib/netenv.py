"""The namespaces, the emulator and the processes of one harness run.

Everything started here is started from the main thread, in its own process
group, with PR_SET_PDEATHSIG (SIGKILL if the harness dies), and is ended by
PID / process group: SIGTERM, then SIGKILL after a grace period.  Namespaces
are named mdnw<harness pid>n<peer index>; before one is deleted every
process still inside it (`ip netns pids`) is killed.  Testbed.teardown()
returns the list of things it could not remove (empty: nothing left behind).
"""

import collections
import ctypes
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time

from . import scenario as scn

GRACE_S = 3.0

_libc = None


def _child_setup():
    """preexec_fn: die with the harness."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class SetupError(RuntimeError):
    pass


def say(msg):
    print("# wan: %s" % msg, file=sys.stderr, flush=True)


def run_cmd(argv, check=True, timeout=30, capture=True):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None,
                       universal_newlines=True, timeout=timeout)
    if check and r.returncode != 0:
        raise SetupError("%s failed (exit %d): %s" % (
            " ".join(argv), r.returncode, (r.stderr or r.stdout or "").strip()))
    return r


def list_namespaces():
    r = run_cmd(["ip", "netns", "list"], check=False)
    names = []
    for line in (r.stdout or "").splitlines():
        if line.strip():
            names.append(line.split()[0])
    return names


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def ns_pids(ns):
    r = run_cmd(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in (r.stdout or "").split() if x.isdigit()]


def exit_code(returncode):
    """Popen returncode -> shell-style status (signals as 128 + n)."""
    if returncode is None:
        return None
    return 128 - returncode if returncode < 0 else returncode


class Proc:
    """A child process in its own process group.  Its stdout and stderr go to
    `log` (a file path) and, when echo is given, to echo (a stream); the last
    lines are kept for error messages and pattern waits."""

    def __init__(self, name, argv, env=None, log=None, echo_out=None, echo_err=None,
                 merge=False):
        self.name = name
        self.argv = argv
        self.cond = threading.Condition()
        self.lines = collections.deque(maxlen=400)
        self.log = open(log, "w") if log else None
        if self.log:
            self.log.write("$ %s\n" % " ".join(argv))
            self.log.flush()
        self.popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE, env=env,
            start_new_session=True, preexec_fn=_child_setup)
        self.pid = self.popen.pid
        self.threads = [threading.Thread(target=self._read, args=(self.popen.stdout, echo_out),
                                         daemon=True)]
        if not merge:
            self.threads.append(threading.Thread(target=self._read,
                                                 args=(self.popen.stderr, echo_err), daemon=True))
        for t in self.threads:
            t.start()

    def _read(self, stream, echo):
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", "replace")
            with self.cond:
                self.lines.append(text.rstrip("\n"))
                if self.log:
                    self.log.write(text)
                    self.log.flush()
                self.cond.notify_all()
            if echo is not None:
                try:
                    echo.write(text)
                    echo.flush()
                except (OSError, ValueError):
                    pass
        stream.close()

    def wait_for_line(self, pattern, timeout):
        """The first match of regex `pattern` in the output, or None after
        timeout / when the process exits."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = end - time.monotonic()
                if left <= 0 or self.popen.poll() is not None:
                    # one more pass over lines that arrived with the exit
                    for line in self.lines:
                        m = rx.search(line)
                        if m:
                            return m
                    return None
                self.cond.wait(min(left, 0.1))

    def poll(self):
        return self.popen.poll()

    def tail(self, n=15):
        with self.cond:
            return list(self.lines)[-n:]

    def send(self, sig):
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def end(self, grace=GRACE_S, sig=signal.SIGTERM):
        """SIGTERM the process group, SIGKILL it after `grace` seconds; waits
        for the process and its output.  Returns its exit code."""
        if self.popen.poll() is None:
            self.send(sig)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # The leader may be gone with members of its group left behind.
        if self.popen.poll() is None or group_alive(self.pid):
            self.send(signal.SIGKILL)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        # Members of the group that outlived the leader (orphans being
        # reparented and reaped take a moment).
        end = time.monotonic() + 5
        while group_alive(self.pid) and time.monotonic() < end:
            self.send(signal.SIGKILL)
            time.sleep(0.05)
        for t in self.threads:
            t.join(timeout=2)
        if self.log and not self.log.closed:
            with self.cond:
                self.log.close()
        return exit_code(self.popen.returncode)

    def left_behind(self):
        return self.popen.poll() is None or group_alive(self.pid)


class Testbed:
    """One emulated scenario: namespaces, meridian-wanem, addresses, and
    optionally a coordinator and per-peer commands."""

    def __init__(self, scenario, bin_dir, work_dir, mtu=scn.DEFAULT_MTU, verbose=True,
                 sysctls=(), wanem_args=()):
        self.scenario = scenario
        self.bin_dir = bin_dir
        self.work_dir = work_dir
        self.mtu = mtu
        self.verbose = verbose
        self.sysctls = list(sysctls)        # "key=value", set in every namespace
        self.wanem_args = list(wanem_args)  # extra meridian-wanem flags
        self.pid = os.getpid()
        self.namespaces = [scn.namespace_name(self.pid, i) for i in range(len(scenario.peers))]
        self.created = []            # namespaces we created
        self.procs = []              # every Proc we started
        self.emulator = None
        self.coordinator = None
        self.coordinator_address = None
        self.token = secrets.token_hex(16)
        self.counters = []           # emulator's final lines
        self.torn_down = False
        self.ended_by_harness = []   # ranks run_peers had to end

    def log_path(self, name):
        return os.path.join(self.work_dir, name + ".log")

    def say(self, msg):
        if self.verbose:
            say(msg)

    def start(self, name, argv, **kw):
        p = Proc(name, argv, **kw)
        self.procs.append(p)
        return p

    # ---- building -------------------------------------------------------

    def build(self, ready_timeout=20.0):
        wanem = os.path.join(self.bin_dir, "meridian-wanem")
        if not os.access(wanem, os.X_OK):
            raise SetupError("%s not found (build the emulator: cmake --build build "
                             "--target meridian-wanem)" % wanem)
        for ns in self.namespaces:
            run_cmd(["ip", "netns", "add", ns])
            self.created.append(ns)
            run_cmd(["ip", "-n", ns, "link", "set", "lo", "up"])
            for kv in self.sysctls:
                run_cmd(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", kv])
        config = os.path.join(self.work_dir, "wanem.conf")
        with open(config, "w") as f:
            f.write(scn.emulator_config(self.scenario, self.namespaces, self.mtu))
        self.emulator = self.start("wanem", [wanem, "--config", config, "--exit-with-parent"]
                                   + self.wanem_args,
                                   log=self.log_path("wanem"), merge=True)
        if not self.emulator.wait_for_line(r"^\s*ready\s*$", ready_timeout):
            raise SetupError("meridian-wanem did not print 'ready' within %.0f s "
                             "(exit %s); last lines:\n  %s" % (
                                 ready_timeout, exit_code(self.emulator.poll()),
                                 "\n  ".join(self.emulator.tail())))
        for i, ns in enumerate(self.namespaces):
            run_cmd(["ip", "-n", ns, "addr", "add", "%s/%d" % (scn.address(i), scn.PREFIX_LEN),
                     "dev", "wan0"])
            run_cmd(["ip", "-n", ns, "link", "set", "wan0", "mtu", str(self.mtu), "up"])
        self.say("scenario %s: %d peers in namespaces %s..%s, emulator pid %d" % (
            self.scenario.name, len(self.namespaces), self.namespaces[0],
            self.namespaces[-1], self.emulator.pid))

    def ns_exec(self, i):
        return ["ip", "netns", "exec", self.namespaces[i]]

    def start_coordinator(self, timeout=15.0):
        c = self.scenario.coordinator_peer
        env = {k: v for k, v in os.environ.items() if not k.startswith("MERIDIAN_")}
        env["MERIDIAN_AUTH_TOKEN"] = self.token
        for k in ("MERIDIAN_LOG_LEVEL", "MERIDIAN_HEARTBEAT_TIMEOUT_MS"):
            if k in os.environ:
                env[k] = os.environ[k]
        argv = self.ns_exec(c) + [os.path.join(self.bin_dir, "meridian-coordinator"),
                                  "--listen", "%s:0" % scn.address(c)]
        self.coordinator = self.start("coordinator", argv, env=env,
                                      log=self.log_path("coordinator"), merge=True)
        m = self.coordinator.wait_for_line(r"listening on (\S+)", timeout)
        if not m:
            raise SetupError("meridian-coordinator did not start (exit %s); last lines:\n  %s"
                             % (exit_code(self.coordinator.poll()),
                                "\n  ".join(self.coordinator.tail())))
        self.coordinator_address = m.group(1)
        self.say("coordinator pid %d on %s (namespace of peer %d)" % (
            self.coordinator.pid, self.coordinator_address, c))
        return self.coordinator_address

    def stop_coordinator(self):
        if self.coordinator is not None:
            self.coordinator.end()
            self.coordinator = None

    def peer_env(self, rank, connections=None, extra=None):
        world = len(self.scenario.peers)
        drop = ("MERIDIAN_COORDINATOR", "MERIDIAN_WORLD_SIZE", "MERIDIAN_RANK",
                "MERIDIAN_AUTH_TOKEN", "MERIDIAN_AUTH_TOKEN_FILE", "MERIDIAN_INSECURE",
                "MERIDIAN_ADVERTISE_ADDR", "RANK", "WORLD_SIZE", "LOCAL_RANK",
                "MASTER_ADDR", "MASTER_PORT")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update({
            "MERIDIAN_COORDINATOR": self.coordinator_address,
            "MERIDIAN_WORLD_SIZE": str(world),
            "MERIDIAN_RANK": str(rank),
            "MERIDIAN_AUTH_TOKEN": self.token,
            "MERIDIAN_ADVERTISE_ADDR": scn.address(rank),
        })
        if connections:
            env["MERIDIAN_CONNECTIONS_PER_PEER"] = str(connections)
        env.update(extra or {})
        return env

    # ---- per-peer commands ----------------------------------------------

    def run_peers(self, argv_of, env_of, deadline, tag="rank", echo_rank0=True,
                  fail_grace=30.0):
        """Runs argv_of(i) with env_of(i) in every peer's namespace; rank 0's
        stdout (and stderr) are echoed.  Returns (exit codes, timed_out).
        After the first failure the others get fail_grace seconds."""
        peers = []
        for i in range(len(self.namespaces)):
            echo = i == 0 and echo_rank0
            peers.append(self.start("%s%d" % (tag, i), self.ns_exec(i) + list(argv_of(i)),
                                    env=env_of(i), log=self.log_path("%s%d" % (tag, i)),
                                    echo_out=sys.stdout if echo else None,
                                    echo_err=sys.stderr if echo else None))
        timed_out = False
        first_failure = None
        while True:
            codes = [p.poll() for p in peers]
            if all(c is not None for c in codes):
                break
            now = time.monotonic()
            if first_failure is None and any(c not in (None, 0) for c in codes):
                first_failure = now
                bad = [i for i, c in enumerate(codes) if c not in (None, 0)]
                self.say("%s%d exited %d; waiting at most %.0f s for the others" % (
                    tag, bad[0], exit_code(codes[bad[0]]), fail_grace))
            if now >= deadline:
                timed_out = True
                break
            if first_failure is not None and now - first_failure > fail_grace:
                break
            time.sleep(0.05)
        result = []
        self.ended_by_harness = []
        for i, p in enumerate(peers):
            if p.poll() is None:
                self.say("%s%d still running: ending it" % (tag, i))
                self.ended_by_harness.append(i)
            code = p.end()
            result.append(code)
        for i, p in enumerate(peers):
            if result[i] != 0 and i != 0 or (i == 0 and result[i] != 0 and not echo_rank0):
                self.say("%s%d exited %s; last lines (%s):\n    %s" % (
                    tag, i, result[i], self.log_path("%s%d" % (tag, i)),
                    "\n    ".join(p.tail(10))))
        return result, timed_out

    # ---- teardown -------------------------------------------------------

    def teardown(self):
        """Ends every process, stops the emulator, deletes the namespaces.
        Returns a list of what is left behind (empty when clean)."""
        left = []
        for p in reversed(self.procs):
            if p is self.emulator:
                continue
            try:
                p.end()
            except Exception as e:  # keep going: the namespaces must go too
                left.append("process %s (pid %d): %s" % (p.name, p.pid, e))
        if self.emulator is not None:
            self.emulator.end(grace=10.0)
            # The final counters: the last run of "link ..." / "total ..."
            # lines (periodic --stats-interval-ms blocks come before it).
            block = []
            for line in reversed(self.emulator.tail(2000)):
                if not block:
                    if line.startswith("total "):
                        block.append(line)
                elif line.startswith("link "):
                    block.append(line)
                else:
                    break
            self.counters = list(reversed(block))
        for ns in self.created:
            for pid in ns_pids(ns):
                self.say("killing pid %d left in namespace %s" % (pid, ns))
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        for ns in self.created:
            r = run_cmd(["ip", "netns", "del", ns], check=False)
            while r.returncode != 0 and time.monotonic() < deadline and ns in list_namespaces():
                time.sleep(0.2)
                r = run_cmd(["ip", "netns", "del", ns], check=False)
        present = set(list_namespaces())
        for ns in self.created:
            if ns in present:
                left.append("namespace %s" % ns)
        for p in self.procs:
            if p.left_behind():
                left.append("process %s (pid %d)" % (p.name, p.pid))
        self.torn_down = True
        return left


def harness_alive(pid):
    """Whether pid is a running harness (a reused pid of another program
    does not count)."""
    if not pid_alive(pid):
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().decode("utf-8", "replace")
    except OSError:
        return True  # cannot tell: keep its namespaces
    return "wan" in cmdline


def cleanup_stale(verbose=True):
    """Deletes mdnw* namespaces whose creator (the pid in the name) is gone,
    killing what runs in them first.  Returns (deleted, kept, failed)."""
    deleted, kept, failed = [], [], []
    for ns in list_namespaces():
        parsed = scn.parse_namespace_name(ns)
        if not parsed:
            continue
        pid = parsed[0]
        if pid != os.getpid() and harness_alive(pid):
            kept.append(ns)
            continue
        for q in ns_pids(ns):
            try:
                os.kill(q, signal.SIGKILL)
            except ProcessLookupError:
                pass
        r = run_cmd(["ip", "netns", "del", ns], check=False)
        if r.returncode == 0:
            deleted.append(ns)
        else:
            failed.append(ns)
    return deleted, kept, failed


def preflight(bin_dir, need=("meridian-wanem",)):
    """A reason why a testbed cannot be built here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, TUN devices)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    if not shutil.which("ip"):
        return "no 'ip' (iproute2)"
    for b in need:
        if not os.access(os.path.join(bin_dir, b), os.X_OK):
            return "%s not built (%s)" % (b, os.path.join(bin_dir, b))
    return None
