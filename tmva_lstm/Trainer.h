// Training: minibatches from a shuffled host data set, or from a stream of chunks through a
// bounded shuffle buffer; validation loss every epoch, early stopping with the best weights
// restored. The same epoch loop serves Python, the CLI and macros, in memory or streaming.
#pragma once

#include "DataSet.h"
#include "DeepNet.h"
#include "Options.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
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
   size_t Size() const { return fIndex.size(); }
   const std::vector<size_t> &Next()
   {
      std::shuffle(fIndex.begin(), fIndex.end(), fRng);
      return fIndex;
   }

private:
   std::mt19937_64 fRng;
   std::vector<size_t> fIndex;
};

/// A padding row in a batch's index: it weighs 0, so it adds nothing to loss or gradient.
constexpr size_t kPadSample = size_t(-1);

/// Data-parallel training: processes that train one model together, each on its own share of
/// the samples (python/tmva_lstm/distributed.py gives one over MPI). All a step needs from the
/// others is a sum.
class VCommunicator {
public:
   virtual ~VCommunicator() = default;
   virtual int Rank() const = 0;
   virtual int Size() const = 0;
   /// values[0 … n) summed over every process, in place (MPI_Allreduce with MPI_SUM).
   virtual void AllreduceSum(double *values, size_t n) = 0;
};

/// The batches of an epoch when the samples come in S shares: step k takes rows [k·b, (k+1)·b)
/// of each share's own shuffled order (b = B/S), padding a share that has run out, until the
/// largest share is done. A process of a data-parallel run holds one share (its data set) and
/// runs its b rows of each step; one process can also stand for all S (share s = rows s, s+S, …
/// of its data set) and run the S·b rows of a step together: both see the same batches. Share s
/// is shuffled by TEpochShuffler(n_s, seed + s), so that one share is plain training.
class TShardedOrder {
public:
   /// sizes: the samples of every share; held: this process's shares, [first, first + held)
   /// (one, or all S from first = 0); b: the rows per share and step.
   TShardedOrder(const std::vector<size_t> &sizes, size_t first, size_t held, size_t b, uint64_t seed)
      : fB(b)
   {
      const size_t shares = sizes.size();
      if (held == 0 || first + held > shares || (held > 1 && (first != 0 || held != shares)) || b == 0)
         throw std::invalid_argument("TShardedOrder: a process holds one share or all of them");
      for (size_t s = 0; s < shares; ++s) {
         if (sizes[s] == 0)
            throw std::invalid_argument("data-parallel training: share " + std::to_string(s) +
                                        " of the training samples is empty");
         fSteps = std::max(fSteps, (sizes[s] + b - 1) / b);
      }
      for (size_t s = first; s < first + held; ++s)
         fShufflers.emplace_back(sizes[s], seed + s);
      fIndex.resize(fSteps * held * b);
   }
   /// The next epoch's batch index: steps × held × b row numbers of this process's data set
   /// (kPadSample for padding), a batch's shares side by side.
   const std::vector<size_t> &Next()
   {
      const size_t held = fShufflers.size();
      for (size_t h = 0; h < held; ++h) {
         const std::vector<size_t> &order = fShufflers[h].Next();
         for (size_t k = 0; k < fSteps; ++k)
            for (size_t j = 0; j < fB; ++j) {
               const size_t position = k * fB + j;
               fIndex[(k * held + h) * fB + j] =
                  position < order.size() ? (held == 1 ? order[position] : h + order[position] * held) : kPadSample;
            }
      }
      return fIndex;
   }

private:
   size_t fB, fSteps = 0;
   std::vector<TEpochShuffler> fShufflers;
   std::vector<size_t> fIndex;
};

/// Runs batches of a data set through the net: rows `index[first … first+B)`; kPadSample entries,
/// and the rest of a last partial batch, are padding: copies of row 0 with weight 0 (they add
/// nothing to loss or gradient).
template <typename Architecture_t>
class TBatchLoader {
public:
   using Real = typename Architecture_t::Scalar_t;
   using Matrix_t = typename Architecture_t::Matrix_t;

