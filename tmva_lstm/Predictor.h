// TPredictor: a trained network evaluated on many events straight from the caller's array, at a
// batch size of its own. Net.predict and RReader (RReader.h) run through it: the batch size a
// network was trained with (100 for the tutorial) is too small for inference, and a data set
// would copy every event once more. Each event is evaluated on its own from the zero state, so
// a network whose recurrent layers carry their state from batch to batch (rememberState) has no
// predictor: its scores depend on the batches, and Predict (Trainer.h) keeps them.
#pragma once

#include "DataSet.h"
#include "DeepNet.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

/// Events per batch when predicting many (Net.predict, RReader::Compute): 1024, which predicts
/// the tutorial net 1.2× as fast as 256 (4096 is slower again; docs/benchmarks.md), or fewer where
/// a batch's recurrent buffers would pass 256 MB (per event, direction and step about
/// 4H + 2(D+H+1) + H values: gates, the [x | h | 1] stack and its gradient, c).
inline size_t PredictBatchSize(const TNetSpec &spec, size_t bytesPerValue)
{
   size_t perEvent = 1;
   for (const TLayerSpec &l : spec.layers)
      if (l.kind == TLayerSpec::kRecurrent)
         perEvent += (l.bidirectional ? 2 : 1) * l.timeSteps * (7 * l.stateSize + 2 * l.inputSize + 2) * bytesPerValue;
   return std::max<size_t>(1, std::min<size_t>(1024, (size_t(256) << 20) / perEvent));
}

template <typename Architecture_t>
class TPredictor {
public:
   using Real = typename Architecture_t::Scalar_t;
   using Net_t = TDeepNet<Architecture_t>;

   /// A network built as spec says, batchSize events per batch, with source's weights.
   TPredictor(const TNetSpec &spec, Net_t &source, size_t batchSize)
      : fNet(BuildDeepNet<Architecture_t>(spec, batchSize, source.GetOutputCols())),
        fX(batchSize, source.GetInputCols()), fLengths(batchSize, 1), fOut(batchSize, source.GetOutputCols()),
        fHost(batchSize * source.GetInputCols()), fHostLengths(batchSize), fHostOut(batchSize * source.GetOutputCols()),
        fTimeSteps(spec.timeSteps)
   {
      if (source.RemembersState())
         throw std::invalid_argument("predictor: the network's recurrent layers remember their state from batch to "
                                     "batch (rememberState = 1), so its scores depend on the events before");
      SetWeights(source);
   }
   TPredictor(TPredictor &&) = delete; // holds matrices the network's views point into

   /// source's current weights (same layout), e.g. after more training.
   void SetWeights(Net_t &source)
   {
      for (size_t l = 0; l < fNet->GetDepth(); ++l) {
         auto mine = fNet->GetLayerAt(l).GetNamedWeights();
         auto theirs = source.GetLayerAt(l).GetNamedWeights();
         for (size_t k = 0; k < mine.size(); ++k)
            Architecture_t::Copy(mine[k].second, theirs[k].second);
      }
   }

   size_t GetBatchSize() const { return fNet->GetBatchSize(); }

   /// n events of T·D values each (event after event), with n lengths or nullptr (all T), into
   /// n·K predictions in out (after the output function, as Predict gives them). The last batch
   /// is padded with zero events of length 0. A NaN or inf input, or a length outside 0 … T, is
   /// an error naming the event.
   template <typename In, typename Out>
   void Predict(const In *x, size_t n, const In *lengths, Out *out)
   {
      const size_t B = GetBatchSize(), N = fNet->GetInputCols(), K = fNet->GetOutputCols();
      for (size_t first = 0; first < n; first += B) {
         const size_t m = std::min(B, n - first);
         std::transform(x + first * N, x + (first + m) * N, fHost.begin(), [](In v) { return Real(v); });
         // checked after converting: a double may overflow a float
         if (const size_t k = FirstNotFinite(fHost.data(), m * N); k < m * N) {
            const size_t D = N / fTimeSteps, step = k % N / D;
            throw std::invalid_argument("predict: the input of sample " + std::to_string(first + k / N) + " at step " +
                                        std::to_string(step) + ", value " + std::to_string(k % D) + ", is " +
                                        (std::isnan(fHost[k]) ? "NaN" : "inf"));
         }
         std::fill(fHost.begin() + m * N, fHost.end(), Real(0));
         Architecture_t::CopyFromHost(fX.View(), fHost.data(), fHost.size(), "predict: input");
         if (lengths) {
            std::fill(fHostLengths.begin(), fHostLengths.end(), Real(0));
            for (size_t r = 0; r < m; ++r) {
               const Real len = Real(lengths[first + r]);
               if (!(len >= 0 && len <= Real(fTimeSteps) && len == std::floor(len)))
                  throw std::invalid_argument("predict: the length of sample " + std::to_string(first + r) + " is " +
                                              std::to_string(double(len)) + "; lengths must be whole numbers from 0 to T = " +
                                              std::to_string(fTimeSteps));
               fHostLengths[r] = len;
            }
            Architecture_t::CopyFromHost(fLengths.View(), fHostLengths.data(), B, "predict: lengths");
         }
         fNet->Forward(fX, lengths ? &fLengths : nullptr);
         fNet->Prediction(fOut);
         Architecture_t::CopyToHost(fHostOut.data(), fHostOut.size(), fOut.View());
         std::transform(fHostOut.begin(), fHostOut.begin() + m * K, out + first * K, [](Real v) { return Out(v); });
      }
   }

private:
   std::unique_ptr<Net_t> fNet;
   typename Architecture_t::Matrix_t fX, fLengths, fOut;
   std::vector<Real> fHost, fHostLengths, fHostOut;
   size_t fTimeSteps;
};

} // namespace tmva_lstm
