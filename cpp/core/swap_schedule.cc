#include "core/swap_schedule.h"

namespace astraea {

SwapSchedule schedule_swaps(const StepPlan& p, int64_t device_blocks, int64_t host_blocks) {
  // Device blocks the forward pass or a copy may touch. Entries outside the pool (allowed past
  // the positions a sequence reaches) can match no swap, so they are skipped.
  std::vector<uint8_t> forward_uses(size_t(device_blocks), 0), copy_writes(size_t(device_blocks), 0),
      copy_uses(size_t(device_blocks), 0);
  const auto in_pool = [&](int32_t id) { return id >= 0 && id < device_blocks; };
  if (p.num_seqs > 0) {
    for (int64_t b = p.block_table_offsets[0]; b < p.block_table_offsets[p.num_seqs]; ++b)
      if (in_pool(p.block_ids[b])) forward_uses[size_t(p.block_ids[b])] = 1;
  }
  for (int64_t i = 0; i < p.copy.count; ++i) {
    copy_uses[size_t(p.copy.ids[2 * i])] = 1;
    copy_uses[size_t(p.copy.ids[2 * i + 1])] = 1;
    copy_writes[size_t(p.copy.ids[2 * i + 1])] = 1;
  }

  // Blocks a swap-out and a swap-in of this plan share: such pairs keep their order on the caller.
  std::vector<uint8_t> out_device_src(size_t(device_blocks), 0), out_host_dst(size_t(host_blocks), 0),
      in_device_dst(size_t(device_blocks), 0), in_host_src(size_t(host_blocks), 0);
  for (int64_t i = 0; i < p.swap_out.count; ++i) {
    out_device_src[size_t(p.swap_out.ids[2 * i])] = 1;
    out_host_dst[size_t(p.swap_out.ids[2 * i + 1])] = 1;
  }
  for (int64_t i = 0; i < p.swap_in.count; ++i) {
    in_host_src[size_t(p.swap_in.ids[2 * i])] = 1;
    in_device_dst[size_t(p.swap_in.ids[2 * i + 1])] = 1;
  }
  // Host blocks an exchange writes once the swap-ins have read them (on the calling thread).
  std::vector<uint8_t> vacated_host_dst(size_t(host_blocks), 0);
  for (int64_t i = 0; i < p.swap_out_to_vacated.count; ++i) vacated_host_dst[size_t(p.swap_out_to_vacated.ids[2 * i + 1])] = 1;

  SwapSchedule s;
  for (int64_t i = 0; i < p.swap_out.count; ++i) {
    const int32_t src = p.swap_out.ids[2 * i], dst = p.swap_out.ids[2 * i + 1];
    const bool blocking =
        forward_uses[size_t(src)] || copy_writes[size_t(src)] || in_device_dst[size_t(src)] || in_host_src[size_t(dst)];
    (blocking ? s.blocking_out : s.background_out).add(src, dst);
  }
  for (int64_t i = 0; i < p.swap_in.count; ++i) {
    const int32_t src = p.swap_in.ids[2 * i], dst = p.swap_in.ids[2 * i + 1];
    const bool blocking =
        forward_uses[size_t(dst)] || copy_uses[size_t(dst)] || out_device_src[size_t(dst)] || out_host_dst[size_t(src)] ||
        vacated_host_dst[size_t(src)];
    (blocking ? s.blocking_in : s.background_in).add(src, dst);
  }
  return s;
}

}  // namespace astraea