   /// `data` may change between loads (a streaming buffer), widths excepted. Samples with lengths
   /// go longest first within each batch, unless the net carries state from row to row
   /// (rememberState): the recurrent layers then run each step's GEMMs on the samples still
   /// running only (RecurrentLayer.h, ActiveRows).
   TBatchLoader(const TDataSet<Real> &data, const TDeepNet<Architecture_t> &net)
      : fData(data), fB(net.GetBatchSize()), fSort(!net.RemembersState()), fHx(fB * data.inputCols),
        fHy(fB * data.outputCols), fHw(fB), fHl(fB), fPosition(fB), fX(fB, data.inputCols), fY(fB, data.outputCols),
        fW(1, fB), fL(fB, 1)
   {
   }
   /// Loads samples index[first … first + B) (fewer at the end: the rest repeat the first with
   /// weight 0) and returns how many real samples the batch holds.
   size_t Load(const std::vector<size_t> &index, size_t first)
   {
      const size_t n = std::min(fB, index.size() - first), in = fData.inputCols, out = fData.outputCols;
      auto real = [&](size_t p) { return p < n && index[first + p] != kPadSample; };
      auto sample = [&](size_t p) { return real(p) ? index[first + p] : size_t(0); };
      // padding runs no steps (length 0) and goes last
      auto length = [&](size_t p) { return real(p) ? fData.lengths[sample(p)] : Real(-1); };
      std::iota(fPosition.begin(), fPosition.end(), size_t(0));
      if (fSort && fData.HasLengths())
         std::sort(fPosition.begin(), fPosition.end(), [&](size_t a, size_t b) {
            const Real la = length(a), lb = length(b);
            return la > lb || (la == lb && a < b);
         });
      for (size_t r = 0; r < fB; ++r) {
         const size_t p = fPosition[r], s = sample(p);
         std::copy_n(fData.x.data() + s * in, in, fHx.data() + r * in);
         std::copy_n(fData.y.data() + s * out, out, fHy.data() + r * out);
         fHw[r] = real(p) ? fData.w[s] : Real(0);
         if (fData.HasLengths())
            fHl[r] = std::max(length(p), Real(0));
      }
      Architecture_t::CopyFromHost(fX.View(), fHx.data(), fHx.size(), "input batch");
      Architecture_t::CopyFromHost(fY.View(), fHy.data(), fHy.size(), "target batch");
      Architecture_t::CopyFromHost(fW.View(), fHw.data(), fHw.size(), "weight batch");
      if (fData.HasLengths())
         Architecture_t::CopyFromHost(fL.View(), fHl.data(), fHl.size(), "length batch");
      return n;
   }
   /// The total weight of the batch (padding rows weigh 0).
   Real BatchWeight() const { return std::accumulate(fHw.begin(), fHw.end(), Real(0)); }
   /// Row r of the batch holds sample index[first + Position(r)] (a position ≥ n is padding).
   size_t Position(size_t r) const { return fPosition[r]; }
   const Matrix_t &X() const { return fX; }
   const Matrix_t &Y() const { return fY; }
   const Matrix_t &W() const { return fW; }
   /// The batch's sequence lengths (B×1), or nullptr when the data set has none.
   const Matrix_t *L() const { return fData.HasLengths() ? &fL : nullptr; }

private:
   const TDataSet<Real> &fData;
   size_t fB;
   bool fSort;
   std::vector<Real> fHx, fHy, fHw, fHl;
   std::vector<size_t> fPosition;
   Matrix_t fX, fY, fW, fL;
};

/// A pass's loss: the weighted sum and the weight (the mean is their ratio).
struct TPassLoss {
   double total = 0, weight = 0;
   double Mean() const { return weight > 0 ? total / weight : 0.0; }
};

/// This process's loss summed with every other's (data-parallel, with comm), else itself.
inline TPassLoss SumOver(VCommunicator *comm, TPassLoss loss)
{
   if (comm) {
      double pair[2] = {loss.total, loss.weight};
      comm->AllreduceSum(pair, 2);
      loss = {pair[0], pair[1]};
   }
   return loss;
}

