// Training: minibatches from a shuffled host data set, validation loss every epoch, early
// stopping with the best weights restored. The same loop serves Python, the CLI and macros.
#pragma once

#include "DataSet.h"
#include "DeepNet.h"
#include "Options.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

struct TEpochRecord {
   size_t epoch;
   double trainLoss, validLoss, seconds;
};

/// The sample order of each epoch: 0 … n−1 shuffled again every epoch from one seeded stream.
/// (Public so that a comparison can feed another framework the very same minibatches.)
class TEpochShuffler {
public:
   TEpochShuffler(size_t n, uint64_t seed) : fRng(seed), fIndex(n) { std::iota(fIndex.begin(), fIndex.end(), size_t(0)); }
   const std::vector<size_t> &Next()
   {
      std::shuffle(fIndex.begin(), fIndex.end(), fRng);
      return fIndex;
   }

private:
   std::mt19937_64 fRng;
   std::vector<size_t> fIndex;
};

/// Runs batches of a data set through the net: rows `index[first … first+B)`; a last partial
/// batch is padded with zero-weight copies of its first row (they add nothing to loss or gradient).
template <typename Architecture_t>
class TBatchLoader {
public:
   using Real = typename Architecture_t::Scalar_t;
   using Matrix_t = typename Architecture_t::Matrix_t;

   TBatchLoader(const TDataSet<Real> &data, size_t batchSize)
      : fData(data), fB(batchSize), fHx(batchSize * data.inputCols), fHy(batchSize * data.outputCols), fHw(batchSize),
        fHl(data.HasLengths() ? batchSize : 0), fX(batchSize, data.inputCols), fY(batchSize, data.outputCols),
        fW(1, batchSize), fL(data.HasLengths() ? batchSize : 0, 1)
   {
   }
   /// Returns how many real samples the batch holds.
   size_t Load(const std::vector<size_t> &index, size_t first)
   {
      const size_t n = std::min(fB, index.size() - first), in = fData.inputCols, out = fData.outputCols;
      for (size_t r = 0; r < fB; ++r) {
         const size_t s = index[first + (r < n ? r : 0)];
         std::copy_n(fData.x.data() + s * in, in, fHx.data() + r * in);
         std::copy_n(fData.y.data() + s * out, out, fHy.data() + r * out);
         fHw[r] = r < n ? fData.w[s] : Real(0);
         if (fData.HasLengths())
            fHl[r] = fData.lengths[s];
      }
      Architecture_t::CopyFromHost(fX.View(), fHx.data(), fHx.size(), "input batch");
      Architecture_t::CopyFromHost(fY.View(), fHy.data(), fHy.size(), "target batch");
      Architecture_t::CopyFromHost(fW.View(), fHw.data(), fHw.size(), "weight batch");
      if (fData.HasLengths())
         Architecture_t::CopyFromHost(fL.View(), fHl.data(), fHl.size(), "length batch");
      return n;
   }
   Real BatchWeight(size_t n) const { return std::accumulate(fHw.begin(), fHw.begin() + n, Real(0)); }
   const Matrix_t &X() const { return fX; }
   const Matrix_t &Y() const { return fY; }
   const Matrix_t &W() const { return fW; }
   /// The batch's sequence lengths (B×1), or nullptr when the data set has none.
   const Matrix_t *L() const { return fData.HasLengths() ? &fL : nullptr; }

private:
   const TDataSet<Real> &fData;
   size_t fB;
   std::vector<Real> fHx, fHy, fHw, fHl;
   Matrix_t fX, fY, fW, fL;
};

/// One pass over the samples `index` in batches, returning the weighted mean loss; with an
/// optimizer, every batch is also a training step.
template <typename Architecture_t>
double Pass(TDeepNet<Architecture_t> &net, TBatchLoader<Architecture_t> &loader, const std::vector<size_t> &index,
            TOptimizer<Architecture_t> *optimizer)
{
   double total = 0, weight = 0;
   net.ResetState();
   for (size_t first = 0; first < index.size(); first += net.GetBatchSize()) {
      const size_t n = loader.Load(index, first);
      const double w = loader.BatchWeight(n);
      if (w == 0)
         continue;
      net.Forward(loader.X(), loader.L(), optimizer != nullptr); // dropout while training only
      total += double(net.Loss(loader.Y(), loader.W())) * w;
      weight += w;
      if (optimizer) {
         net.Backward(loader.Y(), loader.W());
         optimizer->Step();
      }
   }
   return weight > 0 ? total / weight : 0.0;
}

