// TCuda<Real>: device memory, cuBLAS GEMMs and the element-wise kernels. Each kernel is the
// CPU loop of the same name in Cpu.cxx with the loop index turned into a thread index, around the
// same per-element mathematics (Kernels.h, compiled for the device).
#include "Cuda.h"
#include "Kernels.h"
#include "ViewChecks.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace tmva_lstm {

namespace {

void Check(cudaError_t status, const char *what)
{
   if (status != cudaSuccess)
      throw std::runtime_error(std::string("TCuda: ") + what + ": " + cudaGetErrorString(status));
}

void Check(cublasStatus_t status, const char *what)
{
   if (status != CUBLAS_STATUS_SUCCESS)
      throw std::runtime_error(std::string("TCuda: ") + what + ": cuBLAS status " + std::to_string(int(status)));
}

/// The device, the stream every TCuda call runs on, and the cuBLAS handle, made on first use.
/// One non-blocking stream keeps the calls in order without the legacy default stream's implicit
/// synchronisation, and lets a whole step be captured as a CUDA graph (TCudaGraph). A machine
/// without a usable GPU gets a std::runtime_error saying why, at the first TCuda call (never an
/// abort).
class TContext {
public:
   static TContext &Instance()
   {
      static TContext context;
      return context;
   }
   cublasHandle_t Blas() const { return fBlas; }
   cudaStream_t Stream() const { return fStream; }
   int Multiprocessors() const { return fMultiprocessors; }
   size_t MaxSharedBytes() const { return fMaxSharedBytes; }
   size_t SharedBytesPerMultiprocessor() const { return fSharedPerMultiprocessor; }
   int ThreadsPerMultiprocessor() const { return fThreadsPerMultiprocessor; }

private:
   TContext()
   {
      int devices = 0;
      const cudaError_t status = cudaGetDeviceCount(&devices);
      if (status != cudaSuccess || devices == 0)
         throw std::runtime_error(std::string("TCuda: no CUDA device available (") +
                                  (status != cudaSuccess ? cudaGetErrorString(status) : "device count is 0") + ")");
      int device = 0, shared = 0;
      Check(cudaGetDevice(&device), "cudaGetDevice");
      Check(cudaDeviceGetAttribute(&fMultiprocessors, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
      Check(cudaDeviceGetAttribute(&shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), "cudaDeviceGetAttribute");
      fMaxSharedBytes = size_t(shared);
      Check(cudaDeviceGetAttribute(&shared, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device),
            "cudaDeviceGetAttribute");
      fSharedPerMultiprocessor = size_t(shared);
      Check(cudaDeviceGetAttribute(&fThreadsPerMultiprocessor, cudaDevAttrMaxThreadsPerMultiProcessor, device),
            "cudaDeviceGetAttribute");
      Check(cudaStreamCreateWithFlags(&fStream, cudaStreamNonBlocking), "cudaStreamCreate");
      Check(cublasCreate(&fBlas), "cublasCreate");
      Check(cublasSetStream(fBlas, fStream), "cublasSetStream");
      // cuBLAS's own workspace, so that no GEMM allocates while a graph is being captured
      // (cuBLAS documents 32 MiB for Hopper).
      Check(cudaMalloc(&fWorkspace, kWorkspaceBytes), "cudaMalloc (cuBLAS workspace)");
      Check(cublasSetWorkspace(fBlas, fWorkspace, kWorkspaceBytes), "cublasSetWorkspace");
      // Full fp32/fp64 GEMMs: no TF32 (the CPU comparison and cuDNN baseline are plain fp32).
      Check(cublasSetMathMode(fBlas, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
   }
   static constexpr size_t kWorkspaceBytes = size_t(32) << 20;
   cudaStream_t fStream = nullptr;
   cublasHandle_t fBlas = nullptr;
   void *fWorkspace = nullptr;
   int fMultiprocessors = 0, fThreadsPerMultiprocessor = 0;
   size_t fMaxSharedBytes = 0, fSharedPerMultiprocessor = 0;
};

cudaStream_t Stream()
{
   return TContext::Instance().Stream();
}

/// Launch shape for n independent elements.
constexpr unsigned kThreads = 256;
unsigned Blocks(size_t n)
{
   return unsigned((n + kThreads - 1) / kThreads);
}

void CheckLaunch(const char *kernel)
{
   Check(cudaGetLastError(), kernel);
}

/// Launch shape of the fused recurrence (RecurrenceForward/Backward).
struct TFusedPlan {
   unsigned blocks = 0;
   size_t rowsPerBlock = 0, sharedBytes = 0;
};

bool gFusedRecurrence = true;

/// Above this many multiply-adds per step, a cuBLAS GEMM per step beats the fused kernel's
/// plain loops: the step is no longer launch-bound.
constexpr double kFusedMaxMacsPerStep = double(1 << 24);

/// Whether the whole recurrence runs as one kernel: [W | U | b] fits in one block's shared
/// memory and a step is small. Rows are spread over as many blocks as the GPU holds at once
/// (by threads and by shared memory, 1 KiB of which each block's runtime keeps), one row each
/// where the batch allows.
template <typename Real>
bool PlanFused(const TRecurrence<Real> &q, TFusedPlan &plan)
{
   const TContext &context = TContext::Instance();
   const size_t rowElements = std::max(q.WUb.cols, q.WUb.rows); // a staged operand row: K, or G·H of dz
   if (!gFusedRecurrence || double(q.B) * double(q.WUb.size()) > kFusedMaxMacsPerStep)
      return false;
   const size_t perMultiprocessor = std::max<size_t>(
      1, std::min(size_t(context.ThreadsPerMultiprocessor()) / kThreads,
                  context.SharedBytesPerMultiprocessor() / ((q.WUb.size() + rowElements) * sizeof(Real) + 1024)));
   const size_t resident = size_t(context.Multiprocessors()) * perMultiprocessor;
   plan.rowsPerBlock = (q.B + resident - 1) / resident;
   plan.blocks = unsigned((q.B + plan.rowsPerBlock - 1) / plan.rowsPerBlock);
   plan.sharedBytes = (q.WUb.size() + plan.rowsPerBlock * rowElements) * sizeof(Real);
   return plan.sharedBytes <= context.MaxSharedBytes();
}

/// kernel<<<plan>>>(args...), with the shared memory it needs allowed: above 48 KiB a kernel
/// must opt in, once per kernel and size (so not again while a graph is being captured).
template <typename... Params, typename... Args>
void LaunchFused(void (*kernel)(Params...), const TFusedPlan &plan, const char *what, Args... args)
{
   if (plan.sharedBytes > (size_t(48) << 10)) {
      static std::mutex mutex;
      static std::unordered_map<const void *, size_t> allowed;
      std::lock_guard<std::mutex> lock(mutex);
      size_t &bytes = allowed[reinterpret_cast<const void *>(kernel)];
      if (bytes < plan.sharedBytes) {
         Check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(plan.sharedBytes)), what);
         bytes = plan.sharedBytes;
      }
   }
   kernel<<<plan.blocks, kThreads, plan.sharedBytes, Stream()>>>(args...);
   CheckLaunch(what);
}

/// fn(Cell{}, FGate{}, FCand{}) for a cell whose step is one GEMM and one element-wise pass.
template <typename Fn>
void DispatchOneGemmCell(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct, Fn &&fn)
{
   DispatchCellActivations(pass, gateAct, candAct, [&](auto cell, auto fg, auto fc) {
      using Cell = decltype(cell);
      if constexpr (std::is_same<Cell, GruGates>::value || std::is_same<Cell, GruCandidate>::value)
         throw std::logic_error("TCuda: the fused recurrence takes cells of one pass per step");
      else
         fn(cell, fg, fc);
   });
}

/// A grow-only device buffer for reductions (the loss and its weight sum); no allocation once
/// it has reached the batch size.
template <typename Real>
Real *Scratch(size_t n)
{
   static std::mutex mutex;
   static Real *buffer = nullptr;
   static size_t capacity = 0;
   std::lock_guard<std::mutex> lock(mutex);
   if (n > capacity) {
      if (buffer)
         cudaFree(buffer);
      buffer = nullptr, capacity = 0;
      Check(cudaMalloc(&buffer, n * sizeof(Real)), "cudaMalloc (scratch)");
      capacity = n;
   }
   return buffer;
}

// ---- GEMM: cuBLAS is column-major; a row-major X is a column-major Xᵀ with the same ld, so
// row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ: swap the operands. -----------------

cublasStatus_t GemmCall(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                        const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                        float *C, int ldc)
{
   return cublasSgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

cublasStatus_t GemmCall(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                        const double *alpha, const double *A, int lda, const double *B, int ldb,
                        const double *beta, double *C, int ldc)
{
   return cublasDgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

// ---- kernels ------------------------------------------------------------------------------------

/// One thread per (row, unit): the CPU loop of TCpu::CellForward/CellBackward.
template <typename Cell, typename FGate, typename FCand, typename Real>
__global__ void CellForwardKernel(TCellStep<Real> s, size_t t)
{
   const size_t H = s.hPrev.cols, k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k >= s.z.rows * H)
      return;
   const size_t r = k / H, j = k % H;
   const TCellRow<Real> row = s.Row(r);
   if (s.Active(r, t))
      Cell::template Forward<FGate, FCand>(row, H, j);
   else if (WritesState<Cell>())
      HoldForward(row, j);
}

template <typename Cell, typename FGate, typename FCand, typename Real>
__global__ void CellBackwardKernel(TCellStep<Real> s, size_t t)
{
   const size_t H = s.hPrev.cols, k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k >= s.z.rows * H)
      return;
   const size_t r = k / H, j = k % H;
   const TCellRow<Real> row = s.Row(r);
   if (s.Active(r, t))
      Cell::template Backward<FGate, FCand>(row, H, j);
   else if (WritesState<Cell>())
      HoldBackward(row, Cell::kBlocks, H, j);
}

// ---- The fused recurrence: VRecurrentLayer::ForwardSlice/BackwardSlice for the rows of one
// block, every step in one kernel. Each phase is the architecture call of the same name in the
// layer's loop; __syncthreads() stands where the next call would wait for the previous one.

/// [W | U | b] (G·H × K) into shared memory, and this block's rows [first, first + n). After it
/// in shared memory, room for the block's rows of a GEMM operand (PlanFused): the rows were
/// just written by other threads, so reading them from global memory would wait on L2 at every
/// few terms of the inner products.
template <typename Real>
__device__ Real *LoadWeights(const TRecurrence<Real> &q, size_t rowsPerBlock, size_t &first, size_t &n)
{
   extern __shared__ __align__(16) unsigned char shared[];
   Real *W = reinterpret_cast<Real *>(shared);
   const size_t K = q.WUb.cols, GH = q.WUb.rows;
   for (size_t k = threadIdx.x; k < GH * K; k += blockDim.x)
      W[k] = q.WUb.row(k / K)[k % K];
   first = size_t(blockIdx.x) * rowsPerBlock;
   n = q.B - first < rowsPerBlock ? q.B - first : rowsPerBlock;
   __syncthreads();
   return W;
}

/// Σ_i a[i] b[i·stride], n terms: the inner product of the fused GEMM phases, unrolled so that
/// the loads of several terms are in flight at once.
template <typename Real>
__device__ Real Dot(const Real *__restrict__ a, const Real *__restrict__ b, unsigned n, unsigned stride)
{
   Real s = 0;
#pragma unroll 8
   for (unsigned i = 0; i < n; ++i)
      s += a[i] * b[i * stride];
   return s;
}

// Loop indices are 32-bit: a block's rows × columns are far below 2^32 (PlanFused), and 64-bit
// division costs tens of instructions on the GPU.
template <typename Cell, typename FGate, typename FCand, typename Real>
__global__ void RecurrenceForwardKernel(TRecurrence<Real> q, TMatrixView<const Real> input, TMatrixView<Real> output,
                                        size_t rowsPerBlock)
{
   size_t first, n;
   Real *W = LoadWeights(q, rowsPerBlock, first, n);
   const unsigned D = unsigned(q.D), H = unsigned(q.H), GH = unsigned(q.G * q.H), K = D + H + 1, rows = unsigned(n);
   Real *A = W + GH * K; // the block's rows of [x_t | h_{t-1} | 1], also kept in global memory (XH)
   for (unsigned k = threadIdx.x; k < rows * (H + 1); k += blockDim.x) // h_0 and the 1
      A[(k / (H + 1)) * K + D + k % (H + 1)] = q.XH.row(first + k / (H + 1))[D + k % (H + 1)];
   for (size_t t = 0; t < q.T; ++t) {
      const TCellStep<Real> s = q.Step(t);
      const TMatrixView<Real> xh = q.XH.rowBlock(t * q.B, q.B);
      for (unsigned k = threadIdx.x; k < rows * D; k += blockDim.x) { // GatherStep: x_t into [x_t | h_{t-1} | 1]
         const size_t r = first + k / D, j = k % D;
         const long src = SourceStep(q.lengths, r, t, q.T, q.reverse);
         A[(k / D) * K + j] = xh.row(r)[j] = src >= 0 ? input.row(r)[size_t(src) * D + j] : Real(0);
      }
      __syncthreads();
      for (unsigned k = threadIdx.x; k < rows * GH; k += blockDim.x) { // GemmForward: z_t = [x_t | h_{t-1} | 1] WUbᵀ
         const size_t r = first + k / GH, g = k % GH;
         if (s.Active(r, t))
            s.z.row(r)[g] = Dot(A + (k / GH) * K, W + g * K, K, 1);
      }
      __syncthreads();
      for (unsigned k = threadIdx.x; k < rows * H; k += blockDim.x) { // CellForward (held past the length), ScatterStep
         const size_t r = first + k / H, j = k % H;
         const TCellRow<Real> row = s.Row(r);
         const long src = SourceStep(q.lengths, r, t, q.T, q.reverse);
         if (src >= 0)
            Cell::template Forward<FGate, FCand>(row, H, j);
         else
            HoldForward(row, j);
         A[(k / H) * K + D + j] = row.h[j]; // h_t for the next step's GEMM (after the barrier below)
         if (q.returnSequence)
            output.row(r)[(src >= 0 ? size_t(src) : t) * q.outStride + j] = src >= 0 ? row.h[j] : Real(0);
      }
      __syncthreads();
   }
}

template <typename Cell, typename FGate, typename FCand, typename Real>
__global__ void RecurrenceBackwardKernel(TRecurrence<Real> q, TMatrixView<const Real> gradOutput,
                                         TMatrixView<Real> gradInput, size_t rowsPerBlock)
{
   size_t first, n;
   Real *W = LoadWeights(q, rowsPerBlock, first, n);
   const unsigned D = unsigned(q.D), H = unsigned(q.H), GH = unsigned(q.G * q.H), K = D + H + 1, DH = D + H,
                  rows = unsigned(n);
   Real *A = W + GH * K; // the block's rows of dz_t, also kept in global memory (gates)
   for (unsigned k = threadIdx.x; k < rows * H; k += blockDim.x) // no step T+1: nothing reaches h_T through a GEMM
      q.DXH.row(q.T * q.B + first + k / H)[D + k % H] = 0;
   __syncthreads();
   for (size_t t = q.T; t-- > 0;) {
      const TCellStep<Real> s = q.Step(t);
      for (unsigned k = threadIdx.x; k < rows * H; k += blockDim.x) { // CellBackward, dY_t read in place
         const size_t r = first + k / H, j = k % H;
         TCellRow<Real> row = s.Row(r);
         const long src = SourceStep(q.lengths, r, t, q.T, q.reverse);
         if (src >= 0) {
            row.dY = q.returnSequence ? gradOutput.row(r) + size_t(src) * q.outStride : nullptr;
            Cell::template Backward<FGate, FCand>(row, H, j);
         } else {
            HoldBackward(row, q.G, H, j);
         }
         for (unsigned b = 0; b < q.G; ++b) // this thread's dz, just written
            A[(k / H) * GH + b * H + j] = row.z[b * H + j];
      }
      __syncthreads();
      const TMatrixView<Real> dxh = q.DXH.rowBlock(t * q.B, q.B);
      for (unsigned k = threadIdx.x; k < rows * DH; k += blockDim.x) { // GemmBackward: [dx_t | dh_{t-1}] = dz_t [W | U]
         const size_t r = first + k / DH, i = k % DH;
         const Real d = Dot(A + (k / DH) * GH, W + i, GH, K);
         dxh.row(r)[i] = d;
         if (i < D) { // ScatterStep: dx_t to the input's gradient
            const long src = SourceStep(q.lengths, r, t, q.T, q.reverse);
            Real &out = gradInput.row(r)[(src >= 0 ? size_t(src) : t) * D + i];
            if (src >= 0)
               out = q.addInputGradient ? out + d : d;
            else if (!q.addInputGradient)
               out = 0;
         }
      }
      __syncthreads();
   }
   for (unsigned k = threadIdx.x; k < rows * H; k += blockDim.x) { // ∂L/∂h_0: by the GEMM of step 1, and the carry
      const size_t r = first + k / H, j = k % H;
      q.DXH.row(r)[D + j] += q.dhCarry.row(r)[j];
   }
}

/// One thread per element of dst (n × N): TCpu::GatherStep.
template <typename Real>
__global__ void GatherStepKernel(TMatrixView<Real> dst, TMatrixView<const Real> src, size_t t, size_t stride, size_t T,
                                 TMatrixView<const Real> lengths, bool reverse)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k >= dst.size())
      return;
   const size_t r = k / dst.cols, j = k % dst.cols;
   const long s = SourceStep(lengths, r, t, T, reverse);
   dst.row(r)[j] = s >= 0 ? src.row(r)[size_t(s) * stride + j] : Real(0);
}

/// One thread per element of src (n × N): TCpu::ScatterStep.
template <typename Real>
__global__ void ScatterStepKernel(TMatrixView<Real> dst, TMatrixView<const Real> src, size_t t, size_t stride,
                                  size_t T, TMatrixView<const Real> lengths, bool reverse, bool add)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k >= src.size())
      return;
   const size_t r = k / src.cols, j = k % src.cols;
   const long s = SourceStep(lengths, r, t, T, reverse);
   Real &out = dst.row(r)[(s >= 0 ? size_t(s) : t) * stride + j];
   if (s < 0 && !add)
      out = Real(0);
   else if (s >= 0)
      out = add ? out + src.row(r)[j] : src.row(r)[j];
}