/// Data-parallel steps: every process's gradients, each weighted by its batch's weight, summed
/// and divided by the total weight; the gradient of the whole batch, which every process then
/// applies alike. Host buffers are made once.
template <typename Architecture_t>
class TGradientSum {
public:
   using Real = typename Architecture_t::Scalar_t;

   TGradientSum(TDeepNet<Architecture_t> &net, VCommunicator &comm) : fComm(comm), fParameters(net.GetParameters())
   {
      size_t total = 0, largest = 0;
      for (auto &p : fParameters)
         total += p.gradient->GetNoElements(), largest = std::max(largest, p.gradient->GetNoElements());
      fSum.resize(total + 3), fHost.resize(largest);
   }
   /// weight, lossSum: this process's batch (0, 0 when it has only padding; its gradients are
   /// then not read). Returns the whole batch's loss sum and weight. `finished`: this process has
   /// no batches left in this pass (AllFinished tells when every process says so).
   TPassLoss Reduce(double weight, double lossSum, bool finished = false)
   {
      size_t at = 0;
      for (auto &p : fParameters) {
         const size_t n = p.gradient->GetNoElements();
         if (weight > 0)
            Architecture_t::CopyToHost(fHost.data(), n, p.gradient->View());
         for (size_t k = 0; k < n; ++k)
            fSum[at + k] = weight > 0 ? weight * double(fHost[k]) : 0.0;
         at += n;
      }
      fSum[at] = weight, fSum[at + 1] = lossSum, fSum[at + 2] = finished ? 1.0 : 0.0;
      fComm.AllreduceSum(fSum.data(), fSum.size());
      fAllFinished = fSum[at + 2] == double(fComm.Size());
      const double total = fSum[at];
      if (total == 0) // the whole batch weighs nothing: no gradient, and no step (Step)
         return {fSum[at + 1], 0.0};
      at = 0;
      for (auto &p : fParameters) {
         const size_t n = p.gradient->GetNoElements();
         for (size_t k = 0; k < n; ++k)
            fHost[k] = Real(fSum[at + k] / total);
         Architecture_t::CopyFromHost(p.gradient->View(), fHost.data(), n, "summed gradient");
         at += n;
      }
      return {fSum[at + 1], total};
   }
   /// Whether every process said `finished` in the last Reduce.
   bool AllFinished() const { return fAllFinished; }

private:
   VCommunicator &fComm;
   bool fAllFinished = false;
   std::vector<TParameter<typename Architecture_t::Matrix_t>> fParameters;
   std::vector<double> fSum;
   std::vector<Real> fHost;
};

/// One batch, rows index[first … first+B) of the loader's data set, through the net; with an
/// optimizer also a training step; with `sum` the step of all the processes of a data-parallel
/// run together (each takes part, even with a batch of padding only).
template <typename Architecture_t>
void Step(TDeepNet<Architecture_t> &net, TBatchLoader<Architecture_t> &loader, const std::vector<size_t> &index,
          size_t first, TOptimizer<Architecture_t> *optimizer, TPassLoss &loss,
          TGradientSum<Architecture_t> *sum = nullptr)
{
   loader.Load(index, first);
   const double w = loader.BatchWeight();
   if (w == 0 && !sum)
      return;
   double lossSum = 0;
   if (w > 0) {
      net.Forward(loader.X(), loader.L(), optimizer != nullptr); // dropout while training only
      lossSum = double(net.Loss(loader.Y(), loader.W())) * w;
      if (optimizer)
         net.Backward(loader.Y(), loader.W());
   }
   const TPassLoss batch = sum ? sum->Reduce(w, lossSum) : TPassLoss{lossSum, w};
   loss.total += batch.total, loss.weight += batch.weight;
   if (optimizer && batch.weight > 0) // every process sees the same total weight, so all step or none
      optimizer->Step();
}

