#!/usr/bin/env python3
"""Unit tests of the pure parts of the WAN harness (perf/wan/wanlib/
scenario.py): scenario files -> links, paths, emulator configuration text,
namespace names.  No namespaces, no root needed."""

import glob
import os
import sys
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "perf", "wan"))

from wanlib import scenario as scn  # noqa: E402


def parse_config(text):
    """The emulator's view of a config: mtu, peers, links, paths."""
    out = {"mtu": None, "peers": {}, "links": {}, "paths": {}}
    for line in text.splitlines():
        words = line.split("#")[0].split()
        if not words:
            continue
        if words[0] == "mtu":
            out["mtu"] = int(words[1])
        elif words[0] == "peer":
            out["peers"][int(words[1])] = (words[2], words[3])
        elif words[0] == "link":
            assert len(words) == 6, line
            out["links"][words[1]] = (int(words[2]), int(words[3]), float(words[4]),
                                      int(words[5]))
        elif words[0] == "path":
            out["paths"][(int(words[1]), int(words[2]))] = words[3:]
        else:
            raise AssertionError("unknown line %r" % line)
    return out


BASE = {"name": "t", "peers": ["a", "a", "b"], "coordinator_region": "a",
        "intra_region": {"rtt_ms": 0.5, "rate_mbit": 1000},
        "trunks": [{"between": ["a", "b"], "rtt_ms": 70, "rate_mbit": 1000}]}


def make(**changes):
    d = dict(BASE)
    d.update(changes)
    return scn.Scenario(d, "test")


class ScenarioFiles(unittest.TestCase):
    def test_every_shipped_scenario_loads_and_has_all_paths(self):
        files = sorted(glob.glob(os.path.join(scn.SCENARIO_DIR, "*.json")))
        self.assertTrue(files)
        for f in files:
            s = scn.load(f)
            n = len(s.peers)
            self.assertEqual(set(s.paths), {(a, b) for a in range(n) for b in range(n) if a != b})
            names = [scn.namespace_name(4194304, i) for i in range(n)]
            cfg = parse_config(scn.emulator_config(s, names))
            self.assertEqual(len(cfg["paths"]), n * (n - 1))
            for path in cfg["paths"].values():
                for link in path:
                    self.assertIn(link, cfg["links"])
            self.assertEqual(cfg["mtu"], 16000)

    def test_by_name(self):
        s = scn.load("two-regions-ci")
        self.assertEqual(s.peers, ["eu-west", "us-east"])
        self.assertEqual(s.paths[(0, 1)], ["trunk-eu-west-to-us-east"])
        self.assertEqual(s.paths[(1, 0)], ["trunk-us-east-to-eu-west"])
        link = s.links["trunk-eu-west-to-us-east"]
        self.assertEqual((link.rate_bps, link.delay_us), (200000000, 10000))
        # BDP of 200 Mbit/s x 20 ms = 500000 bytes > 256 KiB
        self.assertEqual(link.queue_bytes, 500000)
        self.assertEqual(s.rtt_ms(0, 1), 20.0)

    def test_unknown_name(self):
        with self.assertRaises(scn.ScenarioError):
            scn.load("no-such-scenario")


