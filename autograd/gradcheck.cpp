// gradcheck.cpp: analytic Jacobian (backward) vs central differences (forward).
#include "autograd/gradcheck.h"

#include <cmath>
#include <cstdio>

namespace cpurich {
namespace {

std::vector<Var> make_leaves(const std::vector<Tensor>& values) {
  std::vector<Var> leaves;
  for (const Tensor& v : values) leaves.emplace_back(v, true);
  return leaves;
}

// f's output as a flat f64 vector (the forward runs without recording).
std::vector<double> eval(const GradcheckFn& f, const std::vector<Tensor>& values) {
  NoGradGuard no_grad;
  std::vector<Var> leaves;
  for (const Tensor& v : values) leaves.emplace_back(v, false);
  return f(leaves).value().to_vector();
}

// jac[j][i] = d out_i / d in_j for one input, by central differences.
std::vector<std::vector<double>> numeric_jacobian(const GradcheckFn& f, std::vector<Tensor>& values,
                                                  size_t input, double eps) {
  Tensor& x = values[input];
  double* data = x.data_f64();
  std::vector<std::vector<double>> jac(static_cast<size_t>(x.numel()));
  for (int64_t j = 0; j < x.numel(); ++j) {
    const double orig = data[j];
    data[j] = orig + eps;
    const std::vector<double> plus = eval(f, values);
    data[j] = orig - eps;
    const std::vector<double> minus = eval(f, values);
    data[j] = orig;
    auto& col = jac[static_cast<size_t>(j)];
    col.resize(plus.size());
    for (size_t i = 0; i < plus.size(); ++i) col[i] = (plus[i] - minus[i]) / (2 * eps);
  }
  return jac;
}

}  // namespace

std::string GradcheckReport::summary() const {
  std::string out;
  char line[160];
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::snprintf(line, sizeof line, "input %zu: max abs error %.3e, max rel error %.3e %s\n", i,
                  inputs[i].max_abs_error, inputs[i].max_rel_error,
                  inputs[i].passed ? "ok" : "FAILED");
    out += line;
  }
  return out;
}

GradcheckReport gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  std::vector<Tensor> values;
  for (const Tensor& t : inputs) values.push_back(t.to(DType::F64).clone());
  const int64_t n_out = static_cast<int64_t>(eval(f, values).size());

  // analytic[j][e][i]: d out_i / d (input j element e), one backward per output i.
  std::vector<std::vector<std::vector<double>>> analytic(values.size());
  for (size_t j = 0; j < values.size(); ++j)
    analytic[j].assign(static_cast<size_t>(values[j].numel()),
                       std::vector<double>(static_cast<size_t>(n_out)));
  for (int64_t i = 0; i < n_out; ++i) {
    std::vector<Var> leaves = make_leaves(values);
    Var out = f(leaves);
    Tensor seed = Tensor::zeros(out.shape(), DType::F64);
    seed.data_f64()[i] = 1.0;
    out.backward(seed);
    for (size_t j = 0; j < values.size(); ++j) {
      const std::vector<double> g = leaves[j].grad().to_vector();
      for (size_t e = 0; e < g.size(); ++e) analytic[j][e][static_cast<size_t>(i)] = g[e];
    }
  }

  GradcheckReport report;
  for (size_t j = 0; j < values.size(); ++j) {
    const auto numeric = numeric_jacobian(f, values, j, options.eps);
    GradcheckInputReport r;
    for (size_t e = 0; e < numeric.size(); ++e)
      for (size_t i = 0; i < numeric[e].size(); ++i) {
        const double a = analytic[j][e][i], n = numeric[e][i], err = std::fabs(a - n);
        r.max_abs_error = std::max(r.max_abs_error, err);
        if (std::fabs(n) > options.atol)
          r.max_rel_error = std::max(r.max_rel_error, err / std::fabs(n));
        if (!(err <= options.atol + options.rtol * std::fabs(n))) r.passed = false;
      }
    report.passed = report.passed && r.passed;
    report.inputs.push_back(r);
  }
  return report;
}

}  // namespace cpurich
