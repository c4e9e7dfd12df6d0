/*
 * meridian.h — the public C99 ABI of Meridian, a collective communication
 * runtime for peers that may be far apart.
 *
 * Stability rules: enum values never change once released; configuration
 * structs carry their own size and version so that a binary built against an
 * older header keeps working with a newer library.  Every function returns an
 * mdnResult_t; output arguments (suffix _p) are written only on success.
 *
 * Threading: a communicator may be used from several threads, but collective
 * calls on one communicator must be issued in the same order on every rank
 * (as with NCCL and MPI).  Each call is matched with the peers' calls by
 * sequence number; a mismatch is reported as mdnInvalidUsage on every rank.
 */
#ifndef MERIDIAN_H_
#define MERIDIAN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MDN_API __attribute__((visibility("default")))
#else
#define MDN_API
#endif

#define MDN_VERSION_MAJOR 0
#define MDN_VERSION_MINOR 1
#define MDN_VERSION_PATCH 0
/* MAJOR*10000 + MINOR*100 + PATCH */
#define MDN_VERSION_CODE \
  (MDN_VERSION_MAJOR * 10000 + MDN_VERSION_MINOR * 100 + MDN_VERSION_PATCH)

/* Result codes.  Values are part of the ABI and never change. */
typedef enum {
  mdnSuccess = 0,
  /* A system call failed (socket, memory, thread); see the last-error text. */
  mdnSystemError = 1,
  /* A bug inside Meridian; please report it with the last-error text. */
  mdnInternalError = 2,
  /* An argument is wrong (null pointer, unknown enum, overflow).  Nothing
   * was started and no peer was involved; fix the call. */
  mdnInvalidArgument = 3,
  /* The call is valid alone but does not agree with the peers' calls (count,
   * data type, op, root or collective differ) or with the communicator's
   * state.  Reported on every rank of the operation; the communicator stays
   * usable for the next call. */
  mdnInvalidUsage = 4,
  /* The remote side reported an error or sent something malformed. */
  mdnRemoteError = 5,
  /* The asynchronous operation has not completed yet (mdnTest only). */
  mdnInProgress = 6,
  /* A peer was lost (connection closed, reset or evicted) during the call. */
  mdnPeerLost = 7,
  /* The operation or connection did not complete within its timeout. */
  mdnTimeout = 8,
  /* A resource could not be obtained now (e.g. port in use); may be retried. */
  mdnUnavailable = 9
} mdnResult_t;

/* Element types.  Values match NCCL's ncclDataType_t. */
typedef enum {
  mdnInt8 = 0,
  mdnUint8 = 1,
  mdnInt32 = 2,
  mdnUint32 = 3,
  mdnInt64 = 4,
  mdnUint64 = 5,
  mdnFloat16 = 6,
  mdnFloat32 = 7,
  mdnFloat64 = 8,
  mdnBfloat16 = 9,
  mdnNumDataTypes = 10
} mdnDataType_t;

/* Reduction operations.  Values match NCCL's ncclRedOp_t.  mdnAvg divides
 * the sum by the number of ranks (integer division for integer types). */
typedef enum {
  mdnSum = 0,
  mdnProd = 1,
  mdnMax = 2,
  mdnMin = 3,
  mdnAvg = 4,
  mdnNumRedOps = 5
} mdnRedOp_t;

typedef struct mdnComm* mdnComm_t;
typedef struct mdnRequest* mdnRequest_t;
typedef struct mdnCoordinator* mdnCoordinator_t;

/* ---------------------------------------------------------------- misc -- */

/* Returns MDN_VERSION_CODE of the library actually loaded. */
MDN_API int mdnGetVersion(void);

/* Returns "MAJOR.MINOR.PATCH" of the loaded library; never NULL. */
MDN_API const char* mdnGetVersionString(void);

/* Returns a static, human-readable name for a result code; never NULL. */
MDN_API const char* mdnGetErrorString(mdnResult_t result);

/* Returns the detailed message of the last failed call made by this thread
 * that had no communicator to attach it to (mdnCommCreate,
 * mdnCoordinatorCreate, argument errors with a NULL comm).  Never NULL;
 * empty when there was none.  Valid until the next failing call on this
 * thread. */
MDN_API const char* mdnGetLastError(void);

/* ---------------------------------------------------------- coordinator -- */

/* Starts a coordinator inside this process, listening on listen_address
 * ("HOST:PORT"; PORT 0 picks a free port).  Non-blocking: it serves in a
 * background thread until destroyed.  Peers must prove knowledge of the
 * token in MERIDIAN_AUTH_TOKEN (or the file MERIDIAN_AUTH_TOKEN_FILE).
 * Errors: mdnInvalidArgument (NULL or unparsable address, empty token),
 *         mdnInvalidUsage (no token configured and MERIDIAN_INSECURE is
 *         not 1), mdnUnavailable (address in use), mdnSystemError. */