/// One pass over the samples `index` in batches; with an optimizer, every batch is also a
/// training step (of every process, with `sum`).
template <typename Architecture_t>
TPassLoss Pass(TDeepNet<Architecture_t> &net, TBatchLoader<Architecture_t> &loader, const std::vector<size_t> &index,
               TOptimizer<Architecture_t> *optimizer, TGradientSum<Architecture_t> *sum = nullptr)
{
   TPassLoss loss;
   net.ResetState();
   for (size_t first = 0; first < index.size(); first += net.GetBatchSize())
      Step(net, loader, index, first, optimizer, loss, sum);
   return loss;
}

namespace detail {
/// CROSSENTROPY and MUTUALEXCLUSIVE take targets in [0, 1]: class labels, or probabilities.
template <typename Real>
void CheckTargets(ELossFunction loss, const TDataSet<Real> &data, const char *what)
{
   if (loss == ELossFunction::kMeanSquaredError)
      return;
   for (size_t k = 0; k < data.y.size(); ++k)
      if (!(data.y[k] >= 0 && data.y[k] <= 1))
         throw std::invalid_argument(std::string("the ") + what + " target of sample " +
                                     std::to_string(k / data.outputCols) + " is " + std::to_string(data.y[k]) + ": " +
                                     NameOf(kLossNames, loss, true) +
                                     " takes targets in [0, 1] (class labels 0 and 1, or probabilities)");
}

} // namespace detail

/// The weighted mean loss over a whole data set.
template <typename Architecture_t>
double EvaluateLoss(TDeepNet<Architecture_t> &net, const TDataSet<typename Architecture_t::Scalar_t> &data)
{
   detail::CheckTargets(net.GetLossFunction(), data, "evaluated");
   std::vector<size_t> index(data.GetNSamples());
   std::iota(index.begin(), index.end(), size_t(0));
   TBatchLoader<Architecture_t> loader(data, net);
   return Pass<Architecture_t>(net, loader, index, nullptr).Mean();
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
   TBatchLoader<Architecture_t> loader(data, net);
   typename Architecture_t::Matrix_t out(B, K);
   std::vector<Real> host(B * K), result(index.size() * K);
   net.ResetState();
   for (size_t first = 0; first < index.size(); first += B) {
      const size_t n = loader.Load(index, first);
      net.Forward(loader.X(), loader.L());
      net.Prediction(out);
      Architecture_t::CopyToHost(host.data(), host.size(), out.View());
      for (size_t r = 0; r < B; ++r) // back to the samples' order
         if (loader.Position(r) < n)
            std::copy_n(host.data() + r * K, K, result.data() + (first + loader.Position(r)) * K);
   }
   return result;
}

