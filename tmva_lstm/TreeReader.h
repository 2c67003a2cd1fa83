// Sequence samples from TTrees (needs ROOT). One sample = one entry, in the layouts of Samples.h
// (per-step branches, one array branch, jagged object collections). Every numeric type and layout
// is read with its own type (TreeColumn.h). The class comes from
// the tree (one tree per class) or from a label branch; an optional weight branch weights the
// samples. Many files: each tree is chained over every file (globs expanded), and `path:tree`
// gives a file to one tree only. Entries are read in ranges, so large trees stream in chunks.
// python/tmva_lstm/data.py gives the same arrays with uproot.
#pragma once

#include "Cpu.h"
#include "Samples.h"
#include "Trainer.h"
#include "TreeColumn.h"

#include <TChain.h>
#include <TClass.h>
#include <TDirectory.h>
#include <TFile.h>
#include <TKey.h>
#include <TROOT.h>

#include <glob.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tmva_lstm {

/// `path:tree` → {path, tree}; a colon that starts "//" belongs to a URL (root://host//file).
inline std::pair<std::string, std::string> SplitFileSpec(const std::string &spec)
{
   // In a URL the tree's colon can only come after the host (root://host:1094//path:tree).
   const size_t scheme = spec.find("://");
   const size_t path = scheme == std::string::npos ? 0 : spec.find('/', scheme + 3);
   const size_t colon = spec.rfind(':');
   if (path == std::string::npos || colon == std::string::npos || colon < path ||
       spec.compare(colon + 1, 2, "//") == 0)
      return {spec, ""};
   return {spec.substr(0, colon), spec.substr(colon + 1)};
}

/// The files a path names: itself, or (with * ? [) the files its glob matches, sorted; throws if
/// a glob matches nothing.
inline std::vector<std::string> ExpandFilePattern(const std::string &path)
{
   if (path.find_first_of("*?[") == std::string::npos || path.find("://") != std::string::npos ||
       std::filesystem::exists(path)) // a file whose name holds a [ is itself
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
      desc.Check();
      if (desc.trees.empty())
         throw std::invalid_argument("tree reader: no tree names given");
      if (files.empty())
         throw std::invalid_argument("tree reader: no files given");
      ROOT::EnableThreadSafety(); // Read runs a chain per thread
      for (const std::string &name : desc.trees) {
         fChains.emplace_back();
         fChains.back().push_back(std::make_unique<TChain>(name.c_str()));
      }
      // the type each branch had in the first file, per tree
      std::vector<std::vector<std::string>> types(desc.trees.size(), std::vector<std::string>(desc.Branches().size()));
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
               CheckTree(*f, file, desc.trees[k], types[k]);
               fChains[k].front()->Add(file.c_str());
            }
         }
      }
      for (size_t k = 0; k < desc.trees.size(); ++k)
         if (fChains[k].front()->GetNtrees() == 0)
            throw std::invalid_argument("no file gives tree '" + desc.trees[k] + "'");
   }

   TSequenceTreeReader(TSequenceTreeReader &&) = delete; // holds the chains; one overload set for PyROOT

   size_t GetNTrees() const { return fChains.size(); }
   size_t GetEntries(size_t tree) const { return size_t(fChains.at(tree).front()->GetEntries()); }
   /// Every file read, globs expanded, in order.
   const std::vector<std::string> &GetFiles() const { return fFiles; }

   /// Append entries [first, first + n) of tree `tree` (over its chain of files) to data
   /// (inputCols T·D, outputCols 1; with lengths for object collections); with split.part ≥ 0
   /// only the entries of that part.
   template <typename Real>
   void Read(size_t tree, size_t first, size_t n, TDataSet<Real> &data, const TEntrySplit &split = {}) const
   {
      split.Check();
      const size_t last = std::min(first + n, GetEntries(tree));
      if (first >= last)
         return;
      // Unzipping the baskets is most of the time, and each range of entries unzips on its own:
      // the worker pool's threads read consecutive ranges, each through a chain of its own, and
      // the ranges are joined in entry order, so the result is the same for any thread count.
      // The first range goes straight into data; the others into parts, appended after.
      const size_t blocks = (last - first + kEntriesPerBlock - 1) / kEntriesPerBlock;
      const size_t slices = size_t(TCpu<Real>::GetNumThreads()); // ParallelFor's most; a chain opens no file until read
      auto &chains = fChains.at(tree);
      while (chains.size() < slices)
         chains.push_back(CopyChain(*chains.front()));
      Reserve(data, last - first);
      std::vector<TDataSet<Real>> parts(slices, TDataSet<Real>(data.inputCols, data.outputCols));
      std::vector<size_t> partStart(slices, last);
      std::atomic<size_t> lease{0};
      TCpu<Real>::ParallelFor(blocks, [&](size_t b, size_t nb) {
         const size_t k = lease++, from = first + b * kEntriesPerBlock;
         partStart[k] = from;
         ReadRange(*chains[k], tree, from, std::min(last, from + nb * kEntriesPerBlock), from == first ? data : parts[k],
                   split);
      });
      std::vector<size_t> order(slices);
      std::iota(order.begin(), order.end(), size_t(0));
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return partStart[a] < partStart[b]; });
      for (size_t k : order)
         if (partStart[k] != first)
            data.AppendFrom(parts[k], 0, parts[k].GetNSamples());
   }

   /// Every entry of every tree (or one part's), tree after tree.
   template <typename Real>
   TDataSet<Real> ReadAll(const TEntrySplit &split = {}) const
   {
      TDataSet<Real> data(fDesc.timeSteps * fDesc.inputSize, 1);
      size_t entries = 0;
      for (size_t k = 0; k < fChains.size(); ++k)
         entries += GetEntries(k);
      Reserve(data, entries); // address space only: the pages a part leaves unused are never touched
      for (size_t k = 0; k < fChains.size(); ++k)
         Read(k, 0, GetEntries(k), data, split);
      return data;
   }

