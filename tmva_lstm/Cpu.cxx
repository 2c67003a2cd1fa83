#include "Cpu.h"
#include "Blas.h"
#include "Kernels.h"
#include "ViewChecks.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>

#include <unistd.h>

namespace tmva_lstm {

template <typename Real>
void TCpu<Real>::SumColumns(View_t out, ConstView_t A, Real beta)
{
   Real *s = out.data;
   for (size_t j = 0; j < A.cols; ++j)
      s[j] *= beta;
   for (size_t r = 0; r < A.rows; ++r) {
      const Real *a = A.row(r);
      for (size_t j = 0; j < A.cols; ++j)
         s[j] += a[j];
   }
}

namespace {

/// Calls fn(start, length) for each row of a strided view, or once for all its elements when it
/// is contiguous: memcpy and memset then see the longest runs.
template <typename View, typename Fn>
void ForEachRun(const View &A, Fn &&fn)
{
   if (A.contiguous()) {
      if (A.size())
         fn(A.data, A.size());
      return;
   }
   for (size_t r = 0; r < A.rows; ++r)
      fn(A.row(r), A.cols);
}

} // namespace

template <typename Real>
void TCpu<Real>::Copy(View_t dst, ConstView_t src)
{
   const checks::TCopyPlan plan = checks::PlanCopy(dst, src);
   switch (plan.kind) {
   case checks::TCopyPlan::kFlat:
      if (src.size())
         std::memcpy(dst.data, src.data, src.size() * sizeof(Real));
      break;
   case checks::TCopyPlan::kRows:
      for (size_t r = 0; r < src.rows; ++r)
         std::memcpy(dst.row(r), src.row(r), src.cols * sizeof(Real));
      break;
   case checks::TCopyPlan::kVector:
      for (size_t k = 0; k < src.size(); ++k)
         dst.data[k * plan.dstStep] = src.data[k * plan.srcStep];
      break;
   }
}

template <typename Real>
void TCpu<Real>::CopyFromHost(View_t dst, const Real *src, size_t n, const std::string &what)
{
   checks::CheckFromHost(dst, src, n, what);
   ForEachRun(dst, [&](Real *run, size_t len) {
      std::memcpy(run, src, len * sizeof(Real));
      src += len;
   });
}

template <typename Real>
void TCpu<Real>::CopyToHost(Real *dst, size_t n, ConstView_t src)
{
   checks::CheckToHost(n, src);
   ForEachRun(src, [&](const Real *run, size_t len) {
      std::memcpy(dst, run, len * sizeof(Real));
      dst += len;
   });
}

template <typename Real>
void TCpu<Real>::Zero(View_t A)
{
   ForEachRun(A, [](Real *run, size_t len) { std::memset(run, 0, len * sizeof(Real)); });
}

namespace {

/// The row loop of CellForward and CellBackward: active(row, H) for the rows inside their
/// sequence at step t; for the others, held(row, H, j) for every unit j when the pass is the one
/// that writes h (forward) or first reads dh (backward).
template <typename Cell, typename Real, typename Active, typename Held>
void CellRows(const TCellStep<Real> &s, size_t t, Active &&active, Held &&held)
{
   const size_t H = s.hPrev.cols;
   for (size_t r = 0; r < s.z.rows; ++r) {
      const TCellRow<Real> row = s.Row(r);
      if (s.Active(r, t)) {
         active(row, H);
      } else if (WritesState<Cell>()) {
         for (size_t j = 0; j < H; ++j)
            held(row, H, j);
      }
   }
}

/// The LSTM forward with σ gates and a tanh candidate: the same numbers as LstmCell::Forward, bit
/// for bit. A row at small H holds too few exps to hide their latency, so the exps run in flat
/// loops across the step's rows (z, c and τ contiguous): σ on every z, the candidate block
/// doubled before and mapped after (tanh g = 2σ(2g) − 1, as Tanh::f computes it), then tanh on
/// every c_t. A held row's z is left unused, as the per-unit loop leaves it.
template <typename Real>
void LstmForwardSigmoidTanh(const TCellStep<Real> &s, size_t t)
{
   const size_t n = s.z.rows, H = s.hPrev.cols;
   for (size_t r = 0; r < n; ++r) {
      Real *g = s.z.row(r) + 2 * H;
#pragma omp simd
      for (size_t j = 0; j < H; ++j)
         g[j] *= Real(2);
   }
   Real *z = s.z.data;
#pragma omp simd
   for (size_t k = 0; k < n * 4 * H; ++k)
      z[k] = Sigmoid::f(z[k]);
   CellRows<LstmCell>(
      s, t,
      [](const TCellRow<Real> &row, size_t H) {
         Real *g = row.z + 2 * H;
#pragma omp simd
         for (size_t j = 0; j < H; ++j) {
            g[j] = Real(2) * g[j] - Real(1);
            LstmCell::CellState(row, H, j);
         }
      },
      [](const TCellRow<Real> &row, size_t, size_t j) { HoldForward(row, j); });
   Real *tau = s.tau.data;
   const Real *c = s.c.data;
#pragma omp simd
   for (size_t k = 0; k < n * H; ++k)
      tau[k] = Tanh::f(c[k]);
   CellRows<LstmCell>(
      s, t,
      [](const TCellRow<Real> &row, size_t H) {
#pragma omp simd
         for (size_t j = 0; j < H; ++j)
            LstmCell::Output(row, H, j);
      },
      [](const TCellRow<Real> &, size_t, size_t) {}); // h was held above
}

} // namespace

template <typename Real>
void TCpu<Real>::CellForward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                             const TCellStep<Real> &s, size_t t)
{
   DispatchCellActivations(pass, gateAct, candAct, [&](auto cell, auto fg, auto fc) {
      using Cell = decltype(cell);
      if constexpr (std::is_same_v<Cell, LstmCell> && std::is_same_v<decltype(fg), Sigmoid> &&
                    std::is_same_v<decltype(fc), Tanh>) {
         if (s.z.contiguous() && s.c.contiguous() && s.tau.contiguous())
            return LstmForwardSigmoidTanh(s, t);
      }
      CellRows<Cell>(
         s, t,
         [](const TCellRow<Real> &row, size_t H) {
#pragma omp simd
            for (size_t j = 0; j < H; ++j)
               Cell::template Forward<decltype(fg), decltype(fc)>(row, H, j);
         },
         [](const TCellRow<Real> &row, size_t, size_t j) { HoldForward(row, j); });
   });
}

