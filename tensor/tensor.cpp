// tensor.cpp: storage, factories, metadata and element access for Tensor (see tensor.h).
//
// What it teaches: a tensor is a (Storage, shape, strides, offset, dtype) tuple. Every
// element read or write is storage[offset + sum_d index_d * stride_d]; copies between
// differently strided tensors are one strided walk (strided.h) with a dtype conversion.
// The view operations (no data moves) live in tensor_views.cpp.
//
// Pipeline position: text -> tokens -> [tensors] -> model -> samples.
#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "tensor/strided.h"

namespace cpurich {

// ---- dtypes and shapes -----------------------------------------------------------

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return 4;
    case DType::F64:
      return 8;
    case DType::I64:
      return 8;
  }
  throw std::invalid_argument("dtype_size: unknown dtype");
}

std::string dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "f32";
    case DType::F64:
      return "f64";
    case DType::I64:
      return "i64";
  }
  throw std::invalid_argument("dtype_name: unknown dtype");
}

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";  // Python's one-element tuple: (4,)
  return s + ")";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    strides[d] = s;
    s *= shape[d] > 1 ? shape[d] : 1;  // a size-0 dim must not zero the outer strides
  }
  return strides;
}

// ---- storage ------------------------------------------------------------------------

Storage::Storage(std::size_t bytes) : Storage(bytes, true) {}

// Sanitizer builds fill "uninitialised" storage with 0xFF bytes: 0xFFFFFFFF is
// a NaN, so a kernel that reads an element before writing it shows in the tests.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPoisonUninitialized = true;
#else
constexpr bool kPoisonUninitialized = false;
#endif

Storage::Storage(std::size_t bytes, bool zero) : bytes_(bytes) {
  // aligned_alloc needs a size that is a multiple of the alignment; 64 bytes is one
  // cache line and the width of an AVX-512 register, so SIMD loads never straddle.
  const std::size_t rounded = std::max<std::size_t>((bytes + 63) / 64 * 64, 64);
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) throw std::bad_alloc();
  data_.reset(static_cast<std::byte*>(p));
  if (zero)
    std::memset(p, 0, rounded);
  else if (kPoisonUninitialized)
    std::memset(p, 0xFF, rounded);
}

void Storage::Free::operator()(std::byte* p) const {
  std::free(p);
}

// ---- construction ----------------------------------------------------------------------

Tensor::Tensor() : Tensor(std::make_shared<Storage>(0), Shape{0}, Shape{1}, 0, DType::F32) {}

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset,
               DType dtype)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset),
      dtype_(dtype) {}

