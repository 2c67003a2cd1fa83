// Sequence samples from TTrees (needs ROOT). One sample = one entry, in one of three layouts:
// - one branch per time step, D values each (TMVA's RNN tutorial: vars_time0 … vars_time9);
// - one branch of T·D values;
// - jagged object collections: one branch per object feature (trk_pt, trk_eta, …), each holding
//   one value per object, the same count within an entry. The objects are sorted by a branch,
//   the first N kept and padded to N; each sample's length is its object count (at most N).
// Every numeric type and layout is read with its own type (TreeColumn.h). The class comes from
// the tree (one tree per class) or from a label branch; an optional weight branch weights the
// samples. Many files: each tree is chained over every file (globs expanded), and `path:tree`
// gives a file to one tree only. Entries are read in ranges, so large trees stream in chunks.
// python/tmva_lstm/data.py gives the same arrays with uproot.
#pragma once

#include "DataSet.h"
#include "TreeColumn.h"

#include <TChain.h>
#include <TDirectory.h>
#include <TFile.h>
#include <TKey.h>

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
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
};

/// `path:tree` → {path, tree}; a colon that starts "//" belongs to a URL (root://host//file).
inline std::pair<std::string, std::string> SplitFileSpec(const std::string &spec)
{
   const size_t colon = spec.rfind(':');
   if (colon == std::string::npos || spec.compare(colon + 1, 2, "//") == 0)
      return {spec, ""};
   return {spec.substr(0, colon), spec.substr(colon + 1)};
}

/// The files a path names: itself, or (with * ? [) the files its glob matches, sorted; throws if
/// a glob matches nothing.
inline std::vector<std::string> ExpandFilePattern(const std::string &path)
{
   if (path.find_first_of("*?[") == std::string::npos || path.find("://") != std::string::npos)
      return {path};
   glob_t found;
   const int status = glob(path.c_str(), GLOB_NOSORT, nullptr, &found);
   std::vector<std::string> files;
   if (status == 0)
      files.assign(found.gl_pathv, found.gl_pathv + found.gl_pathc);
   globfree(&found);
   if (files.empty())
      throw std::invalid_argument("no file matches '" + path + "'");
   std::sort(files.begin(), files.end()); // byte order, as Python's sorted(glob.glob(...))
   return files;
}

class TSequenceTreeReader {
public:
   TSequenceTreeReader(const std::string &file, const TTreeDataDescription &desc)
      : TSequenceTreeReader(std::vector<std::string>{file}, desc)
   {
   }

   /// Expands the file specs (`path`, `glob`, `path:tree`), opens every file and checks every
   /// tree and branch, and that a branch has the same type in every file; throws naming what
   /// is missing or wrong, and the file.
   TSequenceTreeReader(const std::vector<std::string> &files, const TTreeDataDescription &desc) : fDesc(desc)
   {
      CheckDescription();
      if (files.empty())
         throw std::invalid_argument("tree reader: no files given");
      for (const std::string &name : desc.trees)
         fChains.push_back(std::make_unique<TChain>(name.c_str()));
      std::vector<std::string> types(Branches().size());
      for (const std::string &spec : files) {
         const auto [pattern, only] = SplitFileSpec(spec);
         size_t onlyIndex = desc.trees.size();
         if (!only.empty()) {
            onlyIndex = size_t(std::find(desc.trees.begin(), desc.trees.end(), only) - desc.trees.begin());
            if (onlyIndex == desc.trees.size())
               throw std::invalid_argument("'" + spec + "': tree '" + only + "' is not one of the trees to read (" +
                                           Join(desc.trees) + ")");
         }
         for (const std::string &file : ExpandFilePattern(pattern)) {
            fFiles.push_back(file);
            std::unique_ptr<TFile> f(TFile::Open(file.c_str(), "READ"));
            if (!f || f->IsZombie())
               throw std::invalid_argument("cannot open ROOT file '" + file + "'");
            for (size_t k = 0; k < desc.trees.size(); ++k) {
               if (onlyIndex != desc.trees.size() && k != onlyIndex)
                  continue;
               CheckTree(*f, file, desc.trees[k], types);
               fChains[k]->Add(file.c_str());
            }
         }
      }
      for (size_t k = 0; k < desc.trees.size(); ++k)
         if (fChains[k]->GetNtrees() == 0)
            throw std::invalid_argument("no file gives tree '" + desc.trees[k] + "'");
   }

