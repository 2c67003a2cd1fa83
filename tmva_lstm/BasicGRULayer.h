// TBasicGRULayer: TMVA's GRU on the shared time loop (RecurrentLayer.h). Gates r (reset), u
// (update; PyTorch's z) and the candidate n, in TMVA's order:
//   r = σ(x Wrᵀ + h_{t-1} Urᵀ + b_r),  u = σ(x Wuᵀ + h_{t-1} Uuᵀ + b_u)
//   resetGateAfter = 0 (TMVA's default): n = tanh(x Wnᵀ + b_n + (r ⊙ h_{t-1}) Unᵀ)
//   resetGateAfter = 1 (cuDNN, PyTorch):  n = tanh(x Wnᵀ + b_n + r ⊙ (h_{t-1} Unᵀ))
//   h_t = u ⊙ h_{t-1} + (1 − u) ⊙ n
// With the reset gate after, the state product joins the step's one GEMM as a fourth block of z
// (GruCell in Kernels.h). Before, it needs r first: a second, H×H GEMM per step each way between
// the two element-wise passes GruGates and GruCandidate. Equations: docs/lstm-math.md.
#pragma once

#include "RecurrentLayer.h"

namespace tmva_lstm {

template <typename Architecture_t>
class TBasicGRULayer : public VRecurrentLayer<Architecture_t> {
public:
   using Base = VRecurrentLayer<Architecture_t>;
   using typename Base::ConstView_t;
   using typename Base::Matrix_t;
   using typename Base::View_t;

   /// Sizes as in TMVA: B, H, D, T. f1 is the gate activation (σ), f2 the candidate's (tanh).
   TBasicGRULayer(size_t batchSize, size_t stateSize, size_t inputSize, size_t timeSteps, bool rememberState = false,
                  bool returnSequence = false, bool resetGateAfter = false,
                  EActivationFunction f1 = EActivationFunction::kSigmoid,
                  EActivationFunction f2 = EActivationFunction::kTanh,
                  EInitialization init = EInitialization::kGlorotUniform, uint64_t seed = 0, TDirection direction = {})
      : Base("GRU", {"r", "u", "n"},
             resetGateAfter ? std::vector<TGateBlock>{{0, 0, 0}, {1, 1, 1}, {2, -1, 2}, {-1, 2, -1}} // r, u, n_x, n_h
                            : std::vector<TGateBlock>{{0, 0, 0}, {1, 1, 1}, {2, -1, 2}},           // r, u, n (x part)
             ECellPass::kGru, false, batchSize, stateSize, inputSize, timeSteps, rememberState, returnSequence, f1, f2,
             std::move(direction)),
        fResetGateAfter(resetGateAfter)
   {
      if (!resetGateAfter) // (r ⊙ h_{t-1}) per step, and its gradient
         fRH = Matrix_t(timeSteps * batchSize, stateSize), fDRH = Matrix_t(batchSize, stateSize);
      Base::Initialize(init, seed);
   }

   bool DoesResetGateAfter() const { return fResetGateAfter; }

   void CellForward(size_t t, size_t first, size_t n) override
   {
      if (fResetGateAfter)
         return Base::CellForward(t, first, n);
      const size_t H = this->fStateSize;
      this->GemmForward(t, first, n); // r, u and the x part of n
      TCellStep<typename Base::Scalar_t> s = this->StepViews(t, first, n);
      s.c = this->Block(fRH, t, first, n);
      if (this->fHaveLengths) // GruGates skips the rows past their length: they keep zeros
         Architecture_t::Zero(s.c);
      Architecture_t::CellForward(ECellPass::kGruGates, this->fF1, this->fF2, s, t);
      // z_n += (r ⊙ h_{t-1}) U_nᵀ
      Architecture_t::Gemm(s.z.colBlock(2 * H, H), s.c, false, Un(), true, 1, 1);
      s.c = {};
      Architecture_t::CellForward(ECellPass::kGruCandidate, this->fF1, this->fF2, s, t);
   }

   void CellBackward(size_t t, ConstView_t dY_t, size_t first, size_t n) override
   {
      if (fResetGateAfter)
         return Base::CellBackward(t, dY_t, first, n);
      const size_t H = this->fStateSize;
      TCellStep<typename Base::Scalar_t> s = this->StepViews(t, first, n);
      s.dY = dY_t;
      Architecture_t::CellBackward(ECellPass::kGruCandidate, this->fF1, this->fF2, s, t); // dz_n, dz_u
      // ∂L/∂(r ⊙ h_{t-1}) = dz_n U_n
      const View_t drh = fDRH.View().rowBlock(first, n);
      Architecture_t::Gemm(drh, s.z.colBlock(2 * H, H), false, Un(), false);
      s.dY = {}, s.dhNext = drh;
      Architecture_t::CellBackward(ECellPass::kGruGates, this->fF1, this->fF2, s, t); // dz_r
      this->GemmBackward(t, first, n);
   }

protected:
   std::string LayoutExtra() const override { return "|" + std::to_string(int(fResetGateAfter)); }
   bool OneGemmStep() const override { return fResetGateAfter; }
   void SkipRows(size_t t, size_t first, size_t n) override
   {
      if (!fResetGateAfter)
         Architecture_t::Zero(this->Block(fRH, t, first, n));
   }

   void WeightGradients(size_t rows) override
   {
      Base::WeightGradients(rows);
      if (fResetGateAfter)
         return;
      // dU_n = DZ_nᵀ (r ⊙ H_prev): U_n is not in the packed GEMM
      const size_t H = this->fStateSize;
      const View_t dUn = this->fdU.View().rowBlock(2 * H, H);
      if (rows == 0)
         Architecture_t::Zero(dUn);
      else
         Architecture_t::Gemm(dUn, this->fGates.View().rowBlock(0, rows).colBlock(2 * H, H), true,
                              fRH.View().rowBlock(0, rows), false);
   }

private:
   View_t Un() { return this->GetWeightsState(2); }

   bool fResetGateAfter;
   Matrix_t fRH;  // (T·B)×H  r ⊙ h_{t-1} (reset gate before)
   Matrix_t fDRH; // B×H  ∂L/∂(r ⊙ h_{t-1}) of the current step
};

} // namespace tmva_lstm