/// Element k of a view in row-major order (the order PlanCopy matches views of equal size in).
template <typename Real>
__device__ Real &At(TMatrixView<Real> A, size_t k)
{
   return A.data[(k / A.cols) * A.ld + k % A.cols];
}

/// One thread per element: TCpu::Copy (a kernel rather than a 2-D memcpy, which is slower for
/// the small strided blocks of the time loop).
template <typename Real>
__global__ void CopyKernel(TMatrixView<Real> dst, TMatrixView<const Real> src)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k < src.size())
      At(dst, k) = At(src, k);
}

/// Copy blockIdx.y of the list, one thread per element: TCpu::CopyBlocks.
template <typename Real>
__global__ void CopyBlocksKernel(TBlockCopies<Real> c)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x, i = blockIdx.y;
   if (k < c.src[i].size())
      At(c.dst[i], k) = At(c.src[i], k);
}

template <typename Real>
__global__ void AddKernel(TMatrixView<Real> A, TMatrixView<const Real> B)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k < A.size())
      A.row(k / A.cols)[k % A.cols] += B.row(k / A.cols)[k % A.cols];
}

template <typename Real>
__global__ void TransposeKernel(TMatrixView<Real> A, TMatrixView<const Real> B)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k < A.size())
      A.row(k / A.cols)[k % A.cols] = B.row(k % A.cols)[k / A.cols];
}

