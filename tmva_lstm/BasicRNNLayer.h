// TBasicRNNLayer: TMVA's simple recurrent layer, h_t = f(x_t Wᵀ + h_{t-1} Uᵀ + b) with f = tanh by
// default, on the shared time loop (RecurrentLayer.h); the element-wise passes are RnnCell in
// Kernels.h. Equations: docs/lstm-math.md.
#pragma once

#include "RecurrentLayer.h"

namespace tmva_lstm {

template <typename Architecture_t>
class TBasicRNNLayer : public VRecurrentLayer<Architecture_t> {
public:
   using Base = VRecurrentLayer<Architecture_t>;

   /// Sizes as in TMVA: B, H, D, T; f is the activation (TMVA's default tanh).
   TBasicRNNLayer(size_t batchSize, size_t stateSize, size_t inputSize, size_t timeSteps, bool rememberState = false,
                  bool returnSequence = false, EActivationFunction f = EActivationFunction::kTanh,
                  EInitialization init = EInitialization::kGlorotUniform, uint64_t seed = 0, TDirection direction = {})
      : Base("RNN", {""}, {{0, 0, 0}}, ECellPass::kRnn, false, batchSize, stateSize, inputSize, timeSteps,
             rememberState, returnSequence, EActivationFunction::kIdentity, f, std::move(direction))
   {
      Base::Initialize(init, seed);
   }
   EActivationFunction GetActivation() const { return this->fF2; }
};

} // namespace tmva_lstm
