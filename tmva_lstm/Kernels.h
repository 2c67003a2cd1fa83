// The element-wise mathematics of the architectures, written once: TCpu runs these in loops
// (Cpu.cxx), TCuda one element or row per GPU thread (Cuda.cu). Equations and names are those of
// docs/lstm-math.md and python/tmva_lstm/oracle.py.
#pragma once

#include "Functions.h"

#include <cmath>
#include <cstddef>
#include <type_traits>

namespace tmva_lstm {

// ---- Recurrent cells --------------------------------------------------------------------------
// A cell is the element-wise part of one time step. The shared time loop (RecurrentLayer.h) does
// the GEMMs; on entry to Forward, the row's z holds the cell's G blocks of H pre-activations
// ([x_t | h_{t-1} | 1] [W | U | b]ᵀ), on exit the values Backward needs; Backward turns them into
// the deltas dz in place. Each function handles unit j of one row: TCpu loops over rows and
// units, TCuda runs one thread per (row, unit). Equations: docs/lstm-math.md; the same code in
// NumPy: python/tmva_lstm/oracle.py.

/// Pointers to one batch row's data at step t.
template <typename Real>
struct TCellRow {
   Real *z;             ///< G·H pre-activations → gate values (forward) → deltas dz (backward)
   const Real *hPrev;   ///< h_{t-1}
   Real *h;             ///< h_t (forward output)
   const Real *cPrev;   ///< LSTM: c_{t-1}
   Real *c;             ///< LSTM: c_t; GRU with the reset gate before: r ⊙ h_{t-1}
   Real *tau;           ///< LSTM: τ = tanh(c_t), kept by the forward for the backward
   const Real *dY;      ///< ∂L/∂h_t from the layer above, or nullptr
   const Real *dhNext;  ///< ∂L/∂h_t through step t+1's GEMM (GruGates: ∂L/∂(r ⊙ h_{t-1}))
   Real *dhCarry;       ///< ∂L/∂h_t by paths outside the GEMM (GRU: u ⊙ dh; masked steps); updated
   Real *dcCarry;       ///< LSTM: ∂L/∂c_t from step t+1, left as ∂L/∂c_{t-1}

