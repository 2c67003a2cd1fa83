// From the columns of one entry to one sample, written once for every source of entries: the
// TTree reader (TreeReader.h) and the RDataFrame reader (DataFrameReader.h). ROOT-free.
// A sample is one entry, in one of three layouts:
// - one branch per time step, D values each (TMVA's RNN tutorial: vars_time0 … vars_time9);
// - one branch of T·D values;
// - jagged object collections: one branch per object feature (trk_pt, trk_eta, …), each holding
//   one value per object, the same count within an entry. The objects are sorted by a branch,
//   the first T kept and padded to T; the sample's length is its object count (at most T).
// python/tmva_lstm/data.py (_samples, _objects) does the same with NumPy for the uproot reader.
#pragma once

#include "DataSet.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

struct TTreeDataDescription {
   std::vector<std::string> trees;          ///< tree names, folders included (dir/tree)
   std::vector<double> treeLabels;          ///< the class of each tree (when there is no label branch)
   std::vector<std::string> stepBranches;   ///< one branch per time step, D values each …
   std::string arrayBranch;                 ///< … or one branch of T·D values …
   std::vector<std::string> objectBranches; ///< … or one branch per object feature (D of them)
   std::string sortBy;                      ///< objects: ordered by this per-object branch (or kept as stored)
   bool sortAbs = false;                    ///< … by its absolute value
   bool sortDescending = true;              ///< … largest first
   std::string labelBranch;                 ///< optional: the target of each entry
   std::string weightBranch;                ///< optional: the weight of each entry
   size_t timeSteps = 0, inputSize = 0;     ///< objects: T = the objects kept (N), D = the object branches

   /// TMVA's RNN tutorial layout: trees sgn (class 1) and bkg (class 0), vars_time<t>.
   static TTreeDataDescription Tutorial(size_t timeSteps = 10, size_t inputSize = 30)
   {
      TTreeDataDescription d;
      d.trees = {"sgn", "bkg"}, d.treeLabels = {1, 0};
      for (size_t t = 0; t < timeSteps; ++t)
         d.stepBranches.push_back("vars_time" + std::to_string(t));
      d.timeSteps = timeSteps, d.inputSize = inputSize;
      return d;
   }

   /// The b-jet toy (TrackData.h): trees bjets (class 1) and ljets (class 0), the tracks of each jet
   /// sorted by |d0 significance|, the first maxTracks kept.
   static TTreeDataDescription Tracks(size_t maxTracks = 15)
   {
      TTreeDataDescription d;
      d.trees = {"bjets", "ljets"}, d.treeLabels = {1, 0};
      d.objectBranches = {"trk_pt", "trk_eta", "trk_dphi", "trk_d0sig", "trk_z0sig"};
      d.sortBy = "trk_d0sig", d.sortAbs = true, d.sortDescending = true;
      d.timeSteps = maxTracks, d.inputSize = d.objectBranches.size();
      return d;
   }

   bool HasObjects() const { return !objectBranches.empty(); }

   /// Throws naming what is inconsistent (trees are checked by the tree reader only).
   void Check() const
   {
      if (labelBranch.empty() && !trees.empty() && treeLabels.size() != trees.size())
         throw std::invalid_argument("data description: give a class per tree or a label branch");
      if (int(!stepBranches.empty()) + int(!arrayBranch.empty()) + int(!objectBranches.empty()) != 1)
         throw std::invalid_argument("data description: give exactly one of per-step branches, one array branch "
                                     "or object branches");
      if (!stepBranches.empty() && stepBranches.size() != timeSteps)
         throw std::invalid_argument("data description: " + std::to_string(stepBranches.size()) +
                                     " step branches for " + std::to_string(timeSteps) + " time steps");
      for (size_t t = 1; t < stepBranches.size(); ++t)
         for (size_t u = 0; u < t; ++u)
            if (stepBranches[t] == stepBranches[u])
               throw std::invalid_argument("data description: step " + std::to_string(u) + " and step " +
                                           std::to_string(t) + " both read branch '" + stepBranches[t] +
                                           "'; each step needs its own branch");
      if (HasObjects() && objectBranches.size() != inputSize)
         throw std::invalid_argument("data description: " + std::to_string(objectBranches.size()) +
                                     " object branches for input size " + std::to_string(inputSize));
      if (!sortBy.empty() && !HasObjects())
         throw std::invalid_argument("data description: sorting by '" + sortBy + "' needs object branches");
      if (timeSteps == 0 || inputSize == 0)
         throw std::invalid_argument("data description: time steps (or the objects kept) and input size must be > 0");
   }

