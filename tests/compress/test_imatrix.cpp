// test_imatrix.cpp: importance-weighted rounding never loses to plain
// rounding on the error it minimises, and wins when importances differ.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "compress/imatrix.h"
#include "compress_test_util.h"

using namespace cpurich;
using namespace cpurich::compress;
using cpurich::test::random_matrix;

TEST_CASE("imatrix lowers the importance-weighted error of q8_0, q4_0 and q4_1") {
  const int64_t out = 16, in = 128;
  const auto wd = random_matrix(out, in, 51, 0.05);
  const std::vector<float> w(wd.begin(), wd.end());
  std::mt19937 gen(52);
  std::lognormal_distribution<double> spread(0.0, 1.5);  // a few inputs dominate
  std::vector<double> imp(static_cast<size_t>(in));
  for (double& v : imp) v = spread(gen);
  for (QuantFormat f : {QuantFormat::Q8_0, QuantFormat::Q4_0, QuantFormat::Q4_1}) {
    const QuantMatrix rtn = quantize_matrix(f, w, out, in);
    const QuantMatrix iq = imatrix_quantize(f, w, out, in, imp);
    REQUIRE(iq.data.size() == rtn.data.size());
    CHECK_NOTHROW(validate_quant_matrix(iq));
    const double e_rtn = weighted_error(rtn, w, imp);
    const double e_iq = weighted_error(iq, w, imp);
    INFO(quant_format_info(f).name << ": rtn " << e_rtn << " imatrix " << e_iq);
    CHECK(e_iq < 0.9 * e_rtn);
    // Never worse block by block: ggml's scale is one of the candidates.
    std::vector<double> ones(static_cast<size_t>(in), 1.0);
    CHECK(weighted_error(imatrix_quantize(f, w, out, in, ones), w, ones) <=
          weighted_error(rtn, w, ones));
  }
}

TEST_CASE("imatrix: zero importance keeps ggml's block, bad input throws") {
  const auto wd = random_matrix(2, 32, 61, 0.05);
  const std::vector<float> w(wd.begin(), wd.end());
  const std::vector<double> zero(32, 0.0);
  CHECK(imatrix_quantize(QuantFormat::Q4_0, w, 2, 32, zero).data ==
        quantize_matrix(QuantFormat::Q4_0, w, 2, 32).data);
  std::vector<double> neg(32, 1.0);
  neg[3] = -1.0;
  CHECK_THROWS_AS(imatrix_quantize(QuantFormat::Q4_0, w, 2, 32, neg), std::invalid_argument);
  CHECK_THROWS_AS(imatrix_quantize(QuantFormat::NF4, w, 2, 32, zero), std::invalid_argument);
  CHECK_THROWS_AS(imatrix_quantize(QuantFormat::Q4_0, w, 2, 32, std::vector<double>(31, 1.0)),
                  std::invalid_argument);
}