namespace detail {

/// The epoch loop of a training phase, for any source of samples: trainPass() runs one training
/// epoch and returns its loss, validLoss() the validation loss. As TMVA's MethodDL, validation
/// runs after every TestRepetitions-th epoch (and after the last, so that it is judged too; the
/// record of an epoch without it has a NaN validation loss), and each one without a better loss
/// adds TestRepetitions epochs towards ConvergenceSteps. Keeps the best validated weights.
template <typename Architecture_t, typename TrainPass, typename ValidLoss>
std::vector<TEpochRecord> EpochLoop(TDeepNet<Architecture_t> &net, const TTrainingPhase &phase, bool verbose,
                                    TrainPass trainPass, ValidLoss validLoss)
{
   using Matrix_t = typename Architecture_t::Matrix_t;
   auto parameters = net.GetParameters();
   std::vector<Matrix_t> best;
   for (auto &p : parameters)
      best.push_back(*p.value);
   double bestLoss = validLoss();
   size_t sinceBest = 0;
   std::vector<TEpochRecord> history;
   for (size_t epoch = 1; epoch <= phase.maxEpochs && sinceBest < phase.convergenceSteps; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      const double trainLoss = trainPass();
      const bool test = epoch % phase.testRepetitions == 0 || epoch == phase.maxEpochs;
      const double valid = test ? validLoss() : std::numeric_limits<double>::quiet_NaN();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      history.push_back({epoch, trainLoss, valid, seconds});
      const double watched = test ? valid : trainLoss; // the loss this epoch shows
      if (!std::isfinite(watched))
         throw std::runtime_error(std::string("Train: the ") + (test ? "validation" : "training") + " loss became " +
                                  std::to_string(watched) + " at epoch " + std::to_string(epoch) +
                                  " (learning rate too large?)");
      if (test) {
         if (valid < bestLoss) {
            bestLoss = valid, sinceBest = 0;
            for (size_t k = 0; k < parameters.size(); ++k)
               best[k] = *parameters[k].value;
         } else {
            sinceBest += phase.testRepetitions;
         }
      }
      if (verbose) {
         if (test)
            std::printf("epoch %3zu  train loss %.6f  valid loss %.6f  %s  %.2f s\n", epoch, trainLoss, valid,
                        sinceBest == 0 ? "*" : " ", seconds);
         else
            std::printf("epoch %3zu  train loss %.6f  %.2f s\n", epoch, trainLoss, seconds);
         std::fflush(stdout);
      }
   }
   for (size_t k = 0; k < parameters.size(); ++k)
      *parameters[k].value = best[k];
   net.SetDropout({}, 0);
   return history;
}

/// Data-parallel runs: every process must train the same network on the same kind of samples, or
/// their sums would not line up (MPI would fail or hang, or add unrelated numbers). Every process
/// sees every process's description, so all refuse alike.
template <typename Architecture_t>
void CheckSameEverywhere(VCommunicator &comm, TDeepNet<Architecture_t> &net, bool lengths)
{
   constexpr size_t k = 5;
   static const char *const names[k] = {"parameter values", "input values per sample", "outputs",
                                        "rows per batch", "lengths (1: yes, 0: no)"};
   size_t parameters = 0;
   for (auto &p : net.GetParameters())
      parameters += p.value->GetNoElements();
   const size_t S = size_t(comm.Size()), rank = size_t(comm.Rank());
   std::vector<double> all(S * k, 0.0);
   const double mine[k] = {double(parameters), double(net.GetInputCols()), double(net.GetOutputCols()),
                           double(net.GetBatchSize()), lengths ? 1.0 : 0.0};
   std::copy(mine, mine + k, all.begin() + rank * k);
   comm.AllreduceSum(all.data(), all.size());
   for (size_t s = 1; s < S; ++s)
      for (size_t j = 0; j < k; ++j)
         if (all[s * k + j] != all[j])
            throw std::invalid_argument("data-parallel training: process " + std::to_string(s) + " has " +
                                        std::to_string(size_t(all[s * k + j])) + " " + names[j] + ", process 0 has " +
                                        std::to_string(size_t(all[j])) +
                                        "; every process must train the same network on the same kind of samples");
}

/// The phase as each of S processes (or shares) runs it: B/S rows per batch.
inline TTrainingPhase LocalPhase(const TTrainingPhase &phase, size_t S)
{
   if (S == 0 || phase.batchSize % S != 0)
      throw std::invalid_argument("Train: BatchSize " + std::to_string(phase.batchSize) + " does not divide into " +
                                  std::to_string(S) + " equal shares");
   TTrainingPhase local = phase;
   local.batchSize = phase.batchSize / S;
   return local;
}

template <typename Architecture_t, typename Real>
void CheckData(const TDeepNet<Architecture_t> &net, const TTrainingPhase &phase, const TDataSet<Real> &data,
               const char *what)
{
   CheckTargets(net.GetLossFunction(), data, what);
   if (data.inputCols != net.GetInputCols() || data.outputCols != net.GetOutputCols())
      throw std::invalid_argument(std::string("Train: the ") + what + " data widths (" +
                                  std::to_string(data.inputCols) + ", " + std::to_string(data.outputCols) +
                                  ") do not match the network (" + std::to_string(net.GetInputCols()) + ", " +
                                  std::to_string(net.GetOutputCols()) + ")");
   if (phase.batchSize != net.GetBatchSize())
      throw std::invalid_argument("Train: the phase's BatchSize differs from the network's batch size");
}

} // namespace detail