   TSequenceTreeReader(TSequenceTreeReader &&) = delete; // holds the chains; one overload set for PyROOT

   size_t GetNTrees() const { return fChains.size(); }
   size_t GetEntries(size_t tree) const { return size_t(fChains.at(tree)->GetEntries()); }
   /// Every file read, globs expanded, in order.
   const std::vector<std::string> &GetFiles() const { return fFiles; }

   /// Append entries [first, first + n) of tree `tree` (over its chain of files) to data
   /// (inputCols T·D, outputCols 1; with lengths for object collections).
   template <typename Real>
   void Read(size_t tree, size_t first, size_t n, TDataSet<Real> &data) const
   {
      const size_t T = fDesc.timeSteps, D = fDesc.inputSize;
      TChain *chain = fChains.at(tree).get();
      const std::string &name = fDesc.trees[tree];
      const Long64_t last = Long64_t(std::min(first + n, GetEntries(tree)));
      if (Long64_t(first) >= last)
         return;
      chain->LoadTree(Long64_t(first)); // the file the reader starts in; the columns look up their types there
      TTreeReader reader(chain);
      std::vector<std::unique_ptr<VTreeColumn>> inputs;
      for (const std::string &b : InputBranches())
         inputs.push_back(VTreeColumn::Make(reader, chain, name, b));
      auto optional = [&](const std::string &b) { return b.empty() ? nullptr : VTreeColumn::Make(reader, chain, name, b); };
      const auto label = optional(fDesc.labelBranch), weight = optional(fDesc.weightBranch),
                 sortKey = optional(fDesc.sortBy);
      const size_t count = size_t(last) - first;
      data.x.reserve(data.x.size() + count * T * D), data.y.reserve(data.y.size() + count);
      data.w.reserve(data.w.size() + count);
      if (!fDesc.objectBranches.empty())
         data.lengths.reserve(data.lengths.size() + count);
      if (reader.SetEntriesRange(Long64_t(first), last) != TTreeReader::kEntryValid)
         throw std::runtime_error("tree '" + name + "': cannot read entries from " + std::to_string(first));
      std::vector<Real> x(T * D), values;
      std::vector<double> keys;
      std::vector<size_t> order;
      int treeNumber = -1;
      while (reader.Next()) {
         const Long64_t entry = reader.GetCurrentEntry();
         auto where = [&](const std::string &branch) {
            return "tree '" + name + "' entry " + std::to_string(entry) + " branch '" + branch + "'";
         };
         if (reader.GetEntryStatus() != TTreeReader::kEntryValid)
            throw std::runtime_error("tree '" + name + "': cannot read entry " + std::to_string(entry) + " of " +
                                     chain->GetFile()->GetName());
         if (chain->GetTreeNumber() != treeNumber) { // a new file: every column attached?
            treeNumber = chain->GetTreeNumber();
            for (const VTreeColumn *c : {label.get(), weight.get(), sortKey.get()})
               if (c && c->SetupStatus() < 0)
                  throw std::runtime_error(where(c->Branch()) + ": TTreeReader cannot read it as " + c->TypeName());
            for (const auto &c : inputs)
               if (c->SetupStatus() < 0)
                  throw std::runtime_error(where(c->Branch()) + ": TTreeReader cannot read it as " + c->TypeName());
         }
         Real length = 0;
         if (!fDesc.objectBranches.empty()) {
            length = Real(ReadObjects(inputs, sortKey.get(), where, x, values, keys, order));
         } else {
            const size_t width = fDesc.arrayBranch.empty() ? D : T * D;
            for (size_t s = 0; s < inputs.size(); ++s) {
               const size_t size = inputs[s]->Size();
               if (size != width)
                  throw std::invalid_argument(where(inputs[s]->Branch()) + ": " + std::to_string(size) +
                                              " values, expected " + std::to_string(width));
               inputs[s]->CopyTo(x.data() + s * width);
            }
         }
         const Real y = Real(label ? label->At(0) : fDesc.treeLabels[tree]);
         const Real w = Real(weight ? weight->At(0) : 1.0);
         try {
            data.Append(x.data(), &y, &w, 1, fDesc.objectBranches.empty() ? nullptr : &length);
         } catch (const std::invalid_argument &e) {
            throw std::invalid_argument("tree '" + name + "' entry " + std::to_string(entry) + ": " + e.what());
         }
      }
   }

