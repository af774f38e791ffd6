// Errors crossing into JavaScript. The JS side hands us its EngineError class at load time; every
// native failure is raised as an instance of it with a string `code`.
#pragma once
#include <napi.h>

#include <string>

namespace astraea::napi {

struct AddonData {
  Napi::FunctionReference error_class;
  Napi::FunctionReference model_constructor;
  Napi::FunctionReference kv_cache_constructor;
};

AddonData& addon_data(Napi::Env env);

Napi::Error engine_error(Napi::Env env, const std::string& code, const std::string& message);

// Runs fn, converting a C++ EngineError (or any std::exception) into a thrown JS EngineError.
template <typename Fn>
auto guard(Napi::Env env, Fn&& fn) -> decltype(fn());

// For functions that return a promise: a failure while preparing the call becomes a rejected
// promise rather than a synchronous throw, so callers handle errors in one place.
template <typename Fn>
Napi::Value rejecting(Napi::Env env, Fn&& fn);

}  // namespace astraea::napi

#include "core/errors.h"

namespace astraea::napi {

template <typename Fn>
auto guard(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const EngineError& e) {
    throw engine_error(env, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throw engine_error(env, codes::kOutOfMemory, "out of memory");
  } catch (const std::exception& e) {
    throw engine_error(env, codes::kInternal, e.what());
  }
}

template <typename Fn>
Napi::Value rejecting(Napi::Env env, Fn&& fn) {
  try {
    return guard(env, fn);
  } catch (const Napi::Error& e) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(e.Value());
    return deferred.Promise();
  }
}

}  // namespace astraea::napi