template <typename Real>
void TCpu<Real>::CellBackward(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct,
                              const TCellStep<Real> &s, size_t t)
{
   DispatchCellActivations(pass, gateAct, candAct, [&](auto cell, auto fg, auto fc) {
      using Cell = decltype(cell);
      CellRows<Cell>(
         s, t,
         [](const TCellRow<Real> &row, size_t H) {
#pragma omp simd
            for (size_t j = 0; j < H; ++j)
               Cell::template Backward<decltype(fg), decltype(fc)>(row, H, j);
         },
         [](const TCellRow<Real> &row, size_t H, size_t j) { HoldBackward(row, Cell::kBlocks, H, j); });
   });
}

template <typename Real>
void TCpu<Real>::GatherStep(View_t dst, ConstView_t src, size_t t, size_t stride, size_t T, ConstView_t lengths,
                            bool reverse)
{
   checks::CheckStep(dst, src, stride, T);
   if (!lengths.data && !reverse) // every row at step t: one block copy
      return Copy(dst, src.colBlock(t * stride, dst.cols));
   for (size_t r = 0; r < dst.rows; ++r) {
      const long s = SourceStep(lengths, r, t, T, reverse);
      if (s >= 0)
         std::memcpy(dst.row(r), src.row(r) + size_t(s) * stride, dst.cols * sizeof(Real));
      else
         std::memset(dst.row(r), 0, dst.cols * sizeof(Real));
   }
}