private:
   /// Entries per block of the parallel split (ParallelFor gives a thread at least 16).
   static constexpr size_t kEntriesPerBlock = 256;

   /// A chain over the same files as `chain`, with their entry counts known (no file opened yet).
   static std::unique_ptr<TChain> CopyChain(TChain &chain)
   {
      auto copy = std::make_unique<TChain>(chain.GetName());
      const Long64_t *offset = chain.GetTreeOffset();
      for (int k = 0; k < chain.GetNtrees(); ++k)
         copy->Add(chain.GetListOfFiles()->At(k)->GetTitle(), offset[k + 1] - offset[k]);
      return copy;
   }

   /// Room for `more` samples in data; geometric, so that repeated Reads into one data set stay linear.
   template <typename Real>
   void Reserve(TDataSet<Real> &data, size_t more) const
   {
      auto reserve = [](auto &v, size_t n) {
         if (v.capacity() < v.size() + n)
            v.reserve(std::max(v.size() + n, 2 * v.capacity()));
      };
      reserve(data.x, more * fDesc.timeSteps * fDesc.inputSize), reserve(data.y, more), reserve(data.w, more);
      if (fDesc.HasObjects())
         reserve(data.lengths, more);
   }

   /// Entries [first, last) through `chain` (one of tree `tree`'s), appended to data.
   template <typename Real>
   void ReadRange(TChain &chain, size_t tree, size_t first, size_t last, TDataSet<Real> &data,
                  const TEntrySplit &split) const
   {
      const std::string &name = fDesc.trees[tree];
      chain.LoadTree(Long64_t(first)); // the file the reader starts in; the columns look up their types there
      TTreeReader reader(&chain);
      std::vector<std::unique_ptr<VTreeColumn>> columns;
      std::vector<const VEntryColumn *> inputs;
      for (const std::string &b : fDesc.InputBranches()) {
         columns.push_back(VTreeColumn::Make(reader, &chain, name, b));
         inputs.push_back(columns.back().get());
      }
      auto optional = [&](const std::string &b) -> const VTreeColumn * {
         if (b.empty())
            return nullptr;
         columns.push_back(VTreeColumn::Make(reader, &chain, name, b));
         return columns.back().get();
      };
      const VTreeColumn *label = optional(fDesc.labelBranch), *weight = optional(fDesc.weightBranch),
                        *sortKey = optional(fDesc.sortBy);
      const size_t count = last - first;
      Reserve(data, count);
      if (reader.SetEntriesRange(Long64_t(first), Long64_t(last)) != TTreeReader::kEntryValid)
         throw std::runtime_error("tree '" + name + "': cannot read entries from " + std::to_string(first));
      TSampleAssembler<Real> assembler(fDesc);
      size_t read = 0;
      int treeNumber = -1;
      std::string file;
      while (reader.Next()) {
         const Long64_t entry = reader.GetCurrentEntry();
         if (split.Selects()) {
            if (chain.GetTreeNumber() != treeNumber)
               treeNumber = chain.GetTreeNumber(), file = chain.GetFile()->GetName();
            if (!split.Keeps(file, name, uint64_t(entry - chain.GetChainOffset()))) {
               ++read;
               continue;
            }
         }
         auto where = [&](const std::string &branch) {
            return "tree '" + name + "' entry " + std::to_string(entry) +
                   (branch.empty() ? "" : " branch '" + branch + "'");
         };
         auto damaged = [&] { // a value ROOT could not read is garbage, whatever else it looks like
            for (const auto &c : columns)
               if (c->ReadFailed())
                  throw std::runtime_error(where(c->Name()) + ": ROOT cannot read it: the file is damaged (in '" +
                                           chain.GetFile()->GetName() + "')");
         };
         try {
            assembler.Append(inputs, sortKey, label ? label->At(0) : fDesc.treeLabels[tree],
                             weight ? weight->At(0) : 1.0, where, data);
         } catch (const std::invalid_argument &) {
            damaged();
            throw;
         }
         damaged();
         ++read;
      }
      if (read != count) { // Next() is false on any failure too: a column that cannot attach, a bad file
         const std::string at = "tree '" + name + "': reading stopped at entry " + std::to_string(first + read) +
                                " of " + std::to_string(last);
         for (const auto &c : columns)
            if (c->SetupStatus() < 0)
               throw std::runtime_error(at + ": TTreeReader cannot read branch '" + c->Name() + "' as " +
                                        c->TypeName());
         throw std::runtime_error(at + " (TTreeReader status " + std::to_string(int(reader.GetEntryStatus())) +
                                  (chain.GetFile() ? std::string(", file ") + chain.GetFile()->GetName() : "") +
                                  ")");
      }
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
      const TClass *cls = TClass::GetClass(key->GetClassName());
      if (!tree && cls && cls->InheritsFrom(TTree::Class())) // its key says a tree, yet it does not read as one
         throw std::runtime_error("ROOT file '" + file + "': tree '" + name + "' cannot be read: the file is damaged");
      if (!tree)
         throw std::invalid_argument("'" + name + "' in ROOT file '" + file + "' is a " + key->GetClassName() +
                                     ", not a TTree");
      const std::string what = "tree '" + name + "' in '" + file + "'";
      TTreeReader reader(tree);
      const std::vector<std::string> branches = fDesc.Branches();
      const size_t nInputs = fDesc.InputBranches().size();
      for (size_t k = 0; k < branches.size(); ++k) {
         std::unique_ptr<VTreeColumn> c;
         try {
            c = VTreeColumn::Make(reader, tree, name, branches[k]);
         } catch (const std::invalid_argument &e) {
            throw std::invalid_argument(std::string(e.what()) + " (in '" + file + "')");
         }
         const bool perObject = fDesc.HasObjects() && (k < nInputs || branches[k] == fDesc.sortBy);
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

   TTreeDataDescription fDesc;
   std::vector<std::string> fFiles;
   /// Per tree, its chain over every file, and one more per thread that has read it (Read).
   mutable std::vector<std::vector<std::unique_ptr<TChain>>> fChains;
};

/// A TSequenceTreeReader read chunk after chunk (one part of the entry split), for streaming
/// training (TStreamTrainer in Trainer.h). The trees take turns, each with a share of the chunk
/// size in proportion to its entries, so that successive chunks alternate the classes of
/// one-tree-per-class files (read tree after tree, a small shuffle buffer would see one class
/// at a time; a buffer of several chunks sees them all).
template <typename Real>
class TTreeSampleStream final : public VSampleStream<Real> {
public:
   TTreeSampleStream(const std::vector<std::string> &files, const TTreeDataDescription &desc, const TEntrySplit &split,
                     size_t chunkEntries)
      : fReader(files, desc), fSplit(split), fInputCols(desc.timeSteps * desc.inputSize),
        fHasLengths(desc.HasObjects()), fNext(fReader.GetNTrees())
   {
      split.Check();
      if (chunkEntries == 0)
         throw std::invalid_argument("streaming: chunks must hold at least one entry");
      size_t total = 0;
      for (size_t t = 0; t < fReader.GetNTrees(); ++t)
         total += fReader.GetEntries(t);
      for (size_t t = 0; t < fReader.GetNTrees(); ++t) // at least one entry per turn
         fShare.push_back(std::max<size_t>(1, size_t(double(chunkEntries) * double(fReader.GetEntries(t)) /
                                                      double(std::max<size_t>(total, 1)))));
   }
   TTreeSampleStream(TTreeSampleStream &&) = delete; // holds the reader; one overload for PyROOT

   void Rewind() override
   {
      std::fill(fNext.begin(), fNext.end(), size_t(0));
      fTurn = 0;
   }
   bool Next(TDataSet<Real> &chunk) override
   {
      chunk.Resize(0);
      for (size_t idle = 0; idle < fNext.size();) { // stop after one turn round in which every tree was done
         const size_t t = fTurn;
         fTurn = (fTurn + 1) % fNext.size();
         if (fNext[t] >= fReader.GetEntries(t)) {
            ++idle;
            continue;
         }
         idle = 0;
         fReader.Read(t, fNext[t], fShare[t], chunk, fSplit);
         fNext[t] += fShare[t];
         if (chunk.GetNSamples() > 0)
            return true;
      }
      return false;
   }
   size_t InputCols() const override { return fInputCols; }
   bool HasLengths() const override { return fHasLengths; }

private:
   TSequenceTreeReader fReader;
   TEntrySplit fSplit;
   size_t fInputCols;
   bool fHasLengths;
   std::vector<size_t> fNext, fShare; ///< per tree: the next entry, the entries per turn
   size_t fTurn = 0;
};

// Compiled in TreeReader.cxx.
extern template void TSequenceTreeReader::Read<float>(size_t, size_t, size_t, TDataSet<float> &,
                                                      const TEntrySplit &) const;
extern template void TSequenceTreeReader::Read<double>(size_t, size_t, size_t, TDataSet<double> &,
                                                       const TEntrySplit &) const;
extern template TDataSet<float> TSequenceTreeReader::ReadAll<float>(const TEntrySplit &) const;
extern template TDataSet<double> TSequenceTreeReader::ReadAll<double>(const TEntrySplit &) const;

} // namespace tmva_lstm
