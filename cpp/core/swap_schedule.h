// When each swap of a step may run: before the forward pass, or beside it on the copy thread (the
// CPU stand-in for a GPU engine's copy stream). Mechanism only: the control plane decides what to
// swap; this decides, deterministically from the plan alone, which copies the forward must wait for.
//
// A plan means: every swap-out, then every swap-in, then every copy, then the forward pass; an
// exchange's swap-outs (StepPlan::swap_out_to_vacated) read their device blocks before all of it and
// write their host blocks after the swap-ins. It runs as
//   calling thread: exchange reads, blocking swap-outs, blocking swap-ins, exchange writes, copies,
//                   forward pass ......................................................... join
//   copy thread:                                       background swap-outs, swap-ins ..|
// which gives the same bytes everywhere because a background copy touches no block anything else
// of the step touches:
// - a swap-out is background when its source device block is in no block table of the plan (the
//   forward neither reads nor writes it), is no copy's destination and no swap-in's destination,
//   and its host destination is no swap-in's source. So its source holds the same bytes whenever
//   the copy thread reads it, and nothing else reads what it writes.
// - a swap-in is background when its destination device block is in no block table, in no copy
//   pair and no swap-out's source, and its host source is no swap-out's destination (an exchange's
//   included): nothing else of the step reads or writes either block.
// - an exchange always runs on the calling thread; its device reads come first, so whatever then
//   writes those blocks (a swap-in, a copy, the forward pass) cannot change what it moves.
// - no block is any list's destination twice (KvCache::check_*), so the rest is disjoint.
// Pairs that chain a swap-out and a swap-in over one block are legal and the control plane emits
// them: a job swapped out at a tool wait and back in within one step (host round trip), or a
// victim's device blocks swapped out and reused at once by a swap-in. Both halves are blocking,
// and the calling thread runs every blocking swap-out before any blocking swap-in, as the plan says.
// Block tables count whole (every entry, not only the blocks this step's positions reach):
// conservative, and the same answer for the same plan.
#pragma once
#include <cstdint>
#include <vector>

#include "core/kv_cache.h"
#include "core/step_plan.h"

namespace astraea {

// Flat (source, destination) pairs, owned.
struct OwnedPairs {
  std::vector<int32_t> ids;
  int64_t count() const { return int64_t(ids.size() / 2); }
  BlockPairs view() const { return {ids.empty() ? nullptr : ids.data(), count()}; }
  void add(int32_t src, int32_t dst) {
    ids.push_back(src);
    ids.push_back(dst);
  }
};

struct SwapSchedule {
  OwnedPairs blocking_out, blocking_in;      // before the forward pass, on the calling thread
  OwnedPairs background_out, background_in;  // beside it, on the copy thread (outs before ins)
  int64_t background_pairs() const { return background_out.count() + background_in.count(); }
};

// Splits a validated plan's swaps (order within each list kept).
SwapSchedule schedule_swaps(const StepPlan& plan, int64_t device_blocks, int64_t host_blocks);

}  // namespace astraea
