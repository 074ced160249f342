// matmul_packed.cpp: TEMPORARY stand-in, replaced by the BLIS-style kernel.
#include "tensor/matmul_internal.h"

namespace cpurich {

void matmul_packed(const GemmArgs& g) { matmul_blocked(g); }
void matmul_packed_mt(const GemmArgs& g) { matmul_blocked(g); }
std::string microkernel_isa() { return "portable"; }

}  // namespace cpurich