template <typename Real>
__global__ void HadamardKernel(Real *A, const Real *B, size_t n)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k < n)
      A[k] *= B[k];
}

template <typename Real>
__global__ void SumColumnsKernel(TMatrixView<Real> out, TMatrixView<const Real> A, Real beta)
{
   const size_t j = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (j >= A.cols)
      return;
   Real s = 0;
   for (size_t r = 0; r < A.rows; ++r)
      s += A.row(r)[j];
   out.data[j] = beta * out.data[j] + s;
}

template <typename Real>
__global__ void AddRowVectorKernel(TMatrixView<Real> A, TMatrixView<const Real> b)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k < A.size())
      A.row(k / A.cols)[k % A.cols] += b.data[k % A.cols];
}

template <typename F, typename Real>
__global__ void ActivationForwardKernel(Real *a, size_t n)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k < n)
      a[k] = F::f(a[k]);
}

template <typename F, typename Real>
__global__ void ActivationBackwardKernel(Real *dA, const Real *Y, size_t n)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k < n)
      dA[k] *= F::dfFromY(Y[k]);
}

/// Per sample: out[r] = w_r ℓ_r, out[B + r] = w_r (summed on the host, in double).
template <typename Real>
__global__ void LossKernel(ELossFunction loss, TMatrixView<const Real> output, TMatrixView<const Real> Y,
                           TMatrixView<const Real> w, double *out)
{
   const size_t r = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (r >= output.rows)
      return;
   out[r] = w.data[r] * kernels::SampleLoss(loss, output.row(r), Y.row(r), output.cols);
   out[output.rows + r] = w.data[r];
}