class Links(unittest.TestCase):
    def test_pair_links_per_ordered_pair_and_one_trunk_per_direction(self):
        s = make()
        self.assertEqual(s.paths[(0, 1)], ["pair-0-to-1"])
        self.assertEqual(s.paths[(1, 0)], ["pair-1-to-0"])
        # both a-peers share the one a->b trunk
        self.assertEqual(s.paths[(0, 2)], ["trunk-a-to-b"])
        self.assertEqual(s.paths[(1, 2)], ["trunk-a-to-b"])
        self.assertEqual(s.paths[(2, 0)], ["trunk-b-to-a"])
        kinds = sorted(l.kind for l in s.links.values())
        self.assertEqual(kinds, ["pair", "pair", "trunk", "trunk"])

    def test_delay_is_half_the_rtt_and_queue_default(self):
        s = make()
        pair = s.links["pair-0-to-1"]
        self.assertEqual(pair.delay_us, 250)
        self.assertEqual(pair.queue_bytes, 256 * 1024)   # BDP 62500 < 256 KiB
        trunk = s.links["trunk-a-to-b"]
        self.assertEqual(trunk.delay_us, 35000)
        self.assertEqual(trunk.queue_bytes, 8750000)      # 1 Gbit/s x 70 ms
        self.assertEqual(trunk.config_line(), "link trunk-a-to-b 1000000000 35000 0 8750000")

    def test_queue_override_and_loss(self):
        s = make(trunks=[{"between": ["a", "b"], "rtt_ms": 10, "rate_mbit": 100,
                          "loss": 0.001, "queue_bytes": 12345}])
        self.assertEqual(s.links["trunk-b-to-a"].config_line(),
                         "link trunk-b-to-a 100000000 5000 0.001 12345")

    def test_access_links_on_both_ends(self):
        s = make(access_links=[{"peer": 2, "rate_mbit": 100}, {"peer": 0, "rate_mbit": 50}])
        self.assertEqual(s.paths[(0, 2)], ["access-0-up", "trunk-a-to-b", "access-2-down"])
        self.assertEqual(s.paths[(2, 1)], ["access-2-up", "trunk-b-to-a"])
        self.assertEqual(s.paths[(1, 0)], ["pair-1-to-0", "access-0-down"])
        self.assertEqual(s.path_rate_bps(0, 2), 50000000)
        self.assertEqual(s.links["access-2-up"].delay_us, 0)
        self.assertEqual(s.links["access-2-up"].queue_bytes, 256 * 1024)

    def test_straggler_classes(self):
        s = scn.load("straggler")
        labels = [c[0] for c in s.link_classes()]
        self.assertEqual(labels, ["intra eu-west", "access 3 up", "access 3 down"])
        self.assertEqual(s.path_rate_bps(3, 0), 100000000)

    def test_three_continents_classes(self):
        s = scn.load("three-continents")
        trunks = [c for c in s.link_classes() if c[0].startswith("trunk")]
        self.assertEqual(len(trunks), 6)
        self.assertEqual(s.rtt_ms(0, 4), 225.0)

    def test_coordinator_peer(self):
        s = make(peers=["b", "a", "a"], coordinator_region="a")
        self.assertEqual(s.coordinator_peer, 1)


class Errors(unittest.TestCase):
    def bad(self, **changes):
        with self.assertRaises(scn.ScenarioError):
            make(**changes)

    def test_missing_trunk(self):
        self.bad(trunks=[])

    def test_coordinator_region_without_peers(self):
        self.bad(coordinator_region="c")

    def test_access_peer_out_of_range(self):
        self.bad(access_links=[{"peer": 3, "rate_mbit": 1}])

    def test_rate_zero(self):
        self.bad(trunks=[{"between": ["a", "b"], "rtt_ms": 1, "rate_mbit": 0}])

    def test_loss_one(self):
        self.bad(trunks=[{"between": ["a", "b"], "rtt_ms": 1, "rate_mbit": 1, "loss": 1.0}])

    def test_trunk_to_itself_and_duplicate(self):
        self.bad(trunks=[{"between": ["a", "a"], "rtt_ms": 1, "rate_mbit": 1}])
        t = {"between": ["a", "b"], "rtt_ms": 1, "rate_mbit": 1}
        self.bad(trunks=[t, {"between": ["b", "a"], "rtt_ms": 1, "rate_mbit": 1}])

    def test_no_peers(self):
        self.bad(peers=[])


class Names(unittest.TestCase):
    def test_namespace_names(self):
        self.assertEqual(scn.namespace_name(1234, 0), "mdnw1234n0")
        self.assertLessEqual(len(scn.namespace_name(4194304, 253)), 15)
        self.assertEqual(scn.parse_namespace_name("mdnw1234n7"), (1234, 7))
        self.assertIsNone(scn.parse_namespace_name("mdnf1234"))
        self.assertIsNone(scn.parse_namespace_name("mdnw12x"))

    def test_addresses(self):
        self.assertEqual(scn.address(0), "10.231.0.1")
        self.assertEqual(scn.address(253), "10.231.0.254")

    def test_config_peers(self):
        s = make()
        cfg = parse_config(scn.emulator_config(s, ["n0", "n1", "n2"], mtu=9000))
        self.assertEqual(cfg["mtu"], 9000)
        self.assertEqual(cfg["peers"][2], ("n2", "10.231.0.3"))

    def test_sizes(self):
        self.assertEqual(scn.parse_size("1M"), 1 << 20)
        self.assertEqual(scn.parse_size("64KB"), 64 << 10)
        with self.assertRaises(ValueError):
            scn.parse_size("1X")


if __name__ == "__main__":
    unittest.main(verbosity=1)
