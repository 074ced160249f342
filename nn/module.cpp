// module.cpp: parameter creation, dropout plumbing and the tree walk shared
// by every layer (see module.h).
#include "nn/module.h"

#include <stdexcept>

#include "autograd/ops.h"

namespace cpurich {

Var normal_param(const Shape& shape, double std, const ParamInit& init) {
  if (init.rng == nullptr) return Var(Tensor::zeros(shape, init.dtype), true);
  return Var(init.rng->normal(shape, 0.0, std, init.dtype), true);
}

Var constant_param(const Shape& shape, double value, const ParamInit& init) {
  return Var(Tensor::full(shape, value, init.dtype), true);
}

Var DropoutContext::operator()(const Var& x) const {
  if (!training || p == 0.0 || rng == nullptr) return x;
  return ag::dropout(x, p, *rng, true);
}

NamedParameters Module::named_parameters(const std::string& prefix) const {
  NamedParameters out;
  // visit_parameters hands out references so set_parameters can rebind
  // them; here we only copy the handles, so casting away const is safe.
  const_cast<Module*>(this)->visit_parameters(
      prefix, [&out](const std::string& name, Var& p) { out.emplace_back(name, p); });
  return out;
}

void Module::set_parameters(const std::vector<Var>& params) {
  const size_t expected = named_parameters().size();
  if (params.size() != expected)
    throw std::invalid_argument("set_parameters: got " + std::to_string(params.size()) +
                                " parameters, the module has " + std::to_string(expected));
  size_t i = 0;
  visit_parameters("", [&](const std::string& name, Var& p) {
    const Var& q = params[i++];
    if (q.shape() != p.shape() || q.value().dtype() != p.value().dtype())
      throw std::invalid_argument("set_parameters: " + name + " is " + shape_str(p.shape()) + " " +
                                  dtype_name(p.value().dtype()) + ", got " + shape_str(q.shape()) +
                                  " " + dtype_name(q.value().dtype()));
    p = q;
  });
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, p] : named_parameters()) n += p.value().numel();
  return n;
}

}  // namespace cpurich

namespace cpurich {

namespace {

// "a, b, c and 4 more": enough names to act on, never a 500-name line.
std::string name_list(const std::vector<std::string>& names) {
  constexpr size_t kShown = 4;
  std::string s;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > kShown) s += " and " + std::to_string(names.size() - kShown) + " more";
  return s;
}

}  // namespace

std::string state_dict_mismatch(const NamedParameters& params,
                                const std::map<std::string, Tensor>& tensors,
                                const std::string& shape_origin) {
  std::vector<std::string> missing, unexpected;
  std::string shape_error;
  std::map<std::string, const Var*> by_name;
  for (const auto& [name, p] : params) {
    by_name[name] = &p;
    const auto it = tensors.find(name);
    if (it == tensors.end()) {
      missing.push_back(name);
    } else if (shape_error.empty() && it->second.shape() != p.shape()) {
      shape_error = name + " has shape " + shape_str(it->second.shape()) + ", expected " +
                    shape_str(p.shape()) + shape_origin;
    }
  }
  for (const auto& [name, t] : tensors)
    if (!by_name.count(name)) unexpected.push_back(name);
  std::string msg;
  auto append = [&msg](const std::string& part) { msg += (msg.empty() ? "" : "; ") + part; };
  if (!missing.empty()) append("missing tensor(s) " + name_list(missing));
  if (!unexpected.empty()) append("unexpected tensor(s) " + name_list(unexpected));
  if (!shape_error.empty()) append(shape_error);
  return msg;
}

}  // namespace cpurich