MDN_API mdnResult_t mdnCoordinatorCreate(const char* listen_address,
                                         mdnCoordinator_t* coordinator_p);

/* Writes the coordinator's bound "HOST:PORT" (with the real port) into buf.
 * Errors: mdnInvalidArgument (NULL argument, or buf shorter than needed). */
MDN_API mdnResult_t mdnCoordinatorGetAddress(mdnCoordinator_t coordinator,
                                             char* buf, size_t buf_len);

/* Stops the coordinator and frees it.  NULL is accepted and ignored.
 * Communicators already formed keep working. */
MDN_API mdnResult_t mdnCoordinatorDestroy(mdnCoordinator_t coordinator);

/* --------------------------------------------------------- communicator -- */

#define MDN_COMM_CONFIG_VERSION 1

/* Configuration of a communicator.  Initialise with mdnCommConfigInit, then
 * set what you need; zero / NULL / -1 fields are taken from the environment
 * (MERIDIAN_*), then from the library's defaults. */
typedef struct {
  size_t struct_size;           /* sizeof(mdnCommConfig_t), set by Init */
  uint32_t version;             /* MDN_COMM_CONFIG_VERSION, set by Init */
  const char* coordinator;      /* "HOST:PORT"; NULL: MERIDIAN_COORDINATOR */
  int world_size;               /* 0: MERIDIAN_WORLD_SIZE */
  int rank;                     /* -1: MERIDIAN_RANK, else coordinator picks */
  int connections_per_peer;     /* 0: MERIDIAN_CONNECTIONS_PER_PEER, else
                                   per pair from its round-trip time */
  int connect_timeout_ms;       /* 0: MERIDIAN_CONNECT_TIMEOUT_MS (30000) */
  int op_timeout_ms;            /* 0: MERIDIAN_OP_TIMEOUT_MS (300000) */
  const char* advertise_address;/* NULL: MERIDIAN_ADVERTISE_ADDR or the
                                   interface that reaches the coordinator */
} mdnCommConfig_t;

/* Fills *config with defaults ("take from the environment").
 * Errors: mdnInvalidArgument (NULL). */
MDN_API mdnResult_t mdnCommConfigInit(mdnCommConfig_t* config);

/* Joins the group at the coordinator and connects to every peer.  Blocks
 * until all world_size peers have joined, or the connect timeout passes.
 * config may be NULL (everything from the environment).
 * Errors: mdnInvalidArgument (bad config, missing coordinator address or
 *         world size, rank out of range), mdnTimeout (coordinator or peers
 *         not reachable in time), mdnInvalidUsage (the coordinator refused:
 *         world size differs from other peers', rank taken; or
 *         authentication failed: no token configured without
 *         MERIDIAN_INSECURE=1, or this peer's MERIDIAN_AUTH_TOKEN differs
 *         from the coordinator's or a peer's, or only one side has one),
 *         mdnUnavailable (connection refused), mdnSystemError.
 * On failure the message is in mdnGetLastError(). */
MDN_API mdnResult_t mdnCommCreate(const mdnCommConfig_t* config,
                                  mdnComm_t* comm_p);

/* Waits for this communicator's outstanding operations, closes its
 * connections and frees it.  NULL is accepted and ignored.
 * Errors: none besides those already reported by the operations. */
MDN_API mdnResult_t mdnCommDestroy(mdnComm_t comm);

/* Queries.  Errors: mdnInvalidArgument (NULL argument). */
MDN_API mdnResult_t mdnCommRank(mdnComm_t comm, int* rank_p);
MDN_API mdnResult_t mdnCommSize(mdnComm_t comm, int* size_p);
/* Membership epoch: starts at 1 and increases whenever the group changes. */
MDN_API mdnResult_t mdnCommEpoch(mdnComm_t comm, uint64_t* epoch_p);
/* Connections per peer pair actually in use: the largest over this rank's
 * peers (automatic K differs per pair: more for pairs with a longer
 * round-trip time). */
MDN_API mdnResult_t mdnCommConnectionsPerPeer(mdnComm_t comm, int* count_p);

/* Returns the message of the last failed call on comm (including failures
 * of asynchronous operations); never NULL; empty when there was none. */
MDN_API const char* mdnCommGetLastError(mdnComm_t comm);

