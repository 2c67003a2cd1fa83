// ROOT-free check of the recurrent layers on TCpu<double> — LSTM, GRU (both reset-gate forms)
// and RNN, with and without lengths, in either direction and bidirectional: every gradient
// Backward produces against central finite differences of the loss
// L = Σ output ⊙ R + Σ h_T ⊙ R_h (+ Σ c_T ⊙ R_c for the LSTM).
// It runs where ROOT and Python are absent (the GPU machine); the NumPy oracle tests in
// tests/ are the main reference.
#include "BasicGRULayer.h"
#include "BasicLSTMLayer.h"
#include "BasicRNNLayer.h"
#include "Cpu.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace tmva_lstm;
using Arch = TCpu<double>;
using Matrix = Arch::Matrix_t;
using Layer = VRecurrentLayer<Arch>;

namespace {

int gFailures = 0;

void Fill(Matrix &A, std::mt19937_64 &rng, double scale = 1.0)
{
   std::uniform_real_distribution<double> u(-scale, scale);
   for (size_t k = 0; k < A.GetNoElements(); ++k)
      A.GetRawDataPointer()[k] = u(rng);
}

/// A copy of a (possibly strided) view as its own matrix.
Matrix Owned(Arch::ConstView_t v)
{
   Matrix m(v.rows, v.cols);
   Arch::Copy(m.View(), v);
   return m;
}

double Dot(const double *a, const double *b, size_t n)
{
   double s = 0;
   for (size_t k = 0; k < n; ++k)
      s += a[k] * b[k];
   return s;
}

enum class ECell { kLSTM, kGRU, kGRUAfter, kRNN };
const char *CellName(ECell c)
{
   return c == ECell::kLSTM ? "LSTM" : c == ECell::kGRU ? "GRU" : c == ECell::kGRUAfter ? "GRU(after)" : "RNN";
}

struct Case {
   ECell cell;
   size_t B, H, D, T;
   bool remember, sequence;
   EActivationFunction f1, f2;
   bool lengths = false, reverse = false, bidirectional = false;
};

std::unique_ptr<Layer> Make(const Case &c, TDirection dir)
{
   switch (c.cell) {
   case ECell::kLSTM:
      return std::make_unique<TBasicLSTMLayer<Arch>>(c.B, c.H, c.D, c.T, c.remember, c.sequence, c.f1, c.f2,
                                                     EInitialization::kGlorotUniform, 7, dir);
   case ECell::kRNN:
      return std::make_unique<TBasicRNNLayer<Arch>>(c.B, c.H, c.D, c.T, c.remember, c.sequence, c.f2,
                                                    EInitialization::kGlorotUniform, 7, dir);
   default:
      return std::make_unique<TBasicGRULayer<Arch>>(c.B, c.H, c.D, c.T, c.remember, c.sequence,
                                                    c.cell == ECell::kGRUAfter, c.f1, c.f2,
                                                    EInitialization::kGlorotUniform, 7, dir);
   }
}

void Check(const Case &c)
{
   std::mt19937_64 rng(c.B * 1000 + c.H * 100 + c.D * 10 + c.T);
   std::unique_ptr<VGeneralLayer<Arch>> owner;
   std::vector<Layer *> directions;
   if (c.bidirectional) {
      TDirection f, r;
      f.outputStride = r.outputStride = 2 * c.H;
      r.reverse = true, r.outputOffset = c.H, r.addInputGradient = true, r.suffix = "_reverse";
      auto bi = std::make_unique<TBidirectionalLayer<Arch>>(Make(c, f), Make(c, r));
      directions = {&bi->GetForwardLayer(), &bi->GetReverseLayer()};
      owner = std::move(bi);
   } else {
      TDirection d;
      d.reverse = c.reverse;
      auto one = Make(c, d);
      directions = {one.get()};
      owner = std::move(one);
   }
   VGeneralLayer<Arch> &layer = *owner;
   Layer &first = *directions[0];
   const bool lstm = c.cell == ECell::kLSTM, exposeState = !c.bidirectional;
   for (Layer *d : directions)
      Fill(d->GetBiases(), rng, 0.5);
   Matrix x(c.B, layer.GetInputCols()), y(c.B, layer.GetOutputCols()), R(c.B, layer.GetOutputCols());
   Matrix Rh(c.B, c.H), Rc(c.B, c.H), dx(c.B, layer.GetInputCols()), len(c.B, 1);
   Fill(x, rng), Fill(R, rng), Fill(Rh, rng), Fill(Rc, rng);
   for (size_t r = 0; r < c.B; ++r) // 0 … T, the extremes included
      len.GetRawDataPointer()[r] = double((r * 7 + 3) % (c.T + 1));
   Matrix *lengths = c.lengths ? &len : nullptr;
   Fill(first.GetInitialState(), rng, 0.5);
   if (lstm)
      Fill(static_cast<TBasicLSTMLayer<Arch> &>(first).GetInitialCell(), rng, 0.5);
   layer.SetLengths(lengths);
   if (c.remember) { // a first batch whose final state becomes this batch's initial state
      Matrix x0(c.B, layer.GetInputCols());
      Fill(x0, rng);
      layer.Forward(x0, y);
   }
   Matrix h0 = first.GetInitialState();
   Matrix c0 = lstm ? static_cast<TBasicLSTMLayer<Arch> &>(first).GetInitialCell() : Matrix();

   auto loss = [&]() {
      first.GetInitialState() = h0;
      if (lstm)
         static_cast<TBasicLSTMLayer<Arch> &>(first).GetInitialCell() = c0;
      layer.SetLengths(lengths);
      layer.Forward(x, y);
      double L = Dot(y.GetRawDataPointer(), R.GetRawDataPointer(), y.GetNoElements());
      if (exposeState)
         L += Dot(Owned(first.GetState()).GetRawDataPointer(), Rh.GetRawDataPointer(), c.B * c.H);
      if (exposeState && lstm)
         L += Dot(Owned(static_cast<TBasicLSTMLayer<Arch> &>(first).GetCell()).GetRawDataPointer(),
                  Rc.GetRawDataPointer(), c.B * c.H);
      return L;
   };
   loss();
   if (exposeState)
      first.Backward(R, dx, &Rh, lstm ? &Rc : nullptr);
   else
      layer.Backward(R, dx);
   const Matrix dh0 = Owned(first.GetInitialStateGradient());
   const Matrix dc0 = lstm ? Owned(static_cast<TBasicLSTMLayer<Arch> &>(first).GetInitialCellGradient()) : Matrix();

   const std::string name = std::string(CellName(c.cell)) + " B=" + std::to_string(c.B) + " H=" + std::to_string(c.H) +
                            " D=" + std::to_string(c.D) + " T=" + std::to_string(c.T) +
                            (c.remember ? " remember" : "") + (c.sequence ? " sequence" : "") +
                            (c.lengths ? " lengths" : "") + (c.reverse ? " reverse" : "") +
                            (c.bidirectional ? " bidirectional" : "") + " " + ActivationName(c.f1) + "/" +
                            ActivationName(c.f2);
   auto compare = [&](const std::string &what, double *param, const Matrix &grad) {
      double maxErr = 0, maxRef = 0;
      for (size_t k = 0; k < grad.GetNoElements(); ++k) {
         const double keep = param[k], eps = 1e-6;
         param[k] = keep + eps;
         const double lp = loss();
         param[k] = keep - eps;
         const double lm = loss();
         param[k] = keep;
         const double fd = (lp - lm) / (2 * eps);
         maxErr = std::fmax(maxErr, std::fabs(fd - grad.GetRawDataPointer()[k]));
         maxRef = std::fmax(maxRef, std::fabs(fd));
      }
      const double rel = maxErr / std::fmax(maxRef, 1e-12);
      const bool ok = rel < 1e-6;
      gFailures += !ok;
      std::printf("%s %s %-10s max rel err %.2e\n", ok ? "ok  " : "FAIL", name.c_str(), what.c_str(), rel);
   };
   for (Layer *d : directions)
      for (auto &p : d->GetParameters())
         compare(std::string("d") + p.name, p.value->GetRawDataPointer(), Owned(p.gradient->View()));
   compare("dx", x.GetRawDataPointer(), dx);
   if (!c.remember) { // with rememberState, h_0 is the carried state the loss re-sets each time
      compare("dh0", h0.GetRawDataPointer(), dh0);
      if (lstm)
         compare("dc0", c0.GetRawDataPointer(), dc0);
   }
}

/// Exp (vectorisable) against std::exp, in ulp-sized relative error, over the whole range used.
template <typename Real>
void CheckExp(double limit)
{
   double worst = 0;
   for (double x = -80; x <= 80; x += 1e-3) {
      const Real want = std::exp(Real(x)), got = Exp(Real(x));
      worst = std::fmax(worst, std::fabs(double(got) - double(want)) / double(want));
   }
   const bool ok = worst < limit;
   gFailures += !ok;
   std::printf("%s Exp<%s> max rel err %.2e over [-80, 80]\n", ok ? "ok  " : "FAIL", sizeof(Real) == 4 ? "float" : "double",
               worst);
}

/// TCpu::Gemm against a plain triple loop, for every transpose pair, on shapes that take each of
/// its paths on two threads: one BLAS call, C split by rows or by columns over the pool, and the
/// inner dimension split in two halves, added (a long k against C's sides: the weight gradient).
/// The inner split gives the same bits on one thread as on two. Splitting C need not: OpenBLAS's
/// sums for a part of C can differ from those of the whole (seen for 40×300×200 by rows or by
/// columns, not for 300×40×200), so it is reported, not asserted.
void CheckGemm()
{
   struct Shape {
      size_t m, n, k;
      const char *path;
      bool sameBitsOnOneThread;
   };
   std::mt19937_64 rng(3);
   for (const Shape &s : {Shape{5, 7, 3, "one call", true}, Shape{300, 40, 200, "rows", false},
                          Shape{40, 300, 200, "columns", false}, Shape{40, 41, 2561, "inner", true}}) {
      for (int trans = 0; trans < 4; ++trans) {
         const bool tA = trans & 1, tB = trans & 2;
         Matrix A(tA ? s.k : s.m, tA ? s.m : s.k), B(tB ? s.n : s.k, tB ? s.k : s.n), C(s.m, s.n);
         Fill(A, rng), Fill(B, rng), Fill(C, rng);
         Matrix C1 = Owned(C.View());
         const Matrix C0 = Owned(C.View());
         const double alpha = 0.5, beta = -2;
         Arch::SetNumThreads(2);
         Arch::Gemm(C.View(), A.View(), tA, B.View(), tB, alpha, beta);
         Arch::SetNumThreads(1);
         Arch::Gemm(C1.View(), A.View(), tA, B.View(), tB, alpha, beta);
         Arch::SetNumThreads(0);
         double worst = 0;
         bool sameBits = true;
         for (size_t i = 0; i < s.m; ++i)
            for (size_t j = 0; j < s.n; ++j) {
               double sum = 0;
               for (size_t l = 0; l < s.k; ++l)
                  sum += (tA ? A.View().row(l)[i] : A.View().row(i)[l]) * (tB ? B.View().row(j)[l] : B.View().row(l)[j]);
               const double want = alpha * sum + beta * C0.View().row(i)[j];
               worst = std::fmax(worst, std::fabs(C.View().row(i)[j] - want));
               sameBits = sameBits && C.View().row(i)[j] == C1.View().row(i)[j];
            }
         const bool ok = worst < 1e-11 && (sameBits || !s.sameBitsOnOneThread);
         gFailures += !ok;
         std::printf("%s Gemm %zux%zux%zu (%s), trans %d%d: max abs err %.1e, 1 and 2 threads %s\n", ok ? "ok  " : "FAIL",
                     s.m, s.n, s.k, s.path, int(tA), int(tB), worst, sameBits ? "bit-identical" : "differ");
      }
   }
}

void ExpectThrow(const char *what, const std::function<void()> &fn)
{
   try {
      fn();
   } catch (const std::exception &e) {
      std::printf("ok   %s throws: %s\n", what, e.what());
      return;
   }
   ++gFailures;
   std::printf("FAIL %s did not throw\n", what);
}

} // namespace

