// Tests for tensor.h: storage, factories, element access, views sharing storage,
// reshape-vs-copy, copies and conversions, printing, and the error messages.
#include <catch2/catch.hpp>
#include <cstdint>

#include "tensor/ops.h"
#include "tensor/tensor.h"

using namespace cpurich;

namespace {
// 0, 1, ..., numel-1 laid out row-major in `shape` (f32 unless told).
Tensor iota(const Shape& shape, DType dtype = DType::F32) {
  return Tensor::arange(shape_numel(shape), dtype).reshape(shape);
}
std::vector<double> vec(std::initializer_list<double> v) {
  return v;
}
}  // namespace

TEST_CASE("shape helpers", "[tensor]") {
  CHECK(shape_str({2, 3, 4}) == "(2, 3, 4)");
  CHECK(shape_str({4}) == "(4,)");
  CHECK(shape_str({}) == "()");
  CHECK(shape_numel({}) == 1);
  CHECK(shape_numel({2, 0, 3}) == 0);
  CHECK(contiguous_strides({2, 3, 4}) == Shape{12, 4, 1});
  CHECK(dtype_size(DType::F32) == 4);
  CHECK(dtype_size(DType::F64) == 8);
  CHECK(dtype_name(DType::I64) == "i64");
}

TEST_CASE("storage is 64-byte aligned and zero-initialised", "[tensor]") {
  for (std::size_t bytes : {0, 1, 63, 64, 65, 1000}) {
    Storage s(bytes);
    CHECK(reinterpret_cast<std::uintptr_t>(s.data()) % 64 == 0);
    CHECK(s.bytes() == bytes);
    for (std::size_t i = 0; i < bytes; ++i) REQUIRE(s.data()[i] == std::byte{0});
  }
  Tensor t = Tensor::empty({3, 5}, DType::F64);
  for (double v : t.to_vector()) CHECK(v == 0.0);
}

TEST_CASE("factories and element access", "[tensor]") {
  Tensor d;
  CHECK(d.shape() == Shape{0});
  CHECK(d.numel() == 0);
  CHECK(Tensor::ones({2, 2}).to_vector() == vec({1, 1, 1, 1}));
  CHECK(Tensor::full({3}, 2.5, DType::F64).to_vector() == vec({2.5, 2.5, 2.5}));
  Tensor s = Tensor::scalar(7.0);
  CHECK(s.dim() == 0);
  CHECK(s.item() == 7.0);
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(a.at({1, 2}) == 6.0);
  a.set({0, 1}, -4.0);
  CHECK(a.data_f32()[1] == -4.0f);
  CHECK(a.size(-1) == 3);
  CHECK(Tensor::arange(4, DType::I64).to_vector() == vec({0, 1, 2, 3}));
  CHECK_THROWS_AS(a.data_f64(), std::invalid_argument);
  CHECK_THROWS_AS(a.item(), ShapeError);
}

TEST_CASE("out-of-range axes and indices name the axis and the shape", "[tensor]") {
  Tensor a = iota({2, 3});
  CHECK_THROWS_WITH(a.at({0, 3}), Catch::Contains("index 3") && Catch::Contains("axis 1") &&
                                      Catch::Contains("(2, 3)"));
  CHECK_THROWS_AS(a.at({0}), std::out_of_range);
  CHECK_THROWS_WITH(a.size(2), Catch::Contains("axis 2") && Catch::Contains("(2, 3)"));
  CHECK_THROWS_AS(a.transpose(0, -3), std::out_of_range);
  CHECK(a.normalize_axis(-1) == 1);
  CHECK(a.normalize_axis(-2) == 0);
  CHECK_THROWS_WITH(Tensor::from_vector(std::vector<float>{1, 2}, {3}),
                    Catch::Contains("2 values") && Catch::Contains("(3,)"));
}

TEST_CASE("transpose is a view sharing storage", "[tensor][views]") {
  Tensor a = iota({2, 3});
  Tensor t = a.transpose(0, 1);
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.strides() == Shape{1, 3});
  CHECK(t.shares_storage_with(a));
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.to_vector() == vec({0, 3, 1, 4, 2, 5}));
  t.set({2, 1}, 100.0);  // element (1, 2) of the base
  CHECK(a.at({1, 2}) == 100.0);
}