   /// Every entry of every tree, tree after tree.
   template <typename Real>
   TDataSet<Real> ReadAll() const
   {
      TDataSet<Real> data(fDesc.timeSteps * fDesc.inputSize, 1);
      for (size_t k = 0; k < fChains.size(); ++k)
         Read(k, 0, GetEntries(k), data);
      return data;
   }

private:
   void CheckDescription() const
   {
      const TTreeDataDescription &d = fDesc;
      if (d.trees.empty())
         throw std::invalid_argument("tree reader: no tree names given");
      if (d.labelBranch.empty() && d.treeLabels.size() != d.trees.size())
         throw std::invalid_argument("tree reader: give a class per tree or a label branch");
      if (int(!d.stepBranches.empty()) + int(!d.arrayBranch.empty()) + int(!d.objectBranches.empty()) != 1)
         throw std::invalid_argument("tree reader: give exactly one of per-step branches, one array branch or "
                                     "object branches");
      if (!d.stepBranches.empty() && d.stepBranches.size() != d.timeSteps)
         throw std::invalid_argument("tree reader: " + std::to_string(d.stepBranches.size()) +
                                     " step branches for " + std::to_string(d.timeSteps) + " time steps");
      if (!d.objectBranches.empty() && d.objectBranches.size() != d.inputSize)
         throw std::invalid_argument("tree reader: " + std::to_string(d.objectBranches.size()) +
                                     " object branches for input size " + std::to_string(d.inputSize));
      if (!d.sortBy.empty() && d.objectBranches.empty())
         throw std::invalid_argument("tree reader: sorting by '" + d.sortBy + "' needs object branches");
      if (d.timeSteps == 0 || d.inputSize == 0)
         throw std::invalid_argument("tree reader: time steps (or the objects kept) and input size must be > 0");
   }

   std::vector<std::string> InputBranches() const
   {
      if (!fDesc.arrayBranch.empty())
         return {fDesc.arrayBranch};
      return fDesc.objectBranches.empty() ? fDesc.stepBranches : fDesc.objectBranches;
   }

   /// Every branch read, each once: inputs, then label, weight and sort key.
   std::vector<std::string> Branches() const
   {
      std::vector<std::string> all = InputBranches();
      for (const std::string *b : {&fDesc.labelBranch, &fDesc.weightBranch, &fDesc.sortBy})
         if (!b->empty() && std::find(all.begin(), all.end(), *b) == all.end())
            all.push_back(*b);
      return all;
   }

   static std::string Join(const std::vector<std::string> &names)
   {
      std::string out;
      for (const std::string &n : names)
         out += (out.empty() ? "" : ", ") + n;
      return out;
   }

