// RReader: a trained model, loaded from its file, evaluated where analyses run (needs ROOT), in
// the spirit of TMVA::Experimental::RReader. Thread-safe: each concurrent caller gets its own
// network (made on first need, sharing nothing but the weights' values), so it can be called
// from every slot of an RDataFrame under ROOT::EnableImplicitMT.
//
//   auto model = std::make_shared<tmva_lstm::RReader>("out/model.root");
//   std::vector<float> score = model->Compute(x);           // n events of T·D values → n·K
//   auto scored = tmva_lstm::DefineScore(df, "score", model, description);
//
// Each event is evaluated on its own, from the zero state, exactly as Net.predict evaluates it,
// in the model's precision. DefineScore turns the description's columns into x the way the
// readers do for training (Samples.h: per-step branches, one array, or jagged object
// collections sorted by a key and cut at T), so a column defined on the same trees gives the
// scores Net.predict gives for them.
#pragma once

#include "Cpu.h"
#include "DataFrameReader.h"
#include "ModelIO.h"
#include "Predictor.h"

#include <ROOT/RDataFrame.hxx>
#include <ROOT/RVec.hxx>

#include <algorithm>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

namespace detail {

/// Objects handed to one caller at a time; one is made when none is free, so there are as many
/// as there were concurrent callers. Lease returns its object on destruction, also on error.
template <typename T>
class TObjectPool {
public:
   class Lease {
   public:
      Lease(TObjectPool &pool, std::unique_ptr<T> object) : fPool(pool), fObject(std::move(object)) {}
      Lease(const Lease &) = delete;
      ~Lease() { fPool.Release(std::move(fObject)); }
      T &operator*() const { return *fObject; }
      T *operator->() const { return fObject.get(); }

   private:
      TObjectPool &fPool;
      std::unique_ptr<T> fObject;
   };

   template <typename Make>
   Lease Acquire(const Make &make)
   {
      {
         std::lock_guard<std::mutex> lock(fMutex);
         if (!fFree.empty()) {
            std::unique_ptr<T> object = std::move(fFree.back());
            fFree.pop_back();
            return Lease(*this, std::move(object));
         }
      }
      return Lease(*this, make());
   }

private:
   void Release(std::unique_ptr<T> object)
   {
      std::lock_guard<std::mutex> lock(fMutex);
      fFree.push_back(std::move(object));
   }
   std::mutex fMutex;
   std::vector<std::unique_ptr<T>> fFree;
};

/// What RReader computes with, in the model file's precision.
class VReaderEngine {
public:
   virtual ~VReaderEngine() = default;
   /// n events of T·D values (and n lengths, or nullptr: all T) → n·K scores in out.
   virtual void Compute(const float *x, size_t n, const float *lengths, float *out) = 0;
   virtual void Compute(const double *x, size_t n, const double *lengths, float *out) = 0;
};

template <typename Real>
class TReaderEngine final : public VReaderEngine {
public:
   using Arch = TCpu<Real>;
   using Net_t = TDeepNet<Arch>;

   TReaderEngine(std::unique_ptr<Net_t> prototype, TNetSpec spec)
      : fPrototype(std::move(prototype)), fSpec(std::move(spec))
   {
   }
   void Compute(const float *x, size_t n, const float *lengths, float *out) override { Run(x, n, lengths, out); }
   void Compute(const double *x, size_t n, const double *lengths, float *out) override { Run(x, n, lengths, out); }

private:
   template <typename In>
   void Run(const In *x, size_t n, const In *lengths, float *out)
   {
      const size_t B = n == 1 ? 1 : PredictBatchSize(fSpec, sizeof(Real)); // one event: a network of batch 1
      auto predictor = (B == 1 ? fSingle : fBatch).Acquire([&] {
         return std::make_unique<TPredictor<Arch>>(fSpec, *fPrototype, B);
      });
      predictor->Predict(x, n, lengths, out);
   }

   std::unique_ptr<Net_t> fPrototype;
   TNetSpec fSpec;
   TObjectPool<TPredictor<Arch>> fSingle, fBatch;
};

} // namespace detail