/// *sum = Σ w, one block (the batch's weights).
template <typename Real>
__global__ void SumKernel(const Real *w, size_t n, Real *sum)
{
   __shared__ Real partial[kThreads];
   Real s = 0;
   for (size_t k = threadIdx.x; k < n; k += blockDim.x)
      s += w[k];
   partial[threadIdx.x] = s;
   __syncthreads();
   for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
      if (threadIdx.x < half)
         partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads();
   }
   if (threadIdx.x == 0)
      *sum = partial[0];
}

template <typename Real>
__global__ void LossGradientKernel(ELossFunction loss, TMatrixView<Real> dOutput, TMatrixView<const Real> output,
                                   TMatrixView<const Real> Y, TMatrixView<const Real> w, const Real *sumW)
{
   const size_t r = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (r < output.rows)
      kernels::SampleLossGradient(loss, dOutput.row(r), output.row(r), Y.row(r), output.cols, w.data[r] / *sumW);
}

template <typename Real>
__global__ void SoftmaxKernel(TMatrixView<Real> A)
{
   const size_t r = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (r < A.rows)
      kernels::Softmax(A.row(r), A.cols);
}

template <typename Real>
__global__ void SgdKernel(Real *W, const Real *dW, Real *V, size_t n, Real learningRate, Real momentum)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k < n)
      kernels::SgdUpdate(W[k], dW[k], V[k], learningRate, momentum);
}

