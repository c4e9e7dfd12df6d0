"""Scenario files -> links, paths and the meridian-wanem configuration.

Pure functions only (no namespaces, no processes), so that they can be unit
tested anywhere (tests/integration/wan_harness_unit.py).  See docs/wan.md,
"Links and paths" and "Scenario files".
"""

import json
import os
import re

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIO_DIR = os.path.join(HERE, "scenarios")

MIN_QUEUE_BYTES = 256 * 1024
DEFAULT_MTU = 16000
ADDRESS_PREFIX = "10.231.0."
PREFIX_LEN = 16
NS_PREFIX = "mdnw"
MAX_DEVICE_NAME = 15          # IFNAMSIZ - 1
_NAME_OK = re.compile(r"^[A-Za-z0-9._-]+$")


class ScenarioError(ValueError):
    pass


class Link:
    """One direction of one emulated link: a FIFO with a rate, a one-way
    delay, a loss probability and a byte limit."""

    def __init__(self, name, kind, rate_bps, rtt_ms, loss, queue_bytes, src=None, dst=None):
        self.name = name
        self.kind = kind            # "pair", "trunk" or "access"
        self.rate_bps = int(rate_bps)
        self.rtt_ms = float(rtt_ms)
        self.loss = float(loss)
        self.queue_bytes = int(queue_bytes)
        self.src = src              # region (trunk) / peer (pair, access); for reports
        self.dst = dst

    @property
    def delay_us(self):
        """One-way delay: half the round trip."""
        return int(round(self.rtt_ms * 1000.0 / 2.0))

    def config_line(self):
        return "link %s %d %d %s %d" % (self.name, self.rate_bps, self.delay_us,
                                        format_loss(self.loss), self.queue_bytes)

    def __repr__(self):
        return "Link(%s %s %d bit/s %.3f ms rtt loss %g queue %d)" % (
            self.name, self.kind, self.rate_bps, self.rtt_ms, self.loss, self.queue_bytes)


def format_loss(p):
    if p == 0:
        return "0"
    return ("%.9f" % p).rstrip("0").rstrip(".")


def default_queue_bytes(rate_bps, rtt_ms):
    """One bandwidth-delay product of the link (rate x round trip), at least
    256 KiB."""
    bdp = int(rate_bps * (rtt_ms / 1000.0) / 8)
    return max(bdp, MIN_QUEUE_BYTES)


def _number(obj, key, where, default=None, minimum=0.0, strict_min=False, maximum=None):
    if key not in obj:
        if default is None:
            raise ScenarioError("%s: '%s' is missing" % (where, key))
        return default
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ScenarioError("%s: '%s' must be a number, not %r" % (where, key, v))
    if v < minimum or (strict_min and v == minimum):
        raise ScenarioError("%s: '%s' must be %s %g (got %g)" % (
            where, key, "above" if strict_min else "at least", minimum, v))
    if maximum is not None and v >= maximum:
        raise ScenarioError("%s: '%s' must be below %g (got %g)" % (where, key, maximum, v))
    return v


def _link_params(obj, where, need_rtt=True):
    rate_mbit = _number(obj, "rate_mbit", where, strict_min=True)
    rtt_ms = _number(obj, "rtt_ms", where, default=None if need_rtt else 0.0)
    loss = _number(obj, "loss", where, default=0.0, maximum=1.0)
    rate_bps = int(round(rate_mbit * 1e6))
    if "queue_bytes" in obj:
        queue = int(_number(obj, "queue_bytes", where, strict_min=True))
    else:
        queue = default_queue_bytes(rate_bps, rtt_ms)
    return rate_bps, rtt_ms, loss, queue


