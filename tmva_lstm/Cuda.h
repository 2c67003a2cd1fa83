// TCuda<Real>: the CUDA architecture. The same interface as TCpu<Real> (Cpu.h), so that
// TBasicLSTMLayer, TDenseLayer, TDeepNet and the trainer run unchanged, entirely on the GPU:
// matrices live in device memory, GEMMs are cuBLAS calls, the element-wise work is our own
// kernels (Cuda.cu), and data crosses to the host only through CopyFromHost / CopyToHost.
//
// This header is plain C++ (no CUDA headers), so rootcling and host compilers can read it.
// Matrices are row-major with the same TMatrixView as the CPU; on this architecture a view's
// data pointer is a device pointer.
#pragma once

#include "Cpu.h"

#include <cstddef>
#include <functional>
#include <random>
#include <string>

namespace tmva_lstm {

/// An owning row-major matrix in GPU memory, zero-initialised. Copies are deep (device to device).
template <typename Real>
class TCudaMatrix {
public:
   TCudaMatrix() = default;
   TCudaMatrix(size_t nrows, size_t ncols);
   TCudaMatrix(const TCudaMatrix &other);
   TCudaMatrix(TCudaMatrix &&other) noexcept;
   TCudaMatrix &operator=(const TCudaMatrix &other);
   TCudaMatrix &operator=(TCudaMatrix &&other) noexcept;
   ~TCudaMatrix();

   size_t GetNrows() const { return fNrows; }
   size_t GetNcols() const { return fNcols; }
   size_t GetNoElements() const { return fNrows * fNcols; }
   /// A device pointer.
   Real *GetRawDataPointer() { return fData; }
   const Real *GetRawDataPointer() const { return fData; }
   TMatrixView<Real> View() { return {fData, fNrows, fNcols}; }
   TMatrixView<const Real> View() const { return {fData, fNrows, fNcols}; }

private:
   Real *fData = nullptr;
   size_t fNrows = 0;
   size_t fNcols = 0;
};

/// The TCuda calls that `record` makes, captured once and replayed by Launch with one launch (a
/// CUDA graph). At small sizes a recurrent step is a few hundred tiny kernels and GEMMs, and the
/// host's per-call overhead, not the GPU, sets its time; a graph removes it. The buffers and
/// shapes are those of the recording: Launch recomputes from whatever the same matrices hold.
/// The recorded calls must not wait for the device or read its results on the host: no
/// CopyToHost, CopyFromHost, Loss, nor SetLengths (it checks the lengths on the host); such a
/// call makes the constructor throw, naming it.
class TCudaGraph {
public:
   explicit TCudaGraph(const std::function<void()> &record);
   TCudaGraph(const TCudaGraph &) = delete;
   TCudaGraph &operator=(const TCudaGraph &) = delete;
   ~TCudaGraph();
   /// Queue one replay (asynchronous, like every TCuda call; TCuda::Synchronize waits).
   void Launch();

private:
   void *fGraph = nullptr; // cudaGraph_t and cudaGraphExec_t: this header includes no CUDA header
   void *fExec = nullptr;
};

template <typename Real>
class TCuda {
public:
   using Scalar_t = Real;
   using Matrix_t = TCudaMatrix<Real>;
   using View_t = TMatrixView<Real>;
   using ConstView_t = TMatrixView<const Real>;
   using Graph_t = TCudaGraph;

   static const char *Name() { return "cuda"; }
   /// Throws std::runtime_error naming the reason when no CUDA device can be used.
   static void CheckDevice();
   /// Waits until the kernels and copies queued so far are done (for timing).
   static void Synchronize();

   // Each function below does what TCpu's of the same name does (Cpu.h has the contracts).
   static void Gemm(View_t C, ConstView_t A, bool transA, ConstView_t B, bool transB, Real alpha = 1, Real beta = 0);
   /// TCpu::GemmPrefersUntransposedB: cuBLAS runs either form alike, so no copy is kept.
   static bool GemmPrefersUntransposedB(size_t, size_t, size_t) { return false; }
   static void SumColumns(View_t out, ConstView_t A, Real beta = 0);
   static void Copy(View_t dst, ConstView_t src);
   static void CopyBlocks(const TBlockCopies<Real> &copies);
   static void CopyFromHost(View_t dst, const Real *src, size_t n, const std::string &what);
   static void CopyToHost(Real *dst, size_t n, ConstView_t src);
   static void Zero(View_t A);

   static void CellForward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                           const TCellStep<Real> &step, size_t t);
   static void CellBackward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                            const TCellStep<Real> &step, size_t t);
   static void GatherStep(View_t dst, ConstView_t src, size_t t, size_t stride, size_t T, ConstView_t lengths,
                          bool reverse);
   static void ScatterStep(View_t dst, ConstView_t src, size_t t, size_t stride, size_t T, ConstView_t lengths,
                           bool reverse, bool add);
   static void Add(View_t A, ConstView_t B);
   static void Transpose(View_t A, ConstView_t B);
   static void Hadamard(View_t A, ConstView_t B);

   static void AddRowVector(View_t A, ConstView_t b);
   static void ActivationForward(EActivationFunction f, View_t A);
   static void ActivationBackward(EActivationFunction f, View_t dA, ConstView_t Y);

   static Real Loss(ELossFunction loss, ConstView_t output, ConstView_t Y, ConstView_t w);
   static void LossGradient(ELossFunction loss, View_t dOutput, ConstView_t output, ConstView_t Y, ConstView_t w);
   static void OutputFunction(ELossFunction loss, View_t A);

   static void SgdStep(View_t W, ConstView_t dW, View_t V, Real learningRate, Real momentum);
   static void AdamStep(View_t W, ConstView_t dW, View_t M, View_t V, Real learningRate, Real beta1, Real beta2,
                        Real epsilon, size_t t);

   /// Drawn on the host by TCpu (the same numbers as the CPU for a given seed), then copied.
   static void InitializeWeights(Matrix_t &A, EInitialization init, size_t fanIn, size_t fanOut,
                                 std::mt19937_64 &rng);

   /// Host threads play no part here: the parallelism is inside each kernel and GEMM.
   static void SetNumThreads(int n);
   static int GetNumThreads() { return 1; }
   /// fn(0, N): one slice. On the GPU a time step is one GEMM and one kernel over the whole batch.
   static void ParallelFor(size_t N, const std::function<void(size_t, size_t)> &fn, const Real * = nullptr)
   {
      fn(0, N);
   }
   /// The layer's whole time loop (RecurrentLayer.h's ForwardSlice/BackwardSlice over the whole
   /// batch) in one kernel, each block running the complete sequences of a few batch rows (the
   /// rows are independent, so no block waits for another) with [W | U | b] in shared memory.
   /// Done, and true returned, where the weights fit in shared memory and a step's GEMM is small
   /// enough that launching it would cost more than computing it; else false, and the layer runs
   /// its loop step by step (cuBLAS GEMMs and the cell kernels). Same results either way.
   static bool RecurrenceForward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                                 const TRecurrence<Real> &q, ConstView_t input, View_t output);
   static bool RecurrenceBackward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                                  const TRecurrence<Real> &q, ConstView_t gradOutput, View_t gradInput);
   /// Allow the one-kernel recurrence where it applies (the default), or always run step by step
   /// (for comparisons and tests of both paths). One setting for both precisions.
   static void SetFusedRecurrence(bool allow);
   static bool GetFusedRecurrence();
};

extern template class TCudaMatrix<float>;
extern template class TCudaMatrix<double>;
extern template class TCuda<float>;
extern template class TCuda<double>;

} // namespace tmva_lstm