template <typename Real>
__global__ void AdamKernel(Real *W, const Real *dW, Real *M, Real *V, size_t n, Real learningRate, Real beta1,
                           Real beta2, Real epsilon, Real c1, Real c2)
{
   const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
   if (k < n)
      kernels::AdamUpdate(W[k], dW[k], M[k], V[k], learningRate, beta1, beta2, epsilon, c1, c2);
}

} // namespace

// ---- TCudaMatrix ------------------------------------------------------------------------------

template <typename Real>
TCudaMatrix<Real>::TCudaMatrix(size_t nrows, size_t ncols) : fNrows(nrows), fNcols(ncols)
{
   TContext::Instance();
   const size_t n = CheckedProduct(nrows, ncols, "matrix");
   if (n == 0)
      return;
   const size_t bytes = CheckedProduct(n, sizeof(Real), "matrix bytes");
   const cudaError_t status = cudaMalloc(&fData, bytes);
   if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError(), fData = nullptr;
      throw TAllocationError("cannot allocate a " + std::to_string(nrows) + " x " + std::to_string(ncols) +
                             " matrix on the GPU (" + std::to_string(bytes) + " bytes)");
   }
   Check(status, "cudaMalloc"); // any other failure, with its own name
   Check(cudaMemsetAsync(fData, 0, GetNoElements() * sizeof(Real), Stream()), "cudaMemset");
}

template <typename Real>
TCudaMatrix<Real>::TCudaMatrix(const TCudaMatrix &other) : TCudaMatrix(other.fNrows, other.fNcols)
{
   if (GetNoElements())
      Check(cudaMemcpyAsync(fData, other.fData, GetNoElements() * sizeof(Real), cudaMemcpyDeviceToDevice, Stream()),
            "copy");
}

template <typename Real>
TCudaMatrix<Real>::TCudaMatrix(TCudaMatrix &&other) noexcept
   : fData(other.fData), fNrows(other.fNrows), fNcols(other.fNcols)
{
   other.fData = nullptr, other.fNrows = other.fNcols = 0;
}

template <typename Real>
TCudaMatrix<Real> &TCudaMatrix<Real>::operator=(const TCudaMatrix &other)
{
   if (this != &other)
      *this = TCudaMatrix(other);
   return *this;
}

template <typename Real>
TCudaMatrix<Real> &TCudaMatrix<Real>::operator=(TCudaMatrix &&other) noexcept
{
   if (this != &other) {
      if (fData)
         cudaFree(fData);
      fData = other.fData, fNrows = other.fNrows, fNcols = other.fNcols;
      other.fData = nullptr, other.fNrows = other.fNcols = 0;
   }
   return *this;
}

