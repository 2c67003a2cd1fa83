// The streaming trainers Python calls, compiled here in full: every member is checked when the
// library is built and is in it, instead of being compiled by cling on first use.
#include "Cpu.h"
#include "Trainer.h"

namespace tmva_lstm {
template class TStreamTrainer<TCpu<float>>;
template class TStreamTrainer<TCpu<double>>;
} // namespace tmva_lstm
