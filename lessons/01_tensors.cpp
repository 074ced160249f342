// Lesson 01: tensors. A guided tour of shapes, strides, views and broadcasting.
//
// What it teaches: a tensor is a flat buffer plus a *view* (shape, strides, offset).
// Transpose, slice and expand only change the view, so they are free and share
// memory; contiguous() makes a packed copy when a kernel needs one; broadcasting
// lines shapes up at the right and stretches size-1 dims with stride 0.
//
// Pipeline position: text -> tokens -> [tensors] -> model -> samples.
// Run: build/release/lessons/01_tensors
#include <cmath>
#include <iostream>
#include <string>

#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace cpurich;

namespace {

// Every claim the lesson prints is also checked; a false one fails the run.
int failed_claims = 0;
void claim(bool holds, const std::string& what) {
  if (!holds) {
    std::cout << "CLAIM FAILED: " << what << "\n";
    ++failed_claims;
  }
}

void section(const std::string& title, const std::string& explanation) {
  std::cout << "\n== " << title << " ==\n" << explanation << "\n\n";
}

void show(const std::string& name, const Tensor& t) {
  std::cout << name << " = " << t.to_string() << "\n";
  std::cout << "  strides=" << shape_str(t.strides()) << " offset=" << t.offset()
            << " contiguous=" << (t.is_contiguous() ? "yes" : "no") << "\n";
}

void shapes_and_strides() {
  section("1. shape and strides",
          "A (2, 3) tensor is 6 floats in a row. Element (i, j) lives at i*3 + j*1:\n"
          "strides (3, 1) say how far to jump in memory for +1 along each dim.");
  //! [strides]
  Tensor a = Tensor::arange(6).reshape({2, 3});
  show("a", a);
  std::cout << "a.at({1, 2}) reads storage[1*3 + 2*1] = storage[5] = " << a.at({1, 2}) << "\n";
  //! [strides]
  claim(a.strides() == Shape{3, 1} && a.at({1, 2}) == 5.0, "(2, 3) has strides (3, 1)");
}

void views_share_storage() {
  section("2. transpose is a view",
          "transpose(0, 1) swaps the shape AND the strides: no element moves.\n"
          "Writing through the view changes the original, because they share storage.");
  //! [transpose_view]
  Tensor a = Tensor::arange(6).reshape({2, 3});
  Tensor t = a.transpose(0, 1);
  show("t = a.transpose(0, 1)", t);
  t.set({2, 0}, 100.0);
  std::cout << "after t.set({2, 0}, 100):\n";
  show("a", a);
  std::cout << "t shares storage with a: " << (t.shares_storage_with(a) ? "yes" : "no") << "\n";
  //! [transpose_view]
  claim(t.shares_storage_with(a) && a.at({0, 2}) == 100.0, "a write through the view shows in a");

  section("3. slice with a step is a view too",
          "Taking every other column multiplies the column stride by 2;\n"
          "starting at column 1 moves the offset by 1 element.");
  //! [slice_view]
  Tensor m = Tensor::arange(12).reshape({3, 4});
  show("m", m);
  show("m.slice(1, 1, 4, 2)", m.slice(1, 1, 4, 2));
  //! [slice_view]
  claim(m.slice(1, 1, 4, 2).strides() == Shape{4, 2} && m.slice(1, 1, 4, 2).offset() == 1,
        "slice with step 2 from column 1: strides (4, 2), offset 1");
}

void expand_and_contiguous() {
  section("4. expand repeats data with stride 0",
          "A (1, 3) row expanded to (4, 3) reads the same 3 numbers for every row:\n"
          "the row stride is 0, so 12 'elements' cost 3 floats of memory.");
  Tensor row = Tensor::from_vector(std::vector<float>{1, 2, 3}, {1, 3});
  show("row.expand({4, 3})", row.expand({4, 3}));

  section("5. contiguous() and reshape()",
          "Kernels like to walk memory in order. contiguous() returns the tensor itself\n"
          "when it already is packed row-major, else a packed copy. reshape() is a view\n"
          "when the strides allow it and copies otherwise: the rows of a transposed\n"
          "matrix are not evenly spaced in memory, so flattening it must copy.");
  Tensor a = Tensor::arange(6).reshape({2, 3});
  Tensor t = a.transpose(0, 1);
  Tensor c = t.contiguous();
  show("t.contiguous()", c);
  std::cout << "copy shares storage with a: " << (c.shares_storage_with(a) ? "yes" : "no") << "\n";
  std::cout << "a.reshape({3, 2}) shares storage with a: "
            << (a.reshape({3, 2}).shares_storage_with(a) ? "yes" : "no") << "\n";
  std::cout << "t.reshape({6})   shares storage with a: "
            << (t.reshape({6}).shares_storage_with(a) ? "yes" : "no") << "\n";
  claim(!c.shares_storage_with(a) && a.reshape({3, 2}).shares_storage_with(a) &&
            !t.reshape({6}).shares_storage_with(a),
        "contiguous() of a transpose copies; reshape is a view only when strides allow");
}

void broadcasting() {
  section("6. broadcasting",
          "Shapes are aligned at the right; a dim of size 1 (or a missing one) is\n"
          "stretched to match. (2, 1, 4) + (3, 1) -> (2, 3, 4): out[i,j,k] = x[i,0,k] + y[j,0].");
  //! [broadcast]
  Tensor x = Tensor::arange(8).reshape({2, 1, 4});
  Tensor y = mul_scalar(Tensor::arange(3).reshape({3, 1}), 100.0);
  show("x", x);
  show("y", y);
  show("x + y", add(x, y));
  //! [broadcast]
  claim(add(x, y).shape() == Shape{2, 3, 4} && add(x, y).at({1, 2, 3}) == 7.0 + 200.0,
        "(2, 1, 4) + (3, 1) -> (2, 3, 4), out[i,j,k] = x[i,0,k] + y[j,0]");
  std::cout << "\nIncompatible shapes are an error that names both shapes:\n";
  try {
    add(Tensor::ones({2, 3}), Tensor::ones({4}));
  } catch (const ShapeError& e) {
    std::cout << "  ShapeError: " << e.what() << "\n";
  }

  section("7. reductions and the adjoint of broadcasting",
          "sum along an axis removes it (or keeps it as size 1 with keepdim).\n"
          "sum_to_shape undoes a broadcast: it is how gradients flow back to y.");
  //! [sum_to_shape]
  Tensor g = Tensor::ones({2, 3, 4});
  show("sum(x + y, -1)", sum(add(x, y), -1));
  show("sum_to_shape(ones(2, 3, 4), (3, 1))", sum_to_shape(g, {3, 1}));
  //! [sum_to_shape]
}

void softmax_and_rng() {
  section("8. random numbers and softmax",
          "Rng(seed) is counter-based: element i is a pure function of (seed, i), so any\n"
          "number of threads gives the same tensor. softmax turns each row into\n"
          "probabilities; subtracting the row max first keeps exp() finite.");
  Rng rng(42);
  Tensor logits = rng.normal({2, 4});
  show("logits", logits);
  show("softmax(logits)", softmax(logits));
  show("sum of each row", sum(softmax(logits), -1));
  Tensor big = Tensor::from_vector(std::vector<float>{1000, 999, 998}, {1, 3});
  show("softmax([1000, 999, 998])", softmax(big));
  const Tensor row_sums = sum(softmax(logits), -1);
  claim(std::abs(row_sums.at({0}) - 1.0) < 1e-6 && std::abs(row_sums.at({1}) - 1.0) < 1e-6,
        "softmax rows sum to 1");
}

}  // namespace

int main() {
  std::cout << "Lesson 01: tensors, views and broadcasting\n";
  shapes_and_strides();
  views_share_storage();
  expand_and_contiguous();
  broadcasting();
  softmax_and_rng();
  std::cout << "\n"
            << (failed_claims == 0 ? "every claim above checked: yes" : "some claims FAILED")
            << "\n";
  return failed_claims == 0 ? 0 : 1;
}