   /// The branches that make x, in order.
   std::vector<std::string> InputBranches() const
   {
      if (!arrayBranch.empty())
         return {arrayBranch};
      return HasObjects() ? objectBranches : stepBranches;
   }

   /// Every branch read, each once: inputs, then label, weight and sort key.
   std::vector<std::string> Branches() const
   {
      std::vector<std::string> all = InputBranches();
      for (const std::string *b : {&labelBranch, &weightBranch, &sortBy})
         if (!b->empty() && std::find(all.begin(), all.end(), *b) == all.end())
            all.push_back(*b);
      return all;
   }
};

/// Train/validation/test by entry, not by position: a hash of (file name without its directory,
/// tree, entry number within the file, seed) picks the part, so adding files never moves an
/// entry to another part, and every reader and the stream agree. Parts: 0 train, 1 validation,
/// 2 test; test takes testFraction of the entries, validation validFraction of the rest.
/// Data-parallel training reads a share: of those entries, the ones whose share (another function
/// of the same hash) is `share` of `shares`.
struct TEntrySplit {
   int part = -1; ///< the part a reader keeps; -1 keeps every entry
   uint64_t seed = 1;
   double testFraction = 0.2, validFraction = 0.2;
   size_t share = 0, shares = 1; ///< this process's share of the part's entries

   void Check() const
   {
      if (part < -1 || part > 2)
         throw std::invalid_argument("entry split: part must be -1 (all), 0 (train), 1 (validation) or 2 (test), got " +
                                     std::to_string(part));
      if (!(testFraction >= 0 && testFraction < 1 && validFraction >= 0 && validFraction < 1))
         throw std::invalid_argument("entry split: the test and validation fractions must be in [0, 1)");
      if (shares == 0 || share >= shares)
         throw std::invalid_argument("entry split: share must be 0 … shares − 1, got " + std::to_string(share) +
                                     " of " + std::to_string(shares));
   }

   /// Whether a reader drops some entries (a part, or a share).
   bool Selects() const { return part >= 0 || shares > 1; }
   /// Whether a reader keeps this entry: in the part (any, with part −1) and in the share.
   bool Keeps(const std::string &file, const std::string &tree, uint64_t entry) const
   {
      const uint64_t h = Hash(file, tree, entry);
      return (part < 0 || PartOfHash(h) == part) && (shares == 1 || Mix(h ^ 0x5bd1e995ull) % shares == share);
   }
   /// Keeps for entries first … first + n − 1 of one file and tree (1: kept).
   std::vector<int> Kept(const std::string &file, const std::string &tree, uint64_t first, size_t n) const
   {
      std::vector<int> kept(n);
      for (size_t k = 0; k < n; ++k)
         kept[k] = Keeps(file, tree, first + k);
      return kept;
   }

   int PartOf(const std::string &file, const std::string &tree, uint64_t entry) const
   {
      return PartOfHash(Hash(file, tree, entry));
   }

private:
   static uint64_t Mix(uint64_t h) // splitmix64's finaliser
   {
      h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
      h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
      return h ^ (h >> 31);
   }
   int PartOfHash(uint64_t h) const
   {
      const double u = double(h >> 11) * 0x1.0p-53; // uniform in [0, 1)
      return u < testFraction ? 2 : u < testFraction + (1 - testFraction) * validFraction ? 1 : 0;
   }
   uint64_t Hash(const std::string &file, const std::string &tree, uint64_t entry) const
   {
      uint64_t h = 1469598103934665603ull; // FNV-1a over the file's base name and the tree name …
      const size_t slash = file.rfind('/');
      for (const std::string &s : {file.substr(slash == std::string::npos ? 0 : slash + 1), tree}) {
         for (unsigned char c : s)
            h = (h ^ c) * 1099511628211ull;
         h = (h ^ 0xffu) * 1099511628211ull; // a separator no name holds
      }
      return Mix(h ^ (entry * 0x9e3779b97f4a7c15ull + seed)); // … then the entry and the seed
   }
};

/// One column's values in the current entry, flat.
class VEntryColumn {
public:
   virtual ~VEntryColumn() = default;
   virtual size_t Size() const = 0;
   /// Value k, as double (sort keys, labels, weights).
   virtual double At(size_t k) const = 0;
   /// The Size() values, converted.
   virtual void CopyTo(float *out) const = 0;
   virtual void CopyTo(double *out) const = 0;
   const std::string &Name() const { return fName; }

protected:
   std::string fName;
};