   /// dh = ∂L/∂h_t, everything that reaches h_t.
   TMVA_LSTM_HOST_DEVICE Real Dh(size_t j) const { return (dY ? dY[j] : Real(0)) + dhNext[j] + dhCarry[j]; }
};

/// LSTM, blocks i, f, g, o.
struct LstmCell {
   static constexpr size_t kBlocks = 4;
   template <typename FGate, typename FCand, typename Real>
   TMVA_LSTM_HOST_DEVICE static void Forward(const TCellRow<Real> &r, size_t H, size_t j)
   {
      Real *z = r.z;
      z[j] = FGate::f(z[j]), z[H + j] = FGate::f(z[H + j]), z[2 * H + j] = FCand::f(z[2 * H + j]);
      z[3 * H + j] = FGate::f(z[3 * H + j]);
      CellState(r, H, j);
      r.tau[j] = FCand::f(r.c[j]);
      Output(r, H, j);
   }
   /// c_t = f ⊙ c_{t-1} + i ⊙ g for unit j.
   template <typename Real>
   TMVA_LSTM_HOST_DEVICE static void CellState(const TCellRow<Real> &r, size_t H, size_t j)
   {
      const Real *z = r.z;
      r.c[j] = z[H + j] * r.cPrev[j] + z[j] * z[2 * H + j];
   }
   /// h_t = o ⊙ τ for unit j, τ = tanh(c_t) already in r.tau.
   template <typename Real>
   TMVA_LSTM_HOST_DEVICE static void Output(const TCellRow<Real> &r, size_t H, size_t j)
   {
      r.h[j] = r.z[3 * H + j] * r.tau[j];
   }
   template <typename FGate, typename FCand, typename Real>
   TMVA_LSTM_HOST_DEVICE static void Backward(const TCellRow<Real> &r, size_t H, size_t j)
   {
      Real *z = r.z;
      const Real i = z[j], f = z[H + j], g = z[2 * H + j], o = z[3 * H + j];
      const Real dh = r.Dh(j);
      const Real tau = r.tau[j];
      const Real dz_o = dh * tau * FGate::dfFromY(o);
      const Real dc = dh * o * FCand::dfFromY(tau) + r.dcCarry[j];
      const Real dz_i = dc * g * FGate::dfFromY(i);
      const Real dz_g = dc * i * FCand::dfFromY(g);
      const Real dz_f = dc * r.cPrev[j] * FGate::dfFromY(f);
      r.dcCarry[j] = dc * f;
      r.dhCarry[j] = 0;
      z[j] = dz_i, z[H + j] = dz_f, z[2 * H + j] = dz_g, z[3 * H + j] = dz_o;
   }
};

/// Simple RNN (TMVA's TBasicRNNLayer): h_t = f(z), f the candidate activation (tanh).
struct RnnCell {
   static constexpr size_t kBlocks = 1;
   template <typename FGate, typename FCand, typename Real>
   TMVA_LSTM_HOST_DEVICE static void Forward(const TCellRow<Real> &r, size_t, size_t j)
   {
      r.h[j] = r.z[j] = FCand::f(r.z[j]);
   }
   template <typename FGate, typename FCand, typename Real>
   TMVA_LSTM_HOST_DEVICE static void Backward(const TCellRow<Real> &r, size_t, size_t j)
   {
      r.z[j] = r.Dh(j) * FCand::dfFromY(r.z[j]);
      r.dhCarry[j] = 0;
   }
};

/// GRU with the reset gate after the state product (TMVA's resetGateAfter, cuDNN's and
/// PyTorch's form), blocks r, u, n_x, n_h with n_x = x W_nᵀ + b_n, n_h = h_{t-1} U_nᵀ:
///   n = tanh(n_x + r ⊙ n_h),   h_t = u ⊙ h_{t-1} + (1 − u) ⊙ n.
struct GruCell {
   static constexpr size_t kBlocks = 4;
   template <typename FGate, typename FCand, typename Real>
   TMVA_LSTM_HOST_DEVICE static void Forward(const TCellRow<Real> &r, size_t H, size_t j)
   {
      Real *z = r.z;
      const Real rr = FGate::f(z[j]), u = FGate::f(z[H + j]);
      const Real n = FCand::f(z[2 * H + j] + rr * z[3 * H + j]);
      z[j] = rr, z[H + j] = u, z[2 * H + j] = n; // z[3H + j] keeps n_h: ∂n/∂r needs it
      r.h[j] = u * r.hPrev[j] + (1 - u) * n;
   }
   template <typename FGate, typename FCand, typename Real>
   TMVA_LSTM_HOST_DEVICE static void Backward(const TCellRow<Real> &r, size_t H, size_t j)
   {
      Real *z = r.z;
      const Real rr = z[j], u = z[H + j], n = z[2 * H + j], nh = z[3 * H + j];
      const Real dh = r.Dh(j);
      const Real dz_n = dh * (1 - u) * FCand::dfFromY(n);
      const Real dz_u = dh * (r.hPrev[j] - n) * FGate::dfFromY(u);
      const Real dz_r = dz_n * nh * FGate::dfFromY(rr);
      r.dhCarry[j] = dh * u; // the direct path h_{t-1} → h_t
      z[j] = dz_r, z[H + j] = dz_u, z[2 * H + j] = dz_n, z[3 * H + j] = dz_n * rr;
   }
};

/// GRU with the reset gate before the state product (TMVA's default), blocks r, u, n:
///   n = tanh(x W_nᵀ + b_n + (r ⊙ h_{t-1}) U_nᵀ),   h_t = u ⊙ h_{t-1} + (1 − u) ⊙ n.
/// (r ⊙ h_{t-1}) U_nᵀ needs r first, so a step is two element-wise passes around a second GEMM:
/// GruGates then GruCandidate forward, GruCandidate then GruGates backward.
struct GruGates {
   static constexpr size_t kBlocks = 3;
   /// r, u; c ← r ⊙ h_{t-1}, the operand of the second GEMM.
   template <typename FGate, typename FCand, typename Real>
   TMVA_LSTM_HOST_DEVICE static void Forward(const TCellRow<Real> &r, size_t H, size_t j)
   {
      const Real rr = FGate::f(r.z[j]);
      r.z[j] = rr, r.z[H + j] = FGate::f(r.z[H + j]);
      r.c[j] = rr * r.hPrev[j];
   }
   /// After the GEMM d(r ⊙ h_{t-1}) = dz_n U_n, held in dhNext: dz_r, and its share of dh_{t-1}.
   template <typename FGate, typename FCand, typename Real>
   TMVA_LSTM_HOST_DEVICE static void Backward(const TCellRow<Real> &r, size_t, size_t j)
   {
      const Real rr = r.z[j], drh = r.dhNext[j];
      r.z[j] = drh * r.hPrev[j] * FGate::dfFromY(rr);
      r.dhCarry[j] += drh * rr;
   }
};
struct GruCandidate {
   static constexpr size_t kBlocks = 3;
   template <typename FGate, typename FCand, typename Real>
   TMVA_LSTM_HOST_DEVICE static void Forward(const TCellRow<Real> &r, size_t H, size_t j)
   {
      const Real u = r.z[H + j], n = FCand::f(r.z[2 * H + j]);
      r.z[2 * H + j] = n;
      r.h[j] = u * r.hPrev[j] + (1 - u) * n;
   }
   /// dz_n and dz_u; dz_r follows in GruGates::Backward.
   template <typename FGate, typename FCand, typename Real>
   TMVA_LSTM_HOST_DEVICE static void Backward(const TCellRow<Real> &r, size_t H, size_t j)
   {
      const Real u = r.z[H + j], n = r.z[2 * H + j];
      const Real dh = r.Dh(j);
      r.z[2 * H + j] = dh * (1 - u) * FCand::dfFromY(n);
      r.z[H + j] = dh * (r.hPrev[j] - n) * FGate::dfFromY(u);
      r.dhCarry[j] = dh * u;
   }
};

/// The views of one step's rows (a slice of the batch), what CellForward/CellBackward take.
/// Views a pass does not use stay empty (data == nullptr).
template <typename Real>
struct TCellStep {
   TMatrixView<Real> z;                        ///< n × G·H
   TMatrixView<const Real> hPrev;              ///< n × H
   TMatrixView<Real> h;
   TMatrixView<const Real> cPrev;
   TMatrixView<Real> c;
   TMatrixView<Real> tau;
   TMatrixView<const Real> dY, dhNext;
   TMatrixView<Real> dhCarry, dcCarry;
   TMatrixView<const Real> lengths;            ///< n × 1 sample lengths; empty: every sample is full length

