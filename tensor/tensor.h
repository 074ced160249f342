// tensor.h: the n-dimensional array every other part of cpurich is built on.
//
// What it teaches: a tensor is a flat buffer (Storage) plus a *view* of it:
// a shape, a stride per dimension and an offset. Element (i0, i1, ..., in) lives at
//     storage[offset + i0*stride0 + i1*stride1 + ... + in*striden]
// so transpose, slice and broadcast only change shape/strides/offset: no data moves.
// Several tensors may share one Storage (a view and its base); writes through one
// are seen by the others, exactly as in NumPy and PyTorch.
//
// Pipeline position: text -> tokens -> [tensors] -> model -> samples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace cpurich {

/// Element types. F32 is the working type; F64 exists for gradient checks;
/// I64 holds integer results such as argmax indices.
enum class DType { F32, F64, I64 };

/// Size in bytes of one element of `dtype`.
std::size_t dtype_size(DType dtype);
/// "f32", "f64" or "i64".
std::string dtype_name(DType dtype);

using Shape = std::vector<int64_t>;

/// "(2, 3, 4)": used in every shape error message.
std::string shape_str(const Shape& shape);
/// Product of the dimensions (1 for a scalar, shape {}).
int64_t shape_numel(const Shape& shape);
/// Row-major ("C order") strides for a shape: the last dimension has stride 1.
Shape contiguous_strides(const Shape& shape);

/// A reference-counted, 64-byte aligned block of memory. Tensors point into it.
class Storage {
 public:
  explicit Storage(std::size_t bytes);  ///< zero-initialised
  /// Left uninitialised when !zero (see Tensor::uninitialized).
  Storage(std::size_t bytes, bool zero);
  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  std::size_t bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte[], Free> data_;
  std::size_t bytes_;
};

/// A strided view of a Storage. Copying a Tensor copies the view, not the data
/// (like a shared_ptr); use clone() for a deep copy.
class Tensor {
 public:
  Tensor();  ///< an empty f32 tensor of shape {0}

  // ---- factories -------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::F32);  ///< zero-filled
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32);
  /// Contiguous, contents unspecified: for a kernel that overwrites every
  /// element (skipping empty()'s zero fill saves a pass over memory). In
  /// AddressSanitizer builds the bytes are 0xFF (a NaN), so a kernel that reads
  /// an element before writing it shows up as NaN in the tests.
  static Tensor uninitialized(const Shape& shape, DType dtype = DType::F32);
  static Tensor ones(const Shape& shape, DType dtype = DType::F32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32);
  /// Copies `values` into a new tensor; throws if the count does not match shape.
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape);
  /// 0, 1, ..., n-1 as a 1-D tensor.
  static Tensor arange(int64_t n, DType dtype = DType::F32);
  static Tensor scalar(double value, DType dtype = DType::F32);

  // ---- metadata --------------------------------------------------------
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  /// Size of dimension d; negative d counts from the end (-1 is the last).
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape_numel(shape_); }
  /// True when the elements are laid out row-major with no gaps.
  bool is_contiguous() const;
  /// True when both tensors view the same Storage.
  bool shares_storage_with(const Tensor& other) const;
  /// Turns a possibly negative axis into 0..dim()-1; throws on out of range.
  int64_t normalize_axis(int64_t axis) const;

  // ---- raw access (pointer to element 0, i.e. storage + offset) ----------
  float* data_f32();
  const float* data_f32() const;
  double* data_f64();
  const double* data_f64() const;
  int64_t* data_i64();
  const int64_t* data_i64() const;
  /// Contiguous f32 data as a span; throws if not contiguous or not f32.
  std::span<float> span_f32();
  std::span<const float> span_f32() const;

  // ---- element access (slow, for tests and lessons) ----------------------
  double at(std::initializer_list<int64_t> index) const;
  void set(std::initializer_list<int64_t> index, double value);
  double item() const;  ///< the single element of a 1-element tensor
  /// All elements in row-major order, converted to double.
  std::vector<double> to_vector() const;

  // ---- views: share storage, never copy -------------------------------------
  /// Reshape without copying; throws if the strides make that impossible.
  Tensor view(const Shape& shape) const;
  /// view() when possible, otherwise a contiguous copy. One dim may be -1.
  Tensor reshape(const Shape& shape) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor permute(const std::vector<int64_t>& order) const;
  /// Elements start, start+step, ... < stop along `axis` (step > 0).
  Tensor slice(int64_t axis, int64_t start, int64_t stop, int64_t step = 1) const;
  /// Broadcast view: size-1 dims (or new leading dims) repeat with stride 0.
  Tensor expand(const Shape& shape) const;
  Tensor squeeze(int64_t axis) const;
  Tensor unsqueeze(int64_t axis) const;

  // ---- copies ----------------------------------------------------------------
  /// This tensor if already contiguous, otherwise a contiguous copy.
  Tensor contiguous() const;
  Tensor clone() const;          ///< always a fresh contiguous copy
  Tensor to(DType dtype) const;  ///< converted copy (or self if same dtype)
  /// Copies src into this tensor (shapes must match; src may broadcast).
  void copy_from(const Tensor& src);
  void fill(double value);

  /// Printable form for lessons: shape, dtype and values (long dims elided).
  std::string to_string(int max_per_dim = 6) const;

 private:
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype);
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::F32;
};

/// Thrown for every shape mismatch; the message names both shapes.
class ShapeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cpurich
