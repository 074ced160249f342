// quant_io.cpp: quantized model directories (layout in quant_io.h).
//
// What it teaches: a file loader for packed weights trusts nothing. The
// safetensors reader has already checked the header and offsets; here each U8
// tensor must also say what it is (metadata "format rows cols"), be a weight
// matrix this config has, with that matrix's shape, and hold exactly the bytes
// the format needs with finite scales (validate_quant_matrix), so a truncated
// or mislabelled file is a one-line error naming the tensor, never garbage
// weights.
//
// Pipeline position: [quantized model.safetensors <-> QuantMatrix map] -> Decoder / GPT.
#include "nn/quant_io.h"

#include <charconv>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "util/file_util.h"

namespace cpurich {

namespace {

using Shape2 = std::pair<int64_t, int64_t>;

/// (rows, cols) = (out, in) of every weight matrix a model with this config has.
std::map<std::string, Shape2> matrix_shapes(const GPTConfig& c) {
  const int64_t C = c.n_embd;
  std::map<std::string, Shape2> shapes = {{"wte.weight", {c.vocab_size, C}},
                                          {"wpe.weight", {c.n_positions, C}}};
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    shapes[h + "attn.c_attn.weight"] = {3 * C, C};
    shapes[h + "attn.c_proj.weight"] = {C, C};
    shapes[h + "mlp.c_fc.weight"] = {4 * C, C};
    shapes[h + "mlp.c_proj.weight"] = {C, 4 * C};
  }
  return shapes;
}

/// A positive decimal integer (the whole token), or -1.
int64_t parse_dim(const std::string& s) {
  int64_t v = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && v > 0 ? v : -1;
}

[[noreturn]] void fail_tensor(const std::string& path, const std::string& name,
                              const std::string& message) {
  throw std::runtime_error(path + ": tensor '" + name + "': " + message);
}

GPTConfig read_config_json(const std::string& path) {
  try {
    return config_from_json(nlohmann::json::parse(read_file(path)));
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

}  // namespace

bool is_conv1d_weight(const std::string& name) {
  return name != "wte.weight" && name != "wpe.weight";
}

std::vector<WeightMatrix> weight_matrices(const GPT& model) {
  std::vector<WeightMatrix> out;
  const auto shapes = matrix_shapes(model.config());
  for (const auto& [name, tensor] : model.state_dict()) {
    const auto it = shapes.find(name);
    if (it == shapes.end()) continue;
    const auto [rows, cols] = it->second;
    // Conv1D stores (in, out) = (cols, rows): its transpose is the matrix.
    const Tensor m =
        (is_conv1d_weight(name) ? tensor.transpose(0, 1) : tensor).to(DType::F32).contiguous();
    const auto v = m.span_f32();
    out.push_back({.name = name, .rows = rows, .cols = cols, .w = {v.begin(), v.end()}});
  }
  return out;
}

std::map<std::string, QuantMatrix> quantize_model(const GPT& model,
                                                  const QuantizeOptions& options) {
  const int64_t block = quant_format_info(options.format).block;  // 0: whole row (int8)
  std::map<std::string, QuantMatrix> out;
  for (const WeightMatrix& m : weight_matrices(model)) {
    if (block != 0 && m.cols % block != 0) continue;
    out.emplace(m.name, quantize_matrix(options.format, m.w, m.rows, m.cols));
  }
  return out;
}

Tensor dequantize_to_state_tensor(const std::string& name, const QuantMatrix& q) {
  std::vector<float> w(static_cast<size_t>(q.rows * q.cols));
  dequantize_matrix(q, w);
  Tensor t = Tensor::from_vector(w, {q.rows, q.cols});
  return is_conv1d_weight(name) ? t.transpose(0, 1).contiguous() : t;
}

void save_quantized_model(const GPT& model, const std::map<std::string, QuantMatrix>& quantized,
                          const std::string& dir) {
  const auto shapes = matrix_shapes(model.config());
  std::map<std::string, Tensor> f32;
  for (auto& [name, t] : model.state_dict())
    if (!quantized.count(name)) f32.emplace(name, t.to(DType::F32));
  std::map<std::string, std::vector<uint8_t>> bytes;
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
  std::string all_formats;
  for (const auto& [name, q] : quantized) {
    const auto it = shapes.find(name);
    if (it == shapes.end())
      throw std::invalid_argument("save_quantized_model: '" + name +
                                  "' is not a weight matrix of this model");
    if (it->second != Shape2{q.rows, q.cols})
      throw std::invalid_argument("save_quantized_model: '" + name + "' is (" +
                                  std::to_string(q.rows) + ", " + std::to_string(q.cols) +
                                  "), the model's matrix is (" + std::to_string(it->second.first) +
                                  ", " + std::to_string(it->second.second) + ")");
    validate_quant_matrix(q);
    const std::string format(quant_format_info(q.format).name);
    metadata[kQuantTensorKeyPrefix + name] =
        format + " " + std::to_string(q.rows) + " " + std::to_string(q.cols);
    all_formats = all_formats.empty() || all_formats == format ? format : "mixed";
    bytes.emplace(name, q.data);
  }
  if (!all_formats.empty()) metadata[kQuantFormatKey] = all_formats;
  std::filesystem::create_directories(dir);
  write_safetensors(dir + "/model.safetensors", f32, metadata, bytes);
  write_file_atomic(dir + "/config.json", config_to_json(model.config()).dump(2) + "\n");
}

std::map<std::string, QuantMatrix> quantized_matrices_from_file(const SafetensorsFile& file,
                                                                const GPTConfig& config,
                                                                const std::string& path) {
  const auto shapes = matrix_shapes(config);
  const std::string prefix = kQuantTensorKeyPrefix;
  // Every per-tensor key must describe a U8 tensor that is there.
  for (const auto& [key, value] : file.metadata) {
    if (key.rfind(prefix, 0) != 0 || key == kQuantFormatKey) continue;
    const std::string name = key.substr(prefix.size());
    if (!file.bytes.count(name))
      fail_tensor(path, name,
                  "metadata '" + key +
                      "' describes a quantized tensor the file does not hold"
                      " as U8");
  }
  std::map<std::string, QuantMatrix> out;
  for (const auto& [name, data] : file.bytes) {
    const auto meta = file.metadata.find(prefix + name);
    if (meta == file.metadata.end())
      fail_tensor(path, name,
                  "U8 tensor without metadata '" + prefix + name +
                      "' (\"<format> <rows> <cols>\"): cannot tell how to read its bytes");
    std::istringstream fields(meta->second);
    std::string format_name, rows_text, cols_text, extra;
    fields >> format_name >> rows_text >> cols_text;
    const int64_t rows = parse_dim(rows_text), cols = parse_dim(cols_text);
    if (rows < 0 || cols < 0 || (fields >> extra))
      fail_tensor(path, name, "metadata '" + meta->second + "' is not \"<format> <rows> <cols>\"");
    QuantMatrix q{.format = QuantFormat::Q8_0, .rows = rows, .cols = cols, .data = data};
    try {
      q.format = parse_quant_format(format_name);
    } catch (const std::exception& e) {
      fail_tensor(path, name, e.what());
    }
    const auto shape = shapes.find(name);
    if (shape == shapes.end())
      fail_tensor(path, name, "is not a weight matrix of this model (config.json)");
    if (shape->second != Shape2{rows, cols})
      fail_tensor(path, name,
                  "metadata says (" + std::to_string(rows) + ", " + std::to_string(cols) +
                      ") but config.json makes it (" + std::to_string(shape->second.first) + ", " +
                      std::to_string(shape->second.second) + ")");
    try {
      validate_quant_matrix(q);
    } catch (const std::exception& e) {
      fail_tensor(path, name, e.what());
    }
    out.emplace(name, std::move(q));
  }
  return out;
}

std::map<std::string, QuantMatrix> load_quantized_matrices(const std::string& dir) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error("model directory " + dir + " does not exist");
  const GPTConfig config = read_config_json(dir + "/config.json");
  const std::string path = dir + "/model.safetensors";
  return quantized_matrices_from_file(read_safetensors(path), config, path);
}

}  // namespace cpurich