/// One training phase. Prints one line per epoch when `verbose`. Returns the history; the net
/// ends with the weights of the epoch with the best validation loss.
///
/// Data-parallel, with `comm`: this process's data sets are its shares of the samples, its net
/// takes B/S rows per batch (S processes), and every step is the whole batch's (TGradientSum);
/// losses are the whole data's. Without comm, `shares` > 1 trains as that many processes
/// would (TShardedOrder), for one process to check a run against. Dropout draws differ between
/// the two.
template <typename Architecture_t>
std::vector<TEpochRecord> Train(TDeepNet<Architecture_t> &net, const TTrainingPhase &phase,
                                const TDataSet<typename Architecture_t::Scalar_t> &train,
                                const TDataSet<typename Architecture_t::Scalar_t> &valid, uint64_t seed,
                                bool verbose = true, VCommunicator *comm = nullptr, size_t shares = 1)
{
   if (train.GetNSamples() == 0 || (valid.GetNSamples() == 0 && !comm))
      throw std::invalid_argument("Train: the training and validation sets must not be empty");
   if (train.HasLengths() != valid.HasLengths())
      throw std::invalid_argument("Train: give lengths for both the training and the validation set, or for neither");
   const size_t S = comm ? size_t(comm->Size()) : shares;
   const TTrainingPhase share = detail::LocalPhase(phase, S); // one share's rows per batch
   const TTrainingPhase &local = comm ? share : phase;         // what this process's net takes
   if (comm)
      detail::CheckSameEverywhere(*comm, net, train.HasLengths());
   detail::CheckData(net, local, train, "training");
   detail::CheckData(net, local, valid, "validation");
   std::vector<size_t> sizes(S);
   if (comm) { // every process's share size
      std::vector<double> counts(S, 0.0);
      counts[size_t(comm->Rank())] = double(train.GetNSamples());
      comm->AllreduceSum(counts.data(), S);
      for (size_t s = 0; s < S; ++s)
         sizes[s] = size_t(counts[s]);
   } else {
      for (size_t s = 0; s < S; ++s)
         sizes[s] = (train.GetNSamples() + S - 1 - s) / S; // rows s, s + S, …
   }
   TShardedOrder order(sizes, comm ? size_t(comm->Rank()) : 0, comm ? 1 : S, phase.batchSize / S, seed);
   TOptimizer<Architecture_t> optimizer(net, phase.optimizer, phase.learningRate, phase.momentum, phase.beta1,
                                        phase.beta2, phase.epsilon);
   std::unique_ptr<TGradientSum<Architecture_t>> sum;
   if (comm)
      sum = std::make_unique<TGradientSum<Architecture_t>>(net, *comm);
   net.SetDropout(phase.dropout, comm ? seed + uint64_t(comm->Rank()) : seed); // each process its own masks
   TBatchLoader<Architecture_t> loader(train, net), validLoader(valid, net);
   std::vector<size_t> validIndex(valid.GetNSamples());
   std::iota(validIndex.begin(), validIndex.end(), size_t(0));
   auto validLoss = [&] {
      return SumOver(comm, Pass<Architecture_t>(net, validLoader, validIndex, nullptr)).Mean();
   };
   return detail::EpochLoop(
      net, phase, verbose, [&] { return Pass<Architecture_t>(net, loader, order.Next(), &optimizer, sum.get()).Mean(); },
      validLoss);
}

template <typename Real>
class VSampleStream {
public:
   virtual ~VSampleStream() = default;
   /// Back to the first chunk.
   virtual void Rewind() = 0;
   /// Replaces chunk's samples by the next chunk's; false (chunk empty) after the last.
   virtual bool Next(TDataSet<Real> &chunk) = 0;
   virtual size_t InputCols() const = 0;
   virtual bool HasLengths() const = 0;
};

/// Streaming training and evaluation. Memory: the shuffle buffer (at most bufferSize samples), one
/// chunk and one batch.
template <typename Architecture_t>
class TStreamTrainer {
public:
   using Real = typename Architecture_t::Scalar_t;