/* ----------------------------------------------------------- membership -- *
 * Groups change: peers are lost (crash, hang, network failure) and new
 * peers join.  Changes take effect only at step boundaries, on every rank
 * together:
 *
 *  - A lost peer is detected by a transport error, by missed heartbeats at
 *    the coordinator (MERIDIAN_HEARTBEAT_TIMEOUT_MS on the coordinator) or
 *    by the per-operation timeout.  The operation it cuts (or, if none was
 *    running, the next one) returns mdnPeerLost on every survivor, naming
 *    the lost peer; nothing is written to an in-place buffer that failed
 *    (the input is left intact).  Operations queued before the error was
 *    returned fail the same way.  The next call after that re-forms the
 *    group (new epoch, ranks renumbered 0..size-1 in the old order) and
 *    runs on it: query rank and size again after mdnPeerLost.
 *  - A peer that calls mdnCommCreate after the group has formed is pending:
 *    it is admitted, and its mdnCommCreate returns, when the members call
 *    mdnCommUpdate.  It gets the next free ranks.
 *
 * Rank, size and epoch may change only inside mdnCommUpdate and in the call
 * that follows an mdnPeerLost/mdnTimeout. */

/* Collective over the current members: accepts pending joiners and drops
 * lost peers, forming a new epoch if anything changed (otherwise a no-op
 * round trip to the coordinator).  Every member must call it at the same
 * point of its sequence of calls.  Blocks; waits for queued operations
 * first.
 * Errors: mdnInvalidArgument (NULL), mdnTimeout or mdnUnavailable (the
 *         coordinator is unreachable for the connect timeout), mdnPeerLost
 *         (this peer was evicted from the group: create a new communicator
 *         to rejoin; or a member was lost while re-forming: call again). */
MDN_API mdnResult_t mdnCommUpdate(mdnComm_t comm);

/* Collective over the current members, and cheap (one tiny all-reduce, no
 * coordinator round trip): sets *count_p to the number of peers waiting to
 * join, the same value on every rank, so that all ranks agree whether to
 * call mdnCommUpdate.
 * Errors: mdnInvalidArgument (NULL), those of mdnAllReduce. */
MDN_API mdnResult_t mdnCommPendingJoiners(mdnComm_t comm, int* count_p);

/* Runs fn(comm, user) until it returns anything other than mdnPeerLost or
 * mdnTimeout.  After each such failure the group re-forms (mdnCommUpdate);
 * if it then has fewer than min_world_size members, or max_attempts calls
 * have failed (0: no limit), the last error is returned.  fn must leave its
 * inputs reusable after a failure (in-place collectives do).
 * Errors: mdnInvalidArgument (NULL comm or fn, min_world_size < 1), fn's
 *         own errors, mdnPeerLost when the group shrank below
 *         min_world_size (the message says to how many). */
typedef mdnResult_t (*mdnRetryFn_t)(mdnComm_t comm, void* user);
MDN_API mdnResult_t mdnRetry(mdnComm_t comm, int min_world_size,
                             int max_attempts, mdnRetryFn_t fn, void* user);

/* --------------------------------------------------------- shared state -- *
 * Named tensors that every member must hold bit for bit (model weights,
 * optimizer state, the step counter).  Each carries a revision that the
 * application increases by one whenever it changes the tensor. */
typedef struct {
  const char* name;         /* unique within one sync call; <= 255 bytes */
  void* data;               /* count elements of datatype */
  size_t count;
  mdnDataType_t datatype;
  uint64_t revision;        /* in: this peer's revision; out: the group's */
} mdnSharedTensor_t;

typedef struct {
  uint64_t bytes_sent;      /* tensor bytes this peer sent to others */
  uint64_t bytes_received;  /* tensor bytes this peer fetched */
  uint32_t tensors_received;/* tensors this peer replaced */
  uint32_t tensors_sent;    /* transfers this peer served */
} mdnSyncInfo_t;

/* Collective over the current members: afterwards every member holds the
 * same bytes and revision for each tensor.  Members report (revision, XXH3
 * hash) of each tensor; the most common content among the newest revision
 * wins (ties: the one held by the lowest rank); members holding anything
 * else fetch it from a holder, striped over that holder's connections, and
 * verify it by hash.  A steady-state sync, where all agree, moves no tensor
 * bytes.  Joiners call it before their first step to receive the state.
 * Every member must pass the same names in the same order, with the same
 * count and datatype.  info_p may be NULL.
 * Errors: mdnInvalidArgument (NULL or duplicate names, bad datatype),
 *         mdnInvalidUsage (members passed different names, counts or
 *         types; or a member's revision is more than one ahead of the
 *         group's last synced revision — the message names the member;
 *         nothing was transferred), mdnRemoteError (received bytes fail the
 *         hash check), those of the collectives (mdnPeerLost ...). */
MDN_API mdnResult_t mdnSharedStateSync(mdnComm_t comm,
                                       mdnSharedTensor_t* tensors,
                                       size_t num_tensors,
                                       mdnSyncInfo_t* info_p);