   /// An empty view (data nullptr, ld 0) gives nullptr: nullptr + r·0.
   TMVA_LSTM_HOST_DEVICE TCellRow<Real> Row(size_t r) const
   {
      return {z.row(r),  hPrev.row(r),  h.row(r),       cPrev.row(r),  c.row(r), tau.row(r),
              dY.row(r), dhNext.row(r), dhCarry.row(r), dcCarry.row(r)};
   }
   /// Row r is inside its sequence at step t.
   TMVA_LSTM_HOST_DEVICE bool Active(size_t r, size_t t) const { return !lengths.data || Real(t) < lengths.row(r)[0]; }
   /// The same step for rows [first, first + n) only (a batch slice, or its active rows).
   TMVA_LSTM_HOST_DEVICE TCellStep Rows(size_t first, size_t n) const
   {
      return {z.rowBlock(first, n),      hPrev.rowBlock(first, n),   h.rowBlock(first, n),
              cPrev.rowBlock(first, n),  c.rowBlock(first, n),       tau.rowBlock(first, n),
              dY.rowBlock(first, n),     dhNext.rowBlock(first, n),  dhCarry.rowBlock(first, n),
              dcCarry.rowBlock(first, n), lengths.rowBlock(first, n)};
   }
};

/// One layer direction's stacks (RecurrentLayer.h, same names): where each step's TCellStep
/// comes from, and everything an architecture that runs the whole time loop in one pass reads
/// and writes (TCuda's fused recurrence).
template <typename Real>
struct TRecurrence {
   size_t B, T, D, H, G;            ///< G blocks of H columns in z
   TMatrixView<const Real> WUb;     ///< G·H × (D+H+1): [W_k | U_k | b_k] per block
   TMatrixView<Real> XH;            ///< ((T+1)·B) × (D+H+1): block t is [x_{t+1} | h_t | 1]
   TMatrixView<Real> gates;         ///< (T·B) × G·H: z, the cell's values, then dz
   TMatrixView<Real> C;             ///< ((T+1)·B) × H: c_0 … c_T (LSTM), else empty
   TMatrixView<Real> Tau;           ///< (T·B) × H: τ = tanh(c_t) of each step (LSTM), else empty
   TMatrixView<Real> DXH;           ///< ((T+1)·B) × (D+H): [∂L/∂x_{t+1} | ∂L/∂h_t by the GEMM]
   TMatrixView<Real> dhCarry;       ///< B × H
   TMatrixView<Real> dcCarry;       ///< B × H (LSTM), else empty
   TMatrixView<const Real> lengths; ///< B × 1, or empty: every sample has T steps
   bool reverse;                    ///< run each sample from its last step to its first
   size_t outStride;                ///< output columns per step
   bool returnSequence;             ///< the output is every h_t (else h_T, written by the layer)
   bool addInputGradient;           ///< add ∂L/∂x into the input's gradient (second direction)

