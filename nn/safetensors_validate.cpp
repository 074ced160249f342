// safetensors_validate.cpp: checking a safetensors JSON header before trusting it.
//
// What it teaches: defensive parsing of an untrusted file. Every number in the
// header (shapes, offsets) could be wrong by accident (truncated download, a
// bug in some writer) or on purpose (a crafted file). Each check below turns a
// would-be crash, out-of-bounds read, giant allocation or silently wrong model
// into a one-line error naming the tensor and the field. The full list, with
// why each check matters, is in docs/course/model_files.md.
//
// Pipeline position: model.safetensors -> [header checks] -> decode -> model weights.
#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "nn/safetensors.h"
#include "nn/safetensors_detail.h"

namespace cpurich::safetensors_detail {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& what, const std::string& message) {
  throw SafetensorsError(what + ": " + message);
}

/// A name or value fit for a one-line message: control characters shown as
/// \xNN and anything past 80 characters elided (a hostile file may hold a
/// megabyte-long name or a newline in one).
std::string printable(const std::string& text, std::size_t max_chars = 80) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max_chars; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      const char* hex = "0123456789abcdef";
      out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    } else {
      out += text[i];
    }
  }
  if (text.size() > max_chars) out += "...";
  return out;
}

/// A JSON value as it appeared in the file, shortened for a message.
std::string brief(const json& j) {
  return printable(j.dump());
}

/// A real header nests at most 3 levels: {name: {"shape": [dims]}}. Deeper
/// JSON is rejected before parsing because a JSON DOM costs ~100 bytes per
/// "[" of input: a 100 MB header of "[[[[..." would need ~10 GB. Brackets
/// inside strings do not count, so the scan tracks quotes and escapes.
void check_nesting(const std::string& text, const std::string& what) {
  constexpr int kMaxDepth = 3;
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth)
        fail(what, "header nests JSON deeper than " + std::to_string(kMaxDepth) +
                       " levels at byte " + std::to_string(i) +
                       " ({name: {\"shape\": [...]}} is as deep as it gets)");
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}

/// Parses the header text, rejecting duplicate keys in any object. A plain
/// json::parse would silently keep one of two "wte.weight" entries, so the
/// file would mean different things to different readers; the parser callback
/// lets us see every key as it is read and keep one set of keys per open object.
json parse_json_rejecting_duplicates(const std::string& text, const std::string& what) {
  check_nesting(text, what);
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == json::parse_event_t::key && duplicate.empty() && !open_objects.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, callback);
  } catch (const json::exception& e) {
    // json::exception, not only parse_error: a number too large for a double
    // ("1E999") is an out_of_range error thrown by the same parse.
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix: the rest
    // ("parse error at line 1, column 7: ...") is what the reader needs.
    const std::string detail = e.what();
    const auto start = detail.find("] ");
    fail(what, "header is not valid JSON: " +
                   printable(start == std::string::npos ? detail : detail.substr(start + 2), 300));
  }
  if (!duplicate.empty()) fail(what, "duplicate key '" + printable(duplicate) + "' in the header");
  return header;
}

std::map<std::string, std::string> parse_metadata(const json& j, const std::string& what) {
  if (!j.is_object())
    fail(what,
         "__metadata__ is not an object of strings (it is " + std::string(j.type_name()) + ")");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string())
      fail(what, "__metadata__ value for key '" + printable(key) + "' is not a string (it is " +
                     std::string(value.type_name()) + ")");
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

/// Exactly the keys dtype, shape and data_offsets: a missing key makes the
/// entry meaningless, an extra key means a format we do not understand.
void check_entry_keys(const json& entry, const std::string& where) {
  if (!entry.is_object())
    fail(where, "entry is not an object (it is " + std::string(entry.type_name()) + ")");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) fail(where, std::string("missing key '") + key + "'");
  for (const auto& [key, value] : entry.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail(where, "unexpected key '" + printable(key) + "'");
}

std::string parse_dtype(const json& j, const std::string& where) {
  if (!j.is_string())
    fail(where, "dtype is not a string (it is " + std::string(j.type_name()) + ")");
  const auto dtype = j.get<std::string>();
  if (stored_dtype_size(dtype) == 0)
    fail(where,
         "unsupported dtype '" + printable(dtype) + "' (cpurich reads F32, F16, BF16 and U8)");
  return dtype;
}

