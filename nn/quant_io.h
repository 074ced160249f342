// quant_io.h: quantized model directories: which weights get quantized, and
// how the packed blocks are stored in model.safetensors.
//
// What it teaches: a quantized model is the same model directory with its big
// matrices replaced by their blocks (tensor/quant_formats.h). The layout:
//   DIR/config.json         unchanged
//   DIR/tokenizer.json      unchanged
//   DIR/model.safetensors   each quantized matrix as a 1-D U8 tensor (its
//                           QuantMatrix bytes) under its Hugging Face name;
//                           1-D tensors (biases, LayerNorms) stay F32;
//                           __metadata__ says how to read the bytes:
//     "cpurich.quant.format"        the format of every matrix ("q4_0"), or "mixed"
//     "cpurich.quant.<name>"        "<format> <rows> <cols>" per U8 tensor
// A matrix is stored (rows, cols) = (out, in): the transpose of GPT-2's Conv1D
// weight (in, out), so that each row's blocks run along the input dimension
// of its dot product; wte and wpe are stored as they are, (V, C) and (P, C).
//
// Pipeline position: trained model -> [quantize -> model.safetensors (U8)] ->
// load_model (dequantized GPT: eval) / Decoder (packed kernels: generation).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/config.h"
#include "nn/gpt.h"
#include "nn/safetensors.h"
#include "tensor/quant_formats.h"

namespace cpurich {

/// Metadata keys of a quantized model.safetensors.
inline constexpr const char* kQuantFormatKey = "cpurich.quant.format";
inline constexpr const char* kQuantTensorKeyPrefix = "cpurich.quant.";

/// One weight matrix of a model in its quantization orientation.
struct WeightMatrix {
  std::string name;      ///< HF name: "h.0.attn.c_attn.weight", "wte.weight"
  int64_t rows = 0;      ///< out (V for wte, P for wpe)
  int64_t cols = 0;      ///< in: the dimension blocks run along
  std::vector<float> w;  ///< (rows, cols) row-major
};

/// True for a state-dict name stored (in, out) like GPT-2's Conv1D (every
/// 2-D weight but wte and wpe): its matrix is the transpose.
bool is_conv1d_weight(const std::string& name);

/// Every 2-D weight of the model as a (out, in) matrix: wte, wpe, then per
/// layer c_attn, attn.c_proj, c_fc, mlp.c_proj (the state dict's order).
std::vector<WeightMatrix> weight_matrices(const GPT& model);

/// How to quantize a model. Round-to-nearest with the format's reference
/// quantizer; other methods (imatrix, GPTQ in compress/) build their own
/// QuantMatrix map and store it with save_quantized_model.
struct QuantizeOptions {
  QuantFormat format = QuantFormat::Q8_0;
};

/// Each weight matrix whose input dimension is a multiple of the format's
/// block, quantized (the others are left out and stay F32 on disk).
std::map<std::string, QuantMatrix> quantize_model(const GPT& model, const QuantizeOptions& options);

/// Writes DIR/config.json and DIR/model.safetensors (atomically): the
/// matrices in `quantized` as U8 blocks, every other parameter F32. Throws
/// std::invalid_argument if a name is not a weight matrix of the model or its
/// shape does not match; the tokenizer is the caller's to copy.
void save_quantized_model(const GPT& model, const std::map<std::string, QuantMatrix>& quantized,
                          const std::string& dir);

/// The quantized matrices of a model file already read (empty for an F32
/// file), validated against the config: every U8 tensor needs its metadata,
/// a known format, the shape of that weight in this model and exactly the
/// right number of bytes with finite scales. Throws std::runtime_error
/// "<path>: tensor '<name>': <what is wrong>" (one line) otherwise.
std::map<std::string, QuantMatrix> quantized_matrices_from_file(const SafetensorsFile& file,
                                                                const GPTConfig& config,
                                                                const std::string& path);

/// quantized_matrices_from_file on DIR/config.json + DIR/model.safetensors.
std::map<std::string, QuantMatrix> load_quantized_matrices(const std::string& dir);

/// load_model(dir) that also hands back the file's quantized matrices (read
/// once): the GPT holds their dequantized values, `quantized` the blocks.
GPT load_model(const std::string& dir, std::map<std::string, QuantMatrix>& quantized,
               const LoadOptions& options = {});

/// The matrix in the state dict's orientation: (in, out) for Conv1D weights,
/// (rows, cols) for wte and wpe.
Tensor dequantize_to_state_tensor(const std::string& name, const QuantMatrix& q);

}  // namespace cpurich
