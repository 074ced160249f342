// model.h: each compression method applied to every Linear of a GPT.
//
// What it teaches: the methods of this part work on one matrix W (out, in)
// and the statistics of its inputs. A model is compressed Linear by Linear
// (c_attn, attn.c_proj, c_fc, mlp.c_proj of every block); the embeddings,
// LayerNorms and biases stay as they are: they are a small share of the
// weights, and the tied wte is both the input table and the output head.
//
// Pipeline position: trained GPT + calibration ids -> [compress] -> quantized
// matrices (for the model writer) or a pruned / low-rank model.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "compress/calibration.h"
#include "compress/gptq.h"
#include "compress/prune.h"
#include "nn/gpt.h"
#include "tensor/quant_formats.h"

namespace cpurich::compress {

/// Parameter name -> quantized matrix (rows = out, cols = in), for every
/// Linear weight ("h.0.attn.c_attn.weight", ...). W (out, in) is the
/// transpose of the stored (in, out) Conv1D weight.
using QuantizedWeights = std::map<std::string, QuantMatrix>;

/// GPTQ on every Linear with H from `cal` (collect_calibration).
QuantizedWeights quantize_model_gptq(const GPT& model, const Calibration& cal,
                                     const GptqOptions& options = {});
/// Importance-weighted rounding of every Linear, imp = mean(x_c^2) from `cal`.
QuantizedWeights quantize_model_imatrix(const GPT& model, const Calibration& cal,
                                        QuantFormat format);
/// Prunes every Linear of the model in place (`cal` may be empty for magnitude).
void prune_model(GPT& model, const Calibration& cal, const PruneOptions& options);
/// Replaces every Linear weight by its best rank-r approximation, in place.
void lowrank_model(GPT& model, int64_t rank);

/// Fraction of exactly-zero entries over all Linear weights.
double linear_sparsity(const GPT& model);

}  // namespace cpurich::compress
