// The tree reader's entry points compiled into the library (optimised), not JIT-compiled by
// cling on first use from PyROOT or a macro, which ran the per-entry loop several times slower.
#include "TreeReader.h"

namespace tmva_lstm {

template void TSequenceTreeReader::Read<float>(size_t, size_t, size_t, TDataSet<float> &, const TEntrySplit &) const;
template void TSequenceTreeReader::Read<double>(size_t, size_t, size_t, TDataSet<double> &,
                                                const TEntrySplit &) const;
template TDataSet<float> TSequenceTreeReader::ReadAll<float>(const TEntrySplit &) const;
template TDataSet<double> TSequenceTreeReader::ReadAll<double>(const TEntrySplit &) const;

} // namespace tmva_lstm