/* ---------------------------------------------------------- collectives -- *
 * Blocking forms return when this rank's part is complete and the buffers
 * may be reused.  The *Async forms return at once with a request; the
 * buffers must stay valid and untouched until the request completes.
 * Any number of operations may be in flight; they complete in issue order.
 *
 * Common errors: mdnInvalidArgument (NULL comm or buffer with count > 0,
 * unknown data type or op, root out of range, count * size overflows),
 * mdnInvalidUsage (peers called with different collective, count, data
 * type, op or root — the message names both sides; reported by every rank
 * of an all-reduce, all-gather, reduce-scatter or barrier, while in a
 * broadcast or reduce a rank whose part finished before the mismatch was
 * found may return mdnSuccess), mdnPeerLost,
 * mdnTimeout, mdnRemoteError.  In-place operation: pass the same pointer
 * for send and receive buffer (for all-gather: sendbuf == recvbuf +
 * rank * count elements; for reduce-scatter: recvbuf == sendbuf +
 * rank * recvcount elements). */

/* recvbuf[i] = op over ranks of sendbuf[i], for i < count, on every rank. */
MDN_API mdnResult_t mdnAllReduce(mdnComm_t comm, const void* sendbuf,
                                 void* recvbuf, size_t count,
                                 mdnDataType_t datatype, mdnRedOp_t op);
MDN_API mdnResult_t mdnAllReduceAsync(mdnComm_t comm, const void* sendbuf,
                                      void* recvbuf, size_t count,
                                      mdnDataType_t datatype, mdnRedOp_t op,
                                      mdnRequest_t* request_p);

/* recvbuf = root's sendbuf on every rank (sendbuf is read on root only). */
MDN_API mdnResult_t mdnBroadcast(mdnComm_t comm, const void* sendbuf,
                                 void* recvbuf, size_t count,
                                 mdnDataType_t datatype, int root);
MDN_API mdnResult_t mdnBroadcastAsync(mdnComm_t comm, const void* sendbuf,
                                      void* recvbuf, size_t count,
                                      mdnDataType_t datatype, int root,
                                      mdnRequest_t* request_p);

/* On root, recvbuf = op over ranks of sendbuf (recvbuf ignored elsewhere and
 * may be NULL there). */
MDN_API mdnResult_t mdnReduce(mdnComm_t comm, const void* sendbuf,
                              void* recvbuf, size_t count,
                              mdnDataType_t datatype, mdnRedOp_t op, int root);
MDN_API mdnResult_t mdnReduceAsync(mdnComm_t comm, const void* sendbuf,
                                   void* recvbuf, size_t count,
                                   mdnDataType_t datatype, mdnRedOp_t op,
                                   int root, mdnRequest_t* request_p);

/* recvbuf[r*sendcount .. (r+1)*sendcount) = rank r's sendbuf, everywhere. */
MDN_API mdnResult_t mdnAllGather(mdnComm_t comm, const void* sendbuf,
                                 void* recvbuf, size_t sendcount,
                                 mdnDataType_t datatype);
MDN_API mdnResult_t mdnAllGatherAsync(mdnComm_t comm, const void* sendbuf,
                                      void* recvbuf, size_t sendcount,
                                      mdnDataType_t datatype,
                                      mdnRequest_t* request_p);

/* recvbuf on rank r = op over ranks of sendbuf[r*recvcount ..
 * (r+1)*recvcount). */
MDN_API mdnResult_t mdnReduceScatter(mdnComm_t comm, const void* sendbuf,
                                     void* recvbuf, size_t recvcount,
                                     mdnDataType_t datatype, mdnRedOp_t op);
MDN_API mdnResult_t mdnReduceScatterAsync(mdnComm_t comm, const void* sendbuf,
                                          void* recvbuf, size_t recvcount,
                                          mdnDataType_t datatype,
                                          mdnRedOp_t op,
                                          mdnRequest_t* request_p);

/* Returns when every rank has entered the barrier. */
MDN_API mdnResult_t mdnBarrier(mdnComm_t comm);
MDN_API mdnResult_t mdnBarrierAsync(mdnComm_t comm, mdnRequest_t* request_p);

/* ------------------------------------------------------------- requests -- */

/* Non-blocking check.  When the operation is complete, sets *done_p = 1,
 * frees the request, sets *request_p = NULL and returns the operation's
 * result.  Otherwise sets *done_p = 0 and returns mdnSuccess.
 * Errors: mdnInvalidArgument (NULL argument), or the operation's error. */
MDN_API mdnResult_t mdnTest(mdnRequest_t* request_p, int* done_p);

/* Blocks until the operation completes, frees the request, sets
 * *request_p = NULL and returns the operation's result.
 * Errors: mdnInvalidArgument (NULL argument), or the operation's error. */
MDN_API mdnResult_t mdnWait(mdnRequest_t* request_p);

/* Returns the size in bytes of one element of datatype, or 0 if unknown. */
MDN_API size_t mdnDataTypeSize(mdnDataType_t datatype);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MERIDIAN_H_ */