/// Each dim a non-negative integer; the element count must fit in int64 so
/// that later size arithmetic cannot overflow. Checked by division before
/// multiplying: numel * d overflows exactly when d != 0 and numel > max / d.
Shape parse_shape(const json& j, const std::string& where) {
  if (!j.is_array())
    fail(where, "shape is not an array (it is " + std::string(j.type_name()) + ")");
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<int64_t>::max());
  Shape shape;
  std::uint64_t numel = 1;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const json& d = j[i];
    const std::string field = "shape[" + std::to_string(i) + "]";
    if (d.is_number_integer() && !d.is_number_unsigned())
      fail(where, field + " is negative (" + brief(d) + ")");
    if (!d.is_number_unsigned()) fail(where, field + " is not an integer (" + brief(d) + ")");
    const auto dim = d.get<std::uint64_t>();
    if (dim > max || (dim != 0 && numel > max / dim))
      fail(where, "shape " + brief(j) + " has too many elements (overflows 64 bits)");
    numel *= dim;
    shape.push_back(static_cast<int64_t>(dim));
  }
  return shape;
}

void parse_offsets(const json& j, const std::string& where, TensorEntry& entry) {
  if (!j.is_array() || j.size() != 2)
    fail(where, "data_offsets is not an array of two integers (" + brief(j) + ")");
  for (std::size_t i = 0; i < 2; ++i)
    if (!j[i].is_number_unsigned())
      fail(where, "data_offsets[" + std::to_string(i) + "] is not a non-negative integer (" +
                      brief(j[i]) + ")");
  entry.begin = j[0].get<std::uint64_t>();
  entry.end = j[1].get<std::uint64_t>();
  if (entry.begin > entry.end)
    fail(where, "data_offsets begin " + std::to_string(entry.begin) + " is after end " +
                    std::to_string(entry.end));
}

TensorEntry parse_entry(const std::string& name, const json& j, std::uint64_t buffer_bytes,
                        const std::string& what) {
  const std::string where = what + ": tensor '" + printable(name) + "'";
  check_entry_keys(j, where);
  TensorEntry entry{.name = name,
                    .dtype = parse_dtype(j["dtype"], where),
                    .shape = parse_shape(j["shape"], where),
                    .begin = 0,
                    .end = 0};
  parse_offsets(j["data_offsets"], where, entry);
  if (entry.end > buffer_bytes)
    fail(where, "data_offsets end " + std::to_string(entry.end) +
                    " is past the end of the data buffer (" + std::to_string(buffer_bytes) +
                    " bytes)");
  // Byte length must be numel * element size; compared by division so that
  // nothing can overflow: bytes == numel * size  <=>  bytes % size == 0 and
  // bytes / size == numel.
  const std::uint64_t bytes = entry.end - entry.begin;
  const std::uint64_t size = stored_dtype_size(entry.dtype);
  const auto numel = static_cast<std::uint64_t>(shape_numel(entry.shape));
  if (bytes % size != 0 || bytes / size != numel)
    fail(where, "data_offsets span " + std::to_string(bytes) + " bytes but shape " +
                    shape_str(entry.shape) + " of " + entry.dtype + " needs " +
                    std::to_string(numel) + " x " + std::to_string(size) + " bytes");
  return entry;
}

/// The spec requires the tensors to tile the buffer exactly: sorted by
/// offset, each starts where the previous ended, and the last ends at the
/// buffer's end. Overlaps would let one write show up in two tensors; gaps and
/// trailing bytes are room to hide data no reader looks at.
void check_coverage(std::vector<TensorEntry> entries, std::uint64_t buffer_bytes,
                    const std::string& what) {
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t cursor = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry& e : entries) {
    if (e.begin < cursor)
      fail(what, "tensors '" + printable(previous->name) + "' and '" + printable(e.name) +
                     "' overlap in the data buffer");
    if (e.begin > cursor)
      fail(what, "gap of " + std::to_string(e.begin - cursor) + " unused bytes before tensor '" +
                     printable(e.name) + "' (the data buffer must be fully covered)");
    cursor = e.end;
    previous = &e;
  }
  if (cursor != buffer_bytes)
    fail(what, std::to_string(buffer_bytes - cursor) +
                   " trailing bytes after the last tensor in the data buffer");
}

}  // namespace

std::size_t stored_dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "U8") return 1;  // raw bytes: quantized blocks (nn/quant_io.h)
  return 0;
}

Header validate_header(const std::string& json_text, std::uint64_t buffer_bytes,
                       const std::string& what) {
  const json j = parse_json_rejecting_duplicates(json_text, what);
  if (!j.is_object())
    fail(what, "header is not a JSON object (it is " + std::string(j.type_name()) + ")");
  Header header;
  for (const auto& [name, value] : j.items()) {
    if (name == "__metadata__") {
      header.metadata = parse_metadata(value, what);
    } else {
      if (name.empty()) fail(what, "a tensor has an empty name");
      header.tensors.push_back(parse_entry(name, value, buffer_bytes, what));
    }
  }
  check_coverage(header.tensors, buffer_bytes, what);
  return header;
}

}  // namespace cpurich::safetensors_detail