   TStreamTrainer(TDeepNet<Architecture_t> &net, size_t bufferSize)
      : fNet(net), fBufferSize(bufferSize), fBuffer(net.GetInputCols(), net.GetOutputCols()),
        fChunk(net.GetInputCols(), net.GetOutputCols()), fLoader(fBuffer, net)
   {
      if (net.GetOutputCols() != 1)
         throw std::invalid_argument("streaming: trees give one target per entry; the network has " +
                                     std::to_string(net.GetOutputCols()) + " outputs");
      if (bufferSize < net.GetBatchSize())
         throw std::invalid_argument("streaming: the shuffle buffer (" + std::to_string(bufferSize) +
                                     " samples) must hold at least one batch (" +
                                     std::to_string(net.GetBatchSize()) + ")");
   }

   TStreamTrainer(TStreamTrainer &&) = delete; // holds references; one constructor for PyROOT

   /// One training phase over the stream (as Train): each epoch reads the training stream into the
   /// shuffle buffer; whenever it holds bufferSize samples, a batch drawn at random (seeded) trains
   /// the net; at the end of the stream the rest goes in a shuffled order, TEpochShuffler's. With a
   /// buffer larger than the data this is Train on the same samples, batch for batch.
   ///
   /// Data-parallel, with `comm`: the streams are this process's shares, its net takes B/S rows
   /// per batch, and every step sums the gradients of one batch from each process (TGradientSum).
   /// The processes' streams differ in length, so a process that has run out takes part in the
   /// others' steps with empty batches until every one has (TGradientSum::AllFinished); all
   /// thus make the same steps. Losses are the whole data's.
   std::vector<TEpochRecord> Train(const TTrainingPhase &phase, VSampleStream<Real> &train, VSampleStream<Real> &valid,
                                   uint64_t seed, bool verbose = true, VCommunicator *comm = nullptr)
   {
      if (train.HasLengths() != valid.HasLengths())
         throw std::invalid_argument("Train: give lengths for both the training and the validation stream, or for "
                                     "neither");
      const TTrainingPhase local = detail::LocalPhase(phase, comm ? size_t(comm->Size()) : 1); // what its net takes
      if (comm)
         detail::CheckSameEverywhere(*comm, fNet, train.HasLengths());
      detail::CheckData(fNet, local, fBuffer, "training");
      if (train.InputCols() != fNet.GetInputCols() || valid.InputCols() != fNet.GetInputCols())
         throw std::invalid_argument("Train: the stream's samples do not match the network's input width");
      TOptimizer<Architecture_t> optimizer(fNet, phase.optimizer, phase.learningRate, phase.momentum, phase.beta1,
                                           phase.beta2, phase.epsilon);
      fNet.SetDropout(phase.dropout, comm ? seed + uint64_t(comm->Rank()) : seed); // each process its own masks
      std::mt19937_64 draws(seed ^ 0x5DEECE66Dull); // the buffer's draws; the drain order is TEpochShuffler's
      std::unique_ptr<TEpochShuffler> drain;
      std::unique_ptr<TGradientSum<Architecture_t>> sum;
      if (comm)
         sum = std::make_unique<TGradientSum<Architecture_t>>(fNet, *comm);
      return detail::EpochLoop(
         fNet, phase, verbose, [&] { return TrainPass(train, optimizer, draws, drain, seed, sum.get()); },
         [&] { return Mean(SumOver(comm, PassLoss(valid))); });
   }

   /// The weighted mean loss over a stream, in batches of consecutive samples across chunks (as
   /// EvaluateLoss on the same samples).
   double Loss(VSampleStream<Real> &stream) { return Mean(PassLoss(stream)); }

   /// The samples the shuffle buffer has room for (its memory): at most bufferSize after training.
   size_t GetBufferCapacity() const { return fBuffer.GetCapacity(); }

private:
   static double Mean(const TPassLoss &loss)
   {
      if (loss.weight == 0)
         throw std::invalid_argument("streaming: the validation stream has no samples of non-zero weight");
      return loss.Mean();
   }