/// The weighted mean loss over a whole data set.
template <typename Architecture_t>
double EvaluateLoss(TDeepNet<Architecture_t> &net, const TDataSet<typename Architecture_t::Scalar_t> &data)
{
   std::vector<size_t> index(data.GetNSamples());
   std::iota(index.begin(), index.end(), size_t(0));
   TBatchLoader<Architecture_t> loader(data, net.GetBatchSize());
   return Pass<Architecture_t>(net, loader, index, nullptr);
}

/// Predictions (after the output function) for every sample, n × outputCols, row-major.
template <typename Architecture_t>
std::vector<typename Architecture_t::Scalar_t> Predict(TDeepNet<Architecture_t> &net,
                                                       const TDataSet<typename Architecture_t::Scalar_t> &data)
{
   using Real = typename Architecture_t::Scalar_t;
   const size_t B = net.GetBatchSize(), K = net.GetOutputCols();
   std::vector<size_t> index(data.GetNSamples());
   std::iota(index.begin(), index.end(), size_t(0));
   TBatchLoader<Architecture_t> loader(data, B);
   typename Architecture_t::Matrix_t out(B, K);
   std::vector<Real> host(B * K), result(index.size() * K);
   net.ResetState();
   for (size_t first = 0; first < index.size(); first += B) {
      const size_t n = loader.Load(index, first);
      net.Forward(loader.X(), loader.L());
      net.Prediction(out);
      Architecture_t::CopyToHost(host.data(), host.size(), out.View());
      std::copy_n(host.data(), n * K, result.data() + first * K);
   }
   return result;
}

/// One training phase. Prints one line per epoch when `verbose`. Returns the history; the net
/// ends with the weights of the epoch with the best validation loss.
template <typename Architecture_t>
std::vector<TEpochRecord> Train(TDeepNet<Architecture_t> &net, const TTrainingPhase &phase,
                                const TDataSet<typename Architecture_t::Scalar_t> &train,
                                const TDataSet<typename Architecture_t::Scalar_t> &valid, uint64_t seed,
                                bool verbose = true)
{
   using Matrix_t = typename Architecture_t::Matrix_t;
   if (train.GetNSamples() == 0 || valid.GetNSamples() == 0)
      throw std::invalid_argument("Train: the training and validation sets must not be empty");
   if (train.HasLengths() != valid.HasLengths())
      throw std::invalid_argument("Train: give lengths for both the training and the validation set, or for neither");
   if (train.inputCols != net.GetInputCols() || train.outputCols != net.GetOutputCols() ||
       valid.inputCols != net.GetInputCols() || valid.outputCols != net.GetOutputCols())
      throw std::invalid_argument("Train: data widths do not match the network");
   if (phase.batchSize != net.GetBatchSize())
      throw std::invalid_argument("Train: the phase's BatchSize differs from the network's batch size");
   TOptimizer<Architecture_t> optimizer(net, phase.optimizer, phase.learningRate, phase.momentum, phase.beta1,
                                        phase.beta2, phase.epsilon);
   TEpochShuffler shuffler(train.GetNSamples(), seed);
   net.SetDropout(phase.dropout, seed);
   TBatchLoader<Architecture_t> loader(train, net.GetBatchSize());

   auto parameters = net.GetParameters();
   std::vector<Matrix_t> best;
   for (auto &p : parameters)
      best.push_back(*p.value);
   double bestLoss = EvaluateLoss(net, valid);
   size_t sinceBest = 0;
   std::vector<TEpochRecord> history;
   for (size_t epoch = 1; epoch <= phase.maxEpochs && sinceBest < phase.convergenceSteps; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      const double trainLoss = Pass<Architecture_t>(net, loader, shuffler.Next(), &optimizer);
      const double validLoss = EvaluateLoss(net, valid);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      history.push_back({epoch, trainLoss, validLoss, seconds});
      if (!std::isfinite(validLoss))
         throw std::runtime_error("Train: the validation loss became " + std::to_string(validLoss) +
                                  " at epoch " + std::to_string(epoch) + " (learning rate too large?)");
      if (validLoss < bestLoss) {
         bestLoss = validLoss, sinceBest = 0;
         for (size_t k = 0; k < parameters.size(); ++k)
            best[k] = *parameters[k].value;
      } else {
         ++sinceBest;
      }
      if (verbose) {
         std::printf("epoch %3zu  train loss %.6f  valid loss %.6f  %s  %.2f s\n", epoch, history.back().trainLoss,
                     validLoss, sinceBest == 0 ? "*" : " ", seconds);
         std::fflush(stdout);
      }
   }
   for (size_t k = 0; k < parameters.size(); ++k)
      *parameters[k].value = best[k];
   net.SetDropout({}, 0);
   return history;
}

} // namespace tmva_lstm