   /// Checks that `file` has tree `name` (in a folder for dir/tree) with every branch, each of a
   /// layout its role allows and of the type the first file had (types[k], filled on first use).
   void CheckTree(TFile &f, const std::string &file, const std::string &name, std::vector<std::string> &types) const
   {
      const size_t slash = name.rfind('/');
      TDirectory *dir = slash == std::string::npos ? &f : f.GetDirectory(name.substr(0, slash).c_str());
      const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
      TKey *key = dir ? dir->GetKey(base.c_str()) : nullptr;
      if (!key)
         throw std::invalid_argument("ROOT file '" + file + "' has no tree '" + name + "'");
      auto *tree = dir->Get<TTree>(base.c_str()); // checks the class: no cast of a non-TTree
      if (!tree)
         throw std::invalid_argument("'" + name + "' in ROOT file '" + file + "' is a " + key->GetClassName() +
                                     ", not a TTree");
      const std::string what = "tree '" + name + "' in '" + file + "'";
      TTreeReader reader(tree);
      const std::vector<std::string> branches = Branches();
      const size_t nInputs = InputBranches().size();
      for (size_t k = 0; k < branches.size(); ++k) {
         std::unique_ptr<VTreeColumn> c;
         try {
            c = VTreeColumn::Make(reader, tree, name, branches[k]);
         } catch (const std::invalid_argument &e) {
            throw std::invalid_argument(std::string(e.what()) + " (in '" + file + "')");
         }
         const bool perObject = !fDesc.objectBranches.empty() && (k < nInputs || branches[k] == fDesc.sortBy);
         const bool perEntry = branches[k] == fDesc.labelBranch || branches[k] == fDesc.weightBranch;
         if (perObject && !c->PerObject())
            throw std::invalid_argument(what + " branch '" + branches[k] + "' has type " + c->TypeName() +
                                        ": object branches need one value per object (std::vector<T> or a counted "
                                        "array x[n]); per-event values cannot enter a sequence of objects");
         if (perEntry && c->Layout() != EColumnLayout::kScalar)
            throw std::invalid_argument(what + " branch '" + branches[k] + "' has type " + c->TypeName() +
                                        ": a label or weight branch holds one number per entry");
         if (types[k].empty())
            types[k] = c->TypeName();
         else if (types[k] != c->TypeName())
            throw std::invalid_argument(what + " branch '" + branches[k] + "' has type " + c->TypeName() + ", but " +
                                        types[k] + " in the files before");
      }
   }

   /// One entry of object collections: the objects sorted by the key, the first T kept, feature
   /// after feature (x is T × D, zero past the length). Returns the length.
   template <typename Real, typename Where>
   size_t ReadObjects(const std::vector<std::unique_ptr<VTreeColumn>> &inputs, const VTreeColumn *sortKey,
                      const Where &where, std::vector<Real> &x, std::vector<Real> &values, std::vector<double> &keys,
                      std::vector<size_t> &order) const
   {
      const size_t T = fDesc.timeSteps, D = fDesc.inputSize;
      const size_t count = inputs[0]->Size();
      auto checkCount = [&](const VTreeColumn &c) {
         if (c.Size() != count)
            throw std::invalid_argument(where(c.Branch()) + ": " + std::to_string(c.Size()) + " objects, but " +
                                        std::to_string(count) + " in '" + inputs[0]->Branch() + "'");
      };
      for (const auto &c : inputs)
         checkCount(*c);
      order.resize(count);
      std::iota(order.begin(), order.end(), size_t(0));
      if (sortKey) {
         checkCount(*sortKey);
         keys.resize(count);
         for (size_t k = 0; k < count; ++k) {
            const double v = sortKey->At(k);
            if (std::isnan(v))
               throw std::invalid_argument(where(sortKey->Branch()) + ": object " + std::to_string(k) +
                                           " has a NaN sort key");
            keys[k] = fDesc.sortAbs ? std::fabs(v) : v;
         }
         // stable: objects with equal keys keep their stored order (numpy's stable argsort)
         if (fDesc.sortDescending)
            std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] > keys[b]; });
         else
            std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
      }
      const size_t length = std::min(count, T);
      std::fill(x.begin(), x.end(), Real(0));
      values.resize(count);
      for (size_t f = 0; f < D; ++f) {
         inputs[f]->CopyTo(values.data());
         for (size_t s = 0; s < length; ++s)
            x[s * D + f] = values[order[s]];
      }
      return length;
   }

   TTreeDataDescription fDesc;
   std::vector<std::string> fFiles;
   std::vector<std::unique_ptr<TChain>> fChains;
};

// Compiled in TreeReader.cxx.
extern template void TSequenceTreeReader::Read<float>(size_t, size_t, size_t, TDataSet<float> &) const;
extern template void TSequenceTreeReader::Read<double>(size_t, size_t, size_t, TDataSet<double> &) const;
extern template TDataSet<float> TSequenceTreeReader::ReadAll<float>() const;
extern template TDataSet<double> TSequenceTreeReader::ReadAll<double>() const;

} // namespace tmva_lstm
