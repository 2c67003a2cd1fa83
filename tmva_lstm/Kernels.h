// The element-wise mathematics of the architectures, written once: TCpu runs these in loops
// (Cpu.cxx), TCuda one element or row per GPU thread (Cuda.cu). Equations and names are those of
// docs/lstm-math.md and python/tmva_lstm/oracle.py.
#pragma once

#include "Functions.h"

#include <cmath>
#include <cstddef>

namespace tmva_lstm {
namespace kernels {

/// LSTM forward, unit j of one row (pointers to the row's z, c_{t-1}, c_t, h_t). On entry
/// z = [z_i | z_f | z_g | z_o] (4H) holds x_t Wᵀ + h_{t-1} Uᵀ + b; on exit the gate values i, f,
/// g, o (what the backward step needs).
template <typename FGate, typename FCand, typename Real>
TMVA_LSTM_HOST_DEVICE inline void CellForward(Real *z, const Real *cPrev, Real *c, Real *h, size_t H, size_t j)
{
   const Real i = FGate::f(z[j]);
   const Real f = FGate::f(z[H + j]);
   const Real g = FCand::f(z[2 * H + j]);
   const Real o = FGate::f(z[3 * H + j]);
   z[j] = i, z[H + j] = f, z[2 * H + j] = g, z[3 * H + j] = o;
   c[j] = f * cPrev[j] + i * g; // c_t = f ⊙ c_{t-1} + i ⊙ g
   h[j] = o * FCand::f(c[j]);   // h_t = o ⊙ tanh(c_t)
}

/// BPTT, unit j of one row at step t. On entry z holds i, f, g, o, on exit the deltas
/// dz = [dz_i | dz_f | dz_g | dz_o]. dh = ∂L/∂h_t (from above and from step t+1); dcNext is
/// read as the carry from step t+1 and left as the carry to step t−1, dc ⊙ f.
template <typename FGate, typename FCand, typename Real>
TMVA_LSTM_HOST_DEVICE inline void CellBackward(Real *z, const Real *cPrev, const Real *c, Real dh, Real *dcNext, size_t H,
                                   size_t j)
{
   const Real i = z[j], f = z[H + j], g = z[2 * H + j], o = z[3 * H + j];
   const Real tau = FCand::f(c[j]);
   const Real dz_o = dh * tau * FGate::dfFromY(o);
   const Real dc = dh * o * FCand::dfFromY(tau) + dcNext[j];
   const Real dz_i = dc * g * FGate::dfFromY(i);
   const Real dz_g = dc * i * FCand::dfFromY(g);
   const Real dz_f = dc * cPrev[j] * FGate::dfFromY(f);
   dcNext[j] = dc * f;
   z[j] = dz_i, z[H + j] = dz_f, z[2 * H + j] = dz_g, z[3 * H + j] = dz_o;
}

/// log Σ_k exp(o_k), stable.
template <typename Real>
TMVA_LSTM_HOST_DEVICE inline Real LogSumExp(const Real *o, size_t K)
{
   using std::exp, std::log;
   Real m = o[0];
   for (size_t k = 1; k < K; ++k)
      m = o[k] > m ? o[k] : m;
   Real s = 0;
   for (size_t k = 0; k < K; ++k)
      s += exp(o[k] - m);
   return m + log(s);
}

/// log(1 + e^z), stable.
template <typename Real>
TMVA_LSTM_HOST_DEVICE inline Real Softplus(Real z)
{
   using std::exp, std::fabs, std::log1p;
   return (z > Real(0) ? z : Real(0)) + log1p(exp(-fabs(z)));
}

/// The loss of one sample, output o and truth y of K values (ELossFunction has the formulas).
template <typename Real>
TMVA_LSTM_HOST_DEVICE inline double SampleLoss(ELossFunction loss, const Real *o, const Real *y, size_t K)
{
   double l = 0;
   switch (loss) {
   case ELossFunction::kMeanSquaredError:
      for (size_t k = 0; k < K; ++k)
         l += double(o[k] - y[k]) * double(o[k] - y[k]) / K;
      break;
   case ELossFunction::kCrossEntropy:
      for (size_t k = 0; k < K; ++k)
         l += (Softplus(o[k]) - y[k] * o[k]) / K;
      break;
   case ELossFunction::kSoftmaxCrossEntropy: {
      const Real lse = LogSumExp(o, K);
      for (size_t k = 0; k < K; ++k)
         l -= y[k] * (o[k] - lse);
   } break;
   }
   return l;
}

/// d = scale · ∂ℓ/∂o for one sample (scale = w_b / Σ w).
template <typename Real>
TMVA_LSTM_HOST_DEVICE inline void SampleLossGradient(ELossFunction loss, Real *d, const Real *o, const Real *y,
                                                     size_t K, Real scale)
{
   using std::exp;
   switch (loss) {
   case ELossFunction::kMeanSquaredError:
      for (size_t k = 0; k < K; ++k)
         d[k] = scale * 2 * (o[k] - y[k]) / K;
      break;
   case ELossFunction::kCrossEntropy:
      for (size_t k = 0; k < K; ++k)
         d[k] = scale * (Sigmoid::f(o[k]) - y[k]) / K;
      break;
   case ELossFunction::kSoftmaxCrossEntropy: {
      const Real lse = LogSumExp(o, K);
      Real sumY = 0;
      for (size_t k = 0; k < K; ++k)
         sumY += y[k];
      for (size_t k = 0; k < K; ++k)
         d[k] = scale * (exp(o[k] - lse) * sumY - y[k]);
   } break;
   }
}

/// softmax(a) in place over K values.
template <typename Real>
TMVA_LSTM_HOST_DEVICE inline void Softmax(Real *a, size_t K)
{
   using std::exp;
   const Real lse = LogSumExp(a, K);
   for (size_t k = 0; k < K; ++k)
      a[k] = exp(a[k] - lse);
}

/// SGD with momentum, one parameter: V = μ V + dW; W −= η V.
template <typename Real>
TMVA_LSTM_HOST_DEVICE inline void SgdUpdate(Real &W, Real dW, Real &V, Real learningRate, Real momentum)
{
   V = momentum * V + dW;
   W -= learningRate * V;
}

/// Adam, one parameter; c1 = 1 − β1^t, c2 = 1 − β2^t.
template <typename Real>
TMVA_LSTM_HOST_DEVICE inline void AdamUpdate(Real &W, Real g, Real &M, Real &V, Real learningRate, Real beta1,
                                             Real beta2, Real epsilon, Real c1, Real c2)
{
   using std::sqrt;
   M = beta1 * M + (1 - beta1) * g;
   V = beta2 * V + (1 - beta2) * g * g;
   W -= learningRate * (M / c1) / (sqrt(V / c2) + epsilon);
}

} // namespace kernels
} // namespace tmva_lstm