template <typename Real>
TCudaMatrix<Real>::~TCudaMatrix()
{
   if (fData)
      cudaFree(fData);
}

// ---- TCudaGraph ---------------------------------------------------------------------------------

TCudaGraph::TCudaGraph(const std::function<void()> &record)
{
   const cudaStream_t stream = Stream();
   // ThreadLocal: a call that would synchronise with the capturing stream fails at once, in
   // this thread, instead of silently leaving the graph.
   Check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
   cudaGraph_t graph = nullptr;
   try {
      record();
   } catch (...) {
      cudaStreamEndCapture(stream, &graph);
      if (graph)
         cudaGraphDestroy(graph);
      cudaGetLastError(); // the capture's error is reported by the exception, not left behind
      throw;
   }
   const cudaError_t status = cudaStreamEndCapture(stream, &graph);
   if (status != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error(std::string("TCudaGraph: the recorded calls could not be captured (") +
                               cudaGetErrorString(status) + "); they must not wait for the device");
   }
   fGraph = graph;
   cudaGraphExec_t exec = nullptr;
   const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
   if (made != cudaSuccess) {
      cudaGraphDestroy(graph);
      Check(made, "cudaGraphInstantiate");
   }
   fExec = exec;
}

TCudaGraph::~TCudaGraph()
{
   if (fExec)
      cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(fExec));
   if (fGraph)
      cudaGraphDestroy(static_cast<cudaGraph_t>(fGraph));
}

void TCudaGraph::Launch()
{
   Check(cudaGraphLaunch(static_cast<cudaGraphExec_t>(fExec), Stream()), "cudaGraphLaunch");
}

// ---- TCuda --------------------------------------------------------------------------------------

template <typename Real>
void TCuda<Real>::CheckDevice()
{
   TContext::Instance();
}

template <typename Real>
void TCuda<Real>::Synchronize()
{
   Check(cudaStreamSynchronize(Stream()), "Synchronize");
}

template <typename Real>
void TCuda<Real>::Gemm(View_t C, ConstView_t A, bool transA, ConstView_t B, bool transB, Real alpha, Real beta)
{
   const auto [m, n, k] = checks::GemmShape(C, A, transA, B, transB);
   if (m == 0 || n == 0)
      return;
   if (k == 0) { // C = beta C; cuBLAS wants k >= 1 for its leading-dimension checks
      if (beta == Real(0))
         return Zero(C);
      throw std::logic_error("Gemm: k = 0 with beta != 0");
   }
   Check(GemmCall(TContext::Instance().Blas(), transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N,
                  int(n), int(m), int(k), &alpha, B.data, int(B.ld), A.data, int(A.ld), &beta, C.data, int(C.ld)),
         "gemm");
}

template <typename Real>
void TCuda<Real>::SumColumns(View_t out, ConstView_t A, Real beta)
{
   if (A.cols == 0)
      return;
   SumColumnsKernel<<<Blocks(A.cols), kThreads, 0, Stream()>>>(out, A, beta);
   CheckLaunch("SumColumns");
}

template <typename Real>
void TCuda<Real>::Copy(View_t dst, ConstView_t src)
{
   const checks::TCopyPlan plan = checks::PlanCopy(dst, src);
   if (src.size() == 0)
      return;
   if (plan.kind == checks::TCopyPlan::kFlat)
      Check(cudaMemcpyAsync(dst.data, src.data, src.size() * sizeof(Real), cudaMemcpyDeviceToDevice, Stream()), "Copy");
   else {
      CopyKernel<<<Blocks(src.size()), kThreads, 0, Stream()>>>(dst, src);
      CheckLaunch("Copy");
   }
}

template <typename Real>
void TCuda<Real>::CopyBlocks(const TBlockCopies<Real> &copies)
{
   size_t largest = 0;
   for (size_t k = 0; k < copies.n; ++k) {
      checks::PlanCopy(copies.dst[k], copies.src[k]);
      largest = std::max(largest, copies.src[k].size());
   }
   if (largest == 0)
      return;
   CopyBlocksKernel<<<dim3(Blocks(largest), unsigned(copies.n)), kThreads, 0, Stream()>>>(copies);
   CheckLaunch("CopyBlocks");
}

template <typename Real>
void TCuda<Real>::CopyFromHost(View_t dst, const Real *src, size_t n, const std::string &what)
{
   checks::CheckFromHost(dst, src, n, what);
   if (n)
      Check(cudaMemcpy2DAsync(dst.data, dst.ld * sizeof(Real), src, dst.cols * sizeof(Real), dst.cols * sizeof(Real),
                              dst.rows, cudaMemcpyHostToDevice, Stream()),
            "CopyFromHost");
}

template <typename Real>
void TCuda<Real>::CopyToHost(Real *dst, size_t n, ConstView_t src)
{
   checks::CheckToHost(n, src);
   if (n) {
      Check(cudaMemcpy2DAsync(dst, src.cols * sizeof(Real), src.data, src.ld * sizeof(Real), src.cols * sizeof(Real),
                              src.rows, cudaMemcpyDeviceToHost, Stream()),
            "CopyToHost");
      Check(cudaStreamSynchronize(Stream()), "CopyToHost");
   }
}

