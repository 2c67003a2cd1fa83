// ROOT-free check of TBasicLSTMLayer<TCpu<double>>: every gradient Backward produces against
// central finite differences of the loss L = Σ output ⊙ R + Σ h_T ⊙ R_h + Σ c_T ⊙ R_c.
// It runs where ROOT and Python are absent (the GPU machine); the NumPy oracle tests in
// tests/ are the main reference.
#include "BasicLSTMLayer.h"
#include "Cpu.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

using namespace tmva_lstm;
using Arch = TCpu<double>;
using Layer = TBasicLSTMLayer<Arch>;
using Matrix = Arch::Matrix_t;

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

struct Case {
   size_t B, H, D, T;
   bool remember, sequence;
   EActivationFunction f1, f2;
};

void Check(const Case &c)
{
   std::mt19937_64 rng(c.B * 1000 + c.H * 100 + c.D * 10 + c.T);
   Layer layer(c.B, c.H, c.D, c.T, c.remember, c.sequence, c.f1, c.f2, EInitialization::kGlorotUniform, 7);
   Fill(layer.GetBiases(), rng, 0.5);
   Matrix x(c.B, layer.GetInputCols()), y(c.B, layer.GetOutputCols()), R(c.B, layer.GetOutputCols());
   Matrix Rh(c.B, c.H), Rc(c.B, c.H), dx(c.B, layer.GetInputCols());
   Fill(x, rng), Fill(R, rng), Fill(Rh, rng), Fill(Rc, rng);
   Fill(layer.GetInitialState(), rng, 0.5), Fill(layer.GetInitialCell(), rng, 0.5);
   if (c.remember) { // a first batch whose final state becomes this batch's initial state
      Matrix x0(c.B, layer.GetInputCols());
      Fill(x0, rng);
      layer.Forward(x0, y);
   }
   Matrix h0 = layer.GetInitialState(), c0 = layer.GetInitialCell();

   auto loss = [&]() {
      layer.GetInitialState() = h0, layer.GetInitialCell() = c0;
      layer.Forward(x, y);
      const size_t n = c.B * c.H;
      return Dot(y.GetRawDataPointer(), R.GetRawDataPointer(), y.GetNoElements()) +
             Dot(Owned(layer.GetState()).GetRawDataPointer(), Rh.GetRawDataPointer(), n) +
             Dot(Owned(layer.GetCell()).GetRawDataPointer(), Rc.GetRawDataPointer(), n);
   };
   loss();
   layer.Backward(R, dx, &Rh, &Rc);
   const Matrix dW = layer.GetWeightInputGradients(), dU = layer.GetWeightStateGradients(),
                db = layer.GetBiasGradients(), dh0 = Owned(layer.GetInitialStateGradient()),
                dc0 = Owned(layer.GetInitialCellGradient());

   auto compare = [&](const char *name, double *param, const Matrix &grad) {
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
      std::printf("%s B=%zu H=%zu D=%zu T=%zu remember=%d sequence=%d %s/%s %-4s max rel err %.2e\n",
                  ok ? "ok  " : "FAIL", c.B, c.H, c.D, c.T, c.remember, c.sequence, ActivationName(c.f1),
                  ActivationName(c.f2), name, rel);
   };
   compare("dW", layer.GetWeightsInput().GetRawDataPointer(), dW);
   compare("dU", layer.GetWeightsState().GetRawDataPointer(), dU);
   compare("db", layer.GetBiases().GetRawDataPointer(), db);
   compare("dx", x.GetRawDataPointer(), dx);
   compare("dh0", h0.GetRawDataPointer(), dh0);
   compare("dc0", c0.GetRawDataPointer(), dc0);
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
   const Case cases[] = {
      {1, 1, 1, 1, false, false, A::kSigmoid, A::kTanh},
      {3, 4, 5, 6, false, true, A::kSigmoid, A::kTanh},
      {3, 4, 5, 6, false, false, A::kSigmoid, A::kTanh},
      {2, 3, 2, 4, true, true, A::kSigmoid, A::kTanh},
      {2, 3, 2, 4, true, false, A::kSigmoid, A::kTanh},
      {2, 3, 4, 3, false, true, A::kTanh, A::kSigmoid},
      {2, 3, 4, 3, false, true, A::kSigmoid, A::kIdentity},
   };
   for (const Case &c : cases)
      Check(c);
   CheckExp<float>(3e-7);
   CheckExp<double>(5e-16);

   Layer layer(2, 3, 4, 5);
   Matrix good(2, 20), bad(2, 19), y(2, 3), dx(2, 20);
   ExpectThrow("zero batch size", [] { Layer(0, 3, 4, 5); });
   ExpectThrow("input of wrong shape", [&] { layer.Forward(bad, y); });
   ExpectThrow("Backward before Forward", [&] { layer.Backward(y, dx); });
   ExpectThrow("NaN copied in", [&] {
      std::vector<double> v(40, 0.0);
      v[7] = std::nan("");
      Arch::CopyFromHost(good.View(), v.data(), v.size(), "input x");
   });
   std::printf("%d checks failed\n", gFailures);
   return gFailures ? 1 : 0;
}
