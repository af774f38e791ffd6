#include "napi/args.h"

#include <cmath>

namespace astraea::napi {

Napi::Object object_arg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (info.Length() <= index || !info[index].IsObject())
    throw EngineError(codes::kInvalidArgument, std::string(what) + " must be an object");
  return info[index].As<Napi::Object>();
}

bool has(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

std::string string_field(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw EngineError(codes::kInvalidArgument, std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

int64_t int_field(const Napi::Object& o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw EngineError(codes::kInvalidArgument, std::string(key) + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740991.0)
    throw EngineError(codes::kInvalidArgument, std::string(key) + " must be an integer");
  return int64_t(d);
}

bool bool_field(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw EngineError(codes::kInvalidArgument, std::string(key) + " must be true or false");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace astraea::napi