TEST_CASE("permute, squeeze, unsqueeze", "[tensor][views]") {
  Tensor a = iota({2, 3, 4});
  Tensor p = a.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({3, 1, 2}) == a.at({1, 2, 3}));
  CHECK(p.shares_storage_with(a));
  CHECK_THROWS_AS(a.permute({0, 0, 1}), std::invalid_argument);
  CHECK_THROWS_AS(a.permute({0, 1}), std::invalid_argument);
  Tensor u = a.unsqueeze(-1);
  CHECK(u.shape() == Shape{2, 3, 4, 1});
  CHECK(a.unsqueeze(0).shape() == Shape{1, 2, 3, 4});
  CHECK(a.unsqueeze(1).is_contiguous());
  CHECK(u.squeeze(3).shape() == a.shape());
  CHECK_THROWS_WITH(a.squeeze(1), Catch::Contains("(2, 3, 4)") && Catch::Contains("size 3"));
  CHECK_THROWS_AS(a.unsqueeze(4), std::out_of_range);
}

TEST_CASE("slice with step, negative bounds and clamping", "[tensor][views]") {
  Tensor a = iota({10});
  CHECK(a.slice(0, 1, 8, 3).to_vector() == vec({1, 4, 7}));
  CHECK(a.slice(0, -3, 10).to_vector() == vec({7, 8, 9}));
  CHECK(a.slice(0, 8, 100).to_vector() == vec({8, 9}));
  CHECK(a.slice(0, 5, 5).numel() == 0);
  CHECK_THROWS_AS(a.slice(0, 0, 5, 0), std::invalid_argument);
  Tensor m = iota({4, 5});
  Tensor s = m.slice(1, 1, 5, 2);  // columns 1 and 3
  CHECK(s.shape() == Shape{4, 2});
  CHECK(s.strides() == Shape{5, 2});
  CHECK(s.to_vector() == vec({1, 3, 6, 8, 11, 13, 16, 18}));
  s.fill(-1.0);  // writes through to the base
  CHECK(m.at({2, 3}) == -1.0);
  CHECK(m.at({2, 2}) == 12.0);
}

TEST_CASE("expand broadcasts with stride 0", "[tensor][views]") {
  Tensor r = Tensor::from_vector(std::vector<float>{1, 2, 3}, {1, 3});
  Tensor e = r.expand({2, 4, 3});
  CHECK(e.shape() == Shape{2, 4, 3});
  CHECK(e.strides() == Shape{0, 0, 1});
  CHECK(e.shares_storage_with(r));
  CHECK(e.at({1, 3, 2}) == 3.0);
  CHECK(r.expand({-1, 3}).shape() == Shape{1, 3});
  CHECK_THROWS_WITH(r.expand({2, 4}), Catch::Contains("(1, 3)") && Catch::Contains("(2, 4)"));
  CHECK_THROWS_AS(r.expand({3}), ShapeError);
  CHECK_THROWS_AS(e.fill(0.0), std::invalid_argument);  // writing a broadcast view
}

TEST_CASE("view and reshape: views when the strides allow, copies otherwise", "[tensor][views]") {
  Tensor a = iota({2, 3, 4});
  Tensor v = a.view({6, 4});
  CHECK(v.shares_storage_with(a));
  CHECK(a.reshape({4, -1}).shape() == Shape{4, 6});
  CHECK(a.reshape({-1}).shares_storage_with(a));
  // Merging the last two dims of a (2,3,4)->(2,4,3)-transposed tensor is impossible.
  Tensor t = a.transpose(1, 2);
  CHECK_THROWS_WITH(t.view({2, 12}), Catch::Contains("(2, 4, 3)") && Catch::Contains("(2, 12)"));
  Tensor r = t.reshape({2, 12});
  CHECK_FALSE(r.shares_storage_with(a));
  CHECK(r.is_contiguous());
  CHECK(r.at({0, 1}) == a.at({0, 1, 0}));  // t(0,0,1) = a(0,1,0)
  // But splitting a dim of a transposed tensor, or merging untouched leading dims, is a view.
  Tensor tt = iota({4, 6}).transpose(0, 1);  // (6, 4), strides (1, 6)
  Tensor split = tt.view({2, 3, 4});
  CHECK(split.strides() == Shape{3, 1, 6});
  CHECK(split.at({1, 2, 3}) == tt.at({5, 3}));
  CHECK(a.slice(2, 0, 2).view({6, 2}).strides() == Shape{4, 1});
  // Size-1 dims never block a view; scalars view as all-ones shapes.
  CHECK(Tensor::scalar(3.0).view({1, 1}).at({0, 0}) == 3.0);
  CHECK(a.view({2, 1, 12}).view({24}).shares_storage_with(a));
  CHECK_THROWS_WITH(a.reshape({5, 5}), Catch::Contains("(2, 3, 4)") && Catch::Contains("(5, 5)"));
  CHECK_THROWS_AS(a.reshape({-1, -1}), ShapeError);
}