template <typename Real>
void TCpu<Real>::ScatterStep(View_t dst, ConstView_t src, size_t t, size_t stride, size_t T, ConstView_t lengths,
                             bool reverse, bool add)
{
   checks::CheckStep(src, dst, stride, T);
   if (!lengths.data && !reverse && !add)
      return Copy(dst.colBlock(t * stride, src.cols), src);
   for (size_t r = 0; r < src.rows; ++r) {
      const long s = SourceStep(lengths, r, t, T, reverse);
      Real *out = dst.row(r) + (s >= 0 ? size_t(s) : t) * stride;
      const Real *in = src.row(r);
      if (s < 0 && !add)
         std::memset(out, 0, src.cols * sizeof(Real));
      else if (s >= 0 && add)
         for (size_t j = 0; j < src.cols; ++j)
            out[j] += in[j];
      else if (s >= 0)
         std::memcpy(out, in, src.cols * sizeof(Real));
   }
}

template <typename Real>
void TCpu<Real>::Transpose(View_t A, ConstView_t B)
{
   checks::RequireTransposedShape("Transpose", A, B);
   for (size_t r = 0; r < B.rows; ++r)
      for (size_t c = 0; c < B.cols; ++c)
         A.row(c)[r] = B.row(r)[c];
}

template <typename Real>
void TCpu<Real>::Add(View_t A, ConstView_t B)
{
   checks::RequireSameShape("Add", A, B);
   for (size_t r = 0; r < A.rows; ++r) {
      Real *a = A.row(r);
      const Real *b = B.row(r);
      for (size_t j = 0; j < A.cols; ++j)
         a[j] += b[j];
   }
}

template <typename Real>
void TCpu<Real>::Hadamard(View_t A, ConstView_t B)
{
   checks::RequireContiguous("Hadamard", A, B);
   checks::RequireSameShape("Hadamard", A, B);
   for (size_t k = 0; k < A.size(); ++k)
      A.data[k] *= B.data[k];
}

template <typename Real>
void TCpu<Real>::AddRowVector(View_t A, ConstView_t b)
{
   for (size_t r = 0; r < A.rows; ++r) {
      Real *a = A.row(r);
      for (size_t j = 0; j < A.cols; ++j)
         a[j] += b.data[j];
   }
}

template <typename Real>
void TCpu<Real>::ActivationForward(EActivationFunction f, View_t A)
{
   checks::RequireContiguous("ActivationForward", A);
   DispatchActivation(f, [&](auto F) {
#pragma omp simd
      for (size_t k = 0; k < A.size(); ++k)
         A.data[k] = decltype(F)::f(A.data[k]);
   });
}

template <typename Real>
void TCpu<Real>::ActivationBackward(EActivationFunction f, View_t dA, ConstView_t Y)
{
   checks::RequireContiguous("ActivationBackward", dA, Y);
   DispatchActivation(f, [&](auto F) {
      for (size_t k = 0; k < dA.size(); ++k)
         dA.data[k] *= decltype(F)::dfFromY(Y.data[k]);
   });
}


template <typename Real>
Real TCpu<Real>::Loss(ELossFunction loss, ConstView_t output, ConstView_t Y, ConstView_t w)
{
   double total = 0, sumW = 0;
   for (size_t r = 0; r < output.rows; ++r) {
      total += w.data[r] * kernels::SampleLoss(loss, output.row(r), Y.row(r), output.cols);
      sumW += w.data[r];
   }
   return Real(total / sumW);
}

template <typename Real>
void TCpu<Real>::LossGradient(ELossFunction loss, View_t dOutput, ConstView_t output, ConstView_t Y, ConstView_t w)
{
   double sumW = 0;
   for (size_t r = 0; r < output.rows; ++r)
      sumW += w.data[r];
   for (size_t r = 0; r < output.rows; ++r)
      kernels::SampleLossGradient(loss, dOutput.row(r), output.row(r), Y.row(r), output.cols, Real(w.data[r] / sumW));
}

template <typename Real>
void TCpu<Real>::OutputFunction(ELossFunction loss, View_t A)
{
   if (loss == ELossFunction::kCrossEntropy)
      ActivationForward(EActivationFunction::kSigmoid, A);
   if (loss == ELossFunction::kSoftmaxCrossEntropy)
      for (size_t r = 0; r < A.rows; ++r)
         kernels::Softmax(A.row(r), A.cols);
}

template <typename Real>
void TCpu<Real>::SgdStep(View_t W, ConstView_t dW, View_t V, Real learningRate, Real momentum)
{
   checks::RequireContiguous("SgdStep", W, dW, V);
   for (size_t k = 0; k < W.size(); ++k)
      kernels::SgdUpdate(W.data[k], dW.data[k], V.data[k], learningRate, momentum);
}