/// Turns the current entry's columns into one sample and appends it to a data set. Buffers are
/// allocated once and reused.
template <typename Real>
class TSampleAssembler {
public:
   explicit TSampleAssembler(const TTreeDataDescription &desc) : fDesc(desc), fX(desc.timeSteps * desc.inputSize) {}

   /// inputs: the InputBranches() columns; sortKey may be null. where(column) names the entry
   /// and column in error messages.
   template <typename Where>
   void Append(const std::vector<const VEntryColumn *> &inputs, const VEntryColumn *sortKey, double label,
               double weight, const Where &where, TDataSet<Real> &data)
   {
      const Real length = Assemble(inputs, sortKey, where);
      const Real y = Real(label), w = Real(weight);
      try {
         data.Append(fX.data(), &y, &w, 1, fDesc.HasObjects() ? &length : nullptr);
      } catch (const std::invalid_argument &e) {
         throw std::invalid_argument(where("") + ": " + e.what());
      }
   }

   /// The entry's x (T·D values, X()) without appending it; returns its length (T without objects).
   template <typename Where>
   Real Assemble(const std::vector<const VEntryColumn *> &inputs, const VEntryColumn *sortKey, const Where &where)
   {
      const size_t T = fDesc.timeSteps, D = fDesc.inputSize;
      if (fDesc.HasObjects())
         return Real(Objects(inputs, sortKey, where));
      const size_t width = fDesc.arrayBranch.empty() ? D : T * D;
      for (size_t s = 0; s < inputs.size(); ++s) {
         const size_t size = inputs[s]->Size();
         if (size != width)
            throw std::invalid_argument(where(inputs[s]->Name()) + ": " + std::to_string(size) + " values, expected " +
                                        std::to_string(width));
         inputs[s]->CopyTo(fX.data() + s * width);
      }
      return Real(T);
   }
   const Real *X() const { return fX.data(); }

private:
   /// The objects sorted by the key (stable), the first T kept, feature after feature (x is
   /// T × D, zero past the length). Returns the length.
   template <typename Where>
   size_t Objects(const std::vector<const VEntryColumn *> &inputs, const VEntryColumn *sortKey, const Where &where)
   {
      const size_t T = fDesc.timeSteps, D = fDesc.inputSize;
      const size_t count = inputs[0]->Size();
      auto checkCount = [&](const VEntryColumn &c) {
         if (c.Size() != count)
            throw std::invalid_argument(where(c.Name()) + ": " + std::to_string(c.Size()) + " objects, but " +
                                        std::to_string(count) + " in '" + inputs[0]->Name() + "'");
      };
      for (const VEntryColumn *c : inputs)
         checkCount(*c);
      fOrder.resize(count);
      std::iota(fOrder.begin(), fOrder.end(), size_t(0));
      if (sortKey) {
         checkCount(*sortKey);
         fKeys.resize(count);
         for (size_t k = 0; k < count; ++k) {
            const double v = sortKey->At(k);
            if (std::isnan(v))
               throw std::invalid_argument(where(sortKey->Name()) + ": object " + std::to_string(k) +
                                           " has a NaN sort key");
            fKeys[k] = fDesc.sortAbs ? std::fabs(v) : v;
         }
         // stable: objects with equal keys keep their stored order (numpy's stable argsort)
         if (fDesc.sortDescending)
            std::stable_sort(fOrder.begin(), fOrder.end(), [&](size_t a, size_t b) { return fKeys[a] > fKeys[b]; });
         else
            std::stable_sort(fOrder.begin(), fOrder.end(), [&](size_t a, size_t b) { return fKeys[a] < fKeys[b]; });
      }
      const size_t length = std::min(count, T);
      std::fill(fX.begin(), fX.end(), Real(0));
      fValues.resize(count);
      for (size_t f = 0; f < D; ++f) {
         inputs[f]->CopyTo(fValues.data());
         for (size_t s = 0; s < length; ++s)
            fX[s * D + f] = fValues[fOrder[s]];
      }
      return length;
   }

   const TTreeDataDescription &fDesc;
   std::vector<Real> fX, fValues;
   std::vector<double> fKeys;
   std::vector<size_t> fOrder;
};

} // namespace tmva_lstm