   /// Step t's views over the whole batch, dY empty (the caller's: a gathered step of ∂L/∂y).
   TMVA_LSTM_HOST_DEVICE TCellStep<Real> Step(size_t t) const
   {
      TCellStep<Real> s;
      s.z = gates.rowBlock(t * B, B);
      s.hPrev = XH.rowBlock(t * B, B).colBlock(D, H);
      s.h = XH.rowBlock((t + 1) * B, B).colBlock(D, H);
      if (C.data) {
         s.cPrev = C.rowBlock(t * B, B);
         s.c = C.rowBlock((t + 1) * B, B);
         s.tau = Tau.rowBlock(t * B, B);
         s.dcCarry = dcCarry;
      }
      s.dhNext = DXH.rowBlock((t + 1) * B, B).colBlock(D, H);
      s.dhCarry = dhCarry;
      s.lengths = lengths;
      return s;
   }
};

/// Row r's step for loop index t: t, or len_r − 1 − t when reversed; -1 past its length.
template <typename Real>
TMVA_LSTM_HOST_DEVICE inline long SourceStep(TMatrixView<const Real> lengths, size_t r, size_t t, size_t T,
                                             bool reverse)
{
   const long len = lengths.data ? long(lengths.row(r)[0]) : long(T);
   if (long(t) >= len)
      return -1;
   return reverse ? len - 1 - long(t) : long(t);
}

/// Which cell pass an architecture runs (CellForward/CellBackward of Cpu.h, Cuda.h).
enum class ECellPass { kLstm, kRnn, kGru, kGruGates, kGruCandidate };

/// Calls fn(Cell{}) for the cell struct of `pass`.
template <typename Fn>
decltype(auto) DispatchCell(ECellPass pass, Fn &&fn)
{
   switch (pass) {
   case ECellPass::kRnn: return fn(RnnCell{});
   case ECellPass::kGru: return fn(GruCell{});
   case ECellPass::kGruGates: return fn(GruGates{});
   case ECellPass::kGruCandidate: return fn(GruCandidate{});
   default: return fn(LstmCell{});
   }
}

/// fn(Cell{}, FGate{}, FCand{}): the cell pass and its two activations as types, so that each
/// combination is its own loop or kernel, with no switch inside.
template <typename Fn>
void DispatchCellActivations(ECellPass pass, EActivationFunction gateAct, EActivationFunction candAct, Fn &&fn)
{
   DispatchCell(pass, [&](auto cell) {
      DispatchActivation(gateAct, [&](auto fg) { DispatchActivation(candAct, [&](auto fc) { fn(cell, fg, fc); }); });
   });
}

/// Steps past a sample's length (lengths, ONNX sequence_lens): forward, the state is held
/// (h_t = h_{t-1}, c_t = c_{t-1}); backward, dz = 0 and ∂L/∂h_t passes to h_{t-1} unchanged.
/// Only the pass that writes h (forward) or first reads dh (backward) does this; GruGates skips
/// masked rows.
template <typename Cell>
constexpr bool WritesState()
{
   return !std::is_same<Cell, GruGates>::value;
}
template <typename Real>
TMVA_LSTM_HOST_DEVICE inline void HoldForward(const TCellRow<Real> &r, size_t j)
{
   r.h[j] = r.hPrev[j];
   if (r.c)
      r.c[j] = r.cPrev[j];
}
template <typename Real>
TMVA_LSTM_HOST_DEVICE inline void HoldBackward(const TCellRow<Real> &r, size_t G, size_t H, size_t j)
{
   for (size_t k = 0; k < G; ++k)
      r.z[k * H + j] = 0;
   r.dhCarry[j] += r.dhNext[j];
}

namespace kernels {

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