def _region_token(region):
    """A region name as it appears in link names (no blanks)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", region)


class Scenario:
    """A parsed, checked scenario with its links and per-pair paths."""

    def __init__(self, data, source="<scenario>"):
        if not isinstance(data, dict):
            raise ScenarioError("%s: a scenario is a JSON object" % source)
        self.source = source
        self.name = str(data.get("name") or os.path.splitext(os.path.basename(source))[0])
        self.description = str(data.get("description", ""))
        peers = data.get("peers")
        if (not isinstance(peers, list) or not peers
                or not all(isinstance(p, str) and p for p in peers)):
            raise ScenarioError("%s: 'peers' must be a non-empty list of region names" % source)
        if len(peers) > 254:
            raise ScenarioError("%s: at most 254 peers (10.231.0.1-254)" % source)
        self.peers = list(peers)
        self.regions = []                       # in order of first appearance
        for r in peers:
            if r not in self.regions:
                self.regions.append(r)
        tokens = [_region_token(r) for r in self.regions]
        if len(set(tokens)) != len(tokens):
            raise ScenarioError("%s: region names collide once blanks are replaced" % source)
        self.coordinator_region = data.get("coordinator_region", self.peers[0])
        if self.coordinator_region not in self.regions:
            raise ScenarioError("%s: coordinator_region '%s' has no peers" % (
                source, self.coordinator_region))
        self.coordinator_peer = self.peers.index(self.coordinator_region)

        self.links = {}                         # name -> Link, in creation order
        self.paths = {}                         # (src, dst) -> [link names]

        intra = data.get("intra_region", {})
        need_intra = any(self.peers.count(r) > 1 for r in self.regions)
        if need_intra and not isinstance(intra, dict):
            raise ScenarioError("%s: 'intra_region' must be an object" % source)
        intra_params = (_link_params(intra, "%s: intra_region" % source)
                        if need_intra else None)

        self.trunk_params = {}                  # (region a, region b) -> params, ordered
        for n, t in enumerate(data.get("trunks", []) or []):
            where = "%s: trunks[%d]" % (source, n)
            if not isinstance(t, dict):
                raise ScenarioError("%s must be an object" % where)
            between = t.get("between")
            if (not isinstance(between, list) or len(between) != 2
                    or not all(isinstance(b, str) for b in between) or between[0] == between[1]):
                raise ScenarioError("%s: 'between' must name two different regions" % where)
            a, b = between
            if (a, b) in self.trunk_params:
                raise ScenarioError("%s: a second trunk between %s and %s" % (where, a, b))
            params = _link_params(t, where)
            self.trunk_params[(a, b)] = params
            self.trunk_params[(b, a)] = params

        self.access_params = {}                 # peer -> params
        for n, a in enumerate(data.get("access_links", []) or []):
            where = "%s: access_links[%d]" % (source, n)
            if not isinstance(a, dict):
                raise ScenarioError("%s must be an object" % where)
            peer = a.get("peer")
            if isinstance(peer, bool) or not isinstance(peer, int) or not 0 <= peer < len(peers):
                raise ScenarioError("%s: 'peer' must be a peer index below %d" % (where, len(peers)))
            if peer in self.access_params:
                raise ScenarioError("%s: a second access link for peer %d" % (where, peer))
            self.access_params[peer] = _link_params(a, where, need_rtt=False)

        for i, ra in enumerate(self.regions):
            for rb in self.regions[i + 1:]:
                if (ra, rb) not in self.trunk_params:
                    raise ScenarioError("%s: no trunk between regions %s and %s" % (source, ra, rb))

        # Links: access (up = leaving the peer, down = reaching it), pair
        # links inside a region, one trunk per ordered region pair.
        for p in sorted(self.access_params):
            rate, rtt, loss, queue = self.access_params[p]
            self._add(Link("access-%d-up" % p, "access", rate, rtt, loss, queue, p, None))
            self._add(Link("access-%d-down" % p, "access", rate, rtt, loss, queue, None, p))
        for ra in self.regions:
            for rb in self.regions:
                if ra != rb:
                    rate, rtt, loss, queue = self.trunk_params[(ra, rb)]
                    self._add(Link("trunk-%s-to-%s" % (_region_token(ra), _region_token(rb)),
                                   "trunk", rate, rtt, loss, queue, ra, rb))
        n = len(self.peers)
        for a in range(n):
            for b in range(n):
                if a == b:
                    continue
                path = []
                if a in self.access_params:
                    path.append("access-%d-up" % a)
                if self.peers[a] == self.peers[b]:
                    rate, rtt, loss, queue = intra_params
                    name = "pair-%d-to-%d" % (a, b)
                    self._add(Link(name, "pair", rate, rtt, loss, queue, a, b))
                    path.append(name)
                else:
                    path.append("trunk-%s-to-%s" % (_region_token(self.peers[a]),
                                                     _region_token(self.peers[b])))
                if b in self.access_params:
                    path.append("access-%d-down" % b)
                self.paths[(a, b)] = path

    def _add(self, link):
        assert link.name not in self.links, link.name
        self.links[link.name] = link

    # ---- derived figures -------------------------------------------------

    def path_links(self, a, b):
        return [self.links[name] for name in self.paths[(a, b)]]

    def path_rate_bps(self, a, b):
        """The bottleneck rate from peer a to peer b."""
        return min(l.rate_bps for l in self.path_links(a, b))

    def rtt_ms(self, a, b):
        """Configured round trip a -> b -> a (propagation only)."""
        return sum(l.delay_us for l in self.path_links(a, b) + self.path_links(b, a)) / 1000.0

    def ping_rtt_ms(self, a, b, packet_bytes=84):
        """What ping should see a -> b -> a on idle links: propagation plus
        the serialisation of one echo packet (84 bytes: IP, ICMP and ping's
        56 data bytes) on every link of both paths."""
        links = self.path_links(a, b) + self.path_links(b, a)
        return self.rtt_ms(a, b) + sum(packet_bytes * 8.0 / l.rate_bps for l in links) * 1000.0

    def link_classes(self):
        """What `validate` measures: (label, src peer, dst peer).  One pair
        per region with two or more peers, both directions of every trunk
        (first peer of each region, preferring peers without an access link),
        both directions of every access link."""
        out = []
        plain = [p for p in range(len(self.peers)) if p not in self.access_params]

        def first_of(region, exclude=()):
            cands = [p for p in plain if self.peers[p] == region and p not in exclude]
            cands += [p for p in range(len(self.peers))
                      if self.peers[p] == region and p not in exclude and p not in cands]
            return cands[0] if cands else None

        for r in self.regions:
            a = first_of(r)
            b = first_of(r, exclude=(a,))
            if b is not None:
                out.append(("intra %s" % r, a, b))
        for ra in self.regions:
            for rb in self.regions:
                if ra != rb:
                    out.append(("trunk %s->%s" % (ra, rb), first_of(ra), first_of(rb)))
        for p in sorted(self.access_params):
            other = [q for q in plain if q != p]
            if not other:
                other = [q for q in range(len(self.peers)) if q != p]
            if not other:
                continue
            q = other[0]
            out.append(("access %d up" % p, p, q))
            out.append(("access %d down" % p, q, p))
        return out

    def to_json(self):
        return {"name": self.name, "peers": self.peers,
                "coordinator_region": self.coordinator_region,
                "links": {n: {"kind": l.kind, "rate_bps": l.rate_bps, "rtt_ms": l.rtt_ms,
                              "loss": l.loss, "queue_bytes": l.queue_bytes}
                          for n, l in self.links.items()}}


def address(index):
    """IPv4 address of peer `index` on wan0."""
    return ADDRESS_PREFIX + str(index + 1)


def namespace_name(pid, index):
    """The namespace of peer `index` of the run whose harness has `pid`:
    mdnw<pid>n<index>, at most 15 characters."""
    name = "%s%dn%d" % (NS_PREFIX, pid, index)
    if len(name) > MAX_DEVICE_NAME:
        raise ScenarioError("namespace name %s is longer than %d characters" % (
            name, MAX_DEVICE_NAME))
    return name


_NS_RE = re.compile(r"^%s(\d+)n(\d+)$" % NS_PREFIX)


def parse_namespace_name(name):
    """(creator pid, peer index) of a harness namespace name, else None."""
    m = _NS_RE.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def emulator_config(scenario, namespaces, mtu=DEFAULT_MTU):
    """The text of meridian-wanem's --config file (docs/wan.md)."""
    if len(namespaces) != len(scenario.peers):
        raise ScenarioError("%d namespaces for %d peers" % (len(namespaces), len(scenario.peers)))
    lines = ["# meridian-wanem configuration for scenario %s (written by perf/wan/wan.py)"
             % scenario.name, "mtu %d" % mtu]
    for i, ns in enumerate(namespaces):
        lines.append("peer %d %s %s" % (i, ns, address(i)))
    for link in scenario.links.values():
        lines.append(link.config_line())
    for (a, b), path in sorted(scenario.paths.items()):
        lines.append("path %d %d %s" % (a, b, " ".join(path)))
    return "\n".join(lines) + "\n"


def resolve(name_or_path):
    """A scenario file: an existing path, or perf/wan/scenarios/NAME.json."""
    if os.path.exists(name_or_path):
        return name_or_path
    cand = os.path.join(SCENARIO_DIR, name_or_path + ".json")
    if os.path.exists(cand):
        return cand
    cand = os.path.join(SCENARIO_DIR, name_or_path)
    if os.path.exists(cand):
        return cand
    known = sorted(f[:-5] for f in os.listdir(SCENARIO_DIR) if f.endswith(".json")) \
        if os.path.isdir(SCENARIO_DIR) else []
    raise ScenarioError("no scenario '%s' (not a file; known: %s)" % (
        name_or_path, ", ".join(known) or "none"))


def load(name_or_path):
    path = resolve(name_or_path)
    with open(path) as f:
        try:
            data = json.load(f)
        except ValueError as e:
            raise ScenarioError("%s: not valid JSON: %s" % (path, e))
    return Scenario(data, path)


def parse_size(text):
    """'1M' -> 1048576 (K/M/G suffixes, optional B), as all_reduce_perf."""
    m = re.match(r"^(\d+)([kKmMgG]?)[bB]?$", text.strip())
    if not m:
        raise ValueError("bad size '%s'" % text)
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]
