// Runs one collective's plans through the interpreter (plan_interpreter.h)
// with the buffers laid out as the runtime lays them out, and checks the
// results as the collective defines them, including that each final value
// was computed once and copied everywhere else.
#ifndef MERIDIAN_TESTS_UNIT_PLAN_INTERPRETER_COLLECTIVES_H_
#define MERIDIAN_TESTS_UNIT_PLAN_INTERPRETER_COLLECTIVES_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "planner/plan.h"
#include "tests/unit/plan_interpreter.h"

namespace meridian::planner::interp {

using BuildFn = std::function<Plan(const PlanRequest&)>;

// Elements of each rank's input and output under the C API.
inline uint64_t InputElems(const PlanRequest& req) {
  return req.collective == Collective::kReduceScatter ? req.count * req.world_size : req.count;
}
inline uint64_t OutputElems(const PlanRequest& req) {
  return req.collective == Collective::kAllGather ? req.count * req.world_size : req.count;
}

// Plans every rank from `base` (rank and average filled in) and lays out its
// buffers as validate.cc does: in place per base.in_place; a broadcast's
// non-roots have no input buffer unless in place; a reduce's non-roots run
// in place on their input (the output is unused).
inline std::vector<RankSetup> MakeRankSetups(const PlanRequest& base, Op op,
                                             const std::vector<std::vector<int64_t>>& inputs,
                                             const BuildFn& build) {
  const int n = base.world_size;
  std::vector<RankSetup> setups(n);
  for (int r = 0; r < n; ++r) {
    PlanRequest req = base;
    req.rank = r;
    req.average = op == Op::kAvg;
    const bool rooted = req.collective == Collective::kBroadcast ||
                        req.collective == Collective::kReduce;
    const bool non_root = rooted && r != req.root;
    if (req.collective == Collective::kReduce && non_root) req.in_place = true;
    RankSetup& s = setups[r];
    s.input = inputs[r];
    s.output_elems = OutputElems(req);
    if (req.collective == Collective::kBroadcast && non_root && !req.in_place) s.input.clear();
    if (req.in_place) {
      switch (req.collective) {
        case Collective::kReduceScatter:
          s.layout = Layout::kOutputInsideInput;
          s.alias_offset = r * req.count;
          break;
        case Collective::kAllGather:
          s.layout = Layout::kInputInsideOutput;
          s.alias_offset = r * req.count;
          break;
        default:
          s.layout = Layout::kInputInsideOutput;
          break;
      }
    }
    s.plan = build(req);
  }
  return setups;
}

inline int64_t Combine(Op op, int64_t a, int64_t b) {
  return op == Op::kMax ? std::max(a, b) : a + b;
}

inline int64_t Reduction(Op op, const std::vector<std::vector<int64_t>>& in, uint64_t i) {
  int64_t acc = in[0][i];
  for (size_t r = 1; r < in.size(); ++r) acc = Combine(op, acc, in[r][i]);
  if (op == Op::kAvg) acc /= static_cast<int64_t>(in.size());
  return acc;
}

// Inputs whose averages divide exactly.
inline std::vector<std::vector<int64_t>> MakeInputs(int n, uint64_t elems, uint64_t salt = 0) {
  std::vector<std::vector<int64_t>> in(n, std::vector<int64_t>(elems));
  for (int r = 0; r < n; ++r) {
    for (uint64_t i = 0; i < elems; ++i) {
      in[r][i] = static_cast<int64_t>((i * 31 + r * 17 + salt * 7) % 101) * n;
    }
  }
  return in;
}

// Checks values and origins after a successful run: results as the
// collective defines them, every final value computed once (all ranks hold
// the same origin; reductions by a receive-reduce, finalized for kAvg, and
// kAvg's division done on exactly as many elements as the result has), and
// a reduce's non-roots leave their input untouched.  "" when all is right.
inline std::string CheckCollective(const PlanRequest& base, Op op,
                                   const std::vector<std::vector<int64_t>>& inputs,
                                   const PlanInterpreter& sim) {
  const int n = base.world_size;
  const uint64_t count = base.count;
  std::ostringstream err;
  auto reduced_origin_ok = [&](const Origin& o) {
    if (n == 1) return true;
    return o.step >= 0 && sim.Finalized(o) == (op == Op::kAvg);
  };
  switch (base.collective) {
    case Collective::kAllReduce:
    case Collective::kBarrier: {
      for (uint64_t i = 0; i < count; ++i) {
        const int64_t want = Reduction(op, inputs, i);
        const Origin first = sim.OutputOrigin(0, i);
        if (!reduced_origin_ok(first)) {
          err << "element " << i << " at rank 0 comes from " << Describe(first);
          return err.str();
        }
        for (int r = 0; r < n; ++r) {
          if (sim.Output(r)[i] != want) {
            err << "rank " << r << " element " << i << " is " << sim.Output(r)[i] << ", want "
                << want;
            return err.str();
          }
          if (sim.OutputOrigin(r, i) != first) {
            err << "element " << i << " was computed twice: rank " << r << " holds "
                << Describe(sim.OutputOrigin(r, i)) << ", rank 0 " << Describe(first);
            return err.str();
          }
        }
      }
      if (op == Op::kAvg && n > 1 && sim.finalized_elements() != count) {
        err << sim.finalized_elements() << " elements divided, want " << count;
        return err.str();
      }
      break;
    }
    case Collective::kReduceScatter: {
      for (int r = 0; r < n; ++r) {
        const std::vector<int64_t> out = sim.Output(r);
        for (uint64_t i = 0; i < count; ++i) {
          const int64_t want = Reduction(op, inputs, r * count + i);
          if (out[i] != want || !reduced_origin_ok(sim.OutputOrigin(r, i))) {
            err << "rank " << r << " element " << i << " is " << out[i] << " from "
                << Describe(sim.OutputOrigin(r, i)) << ", want " << want;
            return err.str();
          }
        }
      }
      if (op == Op::kAvg && n > 1 && sim.finalized_elements() != count * n) {
        err << sim.finalized_elements() << " elements divided, want " << count * n;
        return err.str();
      }
      break;
    }
    case Collective::kAllGather: {
      for (int r = 0; r < n; ++r) {
        const std::vector<int64_t> out = sim.Output(r);
        for (int src = 0; src < n; ++src) {
          for (uint64_t i = 0; i < count; ++i) {
            const Origin o = sim.OutputOrigin(r, src * count + i);
            if (out[src * count + i] != inputs[src][i] || o != Origin{src, -1, i}) {
              err << "rank " << r << " block " << src << " element " << i << " is "
                  << out[src * count + i] << " from " << Describe(o);
              return err.str();
            }
          }
        }
      }
      break;
    }
    case Collective::kBroadcast: {
      for (int r = 0; r < n; ++r) {
        const std::vector<int64_t> out = sim.Output(r);
        for (uint64_t i = 0; i < count; ++i) {
          const Origin o = sim.OutputOrigin(r, i);
          if (out[i] != inputs[base.root][i] || o != Origin{base.root, -1, i}) {
            err << "rank " << r << " element " << i << " is " << out[i] << " from "
                << Describe(o);
            return err.str();
          }
        }
      }
      break;
    }
    case Collective::kReduce: {
      for (int r = 0; r < n; ++r) {
        const std::vector<int64_t> out = sim.Output(r);
        for (uint64_t i = 0; i < count; ++i) {
          if (r == base.root) {
            const int64_t want = Reduction(op, inputs, i);
            if (out[i] != want || !reduced_origin_ok(sim.OutputOrigin(r, i))) {
              err << "root element " << i << " is " << out[i] << " from "
                  << Describe(sim.OutputOrigin(r, i)) << ", want " << want;
              return err.str();
            }
          } else if (out[i] != inputs[r][i]) {
            err << "non-root rank " << r << " changed its input at " << i;
            return err.str();
          }
        }
      }
      if (op == Op::kAvg && n > 1 && sim.finalized_elements() != count) {
        err << sim.finalized_elements() << " elements divided, want " << count;
        return err.str();
      }
      break;
    }
    case Collective::kTransfer:
      break;
  }
  return "";
}

// Plans, runs under `seed` and checks one collective; "" when all is right.
inline std::string RunCollective(const PlanRequest& base, Op op, const BuildFn& build,
                                 uint64_t seed) {
  const auto inputs = MakeInputs(base.world_size, InputElems(base), seed);
  PlanInterpreter sim(MakeRankSetups(base, op, inputs, build), op);
  if (!sim.Run(seed)) return sim.error();
  return CheckCollective(base, op, inputs, sim);
}

}  // namespace meridian::planner::interp

#endif  // MERIDIAN_TESTS_UNIT_PLAN_INTERPRETER_COLLECTIVES_H_
