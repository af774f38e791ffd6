// A small JSON reader for config.json and safetensors headers. The core parses these itself so
// that the C++ harness can load a model directory without Node. Numbers are kept as doubles and
// as the exact integer when they are integral (safetensors offsets exceed 2^53 only for
// petabyte files, which we reject anyway).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace astraea {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Json() = default;
  // Throws EngineError(error_code) naming `what` and the byte offset on malformed input.
  static Json parse(const std::string& text, const std::string& what, const char* error_code);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  double number() const { return number_; }
  bool boolean() const { return bool_; }
  const std::string& string() const { return string_; }
  const std::vector<Json>& array() const { return array_; }
  const std::vector<std::pair<std::string, Json>>& object() const { return object_; }

  // Member lookup on an object; nullptr when absent or when this is not an object.
  const Json* find(const std::string& key) const;

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> array_;
  std::vector<std::pair<std::string, Json>> object_;  // insertion order, as written
};

}  // namespace astraea
