// matmul_dispatch.cpp: picking a kernel by enum or by name.
//
// What it teaches: all six steps share one signature, so choosing one is a
// table lookup. Lessons, tests and the benchmark iterate over
// available_kernels(); the model calls gemm(g), which is the best kernel.
//
// Pipeline position: tensors -> [matmul] -> every Linear layer of the model.
#include <stdexcept>

#include "tensor/matmul_internal.h"

namespace cpurich {

void gemm(MatmulKernel kernel, const GemmArgs& g) {
  switch (kernel) {
    case MatmulKernel::Naive:
      return matmul_naive(g);
    case MatmulKernel::Ikj:
      return matmul_ikj(g);
    case MatmulKernel::Blocked:
      return matmul_blocked(g);
    case MatmulKernel::Packed:
      return matmul_packed(g);
    case MatmulKernel::PackedMT:
      return matmul_packed_mt(g);
    case MatmulKernel::OpenBLAS:
      return matmul_openblas(g);
  }
  throw std::invalid_argument("gemm: unknown MatmulKernel value");
}

void gemm(const GemmArgs& g) {
  matmul_packed_mt(g);
}

std::string kernel_name(MatmulKernel kernel) {
  switch (kernel) {
    case MatmulKernel::Naive:
      return "naive";
    case MatmulKernel::Ikj:
      return "ikj";
    case MatmulKernel::Blocked:
      return "blocked";
    case MatmulKernel::Packed:
      return "packed";
    case MatmulKernel::PackedMT:
      return "packed_mt";
    case MatmulKernel::OpenBLAS:
      return "openblas";
  }
  throw std::invalid_argument("kernel_name: unknown MatmulKernel value");
}

MatmulKernel kernel_from_name(const std::string& name) {
  const MatmulKernel all[] = {MatmulKernel::Naive,  MatmulKernel::Ikj,      MatmulKernel::Blocked,
                              MatmulKernel::Packed, MatmulKernel::PackedMT, MatmulKernel::OpenBLAS};
  std::string valid;
  for (MatmulKernel k : all) {
    if (kernel_name(k) == name) return k;
    valid += (valid.empty() ? "" : ", ") + kernel_name(k);
  }
  throw std::invalid_argument("unknown matmul kernel '" + name + "' (valid: " + valid + ")");
}

std::vector<MatmulKernel> available_kernels() {
  std::vector<MatmulKernel> kernels = {MatmulKernel::Naive, MatmulKernel::Ikj,
                                       MatmulKernel::Blocked, MatmulKernel::Packed,
                                       MatmulKernel::PackedMT};
  if (openblas_available()) kernels.push_back(MatmulKernel::OpenBLAS);
  return kernels;
}

}  // namespace cpurich
