// The network classes on the CPU, compiled once into the library (CpuInstances.cxx). This header
// declares them `extern template`, so every other user — cling from PyROOT and macros above all,
// which would otherwise JIT its own unoptimised copy of the time loop and the predictor, and ran
// inference at about half speed — links to the library's optimised code instead.
#pragma once

#include "Cpu.h"
#include "DeepNet.h"
#include "Predictor.h"

/// PREFIX `extern` declares, empty defines, every class template of a network on TCpu<Real>.
#define TMVA_LSTM_CPU_INSTANCES(PREFIX, Real)                                                       \
   PREFIX template class VGeneralLayer<TCpu<Real>>;                                                \
   PREFIX template class VRecurrentLayer<TCpu<Real>>;                                              \
   PREFIX template class TBasicLSTMLayer<TCpu<Real>>;                                              \
   PREFIX template class TBasicGRULayer<TCpu<Real>>;                                               \
   PREFIX template class TBasicRNNLayer<TCpu<Real>>;                                               \
   PREFIX template class TBidirectionalLayer<TCpu<Real>>;                                          \
   PREFIX template class TDenseLayer<TCpu<Real>>;                                                  \
   PREFIX template class TReshapeLayer<TCpu<Real>>;                                                \
   PREFIX template class TDeepNet<TCpu<Real>>;                                                     \
   PREFIX template class TOptimizer<TCpu<Real>>;                                                   \
   PREFIX template class TPredictor<TCpu<Real>>;                                                   \
   PREFIX template void TPredictor<TCpu<Real>>::Predict<Real, Real>(const Real *, size_t, const Real *, Real *);

namespace tmva_lstm {
TMVA_LSTM_CPU_INSTANCES(extern, float)
TMVA_LSTM_CPU_INSTANCES(extern, double)
} // namespace tmva_lstm