template <typename Real>
void TCpu<Real>::AdamStep(View_t W, ConstView_t dW, View_t M, View_t V, Real learningRate, Real beta1, Real beta2,
                          Real epsilon, size_t t)
{
   checks::RequireContiguous("AdamStep", W, dW, M, V);
   const Real c1 = 1 - std::pow(beta1, Real(t)), c2 = 1 - std::pow(beta2, Real(t));
   for (size_t k = 0; k < W.size(); ++k)
      kernels::AdamUpdate(W.data[k], dW.data[k], M.data[k], V.data[k], learningRate, beta1, beta2, epsilon, c1, c2);
}

template <typename Real>
void TCpu<Real>::InitializeWeights(Matrix_t &A, EInitialization init, size_t fanIn, size_t fanOut,
                                   std::mt19937_64 &rng)
{
   Real *a = A.GetRawDataPointer();
   const size_t n = A.GetNoElements();
   auto fillNormal = [&](double sigma) {
      std::normal_distribution<double> dist(0.0, sigma);
      for (size_t k = 0; k < n; ++k)
         a[k] = Real(dist(rng));
   };
   auto fillUniform = [&](double limit) {
      std::uniform_real_distribution<double> dist(-limit, limit);
      for (size_t k = 0; k < n; ++k)
         a[k] = Real(dist(rng));
   };
   const double fan = double(fanIn + fanOut);
   switch (init) {
   case EInitialization::kZero: Zero(A.View()); break;
   case EInitialization::kGauss: fillNormal(std::sqrt(2.0 / double(fanIn))); break; // TMVA: σ = sqrt(2/n_in)
   case EInitialization::kUniform: fillUniform(std::sqrt(2.0 / double(fanIn))); break;
   case EInitialization::kGlorotNormal: fillNormal(std::sqrt(2.0 / fan)); break;
   case EInitialization::kGlorotUniform: fillUniform(std::sqrt(6.0 / fan)); break;
   }
}

namespace {

/// Set by SetNumThreads; 0 means the default (OPENBLAS_NUM_THREADS, else the number of cores).
std::atomic<int> gNumThreads{0};
/// True on a thread running a pool task: a GEMM or ParallelFor there stays on that thread.
thread_local bool tInPool = false;

/// The threads the library uses when SetNumThreads was not called. Reading it also turns BLAS's
/// own threads off for good (where the BLAS lets us): the worker pool below is the only
/// parallelism, so no BLAS thread spins beside it for the cores the slices need.
int DefaultThreads()
{
   static const int threads = [] {
      const int blasThreads = blas::GetNumThreads();
      blas::SetNumThreads(1);
      return blasThreads > 0 ? blasThreads : int(std::max(1u, std::thread::hardware_concurrency()));
   }();
   return threads;
}

/// Busy-waits up to about 50 µs for done() before the caller blocks: the time loop hands work to
/// the pool two or three times per training step, and a futex wake-up costs about as long as a
/// small config's whole slice.
template <typename Done>
bool SpinFor(Done done)
{
   const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
   while (true) {
      for (int k = 0; k < 64; ++k) {
         if (done())
            return true;
#if defined(__x86_64__) || defined(__i386__)
         __builtin_ia32_pause();
#endif
      }
      if (std::chrono::steady_clock::now() > until)
         return false;
   }
}

/// Persistent helper threads: task 0 runs on the caller, task k on worker k−1. Workers spin
/// briefly, then sleep on a condition variable between calls.
class TWorkerPool {
public:
   static TWorkerPool &Instance()
   {
      static TWorkerPool pool;
      return pool;
   }

