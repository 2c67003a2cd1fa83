// Sequence samples from TTrees (needs ROOT). One sample = one entry: T time steps of D values,
// either one branch per step (TMVA's RNN tutorial: vars_time0 … vars_time9, each
// std::vector<float> of 30) or one branch of T·D values (std::vector or a fixed-size array).
// The class comes from the tree (one tree per class) or from a label branch; an optional weight
// branch weights the samples. Entries are read in ranges, so large trees stream in chunks.
#pragma once

#include "DataSet.h"

#include <TBranch.h>
#include <TFile.h>
#include <TKey.h>
#include <TLeaf.h>
#include <TTree.h>
#include <TTreeReader.h>
#include <TTreeReaderArray.h>
#include <TTreeReaderValue.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

struct TTreeDataDescription {
   std::vector<std::string> trees;        ///< tree names
   std::vector<double> treeLabels;        ///< the class of each tree (when there is no label branch)
   std::vector<std::string> stepBranches; ///< one branch per time step, D values each …
   std::string arrayBranch;               ///< … or one branch of T·D values
   std::string labelBranch;               ///< optional: the target of each entry
   std::string weightBranch;              ///< optional: the weight of each entry
   size_t timeSteps = 0, inputSize = 0;

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
};

class TSequenceTreeReader {
public:
   /// Opens the file and checks every tree and branch; throws naming what is missing.
   TSequenceTreeReader(const std::string &fileName, const TTreeDataDescription &desc) : fDesc(desc), fFileName(fileName)
   {
      if (desc.trees.empty())
         throw std::invalid_argument("tree reader: no tree names given");
      if (desc.labelBranch.empty() && desc.treeLabels.size() != desc.trees.size())
         throw std::invalid_argument("tree reader: give a class per tree or a label branch");
      if (desc.stepBranches.empty() == desc.arrayBranch.empty())
         throw std::invalid_argument("tree reader: give either per-step branches or one array branch");
      if (!desc.stepBranches.empty() && desc.stepBranches.size() != desc.timeSteps)
         throw std::invalid_argument("tree reader: " + std::to_string(desc.stepBranches.size()) +
                                     " step branches for " + std::to_string(desc.timeSteps) + " time steps");
      if (desc.timeSteps == 0 || desc.inputSize == 0)
         throw std::invalid_argument("tree reader: time steps and input size must be > 0");
      fFile.reset(TFile::Open(fileName.c_str(), "READ"));
      if (!fFile || fFile->IsZombie())
         throw std::invalid_argument("cannot open ROOT file '" + fileName + "'");
      for (const std::string &name : desc.trees) {
         TKey *key = fFile->GetKey(name.c_str());
         if (!key)
            throw std::invalid_argument("ROOT file '" + fileName + "' has no tree '" + name + "'");
         auto *tree = fFile->Get<TTree>(name.c_str()); // checks the class: no cast of a non-TTree
         if (!tree)
            throw std::invalid_argument("'" + name + "' in ROOT file '" + fileName + "' is a " + key->GetClassName() +
                                        ", not a TTree");
         std::vector<std::string> branches = desc.stepBranches;
         if (!desc.arrayBranch.empty())
            branches.push_back(desc.arrayBranch);
         for (const std::string *b : {&desc.labelBranch, &desc.weightBranch})
            if (!b->empty())
               branches.push_back(*b);
         for (const std::string &b : branches)
            if (!tree->GetBranch(b.c_str()))
               throw std::invalid_argument("tree '" + name + "' in '" + fileName + "' has no branch '" + b + "'");
         fTrees.push_back(tree);
      }
   }

   TSequenceTreeReader(TSequenceTreeReader &&) = delete; // holds the open file; one overload for PyROOT

   size_t GetNTrees() const { return fTrees.size(); }
   size_t GetEntries(size_t tree) const { return size_t(fTrees.at(tree)->GetEntries()); }