TEST_CASE("contiguous, clone, to, copy_from", "[tensor][copies]") {
  Tensor a = iota({2, 3});
  CHECK(a.contiguous().shares_storage_with(a));
  Tensor t = a.transpose(0, 1).contiguous();
  CHECK_FALSE(t.shares_storage_with(a));
  CHECK(t.is_contiguous());
  CHECK(t.to_vector() == vec({0, 3, 1, 4, 2, 5}));
  Tensor c = a.clone();
  c.set({0, 0}, 9.0);
  CHECK(a.at({0, 0}) == 0.0);
  Tensor d = a.to(DType::F64);
  CHECK(d.dtype() == DType::F64);
  CHECK(d.to_vector() == a.to_vector());
  CHECK(Tensor::full({2}, 2.75).to(DType::I64).to_vector() == vec({2, 2}));
  CHECK_THROWS_AS(Tensor::full({1}, std::nan("")).to(DType::I64), std::domain_error);
  // copy_from broadcasts its source and converts dtypes.
  Tensor dst = Tensor::zeros({2, 3}, DType::F64);
  dst.copy_from(Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}));
  CHECK(dst.to_vector() == vec({1, 2, 3, 1, 2, 3}));
  CHECK_THROWS_WITH(dst.copy_from(Tensor::ones({2})),
                    Catch::Contains("(2,)") && Catch::Contains("(2, 3)"));
  // An overlapping source: a square matrix copied from its own transpose.
  Tensor sq = iota({3, 3});
  sq.copy_from(sq.transpose(0, 1));
  CHECK(sq.to_vector() == vec({0, 3, 6, 1, 4, 7, 2, 5, 8}));
}

TEST_CASE("span_f32 needs a contiguous f32 tensor", "[tensor]") {
  Tensor a = iota({2, 3});
  CHECK(a.span_f32().size() == 6);
  CHECK(a.slice(0, 1, 2).span_f32()[0] == 3.0f);  // offset is honoured
  CHECK_THROWS_AS(a.transpose(0, 1).span_f32(), std::invalid_argument);
}

TEST_CASE("size-0 dims are supported", "[tensor]") {
  Tensor z = Tensor::zeros({2, 0, 3});
  CHECK(z.numel() == 0);
  CHECK(z.is_contiguous());
  CHECK(z.reshape({0, 5}).shape() == Shape{0, 5});
  CHECK(z.transpose(0, 2).contiguous().numel() == 0);
  CHECK(z.to_vector().empty());
}

TEST_CASE("to_string prints shape, dtype and values, eliding long dims", "[tensor][print]") {
  CHECK(iota({2, 3}).to_string() == "tensor(shape=(2, 3), f32)\n[[0, 1, 2],\n [3, 4, 5]]");
  CHECK(Tensor::scalar(1.5, DType::F64).to_string() == "tensor(shape=(), f64)\n1.5");
  CHECK(iota({8}).to_string(4) == "tensor(shape=(8,), f32)\n[0, 1, ..., 6, 7]");
  CHECK(iota({2, 1, 2}, DType::I64).to_string() ==
        "tensor(shape=(2, 1, 2), i64)\n[[[0, 1]],\n\n [[2, 3]]]");
  CHECK(iota({3, 2}).transpose(0, 1).to_string() ==
        "tensor(shape=(2, 3), f32)\n[[0, 2, 4],\n [1, 3, 5]]");
}

// Large enough (>= 8 x 8 per matrix, sizes not multiples of the 32 tile) to take the
// tiled transpose path of copy_from; checked element by element through at().
TEST_CASE("contiguous() of transposed batches matches element access", "[tensor][copies]") {
  const Tensor a = iota({3, 45, 37});
  for (const Tensor& t : {a.transpose(1, 2), a.permute({2, 0, 1}), a.transpose(0, 2)}) {
    const Tensor c = t.contiguous();
    REQUIRE(c.is_contiguous());
    for (int64_t i = 0; i < t.shape()[0]; ++i)
      for (int64_t j = 0; j < t.shape()[1]; ++j)
        for (int64_t k = 0; k < t.shape()[2]; ++k) REQUIRE(c.at({i, j, k}) == t.at({i, j, k}));
  }
  // And with a dtype conversion on the way.
  Tensor d = Tensor::empty({37, 45}, DType::F64);
  d.copy_from(a.slice(0, 1, 2).squeeze(0).transpose(0, 1));
  CHECK(d.at({36, 44}) == a.at({1, 44, 36}));
  CHECK(d.at({5, 7}) == a.at({1, 7, 5}));
}
