// Argument conversion, on the main thread, into plain C++ values. Each binding checks its
// arguments once at the top; a wrong type is an EngineError INVALID_ARGUMENT naming the field.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "core/errors.h"

namespace astraea::napi {

Napi::Object object_arg(const Napi::CallbackInfo& info, size_t index, const char* what);

bool has(const Napi::Object& o, const char* key);
std::string string_field(const Napi::Object& o, const char* key, const std::string& fallback);
int64_t int_field(const Napi::Object& o, const char* key, int64_t fallback);
bool bool_field(const Napi::Object& o, const char* key, bool fallback);

// A typed array field of exactly type A; `required` fields throw when absent.
// The returned array's data pointer stays valid while the array is referenced.
template <typename A>
A typed_array_field(const Napi::Object& o, const char* key, const char* type_name, bool required);

}  // namespace astraea::napi

namespace astraea::napi {

template <typename A>
A typed_array_field(const Napi::Object& o, const char* key, const char* type_name, bool required) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw EngineError(codes::kInvalidArgument, std::string("plan.") + key + " is required");
    return A();
  }
  using Element = typename std::remove_pointer<decltype(A().Data())>::type;
  if (!v.IsTypedArray()) throw EngineError(codes::kInvalidArgument, std::string("plan.") + key + " must be a " + type_name);
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  napi_typedarray_type expected;
  if (std::is_same<Element, int32_t>::value) expected = napi_int32_array;
  else if (std::is_same<Element, uint32_t>::value) expected = napi_uint32_array;
  else if (std::is_same<Element, uint8_t>::value) expected = napi_uint8_array;
  else expected = napi_float32_array;
  if (t.TypedArrayType() != expected)
    throw EngineError(codes::kInvalidArgument, std::string("plan.") + key + " must be a " + type_name);
  return v.As<A>();
}

}  // namespace astraea::napi
