// The one error type of the core. Every failure the core can detect becomes an EngineError with a
// stable string code; the N-API layer turns it into the JS EngineError, the C++ harness prints it.
#pragma once
#include <stdexcept>
#include <string>

namespace astraea {

class EngineError : public std::runtime_error {
 public:
  EngineError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// Codes, so call sites cannot misspell them.
namespace codes {
inline constexpr const char* kInvalidArgument = "INVALID_ARGUMENT";
inline constexpr const char* kInvalidPlan = "INVALID_PLAN";
inline constexpr const char* kModelNotFound = "MODEL_NOT_FOUND";
inline constexpr const char* kInvalidConfig = "INVALID_CONFIG";
inline constexpr const char* kUnsupportedModel = "UNSUPPORTED_MODEL";
inline constexpr const char* kInvalidWeights = "INVALID_WEIGHTS";
inline constexpr const char* kOutOfMemory = "OUT_OF_MEMORY";
inline constexpr const char* kDisposed = "DISPOSED";
inline constexpr const char* kIo = "IO_ERROR";
inline constexpr const char* kInternal = "INTERNAL";
}  // namespace codes

}  // namespace astraea