   void Run(size_t nTasks, const std::function<void(size_t)> &task)
   {
      if (fPid != getpid())
         AfterFork();
      std::lock_guard<std::mutex> serial(fRunMutex); // one parallel section at a time
      while (fWorkers.size() + 1 < nTasks)
         fWorkers.emplace_back([this, k = fWorkers.size() + 1] { Work(k); });
      {
         std::lock_guard<std::mutex> lock(fMutex);
         fTask = &task, fTasks = nTasks, fError = nullptr;
         fPending.store(nTasks - 1);
         fGeneration.store(fGeneration.load() + 1);
      }
      fWake.notify_all();
      std::exception_ptr mine;
      tInPool = true;
      try {
         task(0);
      } catch (...) {
         mine = std::current_exception();
      }
      tInPool = false;
      SpinFor([this] { return fPending.load() == 0; });
      std::unique_lock<std::mutex> lock(fMutex);
      fDone.wait(lock, [this] { return fPending.load() == 0; });
      if (mine)
         std::rethrow_exception(mine);
      if (fError)
         std::rethrow_exception(fError);
   }

   ~TWorkerPool()
   {
      {
         std::lock_guard<std::mutex> lock(fMutex);
         fStop = true;
      }
      fWake.notify_all();
      for (auto &w : fWorkers)
         w.join();
   }

private:
   /// A forked child (multiprocessing, the model and data reads in a child process) inherits the
   /// pool's state but none of its threads, and maybe a mutex a worker held: it starts afresh.
   /// The old thread objects are leaked on purpose: destroying a joinable std::thread terminates.
   void AfterFork()
   {
      new std::vector<std::thread>(std::move(fWorkers));
      fWorkers.clear();
      new (&fRunMutex) std::mutex;
      new (&fMutex) std::mutex;
      new (&fWake) std::condition_variable;
      new (&fDone) std::condition_variable;
      fPending.store(0), fGeneration.store(0), fTasks = 0, fTask = nullptr, fError = nullptr;
      fPid = getpid();
   }

   void Work(size_t k)
   {
      tInPool = true;
      size_t seen = 0;
      bool busy = false; // only a worker that had a task spins for the next; idle ones sleep
      while (true) {
         if (busy)
            SpinFor([&] { return fGeneration.load() != seen; });
         std::unique_lock<std::mutex> lock(fMutex);
         fWake.wait(lock, [&] { return fStop || fGeneration.load() != seen; });
         if (fStop)
            return;
         seen = fGeneration.load();
         busy = k < fTasks;
         if (!busy)
            continue;
         const auto *task = fTask;
         lock.unlock();
         std::exception_ptr error;
         try {
            (*task)(k);
         } catch (...) {
            error = std::current_exception();
         }
         lock.lock();
         if (error)
            fError = error;
         if (fPending.fetch_sub(1) == 1)
            fDone.notify_one();
      }
   }

   std::mutex fRunMutex, fMutex; // fMutex guards everything below; the atomics are also spun on
   std::condition_variable fWake, fDone;
   std::vector<std::thread> fWorkers;
   const std::function<void(size_t)> *fTask = nullptr;
   size_t fTasks = 0;
   std::atomic<size_t> fPending{0}, fGeneration{0};
   std::exception_ptr fError;
   bool fStop = false;
   pid_t fPid = getpid(); ///< the process whose threads fWorkers are
};

/// Below this many flops a GEMM runs on the calling thread alone: waking the pool for a
/// per-step product of config S (256×40×41) costs more than it saves.
constexpr double kSmallGemmFlops = 1 << 21;

} // namespace

template <typename Real>
void TCpu<Real>::Gemm(View_t C, ConstView_t A, bool transA, ConstView_t B, bool transB, Real alpha, Real beta)
{
   const auto [m, n, k] = checks::GemmShape(C, A, transA, B, transB);
   if (m == 0 || n == 0)
      return;
   const size_t threads = size_t(GetNumThreads()); // first, so that BLAS's threads are off
   const bool large = 2.0 * double(m) * double(n) * double(k) >= kSmallGemmFlops;
   const bool parallel = large && !tInPool && blas::kHasThreadControl;
   if (large && k >= 8 * std::max(m, n)) // by the shape alone: the same sums at any thread count
      return GemmSplitInner(C, A, transA, B, transB, alpha, beta, k, parallel && threads > 1);
   // A large product splits C over the pool, along its longer side: rows of C are rows of op(A),
   // columns of C are columns of op(B). Each part is one single-threaded BLAS call.
   const bool byRows = m >= n;
   const size_t N = byRows ? m : n;
   const size_t parts = parallel ? std::min(threads, N / 8) : 1;
   if (parts <= 1) {
      blas::Gemm(transA, transB, m, n, k, alpha, A.data, A.ld, B.data, B.ld, beta, C.data, C.ld);
      return;
   }
   TWorkerPool::Instance().Run(parts, [&](size_t p) {
      const size_t first = N * p / parts, count = N * (p + 1) / parts - first;
      if (byRows)
         blas::Gemm(transA, transB, count, n, k, alpha, A.data + first * (transA ? 1 : A.ld), A.ld, B.data, B.ld, beta,
                    C.data + first * C.ld, C.ld);
      else
         blas::Gemm(transA, transB, m, count, k, alpha, A.data, A.ld, B.data + first * (transB ? B.ld : 1), B.ld, beta,
                    C.data + first, C.ld);
   });
}

