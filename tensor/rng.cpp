// rng.cpp: the counter-based generator of rng.h.
//
// What it teaches: the i-th draw is a pure function hash64(seed, i), so a tensor of
// random numbers can be filled by any number of threads in any order and still hold
// the same bits. SplitMix64 walks the "Weyl sequence" state_i = key + i * 0x9E37...
// (the golden ratio in 64-bit fixed point) and scrambles each state with a finaliser
// (xor-shift, multiply, xor-shift, multiply, xor-shift). Here the key is the
// scrambled seed, so nearby seeds (0, 1, 2...) give unrelated streams.
//
// From 64 random bits to distributions:
//   uniform  [0,1):  the top 53 bits times 2^-53 (every double with 53-bit spacing)
//   normal:          Box-Muller, z = sqrt(-2 ln u1) * cos(2 pi u2), u1 in (0,1]
//   below(n):        rejection sampling, so every value in [0, n) is equally likely
//
// Pipeline position: weight initialisation, dropout masks and token sampling.
#include "tensor/rng.h"

#include <cmath>
#include <numbers>

#include "tensor/parallel.h"
#include "tensor/strided.h"

namespace cpurich {

namespace {

// (kGolden, mix64 and hash64 are inline in rng.h.)

// Top 53 bits -> a double in [0, 1).
double to_unit(uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// Box-Muller from two draws. u1 is in (0, 1] so log(u1) is finite.
double box_muller(uint64_t bits1, uint64_t bits2) {
  const double u1 = static_cast<double>((bits1 >> 11) + 1) * 0x1.0p-53;
  const double u2 = to_unit(bits2);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// Writes gen(i) (a double) into element i of a new contiguous tensor, in parallel.
// gen depends only on i, so the thread count cannot change the result.
template <typename Gen>
Tensor fill_by_index(const Shape& shape, DType dtype, const char* who, Gen gen) {
  if (dtype == DType::I64)
    throw std::invalid_argument(std::string(who) + ": needs dtype f32 or f64, got i64");
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  if (dtype == DType::F32) {
    float* p = t.data_f32();
    parallel_for_if(n > detail::kParallelThreshold, 0, n,
                    [&](int64_t i) { p[i] = static_cast<float>(gen(i)); });
  } else {
    double* p = t.data_f64();
    parallel_for_if(n > detail::kParallelThreshold, 0, n, [&](int64_t i) { p[i] = gen(i); });
  }
  return t;
}

}  // namespace

uint64_t Rng::next_u64() {
  return hash64(seed_, counter_++);
}

double Rng::uniform() {
  return to_unit(next_u64());
}

double Rng::normal() {
  const uint64_t b1 = next_u64();
  const uint64_t b2 = next_u64();
  return box_muller(b1, b2);
}

uint64_t Rng::below(uint64_t n) {
  if (n == 0) throw std::invalid_argument("Rng::below: n must be > 0");
  // x % n is biased when 2^64 is not a multiple of n: the first (2^64 mod n) values of
  // x would map to small results once more than the others. Rejecting x below
  // threshold = 2^64 mod n leaves a range whose length is a multiple of n.
  const uint64_t threshold = (0 - n) % n;  // (2^64 - n) mod n == 2^64 mod n
  while (true) {
    const uint64_t x = next_u64();
    if (x >= threshold) return x % n;
  }
}

Tensor Rng::normal(const Shape& shape, double mean, double std, DType dtype) {
  const uint64_t c = counter_, seed = seed_;
  Tensor t = fill_by_index(shape, dtype, "Rng::normal", [=](int64_t i) {
    const auto k = static_cast<uint64_t>(i);
    return mean + std * box_muller(hash64(seed, c + 2 * k), hash64(seed, c + 2 * k + 1));
  });
  counter_ += 2 * static_cast<uint64_t>(t.numel());
  return t;
}

Tensor Rng::uniform(const Shape& shape, double low, double high, DType dtype) {
  if (!(low < high))
    throw std::invalid_argument("Rng::uniform: need low < high, got [" + std::to_string(low) +
                                ", " + std::to_string(high) + ")");
  const uint64_t c = counter_, seed = seed_;
  // Rounding to float can turn a value just below `high` into `high` itself; the
  // largest float below high keeps the interval half-open.
  const double top32 = std::nextafter(static_cast<float>(high), static_cast<float>(low));
  const bool f32 = dtype == DType::F32;
  Tensor t = fill_by_index(shape, dtype, "Rng::uniform", [=](int64_t i) {
    const double v = low + (high - low) * to_unit(hash64(seed, c + static_cast<uint64_t>(i)));
    if (f32 && static_cast<float>(v) >= static_cast<float>(high)) return top32;
    return v < high ? v : std::nextafter(high, low);
  });
  counter_ += static_cast<uint64_t>(t.numel());
  return t;
}

}  // namespace cpurich