   /// Append entries [first, first + n) of tree `tree` to data (inputCols T·D, outputCols 1).
   template <typename Real>
   void Read(size_t tree, size_t first, size_t n, TDataSet<Real> &data) const
   {
      const size_t T = fDesc.timeSteps, D = fDesc.inputSize;
      TTree *t = fTrees.at(tree);
      TTreeReader reader(t);
      std::vector<std::unique_ptr<TTreeReaderArray<float>>> steps;
      for (const std::string &b : fDesc.stepBranches)
         steps.push_back(std::make_unique<TTreeReaderArray<float>>(reader, b.c_str()));
      std::unique_ptr<TTreeReaderArray<float>> whole;
      if (!fDesc.arrayBranch.empty())
         whole = std::make_unique<TTreeReaderArray<float>>(reader, fDesc.arrayBranch.c_str());
      auto label = Scalar(reader, t, fDesc.labelBranch);
      auto weight = Scalar(reader, t, fDesc.weightBranch);
      const Long64_t last = Long64_t(std::min(first + n, GetEntries(tree)));
      if (Long64_t(first) >= last)
         return;
      if (reader.SetEntriesRange(Long64_t(first), last) != TTreeReader::kEntryValid)
         throw std::runtime_error("tree '" + fDesc.trees[tree] + "': cannot read entries from " + std::to_string(first));
      std::vector<Real> x(T * D);
      while (reader.Next()) {
         const Long64_t entry = reader.GetCurrentEntry();
         auto where = [&](const std::string &branch) {
            return "tree '" + fDesc.trees[tree] + "' entry " + std::to_string(entry) + " branch '" + branch + "'";
         };
         if (whole) {
            if (whole->GetSize() != T * D)
               throw std::invalid_argument(where(fDesc.arrayBranch) + ": " + std::to_string(whole->GetSize()) +
                                           " values, expected " + std::to_string(T * D));
            for (size_t k = 0; k < T * D; ++k)
               x[k] = Real((*whole)[k]);
         }
         for (size_t s = 0; s < steps.size(); ++s) {
            if (steps[s]->GetSize() != D)
               throw std::invalid_argument(where(fDesc.stepBranches[s]) + ": " + std::to_string(steps[s]->GetSize()) +
                                           " values, expected " + std::to_string(D));
            for (size_t k = 0; k < D; ++k)
               x[s * D + k] = Real((*steps[s])[k]);
         }
         if (reader.GetEntryStatus() != TTreeReader::kEntryValid)
            throw std::runtime_error("tree '" + fDesc.trees[tree] + "': cannot read entry " + std::to_string(entry));
         const Real y = Real(label ? label() : fDesc.treeLabels[tree]);
         const Real w = Real(weight ? weight() : 1.0);
         try {
            data.Append(x.data(), &y, &w, 1);
         } catch (const std::invalid_argument &e) {
            throw std::invalid_argument("tree '" + fDesc.trees[tree] + "' entry " + std::to_string(entry) + ": " +
                                        e.what());
         }
      }
   }

   /// Every entry of every tree, tree after tree.
   template <typename Real>
   TDataSet<Real> ReadAll() const
   {
      TDataSet<Real> data(fDesc.timeSteps * fDesc.inputSize, 1);
      for (size_t k = 0; k < fTrees.size(); ++k)
         Read(k, 0, GetEntries(k), data);
      return data;
   }

private:
   /// A reader for a numeric scalar branch of whatever type it has; empty if no branch given.
   static std::function<double()> Scalar(TTreeReader &reader, TTree *tree, const std::string &branch)
   {
      if (branch.empty())
         return {};
      TLeaf *leaf = tree->GetBranch(branch.c_str())->GetLeaf(branch.c_str());
      const std::string type = leaf ? leaf->GetTypeName() : "";
      auto make = [&](auto tag) -> std::function<double()> {
         using T = decltype(tag);
         auto value = std::make_shared<TTreeReaderValue<T>>(reader, branch.c_str());
         return [value] { return double(**value); };
      };
      if (type == "Float_t")
         return make(Float_t{});
      if (type == "Double_t")
         return make(Double_t{});
      if (type == "Int_t")
         return make(Int_t{});
      if (type == "UInt_t")
         return make(UInt_t{});
      if (type == "Long64_t")
         return make(Long64_t{});
      if (type == "Bool_t")
         return make(Bool_t{});
      if (type == "Short_t")
         return make(Short_t{});
      throw std::invalid_argument("branch '" + branch + "' has type '" + type + "'; expected a numeric scalar");
   }

   TTreeDataDescription fDesc;
   std::string fFileName;
   std::unique_ptr<TFile> fFile;
   std::vector<TTree *> fTrees;
};

} // namespace tmva_lstm
