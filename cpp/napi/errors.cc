#include "napi/errors.h"

namespace astraea::napi {

AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

Napi::Error engine_error(Napi::Env env, const std::string& code, const std::string& message) {
  AddonData& data = addon_data(env);
  Napi::Object error;
  if (!data.error_class.IsEmpty()) {
    error = data.error_class.New({Napi::String::New(env, code), Napi::String::New(env, message)});
  } else {
    error = Napi::Error::New(env, message).Value();
    error.Set("code", Napi::String::New(env, code));
  }
  return Napi::Error(env, error);
}

}  // namespace astraea::napi
