// model.cpp: the per-Linear loop of every method (see model.h).
#include "compress/model.h"

#include <stdexcept>
#include <vector>

#include "compress/imatrix.h"
#include "compress/lowrank.h"

namespace cpurich::compress {

namespace {

const LinearStats& stats_of(const Calibration& cal, const std::string& name) {
  const auto it = cal.find(name);
  if (it == cal.end()) throw std::invalid_argument("no calibration statistics for " + name);
  return it->second;
}

struct Shape2 {
  int64_t out, in;
};
Shape2 shape_of(const GPT& model, const std::string& name) {
  const Shape& s = find_linear(model, name).weight.shape();  // (in, out)
  return {.out = s[1], .in = s[0]};
}

}  // namespace

QuantizedWeights quantize_model_gptq(const GPT& model, const Calibration& cal,
                                     const GptqOptions& options) {
  QuantizedWeights q;
  for (const std::string& name : linear_names(model.config())) {
    const auto [out, in] = shape_of(model, name);
    const std::vector<double> w = linear_weight_out_in(model, name);
    q[name + ".weight"] = gptq_quantize(w, out, in, stats_of(cal, name).hessian(), options);
  }
  return q;
}

QuantizedWeights quantize_model_imatrix(const GPT& model, const Calibration& cal,
                                        QuantFormat format) {
  QuantizedWeights q;
  for (const std::string& name : linear_names(model.config())) {
    const auto [out, in] = shape_of(model, name);
    const std::vector<double> w = linear_weight_out_in(model, name);
    const std::vector<float> wf(w.begin(), w.end());
    q[name + ".weight"] = imatrix_quantize(format, wf, out, in, stats_of(cal, name).mean_square());
  }
  return q;
}

void prune_model(GPT& model, const Calibration& cal, const PruneOptions& options) {
  for (const std::string& name : linear_names(model.config())) {
    const auto [out, in] = shape_of(model, name);
    std::vector<double> w = linear_weight_out_in(model, name);
    std::vector<double> norms, h;
    if (options.method == PruneMethod::Wanda) norms = stats_of(cal, name).column_norms();
    if (options.method == PruneMethod::SparseGPT) h = stats_of(cal, name).hessian();
    prune_matrix(w, out, in, options, norms, h);
    set_linear_weight_out_in(model, name, w);
  }
}

void lowrank_model(GPT& model, int64_t rank) {
  if (rank < 1) throw std::invalid_argument("low rank: rank must be >= 1");
  for (const std::string& name : linear_names(model.config())) {
    const auto [out, in] = shape_of(model, name);
    const std::vector<double> w = linear_weight_out_in(model, name);
    set_linear_weight_out_in(model, name, low_rank_approx(w, out, in, rank));
  }
}

double linear_sparsity(const GPT& model) {
  int64_t zeros = 0, total = 0;
  for (const std::string& name : linear_names(model.config())) {
    for (double v : linear_weight_out_in(model, name)) zeros += v == 0.0 ? 1 : 0;
    total += shape_of(model, name).out * shape_of(model, name).in;
  }
  return total > 0 ? static_cast<double>(zeros) / static_cast<double>(total) : 0.0;
}

}  // namespace cpurich::compress
