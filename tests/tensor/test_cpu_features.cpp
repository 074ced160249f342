// Tests for the SIMD cap CPURICH_SIMD (tensor/cpu_features.h): the dispatchers
// never pick a path wider than the cap. scripts/portable_check.sh runs this
// program with CPURICH_SIMD=avx2 and =portable; under plain ctest the cap is
// unset and the tests check the uncapped answers.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "tensor/cpu_features.h"
#include "tensor/matmul.h"
#include "tensor/quant_matvec.h"

using namespace cpurich;

TEST_CASE("simd_cap reports the CPURICH_SIMD value, avx512 when unset") {
  const char* env = std::getenv("CPURICH_SIMD");
  const std::string expected = env == nullptr || *env == '\0' ? "avx512" : env;
  REQUIRE(std::string(simd_cap()) == expected);
}

TEST_CASE("no dispatcher picks a path wider than the SIMD cap") {
  const std::string cap = simd_cap();
  const std::string isa = microkernel_isa();
  const QuantPath quant = quant_best_path();
  if (cap == "portable") {
    CHECK_FALSE(cpu_has_avx2());
    CHECK_FALSE(cpu_has_f16c());
    CHECK_FALSE(cpu_has_avx512());
    CHECK(isa == "portable");
    CHECK(quant == QuantPath::Portable);
  } else if (cap == "avx2") {
    CHECK_FALSE(cpu_has_avx512());
    CHECK_FALSE(cpu_has_avx512_vnni());
    CHECK(isa != "avx512");
    CHECK(quant != QuantPath::Avx512Vnni);
  }
  // Under any cap, a path is only chosen if the CPU reports it.
  if (isa == "avx512") CHECK(cpu_has_avx512());
  if (isa == "avx2") CHECK(cpu_has_avx2());
  if (quant == QuantPath::Avx512Vnni) CHECK(cpu_has_avx512_vnni());
  if (quant == QuantPath::Avx2) CHECK((cpu_has_avx2() && cpu_has_f16c()));
}

TEST_CASE("the GEMM microkernel is the widest one the capped CPU allows") {
  const std::string widest = cpu_has_avx512() ? "avx512" : cpu_has_avx2() ? "avx2" : "portable";
  CHECK(microkernel_isa() == widest);
  if (cpu_has_avx512_vnni()) CHECK(cpu_has_avx512());
}
