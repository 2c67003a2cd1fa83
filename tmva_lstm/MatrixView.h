// TMatrixView: a row-major matrix, or a block of one, in memory owned by someone else. The
// architectures' functions take views, so a layer can hand them a time step's rows or the x / h
// columns of a stacked operand without copying.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

// Used by the CPU code and, compiled by nvcc, by the CUDA kernels: one definition for both.
#ifdef __CUDACC__
#define TMVA_LSTM_HOST_DEVICE __host__ __device__
#else
#define TMVA_LSTM_HOST_DEVICE
#endif

namespace tmva_lstm {

/// A row-major block of memory owned by someone else: a matrix or a part of one. Rows are `ld`
/// elements apart (ld = cols for a whole matrix or a block of rows; more for a block of columns,
/// as the [x_t | h_{t-1}] operands of the LSTM's GEMMs).
template <typename Real>
class TMatrixView {
public:
   Real *data = nullptr;
   size_t rows = 0;
   size_t cols = 0;
   size_t ld = 0;

   TMatrixView() = default;
   TMVA_LSTM_HOST_DEVICE TMatrixView(Real *d, size_t nrows, size_t ncols) : data(d), rows(nrows), cols(ncols), ld(ncols) {}
   TMVA_LSTM_HOST_DEVICE TMatrixView(Real *d, size_t nrows, size_t ncols, size_t stride) : data(d), rows(nrows), cols(ncols), ld(stride) {}
   /// A writable view is readable: TMatrixView<float> converts to TMatrixView<const float>.
   /// (For a non-const Real this is the copy constructor; it is not a template so that cling
   /// and PyROOT apply it too.)
   TMVA_LSTM_HOST_DEVICE TMatrixView(const TMatrixView<std::remove_const_t<Real>> &v) : data(v.data), rows(v.rows), cols(v.cols), ld(v.ld)
   {
   }
   TMatrixView &operator=(const TMatrixView &) = default;

   TMVA_LSTM_HOST_DEVICE size_t size() const { return rows * cols; }
   /// The elements are one run of memory (what flat element-wise loops and memcpy need).
   TMVA_LSTM_HOST_DEVICE bool contiguous() const { return ld == cols || rows <= 1; }
   TMVA_LSTM_HOST_DEVICE Real *row(size_t r) const { return data + r * ld; }
   /// Rows [first, first + n): a time step's B rows in a time-major (T·B)×N stack.
   TMVA_LSTM_HOST_DEVICE TMatrixView rowBlock(size_t first, size_t n) const { return {data + first * ld, n, cols, ld}; }
   /// Columns [first, first + n): x_t or h_{t-1} inside an [x | h] row.
   TMVA_LSTM_HOST_DEVICE TMatrixView colBlock(size_t first, size_t n) const { return {data + first, rows, n, ld}; }
};

/// Memory for a matrix cannot be had: its size overflows size_t, or the allocation fails. The
/// layers add their name and sizes to the message; Python sees MemoryError.
class TAllocationError : public std::runtime_error {
public:
   using std::runtime_error::runtime_error;
};

/// a · b, or TAllocationError naming `what` when the product overflows size_t.
inline size_t CheckedProduct(size_t a, size_t b, const char *what = "size")
{
   if (b != 0 && a > size_t(-1) / b)
      throw TAllocationError(std::string(what) + " " + std::to_string(a) + " x " + std::to_string(b) +
                             " overflows the address space");
   return a * b;
}

/// A few copies between views, made together (Architecture_t::CopyBlocks; on the GPU one
/// kernel): packing W, U, b and the initial state into a layer's stacks, and unpacking the
/// stacked weight gradient. Each pair as Copy takes it.
template <typename Real>
struct TBlockCopies {
   static constexpr size_t kMax = 16;
   TMatrixView<Real> dst[kMax];
   TMatrixView<const Real> src[kMax];
   size_t n = 0;

   void Add(TMatrixView<Real> d, TMatrixView<const Real> s)
   {
      if (n == kMax)
         throw std::logic_error("TBlockCopies: more than 16 copies");
      dst[n] = d, src[n] = s, ++n;
   }
};

} // namespace tmva_lstm
