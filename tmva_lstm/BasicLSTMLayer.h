// TBasicLSTMLayer: an LSTM layer in the style of TMVA's, forward and backpropagation through
// time on the shared time loop (RecurrentLayer.h). Its cell: z has the blocks i, f, g, o, each
// fed by its own W, U, b blocks; the element-wise passes are LstmCell in Kernels.h. Equations:
// docs/lstm-math.md.
#pragma once

#include "RecurrentLayer.h"

namespace tmva_lstm {

enum class EGate { kInput = 0, kForget = 1, kCandidate = 2, kOutput = 3 };

template <typename Architecture_t>
class TBasicLSTMLayer : public VRecurrentLayer<Architecture_t> {
public:
   using Base = VRecurrentLayer<Architecture_t>;
   using typename Base::ConstView_t;
   using typename Base::Matrix_t;
   using typename Base::Scalar_t;
   using typename Base::View_t;

   /// Sizes as in TMVA: B, H, D, T. f1 is the gate activation (σ), f2 the candidate and cell
   /// output activation (tanh). Weights are drawn from `init` with `seed`; biases start at zero.
   TBasicLSTMLayer(size_t batchSize, size_t stateSize, size_t inputSize, size_t timeSteps,
                   bool rememberState = false, bool returnSequence = false,
                   EActivationFunction f1 = EActivationFunction::kSigmoid,
                   EActivationFunction f2 = EActivationFunction::kTanh,
                   EInitialization init = EInitialization::kGlorotUniform, uint64_t seed = 0,
                   TDirection direction = {})
      : Base("LSTM", {"i", "f", "g", "o"}, {{0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {3, 3, 3}}, ECellPass::kLstm, true,
             batchSize, stateSize, inputSize, timeSteps, rememberState, returnSequence, f1, f2, std::move(direction))
   {
      Base::Initialize(init, seed);
   }

   using Base::Initialize;
   /// New weights, zero biases, then b_f as set by SetForgetGateBias.
   void Initialize(EInitialization init, std::mt19937_64 &rng) override
   {
      Base::Initialize(init, rng);
      SetForgetGateBias(fForgetGateBias);
   }
   /// b_f = value for every unit, now and after each Initialize (1 is the usual choice: remember
   /// by default at the start).
   void SetForgetGateBias(Scalar_t value)
   {
      fForgetGateBias = value;
      const std::vector<Scalar_t> bf(this->fStateSize, value);
      Architecture_t::CopyFromHost(GetBiases(EGate::kForget), bf.data(), bf.size(), "forget-gate bias");
   }

   using Base::GetBiases;
   using Base::GetWeightsInput;
   using Base::GetWeightsState;
   /// W_gate (H×D), U_gate (H×H), b_gate (1×H) by name.
   View_t GetWeightsInput(EGate g) { return Base::GetWeightsInput(size_t(g)); }
   View_t GetWeightsState(EGate g) { return Base::GetWeightsState(size_t(g)); }
   View_t GetBiases(EGate g) { return Base::GetBiases(size_t(g)); }

   Matrix_t &GetInitialCell() { return this->fC0; }
   /// c_T of the last Forward (B×H).
   ConstView_t GetCell() const { return this->fC.View().rowBlock(this->fTimeSteps * this->fBatchSize, this->fBatchSize); }
   /// ∂L/∂c_0 after Backward (B×H).
   ConstView_t GetInitialCellGradient() const { return this->fDcCarry.View(); }

private:
   Scalar_t fForgetGateBias = 0;
};

} // namespace tmva_lstm
