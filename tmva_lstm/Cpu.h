// TCpu<Real>: the CPU architecture. Together with TCuda<Real> (Cuda.h) it is the only code that
// knows where memory lives; layers are written once against this interface.
//
// Matrices are row-major, rows are samples (the convention of docs/lstm-math.md and of
// NumPy), so arrays cross to and from Python without rearranging.
#pragma once

#include "Functions.h"
#include "Kernels.h"
#include "MatrixView.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <random>
#include <string>
#include <vector>

namespace tmva_lstm {

/// An owning row-major matrix in host memory, zero-initialised. A size that overflows, or memory
/// that cannot be had, throws TAllocationError with the bytes wanted.
template <typename Real>
class TCpuMatrix {
public:
   TCpuMatrix() = default;
   TCpuMatrix(size_t nrows, size_t ncols) : fNrows(nrows), fNcols(ncols)
   {
      const size_t n = CheckedProduct(nrows, ncols, "matrix");
      const size_t bytes = CheckedProduct(n, sizeof(Real), "matrix bytes");
      try {
         fData.assign(n, Real(0));
      } catch (const std::bad_alloc &) {
         throw TAllocationError("cannot allocate a " + std::to_string(nrows) + " x " + std::to_string(ncols) +
                                " matrix (" + std::to_string(bytes) + " bytes)");
      } catch (const std::length_error &) {
         throw TAllocationError("a " + std::to_string(nrows) + " x " + std::to_string(ncols) +
                                " matrix is larger than a vector can hold");
      }
   }

   size_t GetNrows() const { return fNrows; }
   size_t GetNcols() const { return fNcols; }
   size_t GetNoElements() const { return fData.size(); }
   Real *GetRawDataPointer() { return fData.data(); }
   const Real *GetRawDataPointer() const { return fData.data(); }
   TMatrixView<Real> View() { return {fData.data(), fNrows, fNcols}; }
   TMatrixView<const Real> View() const { return {fData.data(), fNrows, fNcols}; }

private:
   std::vector<Real> fData;
   size_t fNrows = 0;
   size_t fNcols = 0;
};

/// TCpu's counterpart of TCudaGraph (Cuda.h), so that code written for either architecture can
/// record a fixed step once and launch it many times: on the CPU there is no launch overhead to
/// save, so Launch simply makes the recorded calls again.
class TCpuGraph {
public:
   explicit TCpuGraph(std::function<void()> record) : fRecord(std::move(record)) {}
   void Launch() { fRecord(); }

private:
   std::function<void()> fRecord;
};

template <typename Real>
class TCpu {
public:
   using Scalar_t = Real;
   using Matrix_t = TCpuMatrix<Real>;
   using View_t = TMatrixView<Real>;
   using ConstView_t = TMatrixView<const Real>;
   using Graph_t = TCpuGraph;

   static const char *Name() { return "cpu"; }
   /// Waits until queued work is done (for timing): nothing is queued on the CPU.
   static void Synchronize() {}

   /// C = alpha · op(A) op(B) + beta · C, op(X) = Xᵀ when transX. One single-threaded BLAS ?gemm
   /// call; or, for a large product, one per thread on parts of C (outside ParallelFor); or, when
   /// the inner dimension is long against C's sides, two on its halves, added (at any thread
   /// count, so that the result does not depend on it).
   static void Gemm(View_t C, ConstView_t A, bool transA, ConstView_t B, bool transB, Real alpha = 1, Real beta = 0);
   /// Whether C (m×n) = A·B with B untransposed runs faster than with Bᵀ stored, so that a caller
   /// keeping a transposed copy of B should. OpenBLAS's small-matrix kernels (m·n·k ≤ 100³)
   /// take an untransposed B only: a recurrent step at S runs its forward product 20 % faster
   /// so; above it the general kernels run Bᵀ up to 10 % faster (docs/benchmarks.md). Measured
   /// with OpenBLAS; with a system CBLAS it is a guess, and costs at most that much either way.
   static bool GemmPrefersUntransposedB(size_t m, size_t n, size_t k) { return double(m) * double(n) * double(k) <= 1e6; }
   /// out (1×N) = beta · out + column sums of A (M×N).
   static void SumColumns(View_t out, ConstView_t A, Real beta = 0);
   /// dst = src, same shape; or the same number of elements when both are contiguous; or two
   /// vectors of the same length, a row and a column (b in and out of [W | U | b]).
   static void Copy(View_t dst, ConstView_t src);
   /// Each of the copies, as Copy.
   static void CopyBlocks(const TBlockCopies<Real> &copies)
   {
      for (size_t k = 0; k < copies.n; ++k)
         Copy(copies.dst[k], copies.src[k]);
   }
   /// Fill dst from n host values; throws if n is not its size or a value is NaN or inf
   /// (`what` names the quantity in the message). The way user data enters.
   static void CopyFromHost(View_t dst, const Real *src, size_t n, const std::string &what);
   /// Copy src to host memory of n values; throws if n is not its size.
   static void CopyToHost(Real *dst, size_t n, ConstView_t src);
   static void Zero(View_t A);