int main()
{
   using A = EActivationFunction;
   const A sig = A::kSigmoid, tanh = A::kTanh;
   std::vector<Case> cases;
   for (ECell cell : {ECell::kLSTM, ECell::kGRU, ECell::kGRUAfter, ECell::kRNN}) {
      cases.push_back({cell, 1, 1, 1, 1, false, false, sig, tanh});
      cases.push_back({cell, 3, 4, 5, 6, false, true, sig, tanh});
      cases.push_back({cell, 3, 4, 5, 6, false, false, sig, tanh});
      cases.push_back({cell, 2, 3, 2, 4, true, true, sig, tanh});
      cases.push_back({cell, 2, 3, 2, 4, true, false, sig, tanh});
      cases.push_back({cell, 2, 3, 4, 3, false, true, tanh, sig});
      cases.push_back({cell, 5, 3, 2, 4, false, true, sig, tanh, true});        // lengths 3, 0, 2, 4, 1
      cases.push_back({cell, 5, 3, 2, 4, true, false, sig, tanh, true});
      cases.push_back({cell, 5, 3, 2, 4, false, true, sig, tanh, true, true});  // reverse
      cases.push_back({cell, 3, 3, 2, 4, false, false, sig, tanh, false, true});
      cases.push_back({cell, 5, 3, 2, 4, false, true, sig, tanh, true, false, true}); // bidirectional
      cases.push_back({cell, 4, 2, 3, 3, false, false, sig, tanh, true, false, true});
   }
   cases.push_back({ECell::kLSTM, 2, 3, 4, 3, false, true, sig, A::kIdentity});
   for (const Case &c : cases)
      Check(c);
   CheckExp<float>(3e-7);
   CheckExp<double>(5e-16);
   CheckGemm();

   TBasicLSTMLayer<Arch> layer(2, 3, 4, 5);
   Matrix good(2, 20), bad(2, 19), y(2, 3), dx(2, 20), badLengths(2, 1);
   ExpectThrow("zero batch size", [] { TBasicGRULayer<Arch>(0, 3, 4, 5); });
   ExpectThrow("input of wrong shape", [&] { layer.Forward(bad, y); });
   ExpectThrow("Backward before Forward", [&] { layer.Backward(y, dx); });
   badLengths.GetRawDataPointer()[1] = 6;
   ExpectThrow("a length > T", [&] { layer.Forward(good, y, &badLengths); });
   badLengths.GetRawDataPointer()[1] = 1.5;
   ExpectThrow("a length that is not whole", [&] { layer.Forward(good, y, &badLengths); });
   ExpectThrow("lengths of the wrong count", [&] { layer.Forward(good, y, &y); });
   ExpectThrow("dL/dc_T for a GRU", [&] {
      TBasicGRULayer<Arch> gru(2, 3, 4, 5);
      gru.Forward(good, y);
      gru.Backward(y, dx, nullptr, &y);
   });
   ExpectThrow("NaN copied in", [&] {
      std::vector<double> v(40, 0.0);
      v[7] = std::nan("");
      Arch::CopyFromHost(good.View(), v.data(), v.size(), "input x");
   });
   std::printf("%d checks failed\n", gFailures);
   return gFailures ? 1 : 0;
}