/// C from an inner dimension long against its sides (the weight gradient, k = T·B rows): split
/// C's sides and each part's kernel runs short and wide; split k in two halves instead, summed
/// into C and into a scratch block that is then added. Always two, on one thread or two, so that
/// the order of the sums, and the last bits, do not depend on the thread count. (On more cores
/// the halves would split C further; not done.)
template <typename Real>
void TCpu<Real>::GemmSplitInner(View_t C, ConstView_t A, bool transA, ConstView_t B, bool transB, Real alpha,
                                Real beta, size_t k, bool parallel)
{
   const size_t m = C.rows, n = C.cols, half = k / 2;
   static thread_local std::vector<Real> scratch; // the caller's; grows to its largest C once
   if (scratch.size() < m * n)
      scratch.resize(m * n);
   Real *const partial = scratch.data(); // a worker sees its own thread_local, not this one
   const auto part = [&](size_t p) {
      const size_t first = p * half, count = p == 0 ? half : k - half;
      blas::Gemm(transA, transB, m, n, count, alpha, A.data + first * (transA ? A.ld : 1), A.ld,
                 B.data + first * (transB ? 1 : B.ld), B.ld, p == 0 ? beta : Real(0), p == 0 ? C.data : partial,
                 p == 0 ? C.ld : n);
   };
   if (parallel) {
      TWorkerPool::Instance().Run(2, part);
   } else {
      part(0);
      part(1);
   }
   Add(C, ConstView_t{partial, m, n, n});
}

template <typename Real>
void TCpu<Real>::SetNumThreads(int n)
{
   if (n < 0)
      throw std::invalid_argument("number of threads must be >= 0, got " + std::to_string(n));
   DefaultThreads(); // BLAS's own threads off before anything runs
   gNumThreads = n;
}

template <typename Real>
int TCpu<Real>::GetNumThreads()
{
   const int threads = DefaultThreads();
   const int n = gNumThreads.load();
   return n > 0 ? n : threads;
}

template <typename Real>
void TCpu<Real>::ParallelFor(size_t N, const std::function<void(size_t, size_t)> &fn, const Real *work)
{
   constexpr size_t kMinPerSlice = 16; // below this a slice's GEMMs are too thin to pay off
   const size_t slices = std::min<size_t>(size_t(GetNumThreads()), N / kMinPerSlice);
   // Without thread control the BLAS may be threaded itself: slicing on top would oversubscribe.
   if (slices <= 1 || tInPool || !blas::kHasThreadControl) {
      fn(0, N);
      return;
   }
   double total = 0;
   for (size_t i = 0; work && i < N; ++i)
      total += double(work[i]);
   // Slice k starts at an equal share of the count, or where the running work reaches k/slices of it.
   auto start = [&](size_t k) {
      if (k == 0 || k == slices || total <= 0)
         return N * k / slices;
      double sum = 0;
      for (size_t i = 0; i < N; ++i)
         if ((sum += double(work[i])) >= total * double(k) / double(slices))
            return i + 1;
      return N;
   };
   TWorkerPool::Instance().Run(slices, [&](size_t k) {
      const size_t first = start(k), last = start(k + 1);
      if (last > first)
         fn(first, last - first);
   });
}

template class TCpuMatrix<float>;
template class TCpuMatrix<double>;
template class TCpu<float>;
template class TCpu<double>;

} // namespace tmva_lstm
