#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into tests/fuzz/corpus/<target>/.

Seeds are a few valid inputs per decoder, laid out by hand from the wire
formats (transport/framing.h, transport/tcp/tcp_handshake.cc,
runtime/coordinator/protocol.cc, collectives/op_descriptor.cc), plus
near-valid ones that sit one step from a boundary (a truncated field, a
length one past its limit, a trailing byte), so that a fuzzer starts next to
every check instead of having to find the layouts first.  Rerun after a
wire format changes:  python3 tests/fuzz/make_corpus.py
"""
import os
import shutil
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
corpus = {}


def seed(target, name, data):
    corpus.setdefault(target, []).append((name, bytes(data)))


def u8(v): return struct.pack("<B", v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def i32(v): return struct.pack("<i", v)
def u64(v): return struct.pack("<Q", v)
def s(text): return u32(len(text)) + text


MAGIC, VERSION = 0x314E444D, 1
DATA, ABORT, HELLO, CONTROL = 1, 2, 3, 4


def header(ftype, length, msg=0, op_seq=0, offset=0, desc=bytes(16),
           magic=MAGIC, version=VERSION):
    return (u32(magic) + u16(version) + u16(ftype) + u32(length) + u32(msg) +
            u64(op_seq) + u64(offset) + desc)


# --- frame_header_fuzzer: 48 bytes of header.
desc = bytes([0, 7, 0, 0]) + u32(0) + u64(1000)
seed("frame_header_fuzzer", "data", header(DATA, 131072, 3, 42, 262144, desc))
seed("frame_header_fuzzer", "control", header(CONTROL, 16))
seed("frame_header_fuzzer", "hello", header(HELLO, 32))
seed("frame_header_fuzzer", "abort", header(ABORT, 20, op_seq=9))
seed("frame_header_fuzzer", "data_at_limit", header(DATA, 64 << 20))
seed("frame_header_fuzzer", "data_over_limit", header(DATA, (64 << 20) + 1))
seed("frame_header_fuzzer", "control_over_limit", header(CONTROL, 4097))
seed("frame_header_fuzzer", "offset_at_limit", header(DATA, 1, offset=1 << 62))
seed("frame_header_fuzzer", "bad_type", header(5, 0))
seed("frame_header_fuzzer", "bad_version", header(DATA, 0, version=2))

# --- byte_reader_fuzzer: [script length][script][payload]; see the target.
# FuzzedDataProvider takes integers from the END of the input, so the script
# length is the last byte; ops are byte % 7 (U8 U16 U32 U64 I32 Str Bytes).
def reader(script, payload):
    return bytes(script) + payload + bytes([len(script)])


seed("byte_reader_fuzzer", "all_ops",
     reader([0, 1, 2, 3, 4, 5 + 7 * 8, 6 + 7 * 3],
            u8(1) + u16(2) + u32(3) + u64(4) + i32(-5) + s(b"host") + b"xyz"))
seed("byte_reader_fuzzer", "short", reader([3, 3], u64(1) + b"\x01\x02"))
seed("byte_reader_fuzzer", "str_too_long", reader([5 + 7 * 1], s(b"hello")))
seed("byte_reader_fuzzer", "empty_payload", reader([0, 1, 5], b""))
# Regressions: Bytes(out, 0) on an empty payload handed memcpy a null
# pointer (UBSan); the input the fuzzer found, and the same case spelled out.
seed("byte_reader_fuzzer", "regress_zero_byte_read_empty_payload",
     bytes.fromhex("0c0300000004230006000000ffff"))
seed("byte_reader_fuzzer", "regress_zero_byte_read_empty_payload_min",
     reader([6], b""))


# --- tcp_handshake_fuzzer: [selector % 3: Hello, HelloReply, HelloConfirm]
# [payload].  Nonces and MACs are 32 bytes (transport/auth.h).
NONCE = bytes(range(32))
MAC = bytes(range(32, 64))


def hello(group=7, epoch=1, frm=0, to=1, conn=0, k=2, auth=1):
    return (u64(group) + u64(epoch) + i32(frm) + i32(to) + u32(conn) + u32(k) +
            u8(auth) + NONCE)


def reply(verdict, reason=b""):
    return u8(verdict) + s(reason) + NONCE + MAC


seed("tcp_handshake_fuzzer", "hello", b"\x00" + hello())
seed("tcp_handshake_fuzzer", "hello_refused_rank", b"\x00" + hello(frm=3, to=1))
seed("tcp_handshake_fuzzer", "hello_trailing", b"\x00" + hello() + b"\x00")
seed("tcp_handshake_fuzzer", "hello_short", b"\x00" + hello()[:-1])
seed("tcp_handshake_fuzzer", "hello_insecure", b"\x00" + hello(auth=0))
seed("tcp_handshake_fuzzer", "hello_bad_auth_flag", b"\x00" + hello(auth=2))
seed("tcp_handshake_fuzzer", "reply_ok", b"\x01" + reply(1))
seed("tcp_handshake_fuzzer", "reply_refused",
     b"\x01" + reply(0, b"epoch mismatch: the connection is for epoch 2"))
seed("tcp_handshake_fuzzer", "reply_auth_refused",
     b"\x01" + reply(2, b"the token is not known here"))
seed("tcp_handshake_fuzzer", "reply_long", b"\x01" + reply(0, b"r" * 1024))
seed("tcp_handshake_fuzzer", "reply_too_long", b"\x01" + reply(0, b"r" * 1025))
seed("tcp_handshake_fuzzer", "reply_bad_verdict", b"\x01" + reply(3))
seed("tcp_handshake_fuzzer", "confirm", b"\x02" + MAC)
seed("tcp_handshake_fuzzer", "confirm_short", b"\x02" + MAC[:-1])

# --- tcp_frame_reader_fuzzer: a byte stream of frames.  Piece sizes come
# from the end of the input (FuzzedDataProvider), so a plain stream is read
# in whatever pieces its last bytes say.
h = hello()
r = reply(1)
seed("tcp_frame_reader_fuzzer", "hello", header(HELLO, len(h)) + h)
seed("tcp_frame_reader_fuzzer", "hello_then_reply",
     header(HELLO, len(h)) + h + header(HELLO, len(r)) + r)
seed("tcp_frame_reader_fuzzer", "hello_then_data",
     header(HELLO, len(h)) + h + header(DATA, 0, desc=desc))
seed("tcp_frame_reader_fuzzer", "truncated", header(HELLO, len(h)) + h[:10])
seed("tcp_frame_reader_fuzzer", "over_limit", header(HELLO, 4097))

# --- coordinator_message_fuzzer: one payload (MsgType byte, then fields).
M_HELLO, M_WELCOME, M_JOIN, M_ROSTER, M_ERROR = 1, 2, 3, 4, 5
M_HEARTBEAT, M_NOTICE, M_UPDATE, M_RECONNECT = 6, 7, 8, 9
M_LINK_REPORT = 10


def f64(v): return struct.pack("<d", v)


# Version 4: a link matrix (compute rates, then pairs a < b in increasing
# order: round trip, rate each way, round tag) ends a ROSTER when links are
# known, and is the body of a LINK_REPORT after the members' addresses.
def links(pairs, gamma=8e9, mem=1e10, incast=0.02):
    body = f64(gamma) + f64(mem) + f64(incast) + u32(len(pairs))
    for a, b, rtt, ab, ba, tag in pairs:
        body += u32(a) + u32(b) + f64(rtt) + f64(ab) + f64(ba) + u32(tag)
    return body


def roster(rank, peers, group=0x1234, epoch=1, world=None, matrix=b""):
    world = len(peers) if world is None else world
    body = u64(group) + u64(epoch) + i32(rank) + i32(world)
    for host, port in peers:
        body += s(host) + u16(port)
    return u8(M_ROSTER) + body + matrix


def link_report(epoch, members, matrix):
    body = u64(epoch) + u32(len(members))
    for host, port in members:
        body += s(host) + u16(port)
    return u8(M_LINK_REPORT) + body + matrix


PEERS3 = [(b"10.0.0.1", 40000), (b"10.0.0.2", 40001), (b"::1", 40002)]
PAIRS3 = [(0, 1, 2e-4, 1e9, 9e8, 0), (0, 2, 0.08, 1e8, 1.1e8, 1),
          (1, 2, 0.08, 1.2e8, 1e8, 2)]


# Version 3 layouts: HELLO carries an auth flag and the peer's nonce,
# WELCOME a nonce, MAC and heartbeat interval, JOIN and RECONNECT a
# trailing MAC; HEARTBEAT, NOTICE and UPDATE keep a member's standing.
def join_msg(world, rank, host, port):
    return u8(M_JOIN) + i32(world) + i32(rank) + s(host) + u16(port) + MAC


def notice(epoch, pending, lost, evicted, reason):
    return (u8(M_NOTICE) + u64(epoch) + i32(pending) + i32(lost) +
            u8(evicted) + s(reason))


def reconnect(group, epoch, rank, world, host, port):
    return (u8(M_RECONNECT) + u64(group) + u64(epoch) + i32(rank) +
            i32(world) + s(host) + u16(port) + MAC)


join = join_msg(4, -1, b"10.0.0.7", 40001)
msgs = {
    "hello": u8(M_HELLO) + u16(3) + u16(3) + u8(1) + NONCE,
    "hello_insecure": u8(M_HELLO) + u16(1) + u16(3) + u8(0) + NONCE,
    "hello_empty_range": u8(M_HELLO) + u16(3) + u16(2) + u8(1) + NONCE,
    "hello_bad_auth_flag": u8(M_HELLO) + u16(2) + u16(2) + u8(2) + NONCE,
    "welcome": u8(M_WELCOME) + u16(3) + NONCE + MAC + u32(2500),
    "welcome_short": u8(M_WELCOME) + u16(3) + NONCE + MAC + u32(0)[:-1],
    "join": join,
    "join_host_at_limit": join_msg(2, 0, b"h" * 255, 1),
    "join_host_over_limit": join_msg(2, 0, b"h" * 256, 1),
    "roster": roster(1, [(b"10.0.0.1", 40000), (b"10.0.0.2", 40001),
                         (b"::1", 40002)]),
    "roster_truncated": roster(0, [(b"a", 1)], world=3),
    "roster_bad_rank": roster(2, [(b"a", 1), (b"b", 2)]),
    "roster_world_too_big": roster(0, [], world=(1 << 16) + 1),
    "error": u8(M_ERROR) + u32(3) + s(b"world size 4 differs from 8"),
    "error_unknown_code": u8(M_ERROR) + u32(99) + s(b"from a newer build"),
    "trailing": u8(M_WELCOME) + u16(3) + NONCE + MAC + u32(0) + b"\x00",
    "unknown_type": u8(0xEE),
    "roster_links": roster(1, PEERS3, matrix=links(PAIRS3)),
    "roster_links_empty": roster(1, PEERS3, matrix=links([], 0, 0)),
    "roster_links_outside": roster(
        1, PEERS3, matrix=links([(1, 3, 1e-4, 1e9, 1e9, 0)])),
    "link_report": link_report(2, PEERS3, links(PAIRS3)),
    "link_report_nan": link_report(
        2, PEERS3, links([(0, 1, float("nan"), 1e9, 1e9, 0)])),
    "link_report_negative_rate": link_report(
        2, PEERS3, links([(0, 1, 1e-4, -1e9, 1e9, 0)])),
    "link_report_out_of_order": link_report(
        2, PEERS3, links([PAIRS3[1], PAIRS3[0]])),
    "link_report_repeated": link_report(
        2, PEERS3, links([PAIRS3[0], PAIRS3[0]])),
    "link_report_too_many_pairs": link_report(
        2, PEERS3[:2], f64(8e9) + f64(1e10) + f64(0.02) + u32(2)),
    "link_report_truncated": link_report(2, PEERS3, links(PAIRS3))[:-1],
    "heartbeat": u8(M_HEARTBEAT) + u64(3),
    "notice_lost": notice(2, 1, 3, 1, b"rank 3 of epoch 2 was lost: evicted"),
    "notice_pending": notice(1, 2, -1, 0, b""),
    "notice_bad_flag": notice(1, 0, 0, 2, b""),
    "notice_bad_rank": notice(1, 0, -2, 0, b""),
    "update": u8(M_UPDATE) + u64(4) + u8(1),
    "update_bad_flag": u8(M_UPDATE) + u64(4) + u8(7),
    "reconnect": reconnect(0x1234, 2, 1, 3, b"10.0.0.2", 40001),
    "reconnect_rank_outside": reconnect(0x1234, 2, 3, 3, b"a", 1),
}
for name, payload in msgs.items():
    seed("coordinator_message_fuzzer", name, payload)

# --- coordinator_stream_fuzzer: control frames back to back.
def control(payload):
    return header(CONTROL, len(payload)) + payload


seed("coordinator_stream_fuzzer", "hello_join",
     control(msgs["hello"]) + control(join))
seed("coordinator_stream_fuzzer", "roster", control(msgs["roster"]))
seed("coordinator_stream_fuzzer", "member_session",
     control(msgs["hello"]) + control(msgs["reconnect"]) +
     control(msgs["heartbeat"]) + control(msgs["update"]))
seed("coordinator_stream_fuzzer", "data_frame", header(DATA, 0))
seed("coordinator_stream_fuzzer", "over_limit", header(CONTROL, (64 << 10) + 1))

# --- op_descriptor_fuzzer: two descriptors, then ranks and op_seq (from the
# end of the input).
def op(coll, dtype, redop, root, count):
    return bytes([coll, dtype, redop, 0]) + i32(root) + u64(count)


seed("op_descriptor_fuzzer", "allreduce_vs_count",
     op(0, 7, 0, 0, 100) + op(0, 7, 0, 0, 12) + u64(7) + i32(1) + i32(2))
seed("op_descriptor_fuzzer", "reduce_vs_broadcast",
     op(2, 8, 4, 3, 1 << 40) + op(1, 9, 0, 1, 5))
seed("op_descriptor_fuzzer", "unknown_values",
     op(6, 10, 5, -1, 2**64 - 1) + op(255, 255, 255, 0x7fffffff, 0))

# --- abort_reason_fuzzer: the text of an abort frame.
for name, text in {
    "invalid_usage": b"3|mismatched collective calls: rank 1 called ...",
    "peer_lost": b"14|rank 2 closed its connection",
    "no_code": b"the peer went away",
    "code_zero": b"0|ok?",
    "code_too_big": b"17|unknown",
    "empty_message": b"10|",
}.items():
    seed("abort_reason_fuzzer", name, text)

if __name__ == "__main__":
    for target, seeds in corpus.items():
        d = os.path.join(ROOT, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in seeds:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print("wrote", sum(len(v) for v in corpus.values()), "seeds for",
          len(corpus), "targets under", ROOT)