namespace {
void check_shape(const Shape& shape, const char* who) {
  for (int64_t d : shape)
    if (d < 0) throw ShapeError(std::string(who) + ": negative dimension in " + shape_str(shape));
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  check_shape(shape, "empty");
  const auto bytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
  return Tensor(std::make_shared<Storage>(bytes), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::uninitialized(const Shape& shape, DType dtype) {
  check_shape(shape, "uninitialized");
  const auto bytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
  return Tensor(std::make_shared<Storage>(bytes, false), shape, contiguous_strides(shape), 0,
                dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  return empty(shape, dtype);
}

Tensor Tensor::ones(const Shape& shape, DType dtype) {
  return full(shape, 1.0, dtype);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill(value);
  return t;
}

namespace {
void check_count(std::size_t count, const Shape& shape) {
  check_shape(shape, "from_vector");
  if (static_cast<int64_t>(count) != shape_numel(shape))
    throw ShapeError("from_vector: " + std::to_string(count) + " values do not fill shape " +
                     shape_str(shape) + " (" + std::to_string(shape_numel(shape)) + " elements)");
}
}  // namespace

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  check_count(values.size(), shape);
  Tensor t = empty(shape, DType::F32);
  if (!values.empty()) std::memcpy(t.data_f32(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape) {
  check_count(values.size(), shape);
  Tensor t = empty(shape, DType::F64);
  if (!values.empty()) std::memcpy(t.data_f64(), values.data(), values.size() * sizeof(double));
  return t;
}

Tensor Tensor::arange(int64_t n, DType dtype) {
  if (n < 0) throw std::invalid_argument("arange: n must be >= 0, got " + std::to_string(n));
  Tensor t = empty({n}, dtype);
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::F32:
        t.data_f32()[i] = static_cast<float>(i);
        break;
      case DType::F64:
        t.data_f64()[i] = static_cast<double>(i);
        break;
      case DType::I64:
        t.data_i64()[i] = i;
        break;
    }
  }
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) {
  return full({}, value, dtype);
}

// ---- metadata ----------------------------------------------------------------------------

int64_t Tensor::normalize_axis(int64_t axis) const {
  const int64_t n = dim();
  if (axis < -n || axis >= n)
    throw std::out_of_range("axis " + std::to_string(axis) + " out of range for shape " +
                            shape_str(shape_));
  return axis < 0 ? axis + n : axis;
}

int64_t Tensor::size(int64_t d) const {
  return shape_[normalize_axis(d)];
}

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;
  int64_t expected = 1;
  for (std::size_t d = shape_.size(); d-- > 0;) {
    if (shape_[d] == 1) continue;  // the stride of a size-1 dim is never used
    if (strides_[d] != expected) return false;
    expected *= shape_[d];
  }
  return true;
}

bool Tensor::shares_storage_with(const Tensor& other) const {
  return storage_ == other.storage_;
}

// ---- raw access ---------------------------------------------------------------------------

namespace {
void check_dtype(DType have, DType want, const char* who) {
  if (have != want)
    throw std::invalid_argument(std::string(who) + ": tensor is " + dtype_name(have) + ", not " +
                                dtype_name(want));
}
}  // namespace

float* Tensor::data_f32() {
  check_dtype(dtype_, DType::F32, "data_f32");
  return reinterpret_cast<float*>(storage_->data()) + offset_;
}
const float* Tensor::data_f32() const {
  check_dtype(dtype_, DType::F32, "data_f32");
  return reinterpret_cast<const float*>(storage_->data()) + offset_;
}
double* Tensor::data_f64() {
  check_dtype(dtype_, DType::F64, "data_f64");
  return reinterpret_cast<double*>(storage_->data()) + offset_;
}
const double* Tensor::data_f64() const {
  check_dtype(dtype_, DType::F64, "data_f64");
  return reinterpret_cast<const double*>(storage_->data()) + offset_;
}
int64_t* Tensor::data_i64() {
  check_dtype(dtype_, DType::I64, "data_i64");
  return reinterpret_cast<int64_t*>(storage_->data()) + offset_;
}
const int64_t* Tensor::data_i64() const {
  check_dtype(dtype_, DType::I64, "data_i64");
  return reinterpret_cast<const int64_t*>(storage_->data()) + offset_;
}

std::span<float> Tensor::span_f32() {
  if (!is_contiguous())
    throw std::invalid_argument("span_f32: tensor of shape " + shape_str(shape_) +
                                " is not contiguous; call contiguous() first");
  return {data_f32(), static_cast<std::size_t>(numel())};
}
std::span<const float> Tensor::span_f32() const {
  if (!is_contiguous())
    throw std::invalid_argument("span_f32: tensor of shape " + shape_str(shape_) +
                                " is not contiguous; call contiguous() first");
  return {data_f32(), static_cast<std::size_t>(numel())};
}

// ---- element access (slow path: one bounds-checked element at a time) -------------------

namespace {
// Offset (in elements, relative to the tensor's offset) of one multi-index.
int64_t element_offset(const Shape& shape, const Shape& strides,
                       std::initializer_list<int64_t> index, const char* who) {
  if (index.size() != shape.size())
    throw std::out_of_range(std::string(who) + ": " + std::to_string(index.size()) +
                            " indices for shape " + shape_str(shape));
  int64_t off = 0;
  std::size_t d = 0;
  for (int64_t i : index) {
    if (i < 0 || i >= shape[d])
      throw std::out_of_range(std::string(who) + ": index " + std::to_string(i) +
                              " out of range for axis " + std::to_string(d) + " of shape " +
                              shape_str(shape));
    off += i * strides[d++];
  }
  return off;
}

// Reads element `off` of any dtype as a double.
double read_as_double(const std::byte* base, DType dtype, int64_t off) {
  switch (dtype) {
    case DType::F32:
      return reinterpret_cast<const float*>(base)[off];
    case DType::F64:
      return reinterpret_cast<const double*>(base)[off];
    case DType::I64:
      return static_cast<double>(reinterpret_cast<const int64_t*>(base)[off]);
  }
  return 0.0;
}

// double -> int64 with a clear error instead of undefined behaviour.
int64_t checked_i64(double v) {
  if (!(v >= -9.2233720368547758e18 && v < 9.2233720368547758e18))  // also false for NaN
    throw std::domain_error("cannot convert " + std::to_string(v) + " to i64");
  return static_cast<int64_t>(v);
}
}  // namespace

double Tensor::at(std::initializer_list<int64_t> index) const {
  const int64_t off = offset_ + element_offset(shape_, strides_, index, "at");
  return read_as_double(storage_->data(), dtype_, off);
}

void Tensor::set(std::initializer_list<int64_t> index, double value) {
  const int64_t off = offset_ + element_offset(shape_, strides_, index, "set");
  std::byte* base = storage_->data();
  switch (dtype_) {
    case DType::F32:
      reinterpret_cast<float*>(base)[off] = static_cast<float>(value);
      break;
    case DType::F64:
      reinterpret_cast<double*>(base)[off] = value;
      break;
    case DType::I64:
      reinterpret_cast<int64_t*>(base)[off] = checked_i64(value);
      break;
  }
}

double Tensor::item() const {
  if (numel() != 1)
    throw ShapeError("item: tensor of shape " + shape_str(shape_) + " has " +
                     std::to_string(numel()) + " elements, expected 1");
  return read_as_double(storage_->data(), dtype_, offset_);
}

std::vector<double> Tensor::to_vector() const {
  Tensor c = to(DType::F64).contiguous();
  const double* p = c.data_f64();
  return std::vector<double>(p, p + c.numel());
}

}  // namespace cpurich
