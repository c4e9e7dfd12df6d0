// Every tunable of the runtime, with its MERIDIAN_* variable and default.
#ifndef MERIDIAN_RUNTIME_SRC_PARAMS_H_
#define MERIDIAN_RUNTIME_SRC_PARAMS_H_

#include "base/env.h"

// 0 = chosen per peer pair from the RTT its first connection measured, to
// cover PATH_TARGET_MBITS x RTT with socket-buffer-sized windows
// (transport/tcp/path_sizing.h), at most MAX_CONNECTIONS_PER_PEER.
MDN_PARAM(ConnectionsPerPeer, "CONNECTIONS_PER_PEER", 0)
MDN_PARAM(PathTargetMbits, "PATH_TARGET_MBITS", 10000)
MDN_PARAM(MaxConnectionsPerPeer, "MAX_CONNECTIONS_PER_PEER", 32)
MDN_PARAM(ConnectTimeoutMs, "CONNECT_TIMEOUT_MS", 30000)
MDN_PARAM(OpTimeoutMs, "OP_TIMEOUT_MS", 300000)
// Pipelining granularity of ring algorithms.  Small enough that a chunk is
// still in cache when it is reduced and forwarded (measured on loopback:
// 128 KiB beat 512 KiB and 2 MiB at 4 ranks, perf/RESULTS.md).
MDN_PARAM(ChunkBytes, "CHUNK_BYTES", 128 << 10)
// Largest frame a message is cut into before striping over connections.
MDN_PARAM(FrameBytes, "FRAME_BYTES", 256 << 10)
// SO_SNDBUF/SO_RCVBUF per connection; 0 keeps the kernel's autotuning; -1
// sizes them from the path's RTT: 1 MiB below 1 ms (on loopback at 4 ranks,
// 4 MiB buffers let data go cold in the socket queues and cost ~10%,
// perf/RESULTS.md), the kernel's maximum (net.core.{w,r}mem_max) on long
// paths, whose bandwidth-delay product needs every byte of window.
MDN_PARAM(SocketBufferBytes, "SOCKET_BUFFER_BYTES", -1)

// 1: an in-place operation saves each granule of its input before it first
// overwrites it and puts the saved ones back if the operation fails (a lost
// peer costs no data).  0 saves that copy, at the price of a clobbered
// buffer after a failure.
MDN_PARAM(InplaceBackup, "INPLACE_BACKUP", 1)

// Link probing at each new epoch (planner/probe.h): bytes each pair sends
// each way in its bulk test.  Big enough to leave TCP's slow start behind
// on a fast LAN, small enough that probing 16 peers on loopback takes well
// under a second.
MDN_PARAM(ProbeBytes, "PROBE_BYTES", 8 << 20)

#endif  // MERIDIAN_RUNTIME_SRC_PARAMS_H_