   TPassLoss PassLoss(VSampleStream<Real> &stream)
   {
      const size_t B = fNet.GetBatchSize();
      TPassLoss loss;
      fNet.ResetState();
      Reset(stream);
      std::vector<size_t> index;
      while (stream.Next(fChunk))
         Feed(B, [&] {
            StepRows(0, B, nullptr, index, loss);
            fBuffer.Resize(0);
         });
      if (fBuffer.GetNSamples() > 0)
         StepRows(0, fBuffer.GetNSamples(), nullptr, index, loss);
      return loss;
   }

   double TrainPass(VSampleStream<Real> &stream, TOptimizer<Architecture_t> &optimizer, std::mt19937_64 &draws,
                    std::unique_ptr<TEpochShuffler> &drain, uint64_t seed, TGradientSum<Architecture_t> *sum)
   {
      const size_t B = fNet.GetBatchSize();
      TPassLoss loss;
      fNet.ResetState();
      Reset(stream);
      std::vector<size_t> index;
      size_t steps = 0;
      while (stream.Next(fChunk))
         Feed(fBufferSize, [&] { // B samples drawn without replacement, each swapped to the end; the end trains
            const size_t n = fBuffer.GetNSamples();
            for (size_t k = 0; k < B; ++k)
               fBuffer.SwapSamples(std::uniform_int_distribution<size_t>(0, n - 1 - k)(draws), n - 1 - k);
            StepRows(n - B, B, &optimizer, index, loss, sum);
            fBuffer.Resize(n - B), ++steps;
         });
      const size_t rest = fBuffer.GetNSamples();
      if (rest == 0 && steps == 0)
         throw std::invalid_argument("streaming: the training stream has no samples");
      if (!drain || drain->Size() != rest)
         drain = std::make_unique<TEpochShuffler>(rest, seed);
      const std::vector<size_t> &order = drain->Next();
      for (size_t first = 0; first < rest; first += B)
         Step(fNet, fLoader, order, first, &optimizer, loss, sum);
      if (sum) // out of batches: take part in the others' steps until every process is
         do {
            const TPassLoss batch = sum->Reduce(0, 0, true);
            loss.total += batch.total, loss.weight += batch.weight;
            if (batch.weight > 0)
               optimizer.Step();
         } while (!sum->AllFinished());
      return loss.Mean();
   }

   void Reset(VSampleStream<Real> &stream)
   {
      stream.Rewind();
      fBuffer.Resize(0); // keeps its capacity; takes lengths again with its first sample if the stream has them
   }

   /// Buffer rows [first, first + n) as one batch (n ≤ B; a short one is padded by the loader).
   void StepRows(size_t first, size_t n, TOptimizer<Architecture_t> *optimizer, std::vector<size_t> &index,
                 TPassLoss &loss, TGradientSum<Architecture_t> *sum = nullptr)
   {
      index.resize(n);
      std::iota(index.begin(), index.end(), first);
      Step(fNet, fLoader, index, 0, optimizer, loss, sum);
   }

   /// Moves the chunk into the buffer as it makes room: whenever the buffer holds `full` samples,
   /// whenFull() runs and shrinks it. So the buffer never holds more than `full`, and grows its
   /// memory geometrically up to that.
   template <typename WhenFull>
   void Feed(size_t full, WhenFull &&whenFull)
   {
      detail::CheckTargets(fNet.GetLossFunction(), fChunk, "chunk's");
      for (size_t taken = 0; taken < fChunk.GetNSamples();) {
         const size_t n = std::min(fChunk.GetNSamples() - taken, full - fBuffer.GetNSamples());
         if (fBuffer.GetNSamples() + n > fBuffer.GetCapacity())
            fBuffer.Reserve(std::min(full, 2 * (fBuffer.GetNSamples() + n)), fChunk.HasLengths());
         fBuffer.AppendFrom(fChunk, taken, n);
         taken += n;
         if (fBuffer.GetNSamples() == full)
            whenFull();
      }
   }

   TDeepNet<Architecture_t> &fNet;
   size_t fBufferSize;
   TDataSet<Real> fBuffer, fChunk;
   TBatchLoader<Architecture_t> fLoader;
};

} // namespace tmva_lstm
