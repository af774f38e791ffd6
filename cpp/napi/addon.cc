// The addon's entry: the module functions. Everything here converts arguments, then hands off
// to the core; no policy lives in the addon.
#include <napi.h>

#include <cmath>
#include <thread>

#include "core/bandwidth.h"
#include "core/kernels/cpu_features.h"
#include "core/mapped_file.h"
#include "napi/args.h"
#include "napi/errors.h"
#include "napi/kv_cache_wrap.h"
#include "napi/model_wrap.h"
#include "napi/sample_logits.h"
#include "napi/kv_store.h"
#include "napi/workers.h"

namespace astraea::napi {

namespace {

Napi::Value set_error_class(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction())
    throw Napi::TypeError::New(info.Env(), "setErrorClass(EngineError) needs the class");
  addon_data(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

WeightDType parse_weight_dtype(const std::string& s) {
  if (s == "auto") return WeightDType::Auto;
  if (s == "f32") return WeightDType::F32;
  if (s == "f16") return WeightDType::F16;
  if (s == "bf16") return WeightDType::BF16;
  if (s == "q8") return WeightDType::Q8_0;
  throw EngineError(codes::kInvalidArgument, "dtype must be one of auto, f32, f16, bf16, q8; got \"" + s + "\"");
}

Activations parse_activations(const std::string& s) {
  if (s == "auto") return Activations::Auto;
  if (s == "f32") return Activations::F32;
  if (s == "bf16") return Activations::BF16;
  throw EngineError(codes::kInvalidArgument, "activations must be auto, f32 or bf16; got \"" + s + "\"");
}

// One entry of ggufTensors: { name, dtype: a ggml type name (core/ggml_types.h), shape, offset, ropeHeads }.
GgufTensorEntry parse_gguf_tensor(const Napi::Value& v, size_t index) {
  const std::string where = "ggufTensors[" + std::to_string(index) + "]";
  if (!v.IsObject()) throw EngineError(codes::kInvalidArgument, where + " must be an object");
  Napi::Object o = v.As<Napi::Object>();
  GgufTensorEntry e;
  e.name = string_field(o, "name", "");
  if (e.name.empty()) throw EngineError(codes::kInvalidArgument, where + ".name must be a non-empty string");
  const std::string dtype = string_field(o, "dtype", "");
  if (!parse_ggml_type(dtype, &e.type))
    throw EngineError(codes::kInvalidArgument, where + ".dtype must be a ggml type name the engine reads (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K … Q6_K, IQ4_NL, IQ4_XS); got \"" + dtype + "\"");
  Napi::Value shape = o.Get("shape");
  if (!shape.IsArray()) throw EngineError(codes::kInvalidArgument, where + ".shape must be an array");
  Napi::Array dims = shape.As<Napi::Array>();
  if (dims.Length() < 1 || dims.Length() > 2) throw EngineError(codes::kInvalidArgument, where + ".shape must have 1 or 2 dimensions");
  for (uint32_t i = 0; i < dims.Length(); ++i) {
    Napi::Value d = dims.Get(i);
    const double n = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(n >= 1 && n <= 9007199254740991.0 && n == std::floor(n)))
      throw EngineError(codes::kInvalidArgument, where + ".shape must hold positive integers");
    e.shape.push_back(int64_t(n));
  }
  const int64_t offset = int_field(o, "offset", -1);
  const int64_t rope_heads = int_field(o, "ropeHeads", 0);
  if (offset < 0) throw EngineError(codes::kInvalidArgument, where + ".offset must be a non-negative integer");
  if (rope_heads < 0) throw EngineError(codes::kInvalidArgument, where + ".ropeHeads must be a non-negative integer");
  e.offset = uint64_t(offset);
  e.rope_heads = rope_heads;
  return e;
}

// loadModel({ dir?, configJson?, dummy?, seed?, dtype?, activations?, threads?, ggufPath?, ggufTensors? })
//   -> Promise<NativeModel>
Napi::Value load_model(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return rejecting(env, [&]() -> Napi::Value {
    Napi::Object opts = object_arg(info, 0, "loadModel options");
    ModelOptions o;
    o.dir = string_field(opts, "dir", "");
    o.config_json = string_field(opts, "configJson", "");
    o.weights.dummy = bool_field(opts, "dummy", false);
    const int64_t seed = int_field(opts, "seed", 0);
    if (seed < 0) throw EngineError(codes::kInvalidArgument, "seed must be a non-negative integer");
    o.weights.seed = uint64_t(seed);
    o.weights.dtype = parse_weight_dtype(string_field(opts, "dtype", "auto"));
    o.activations = parse_activations(string_field(opts, "activations", "auto"));
    const int64_t threads = int_field(opts, "threads", 0);
    if (threads < 0 || threads > 1024) throw EngineError(codes::kInvalidArgument, "threads must be between 0 and 1024");
    o.threads = int(threads);
    const std::string gguf_path = string_field(opts, "ggufPath", "");
    const bool has_tensors = !opts.Get("ggufTensors").IsUndefined() && !opts.Get("ggufTensors").IsNull();
    if (!gguf_path.empty() || has_tensors) {
      if (gguf_path.empty() || !has_tensors || !opts.Get("ggufTensors").IsArray())
        throw EngineError(codes::kInvalidArgument, "a GGUF load needs both ggufPath and the ggufTensors array");
      if (o.config_json.empty() || !o.dir.empty() || o.weights.dummy)
        throw EngineError(codes::kInvalidArgument, "a GGUF load takes configJson, and neither dir nor dummy");
      Napi::Array tensors = opts.Get("ggufTensors").As<Napi::Array>();
      for (uint32_t i = 0; i < tensors.Length(); ++i) o.weights.gguf_tensors.push_back(parse_gguf_tensor(tensors.Get(i), i));
      o.weights.gguf_path = gguf_path;
      o.dir = gguf_path;  // the model's source (Model::load wants one for a non-dummy load)
    }
    auto* worker = new LoadModelWorker(env, std::move(o));
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

Napi::Value backend_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  std::string gpu;
  const bool on_gpu = gpu_in_use(gpu);
  o.Set("backend", on_gpu ? "cuda" : "cpu");
#ifdef ASTRAEA_WITH_CUDA
  o.Set("cuda", gpu);  // the device, or why the CUDA build runs on the CPU
#endif
  o.Set("simd", simd_level_name(simd_level()));
  o.Set("bf16Dot", cpu_has_avx512_bf16());
  o.Set("hardwareThreads", double(std::thread::hardware_concurrency()));
  return o;
}

Napi::Value memory_stats_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MemoryStats stats = memory_stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("anonymousBytes", double(stats.anonymous_bytes));
  o.Set("mappedFileBytes", double(stats.mapped_file_bytes));
  return o;
}

// measureReadBandwidth({ megabytes?, threads?, repeats? }) -> Promise<bytes per second>
class BandwidthWorker : public PromiseWorker {
 public:
  BandwidthWorker(Napi::Env env, uint64_t bytes, int threads, int repeats)
      : PromiseWorker(env), bytes_(bytes), threads_(threads), repeats_(repeats) {}

 protected:
  void run() override { result_ = measure_read_bandwidth(bytes_, threads_, repeats_); }
  Napi::Value result(Napi::Env env) override { return Napi::Number::New(env, result_); }

 private:
  uint64_t bytes_;
  int threads_, repeats_;
  double result_ = 0;
};

Napi::Value measure_read_bandwidth_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return rejecting(env, [&]() -> Napi::Value {
    Napi::Object opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    const int64_t megabytes = int_field(opts, "megabytes", 512);
    const int64_t threads = int_field(opts, "threads", 0);
    const int64_t repeats = int_field(opts, "repeats", 5);
    if (megabytes < 1 || megabytes > 65536 || threads < 0 || threads > 1024 || repeats < 1 || repeats > 1000)
      throw EngineError(codes::kInvalidArgument, "measureReadBandwidth: megabytes 1..65536, threads 0..1024, repeats 1..1000");
    auto* worker = new BandwidthWorker(env, uint64_t(megabytes) << 20, int(threads), int(repeats));
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  data->model_constructor = Napi::Persistent(ModelWrap::define(env));
  data->kv_cache_constructor = Napi::Persistent(KvCacheWrap::define(env));
  exports.Set("setErrorClass", Napi::Function::New(env, set_error_class));
  exports.Set("loadModel", Napi::Function::New(env, load_model));
  exports.Set("backendInfo", Napi::Function::New(env, backend_info));
  exports.Set("memoryStats", Napi::Function::New(env, memory_stats_js));
  exports.Set("measureReadBandwidth", Napi::Function::New(env, measure_read_bandwidth_js));
  exports.Set("sampleLogits", Napi::Function::New(env, sample_logits_js));
  exports.Set("NativeModel", data->model_constructor.Value());
  exports.Set("NativeKvCache", data->kv_cache_constructor.Value());
  return exports;
}

}  // namespace

}  // namespace astraea::napi

static Napi::Object InitAstraea(Napi::Env env, Napi::Object exports) { return astraea::napi::init(env, exports); }

NODE_API_MODULE(astraea, InitAstraea)
