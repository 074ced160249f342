// gguf_reader.h: a GGUF v3 reader written for the tests, independent of
// infer/gguf_writer.cpp (it shares no code with it): every field is decoded
// from the bytes with bounds checks, so a writer bug shows up as a parse
// error or a wrong value rather than being mirrored by the same mistake.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace cpurich::test {

/// One metadata value: `type` is the GGUF value type id; scalars land in the
/// field of their kind, arrays in the arr_* fields with `arr_type`.
struct GgufKV {
  uint32_t type = 0;
  uint64_t u = 0;  ///< unsigned ints and bool
  int64_t i = 0;   ///< signed ints
  double f = 0;    ///< floats
  std::string s;
  uint32_t arr_type = 0;
  std::vector<std::string> arr_str;
  std::vector<int64_t> arr_int;
  std::vector<double> arr_f;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;
  uint32_t type = 0;
  uint64_t offset = 0;  ///< from data_start
  uint64_t bytes = 0;   ///< from ne and type
};

struct GgufFile {
  uint32_t version = 0;
  std::map<std::string, GgufKV> kv;
  std::vector<std::string> key_order;
  std::vector<GgufTensorInfo> tensors;
  uint64_t alignment = 32;
  uint64_t data_start = 0;
  std::vector<uint8_t> bytes;  ///< the whole file

  const GgufTensorInfo& tensor(const std::string& name) const {
    for (const auto& t : tensors)
      if (t.name == name) return t;
    throw std::runtime_error("no tensor " + name);
  }
  /// The tensor's data bytes.
  std::vector<uint8_t> data(const std::string& name) const {
    const GgufTensorInfo& t = tensor(name);
    const auto* p = bytes.data() + data_start + t.offset;
    return std::vector<uint8_t>(p, p + t.bytes);
  }
};

class GgufParser {
 public:
  explicit GgufParser(std::vector<uint8_t> bytes) { f_.bytes = std::move(bytes); }

  GgufFile parse() {
    if (u32() != 0x46554747u) fail("bad magic");
    f_.version = u32();
    if (f_.version != 3) fail("version " + std::to_string(f_.version));
    const uint64_t n_tensors = u64();
    const uint64_t n_kv = u64();
    for (uint64_t k = 0; k < n_kv; ++k) {
      std::string key = str();
      if (f_.kv.count(key)) fail("duplicate key " + key);
      GgufKV v;
      v.type = u32();
      if (v.type == 9) {
        v.arr_type = u32();
        const uint64_t n = u64();
        if (n > f_.bytes.size()) fail("array too long");
        for (uint64_t e = 0; e < n; ++e) {
          GgufKV x = scalar(v.arr_type);
          if (v.arr_type == 8)
            v.arr_str.push_back(x.s);
          else if (v.arr_type == 6 || v.arr_type == 12)
            v.arr_f.push_back(x.f);
          else
            v.arr_int.push_back(is_signed(v.arr_type) ? x.i : static_cast<int64_t>(x.u));
        }
      } else {
        v = scalar(v.type);
      }
      f_.key_order.push_back(key);
      f_.kv.emplace(std::move(key), std::move(v));
    }
    if (auto it = f_.kv.find("general.alignment"); it != f_.kv.end()) {
      if (it->second.type != 4) fail("general.alignment is not u32");
      f_.alignment = it->second.u;
    }
    if (f_.alignment == 0 || (f_.alignment & (f_.alignment - 1))) fail("alignment");
    for (uint64_t t = 0; t < n_tensors; ++t) {
      GgufTensorInfo info;
      info.name = str();
      const uint32_t n_dims = u32();
      if (n_dims == 0 || n_dims > 4) fail("n_dims");
      // No type packs more than 2 elements per byte, so a tensor of more
      // than 2 * file-size elements cannot fit; checking each step keeps
      // the product from overflowing.
      const int64_t max_elements = 2 * static_cast<int64_t>(f_.bytes.size());
      int64_t n = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        const int64_t e = static_cast<int64_t>(u64());
        if (e <= 0) fail("ne <= 0");
        if (e > max_elements / n) fail("tensor larger than the file");
        info.ne.push_back(e);
        n *= e;
      }
      info.type = u32();
      info.offset = u64();
      info.bytes = tensor_bytes(info.type, info.ne[0], n);
      if (info.offset % f_.alignment) fail(info.name + " offset not aligned");
      for (const auto& o : f_.tensors)
        if (o.name == info.name) fail("duplicate tensor " + info.name);
      f_.tensors.push_back(info);
    }
    f_.data_start = (pos_ + f_.alignment - 1) / f_.alignment * f_.alignment;
    for (uint64_t p = pos_; p < f_.data_start && p < f_.bytes.size(); ++p)
      if (f_.bytes[p] != 0) fail("non-zero padding before the data");
    // Every tensor inside the file (written so that no sum can wrap around),
    // then none overlapping another.
    const uint64_t size = f_.bytes.size();
    for (const auto& a : f_.tensors)
      if (f_.data_start > size || a.offset > size - f_.data_start ||
          a.bytes > size - f_.data_start - a.offset)
        fail(a.name + " past the end");
    for (const auto& a : f_.tensors) {
      for (const auto& b : f_.tensors)
        if (&a != &b && a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes)
          fail(a.name + " overlaps " + b.name);
    }
    return std::move(f_);
  }

  static uint64_t tensor_bytes(uint32_t type, int64_t row, int64_t n) {
    switch (type) {
      case 0:
        return 4 * n;
      case 1:
        return 2 * n;
      case 2:
      case 3:
      case 8:
        if (row % 32) throw std::runtime_error("quantized row not whole blocks");
        return n / 32 * (type == 2 ? 18 : type == 3 ? 20 : 34);
      default:
        throw std::runtime_error("unknown ggml type " + std::to_string(type));
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("GGUF parse error at byte " + std::to_string(pos_) + ": " + why);
  }
  const uint8_t* take(uint64_t n) {
    if (n > f_.bytes.size() || pos_ > f_.bytes.size() - n) fail("truncated");
    const uint8_t* p = f_.bytes.data() + pos_;
    pos_ += n;
    return p;
  }
  uint64_t le(int n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  uint32_t u32() { return static_cast<uint32_t>(le(4)); }
  uint64_t u64() { return le(8); }
  std::string str() {
    const uint64_t n = u64();
    const uint8_t* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  static bool is_signed(uint32_t t) { return t == 1 || t == 3 || t == 5 || t == 11; }
  GgufKV scalar(uint32_t type) {
    GgufKV v;
    v.type = type;
    static const int kSize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
      v.s = str();
    } else if (type < 13 && kSize[type] > 0) {
      const int n = kSize[type];
      const uint64_t raw = le(n);
      v.u = raw;
      const uint64_t sign = uint64_t{1} << (8 * n - 1);
      v.i = (n < 8 && (raw & sign)) ? static_cast<int64_t>(raw - (sign << 1))
                                    : static_cast<int64_t>(raw);
      if (type == 6) {
        float x;
        const uint32_t r32 = static_cast<uint32_t>(raw);
        std::memcpy(&x, &r32, 4);
        v.f = x;
      } else if (type == 12) {
        std::memcpy(&v.f, &raw, 8);
      }
      if (type == 7 && raw > 1) fail("bool not 0/1");
    } else {
      fail("value type " + std::to_string(type));
    }
    return v;
  }

  GgufFile f_;
  uint64_t pos_ = 0;
};

inline GgufFile parse_gguf(std::vector<uint8_t> bytes) {
  return GgufParser(std::move(bytes)).parse();
}

}  // namespace cpurich::test