class RReader {
public:
   /// Loads the model file (any precision it was saved in). Throws naming the file and the
   /// problem; refuses a model whose recurrent layers carry their state from batch to batch
   /// (rememberState), which would make a score depend on the events before it.
   explicit RReader(const std::string &path) : fPath(path)
   {
      const TNetSpec spec = ParseBookingOptions(ReadModelOptions(path));
      if (ReadModelEntry(path, "Scalar") == "double")
         fEngine = Load<double>(spec);
      else
         fEngine = Load<float>(spec);
   }

   const std::string &GetPath() const { return fPath; }
   /// T, D: an event is T·D values (step after step); K scores per event.
   size_t GetTimeSteps() const { return fTimeSteps; }
   size_t GetInputSize() const { return fInputSize; }
   size_t GetNOutputs() const { return fOutputs; }

   /// The scores of n events, x holding n·T·D values (event after event, as Net.predict's
   /// (n, T, D)), and lengths (n values from 0 to T) for a variable-length model, else empty.
   /// Returns n·K scores.
   template <typename In>
   std::vector<float> Compute(const std::vector<In> &x, const std::vector<In> &lengths = {}) const
   {
      return Compute(x.data(), x.size(), lengths.empty() ? nullptr : lengths.data(), lengths.size());
   }
   template <typename In>
   std::vector<float> Compute(const ROOT::RVec<In> &x, const ROOT::RVec<In> &lengths = {}) const
   {
      return Compute(x.data(), x.size(), lengths.empty() ? nullptr : lengths.data(), lengths.size());
   }
   /// The same from raw arrays: nValues of x, nLengths of lengths (0 with lengths = nullptr).
   template <typename In>
   std::vector<float> Compute(const In *x, size_t nValues, const In *lengths, size_t nLengths) const
   {
      static_assert(std::is_same<In, float>::value || std::is_same<In, double>::value,
                    "RReader::Compute takes float or double values");
      const size_t N = fTimeSteps * fInputSize;
      if (nValues == 0 || nValues % N != 0)
         throw std::invalid_argument("RReader: " + std::to_string(nValues) + " input values are not whole events of T*D = " +
                                     std::to_string(N) + " values (T = " + std::to_string(fTimeSteps) +
                                     ", D = " + std::to_string(fInputSize) + ")");
      const size_t n = nValues / N;
      if (lengths && nLengths != n)
         throw std::invalid_argument("RReader: " + std::to_string(nLengths) + " lengths for " + std::to_string(n) +
                                     " events");
      std::vector<float> out(n * fOutputs);
      fEngine->Compute(x, n, lengths, out.data());
      return out;
   }

private:
   template <typename Real>
   std::unique_ptr<detail::VReaderEngine> Load(const TNetSpec &spec)
   {
      auto net = LoadModel<TCpu<Real>>(fPath);
      if (net->RemembersState())
         throw std::invalid_argument("RReader: model '" + fPath +
                                     "' has recurrent layers that remember their state from batch to batch "
                                     "(rememberState = 1); its scores would depend on the events before");
      fTimeSteps = spec.timeSteps, fInputSize = spec.inputSize, fOutputs = net->GetOutputCols();
      return std::make_unique<detail::TReaderEngine<Real>>(std::move(net), spec);
   }

   std::string fPath;
   size_t fTimeSteps = 0, fInputSize = 0, fOutputs = 0;
   std::unique_ptr<detail::VReaderEngine> fEngine;
};

namespace detail {

/// DefineScore's callable: the entry's flattened columns → x (TSampleAssembler, as for
/// training) → the reader's scores. Copies share one state; thread-safe as RReader is.
template <typename Out>
class TScoreColumn {
public:
   TScoreColumn(std::shared_ptr<const RReader> reader, const TTreeDataDescription &desc)
      : fState(std::make_shared<TState>(std::move(reader), desc))
   {
   }

