// gpu-logits: the GPU forward pass on a model directory, for the comparison with Hugging Face
// transformers (bench/cuda/hf_check.py). Reads sequences of token ids (int32, concatenated) and
// their lengths, runs them as one batch — every token prefilled in one step ("--split 0"), or the
// first K of each prefilled together and the rest decoded one step per position — and writes the
// logits of every position, sequence after sequence, as float32 [positions][vocab].
//   gpu-logits --model DIR --ids ids.bin --lengths 7,300,41 [--split K] --out logits.bin
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/model.h"
#include "cuda/device_model.h"
#include "cuda/harness/owned_plan.h"

namespace {

std::vector<char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw astraea::EngineError(astraea::codes::kIo, "cannot read " + path);
  return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, ids_path, out_path;
  std::vector<int64_t> lengths;
  int64_t split = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") model_dir = v;
    else if (k == "--ids") ids_path = v;
    else if (k == "--out") out_path = v;
    else if (k == "--split") split = std::atoll(v.c_str());
    else if (k == "--lengths") {
      std::stringstream ss(v);
      for (std::string item; std::getline(ss, item, ',');) lengths.push_back(std::atoll(item.c_str()));
    } else {
      std::fprintf(stderr, "gpu-logits: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  try {
    const std::vector<char> raw = read_file(ids_path);
    std::vector<int32_t> ids(raw.size() / 4);
    std::memcpy(ids.data(), raw.data(), ids.size() * 4);
    astraea::ModelOptions options;
    options.dir = model_dir;
    auto host = astraea::Model::load(options);
    const int64_t block = 16, vocab = host->config().vocab_size;
    int64_t blocks = 0;
    std::vector<std::vector<int32_t>> tables;
    std::vector<int64_t> firsts;
    for (int64_t n : lengths) {
      std::vector<int32_t> table;
      for (int64_t b = 0; b < (n + block - 1) / block; ++b) table.push_back(int32_t(blocks++));
      tables.push_back(table);
      firsts.push_back(firsts.empty() ? 0 : firsts.back() + lengths[firsts.size() - 1]);
    }
    auto gpu = astraea::cuda::DeviceModel::create(host->config(), host->weights(), {block, blocks, 0});
    std::vector<std::vector<float>> rows(ids.size());  // logits per position, in input order

    // One step over `spans` (sequence, first position, count), every row's logits kept.
    auto run = [&](const std::vector<std::array<int64_t, 3>>& spans) {
      astraea::cuda::check::OwnedPlan plan;
      for (const auto& [s, start, count] : spans) {
        const int32_t* first = ids.data() + firsts[size_t(s)] + start;
        plan.add(std::vector<int32_t>(first, first + count), int32_t(start), tables[size_t(s)]);
      }
      const astraea::StepResult r = gpu->step(plan.view());
      int64_t row = 0;
      for (const auto& [s, start, count] : spans)
        for (int64_t i = 0; i < count; ++i, ++row)
          rows[size_t(firsts[size_t(s)] + start + i)].assign(r.logits.begin() + row * vocab, r.logits.begin() + (row + 1) * vocab);
    };
    std::vector<std::array<int64_t, 3>> prefill;
    for (size_t s = 0; s < lengths.size(); ++s)
      prefill.push_back({int64_t(s), 0, split > 0 ? std::min(split, lengths[s]) : lengths[s]});
    run(prefill);
    for (int64_t pos = split; split > 0; ++pos) {
      std::vector<std::array<int64_t, 3>> decode;
      for (size_t s = 0; s < lengths.size(); ++s)
        if (pos < lengths[s]) decode.push_back({int64_t(s), pos, 1});
      if (decode.empty()) break;
      run(decode);
    }
    std::ofstream out(out_path, std::ios::binary);
    for (const auto& r : rows) out.write(reinterpret_cast<const char*>(r.data()), std::streamsize(r.size() * 4));
    if (!out) throw astraea::EngineError(astraea::codes::kIo, "cannot write " + out_path);
  } catch (const astraea::EngineError& e) {
    std::fprintf(stderr, "gpu-logits: %s: %s\n", e.code().c_str(), e.what());
    return 1;
  }
  return 0;
}