template <typename Real>
void TCuda<Real>::Zero(View_t A)
{
   if (A.size())
      Check(cudaMemset2DAsync(A.data, A.ld * sizeof(Real), 0, A.cols * sizeof(Real), A.rows, Stream()), "Zero");
}

template <typename Real>
void TCuda<Real>::CellForward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                              const TCellStep<Real> &s, size_t t)
{
   const size_t n = s.z.rows * s.hPrev.cols;
   if (n == 0)
      return;
   DispatchCellActivations(pass, gateAct, candAct, [&](auto cell, auto fg, auto fc) {
      CellForwardKernel<decltype(cell), decltype(fg), decltype(fc)><<<Blocks(n), kThreads, 0, Stream()>>>(s, t);
   });
   CheckLaunch("CellForward");
}

template <typename Real>
void TCuda<Real>::CellBackward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                               const TCellStep<Real> &s, size_t t)
{
   const size_t n = s.z.rows * s.hPrev.cols;
   if (n == 0)
      return;
   DispatchCellActivations(pass, gateAct, candAct, [&](auto cell, auto fg, auto fc) {
      CellBackwardKernel<decltype(cell), decltype(fg), decltype(fc)><<<Blocks(n), kThreads, 0, Stream()>>>(s, t);
   });
   CheckLaunch("CellBackward");
}

template <typename Real>
bool TCuda<Real>::RecurrenceForward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                                    const TRecurrence<Real> &q, ConstView_t input, View_t output)
{
   TFusedPlan plan;
   if (!PlanFused(q, plan))
      return false;
   DispatchOneGemmCell(pass, gateAct, candAct, [&](auto cell, auto fg, auto fc) {
      LaunchFused(RecurrenceForwardKernel<decltype(cell), decltype(fg), decltype(fc), Real>, plan,
                  "RecurrenceForward", q, input, output, plan.rowsPerBlock);
   });
   return true;
}

template <typename Real>
bool TCuda<Real>::RecurrenceBackward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                                     const TRecurrence<Real> &q, ConstView_t gradOutput, View_t gradInput)
{
   TFusedPlan plan;
   if (!PlanFused(q, plan))
      return false;
   DispatchOneGemmCell(pass, gateAct, candAct, [&](auto cell, auto fg, auto fc) {
      LaunchFused(RecurrenceBackwardKernel<decltype(cell), decltype(fg), decltype(fc), Real>, plan,
                  "RecurrenceBackward", q, gradOutput, gradInput, plan.rowsPerBlock);
   });
   return true;
}

template <typename Real>
void TCuda<Real>::SetFusedRecurrence(bool allow)
{
   gFusedRecurrence = allow;
}

template <typename Real>
bool TCuda<Real>::GetFusedRecurrence()
{
   return gFusedRecurrence;
}

template <typename Real>
void TCuda<Real>::GatherStep(View_t dst, ConstView_t src, size_t t, size_t stride, size_t T, ConstView_t lengths,
                             bool reverse)
{
   checks::CheckStep(dst, src, stride, T);
   if (!lengths.data && !reverse) // every row at step t: one block copy
      return Copy(dst, src.colBlock(t * stride, dst.cols));
   if (dst.size() == 0)
      return;
   GatherStepKernel<<<Blocks(dst.size()), kThreads, 0, Stream()>>>(dst, src, t, stride, T, lengths, reverse);
   CheckLaunch("GatherStep");
}

template <typename Real>
void TCuda<Real>::ScatterStep(View_t dst, ConstView_t src, size_t t, size_t stride, size_t T, ConstView_t lengths,
                              bool reverse, bool add)
{
   checks::CheckStep(src, dst, stride, T);
   if (!lengths.data && !reverse && !add)
      return Copy(dst.colBlock(t * stride, src.cols), src);
   if (src.size() == 0)
      return;
   ScatterStepKernel<<<Blocks(src.size()), kThreads, 0, Stream()>>>(dst, src, t, stride, T, lengths, reverse, add);
   CheckLaunch("ScatterStep");
}

template <typename Real>
void TCuda<Real>::Add(View_t A, ConstView_t B)
{
   checks::RequireSameShape("Add", A, B);
   if (A.size() == 0)
      return;
   AddKernel<<<Blocks(A.size()), kThreads, 0, Stream()>>>(A, B);
   CheckLaunch("Add");
}

template <typename Real>
void TCuda<Real>::Transpose(View_t A, ConstView_t B)
{
   checks::RequireTransposedShape("Transpose", A, B);
   if (A.size() == 0)
      return;
   TransposeKernel<<<Blocks(A.size()), kThreads, 0, Stream()>>>(A, B);
   CheckLaunch("Transpose");
}

template <typename Real>
void TCuda<Real>::Hadamard(View_t A, ConstView_t B)
{
   checks::RequireContiguous("Hadamard", A, B);
   checks::RequireSameShape("Hadamard", A, B);
   if (A.size() == 0)
      return;
   HadamardKernel<<<Blocks(A.size()), kThreads, 0, Stream()>>>(A.data, B.data, A.size());
   CheckLaunch("Hadamard");
}

