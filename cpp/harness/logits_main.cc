// astraea-logits: drives the core without Node (the GPU machine has no Node). Loads a model
// directory (or its config with --dummy weights), prefills the first --split ids as one chunk,
// decodes the rest one token at a time through the paged cache, and prints the logits at every
// position as a JSON array, the same output as `astraea logits --json`.
//
//   astraea-logits --model DIR [--dummy] [--seed N] [--dtype auto|f32|f16|bf16|q8]
//                  --ids 5,17,3,99 [--split K] [--block-size 16] [--threads N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/model.h"

namespace {

struct Args {
  std::string model, dtype = "auto";
  bool dummy = false;
  uint64_t seed = 0;
  std::vector<int32_t> ids;
  int64_t split = -1, block_size = 16;
  int threads = 0;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "astraea-logits: %s\nusage: astraea-logits --model DIR [--dummy] [--seed N] [--dtype D] --ids 1,2,3 [--split K] [--block-size B] [--threads N]\n", why.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(k + " needs a value");
      return argv[++i];
    };
    if (k == "--model") a.model = value();
    else if (k == "--dummy") a.dummy = true;
    else if (k == "--seed") a.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (k == "--dtype") a.dtype = value();
    else if (k == "--split") a.split = std::atoll(value().c_str());
    else if (k == "--block-size") a.block_size = std::atoll(value().c_str());
    else if (k == "--threads") a.threads = std::atoi(value().c_str());
    else if (k == "--ids") {
      std::stringstream ss(value());
      std::string item;
      while (std::getline(ss, item, ',')) a.ids.push_back(int32_t(std::atol(item.c_str())));
    } else usage("unknown option " + k);
  }
  if (a.model.empty() || a.ids.empty()) usage("--model and --ids are required");
  if (a.split < 0) a.split = int64_t(a.ids.size());
  if (a.split < 1 || a.split > int64_t(a.ids.size())) usage("--split must be between 1 and the number of ids");
  return a;
}

astraea::WeightDType parse_dtype(const std::string& s) {
  if (s == "f32") return astraea::WeightDType::F32;
  if (s == "f16") return astraea::WeightDType::F16;
  if (s == "bf16") return astraea::WeightDType::BF16;
  if (s == "q8") return astraea::WeightDType::Q8_0;
  if (s != "auto") usage("--dtype must be auto, f32, f16, bf16 or q8");
  return astraea::WeightDType::Auto;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  try {
    astraea::ModelOptions options;
    options.dir = args.model;
    options.weights.dummy = args.dummy;
    options.weights.seed = args.seed;
    options.weights.dtype = parse_dtype(args.dtype);
    options.threads = args.threads;
    auto model = astraea::Model::load(options);
    const int64_t n = int64_t(args.ids.size()), vocab = model->config().vocab_size;
    const int64_t blocks = (n + args.block_size - 1) / args.block_size;
    auto cache = model->create_kv_cache({args.block_size, blocks, 0});
    std::vector<int32_t> table(static_cast<size_t>(blocks));
    for (int64_t b = 0; b < blocks; ++b) table[size_t(b)] = int32_t(blocks - 1 - b);  // reversed, like the CLI

    std::printf("[");
    bool first_row = true;
    auto run = [&](int64_t start, int64_t end) {
      const int32_t len = int32_t(end - start), pos = int32_t(start);
      const int32_t offsets[2] = {0, int32_t(blocks)};
      const float temperature = 0, top_p = 1;
      const int32_t top_k = 0;
      const uint32_t seed = 0;
      astraea::StepPlan plan;
      plan.num_seqs = 1;
      plan.tokens = args.ids.data() + start;
      plan.num_tokens = len;
      plan.query_lens = &len;
      plan.start_positions = &pos;
      plan.block_table_offsets = offsets;
      plan.block_ids = table.data();
      plan.num_block_ids = blocks;
      plan.temperature = &temperature;
      plan.top_k = &top_k;
      plan.top_p = &top_p;
      plan.seeds = &seed;
      plan.logits = astraea::LogitsMode::All;
      const astraea::StepResult r = model->step(*cache, plan);
      for (int64_t row = 0; row < r.logits_rows; ++row) {
        std::printf(first_row ? "[" : ",[");
        first_row = false;
        for (int64_t v = 0; v < vocab; ++v) std::printf(v ? ",%.9g" : "%.9g", double(r.logits[size_t(row * vocab + v)]));
        std::printf("]");
      }
    };
    run(0, args.split);
    for (int64_t p = args.split; p < n; ++p) run(p, p + 1);
    std::printf("]\n");
  } catch (const astraea::EngineError& e) {
    std::fprintf(stderr, "astraea-logits: %s [%s]\n", e.what(), e.code().c_str());
    return 1;
  }
  return 0;
}