   Out operator()(const ROOT::RVec<ROOT::RVec<double>> &columns, ULong64_t entry) const
   {
      TState &s = *fState;
      auto a = s.assemblers.Acquire([&] { return std::make_unique<TAssembler>(s.desc); });
      for (size_t k = 0; k < columns.size(); ++k)
         a->columns[k].SetEntry(columns[k]);
      auto where = [&](const std::string &b) {
         return "RDataFrame entry " + std::to_string(entry) + (b.empty() ? "" : " column '" + b + "'");
      };
      const double length = a->assembler.Assemble(a->inputs, a->sortKey, where);
      const size_t N = s.desc.timeSteps * s.desc.inputSize;
      std::vector<float> score;
      try {
         score = s.reader->Compute(a->assembler.X(), N, s.desc.HasObjects() ? &length : nullptr,
                                   s.desc.HasObjects() ? 1 : 0);
      } catch (const std::invalid_argument &e) {
         throw std::invalid_argument(where("") + ": " + e.what());
      }
      if constexpr (std::is_same<Out, float>::value)
         return score[0];
      else
         return Out(score.begin(), score.end());
   }

private:
   struct TAssembler {
      explicit TAssembler(const TTreeDataDescription &desc) : assembler(desc)
      {
         const std::vector<std::string> inputNames = desc.InputBranches();
         for (const std::string &b : inputNames)
            columns.emplace_back(b);
         if (!desc.sortBy.empty())
            columns.emplace_back(desc.sortBy);
         for (size_t k = 0; k < inputNames.size(); ++k)
            inputs.push_back(&columns[k]);
         sortKey = desc.sortBy.empty() ? nullptr : &columns.back();
      }
      TSampleAssembler<double> assembler;
      std::vector<TValuesColumn> columns; // the inputs, then the sort key
      std::vector<const VEntryColumn *> inputs;
      const VEntryColumn *sortKey;
   };
   struct TState {
      TState(std::shared_ptr<const RReader> r, const TTreeDataDescription &d) : reader(std::move(r)), desc(d) {}
      std::shared_ptr<const RReader> reader;
      TTreeDataDescription desc;
      TObjectPool<TAssembler> assemblers;
   };
   std::shared_ptr<TState> fState;
};

} // namespace detail

/// df with a column `name` holding the model's scores for each entry, from the description's
/// input columns (and sort key) as the readers take them for training: per-step branches, one
/// array of T·D values, or jagged object collections (sorted by desc.sortBy, the first T kept,
/// the length going to the model). A float per entry for a one-output model, else an RVec of
/// its K scores. Columns are checked now (present, numeric, per object where needed), and bad
/// entries throw naming the entry and column. Works under ROOT::EnableImplicitMT.
inline ROOT::RDF::RNode DefineScore(ROOT::RDF::RNode df, const std::string &name,
                                    std::shared_ptr<const RReader> reader, TTreeDataDescription desc)
{
   desc.trees.clear(), desc.treeLabels.clear(), desc.labelBranch.clear(), desc.weightBranch.clear();
   desc.Check();
   if (desc.timeSteps != reader->GetTimeSteps() || desc.inputSize != reader->GetInputSize())
      throw std::invalid_argument("DefineScore: the description gives T = " + std::to_string(desc.timeSteps) +
                                  ", D = " + std::to_string(desc.inputSize) + ", the model '" + reader->GetPath() +
                                  "' takes T = " + std::to_string(reader->GetTimeSteps()) +
                                  ", D = " + std::to_string(reader->GetInputSize()));
   std::vector<std::string> columns = desc.InputBranches();
   const size_t nInputs = columns.size();
   if (!desc.sortBy.empty())
      columns.push_back(desc.sortBy);
   std::string all = "ROOT::RVec<ROOT::RVec<double>>{";
   for (size_t k = 0; k < columns.size(); ++k)
      all += (k ? ", " : "") + detail::FlatColumn(df, columns[k], desc, k < nInputs);
   const std::string flat = "__tmva_lstm_score_inputs_" + name;
   ROOT::RDF::RNode node = df.Define(flat, all + "}");
   if (reader->GetNOutputs() == 1)
      return node.Define(name, detail::TScoreColumn<float>(reader, desc), {flat, "rdfentry_"});
   return node.Define(name, detail::TScoreColumn<ROOT::RVec<float>>(reader, desc), {flat, "rdfentry_"});
}

} // namespace tmva_lstm
