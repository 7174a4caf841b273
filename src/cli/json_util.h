// Small RapidJSON helpers shared by the command-line tool.
#pragma once

#include <cstdint>
#include <string>

#include <rapidjson/document.h>

namespace llmsvc_cli {

/// The member `name` of `v`, or nullptr when `v` is not an object or has no such member.
const rapidjson::Value *member(const rapidjson::Value *v, const char *name);
/// An integer member, `fallback` when absent, null or not an integer.
int64_t int_member(const rapidjson::Value *v, const char *name, int64_t fallback = 0);
/// A number member, `fallback` when absent, null or not a number.
double number_member(const rapidjson::Value *v, const char *name, double fallback = 0);
/// A string member, "" when absent or not a string.
std::string string_member(const rapidjson::Value *v, const char *name);
/// `v` serialized compactly.
std::string to_json(const rapidjson::Value &v);
/// `s` as a quoted, escaped JSON string.
std::string quote(const std::string &s);
/// "a string", "a number", ... for messages about a value of the wrong type.
const char *type_name(const rapidjson::Value &v);

}  // namespace llmsvc_cli
