// The definitions CpuInstances.h declares.
#include "CpuInstances.h"

namespace tmva_lstm {
TMVA_LSTM_CPU_INSTANCES(, float)
TMVA_LSTM_CPU_INSTANCES(, double)
} // namespace tmva_lstm