template <typename Real>
void TCuda<Real>::AddRowVector(View_t A, ConstView_t b)
{
   if (A.size() == 0)
      return;
   AddRowVectorKernel<<<Blocks(A.size()), kThreads, 0, Stream()>>>(A, b);
   CheckLaunch("AddRowVector");
}

template <typename Real>
void TCuda<Real>::ActivationForward(EActivationFunction f, View_t A)
{
   checks::RequireContiguous("ActivationForward", A);
   if (A.size() == 0)
      return;
   DispatchActivation(f, [&](auto F) {
      ActivationForwardKernel<decltype(F)><<<Blocks(A.size()), kThreads, 0, Stream()>>>(A.data, A.size());
   });
   CheckLaunch("ActivationForward");
}

template <typename Real>
void TCuda<Real>::ActivationBackward(EActivationFunction f, View_t dA, ConstView_t Y)
{
   checks::RequireContiguous("ActivationBackward", dA, Y);
   if (dA.size() == 0)
      return;
   DispatchActivation(f, [&](auto F) {
      ActivationBackwardKernel<decltype(F)><<<Blocks(dA.size()), kThreads, 0, Stream()>>>(dA.data, Y.data, dA.size());
   });
   CheckLaunch("ActivationBackward");
}

template <typename Real>
Real TCuda<Real>::Loss(ELossFunction loss, ConstView_t output, ConstView_t Y, ConstView_t w)
{
   const size_t B = output.rows;
   if (B == 0)
      return Real(0);
   double *terms = Scratch<double>(2 * B);
   LossKernel<<<Blocks(B), kThreads, 0, Stream()>>>(loss, output, Y, w, terms);
   CheckLaunch("Loss");
   std::vector<double> host(2 * B);
   Check(cudaMemcpyAsync(host.data(), terms, host.size() * sizeof(double), cudaMemcpyDeviceToHost, Stream()), "Loss");
   Check(cudaStreamSynchronize(Stream()), "Loss");
   double total = 0, sumW = 0;
   for (size_t r = 0; r < B; ++r)
      total += host[r], sumW += host[B + r];
   return Real(total / sumW);
}

template <typename Real>
void TCuda<Real>::LossGradient(ELossFunction loss, View_t dOutput, ConstView_t output, ConstView_t Y, ConstView_t w)
{
   const size_t B = output.rows;
   if (B == 0)
      return;
   Real *sumW = Scratch<Real>(1);
   SumKernel<<<1, kThreads, 0, Stream()>>>(w.data, w.size(), sumW);
   LossGradientKernel<<<Blocks(B), kThreads, 0, Stream()>>>(loss, dOutput, output, Y, w, sumW);
   CheckLaunch("LossGradient");
}

template <typename Real>
void TCuda<Real>::OutputFunction(ELossFunction loss, View_t A)
{
   if (loss == ELossFunction::kCrossEntropy)
      ActivationForward(EActivationFunction::kSigmoid, A);
   if (loss == ELossFunction::kSoftmaxCrossEntropy && A.rows) {
      SoftmaxKernel<<<Blocks(A.rows), kThreads, 0, Stream()>>>(A);
      CheckLaunch("OutputFunction");
   }
}

template <typename Real>
void TCuda<Real>::SgdStep(View_t W, ConstView_t dW, View_t V, Real learningRate, Real momentum)
{
   checks::RequireContiguous("SgdStep", W, dW, V);
   if (W.size() == 0)
      return;
   SgdKernel<<<Blocks(W.size()), kThreads, 0, Stream()>>>(W.data, dW.data, V.data, W.size(), learningRate, momentum);
   CheckLaunch("SgdStep");
}

template <typename Real>
void TCuda<Real>::AdamStep(View_t W, ConstView_t dW, View_t M, View_t V, Real learningRate, Real beta1, Real beta2,
                           Real epsilon, size_t t)
{
   checks::RequireContiguous("AdamStep", W, dW, M, V);
   if (W.size() == 0)
      return;
   const Real c1 = 1 - std::pow(beta1, Real(t)), c2 = 1 - std::pow(beta2, Real(t));
   AdamKernel<<<Blocks(W.size()), kThreads, 0, Stream()>>>(W.data, dW.data, M.data, V.data, W.size(), learningRate, beta1, beta2,
                                              epsilon, c1, c2);
   CheckLaunch("AdamStep");
}

template <typename Real>
void TCuda<Real>::InitializeWeights(Matrix_t &A, EInitialization init, size_t fanIn, size_t fanOut,
                                    std::mt19937_64 &rng)
{
   TCpuMatrix<Real> host(A.GetNrows(), A.GetNcols());
   TCpu<Real>::InitializeWeights(host, init, fanIn, fanOut, rng);
   CopyFromHost(A.View(), host.GetRawDataPointer(), host.GetNoElements(), "initial weights");
}

template <typename Real>
void TCuda<Real>::SetNumThreads(int n)
{
   if (n < 0)
      throw std::invalid_argument("number of threads must be >= 0, got " + std::to_string(n));
}

template class TCudaMatrix<float>;
template class TCudaMatrix<double>;
template class TCuda<float>;
template class TCuda<double>;

} // namespace tmva_lstm