   /// Pass `pass` of a recurrent cell (Kernels.h) at step t over the rows of `step`, fused and
   /// element-wise. Rows past their length are held (forward) or pass their gradient through
   /// (backward), as Kernels.h's HoldForward/HoldBackward say.
   static void CellForward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                           const TCellStep<Real> &step, size_t t);
   static void CellBackward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                            const TCellStep<Real> &step, size_t t);
   /// Sequences are sample-major n × (T·stride) matrices, step s of row r in columns
   /// [s·stride, s·stride + N). GatherStep: dst (n × N) row r = step s_r of src row r, where
   /// s_r = t, or len_r − 1 − t when `reverse` (len_r = T without lengths); zeros where t ≥ len_r.
   static void GatherStep(View_t dst, ConstView_t src, size_t t, size_t stride, size_t T, ConstView_t lengths,
                          bool reverse);
   /// The inverse: step s_r of dst row r = src row r (+= with `add`); where t ≥ len_r, step t of
   /// dst row r is set to zero (left alone with `add`), so one pass over t writes every step.
   static void ScatterStep(View_t dst, ConstView_t src, size_t t, size_t stride, size_t T, ConstView_t lengths,
                           bool reverse, bool add);
   /// A += B, same shape.
   static void Add(View_t A, ConstView_t B);
   /// A = Bᵀ.
   static void Transpose(View_t A, ConstView_t B);
   /// A ⊙= B, element-wise (dropout masks).
   static void Hadamard(View_t A, ConstView_t B);

   /// A += 1 bᵀ: b (1×N) added to every row of A (M×N).
   static void AddRowVector(View_t A, ConstView_t b);
   /// A = f(A), element-wise.
   static void ActivationForward(EActivationFunction f, View_t A);
   /// In place: on entry dA = ∂L/∂y, on exit ∂L/∂z = ∂L/∂y ⊙ f'(z), with f' taken from Y = f(z).
   static void ActivationBackward(EActivationFunction f, View_t dA, ConstView_t Y);

   /// Σ_b w_b ℓ_b / Σ_b w_b over the rows of output (B×K) against truth Y (B×K), weights w (1×B).
   static Real Loss(ELossFunction loss, ConstView_t output, ConstView_t Y, ConstView_t w);
   /// dOutput = ∂Loss/∂output.
   static void LossGradient(ELossFunction loss, View_t dOutput, ConstView_t output, ConstView_t Y, ConstView_t w);
   /// Turn network outputs into predictions: σ for kCrossEntropy, softmax for kSoftmaxCrossEntropy.
   static void OutputFunction(ELossFunction loss, View_t A);

   /// SGD with momentum (PyTorch's convention): V = μ V + dW; W −= η V.
   static void SgdStep(View_t W, ConstView_t dW, View_t V, Real learningRate, Real momentum);
   /// Adam, step t ≥ 1: M = β1 M + (1−β1) dW; V = β2 V + (1−β2) dW²;
   /// W −= η M̂ / (√V̂ + ε) with M̂ = M/(1−β1^t), V̂ = V/(1−β2^t).
   static void AdamStep(View_t W, ConstView_t dW, View_t M, View_t V, Real learningRate, Real beta1, Real beta2,
                        Real epsilon, size_t t);

   /// Host-side initialisation (same numbers on every architecture for a given seed).
   static void InitializeWeights(Matrix_t &A, EInitialization init, size_t fanIn, size_t fanOut,
                                 std::mt19937_64 &rng);

   /// Threads for everything: batch slices of the time loop and parts of large GEMMs, on one
   /// worker pool; BLAS's own threads stay off. 0 = the default (OPENBLAS_NUM_THREADS, else the
   /// number of cores).
   static void SetNumThreads(int n);
   static int GetNumThreads();
   /// Runs fn(first, n) on disjoint slices [first, first + n) of [0, N), one slice per thread
   /// (at least 16 indices each), and waits. The LSTM slices its batch rows: the recurrence is
   /// independent across samples, so each slice runs the whole time loop (its small GEMMs and
   /// element-wise steps) on its own core. Inside fn, GEMMs and ParallelFor stay on the calling
   /// thread, so nothing is oversubscribed. With `work` (N values ≥ 0, e.g. sample lengths) the
   /// slices take equal shares of the total work instead of equal counts.
   static void ParallelFor(size_t N, const std::function<void(size_t, size_t)> &fn, const Real *work = nullptr);
   /// The whole time loop in one pass: not on the CPU, where the layer's loop runs step by step
   /// over batch slices, each on its own core (ParallelFor). Returns false: not done.
   static bool RecurrenceForward(ECellPass, EActivationFunction, EActivationFunction, const TRecurrence<Real> &,
                                 ConstView_t /*input*/, View_t /*output*/)
   {
      return false;
   }
   static bool RecurrenceBackward(ECellPass, EActivationFunction, EActivationFunction, const TRecurrence<Real> &,
                                  ConstView_t /*gradOutput*/, View_t /*gradInput*/)
   {
      return false;
   }

private:
   static void GemmSplitInner(View_t C, ConstView_t A, bool transA, ConstView_t B, bool transB, Real alpha, Real beta,
                              size_t k, bool parallel);
};

extern template class TCpuMatrix<float>;
extern template class TCpuMatrix<double>;
extern template class TCpu<float>;
extern template class TCpu<double>;

} // namespace tmva_lstm
