// Sequence samples from a user's RDataFrame (needs ROOT): their Filter and Define calls apply, the
// columns are those of the description (Samples.h), and the samples are the tree reader's for the
// same entries. Every column is flattened to doubles by a JIT-compiled Define (any numeric type:
// scalars, RVec/std::vector, and vectors of vectors), then turned into samples by the same
// TSampleAssembler as the tree reader. One event loop books every column. Differences from the
// tree reader: RDataFrame shows fixed arrays and vectors alike (RVec), so a fixed array is not
// refused as an object branch; values pass through double (exact for every type except 64-bit
// integers beyond 2^53); ImplicitMT is refused, as it would give the entries out of order.
#pragma once

#include "Samples.h"

#include <ROOT/RDataFrame.hxx>
#include <ROOT/RVec.hxx>

#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace tmva_lstm {

namespace detail {

/// A numeric column value as a flat run of doubles (called from the JIT-compiled Define).
template <typename T>
ROOT::RVec<double> FlatValues(const T &x)
{
   if constexpr (std::is_arithmetic_v<T>) {
      return {double(x)};
   } else {
      ROOT::RVec<double> out;
      for (const auto &v : x) {
         if constexpr (std::is_arithmetic_v<std::decay_t<decltype(v)>>) {
            out.push_back(double(v));
         } else {
            for (const auto &u : v)
               out.push_back(double(u));
         }
      }
      return out;
   }
}

/// How many collection levels wrap a numeric type name (0: scalar), or -1 if it is not numeric.
inline int NumericDepth(std::string type)
{
   static const std::set<std::string> numeric = {
      "float", "double", "Float_t", "Double_t", "Double32_t", "Float16_t", "bool", "Bool_t", "char", "Char_t",
      "signed char", "unsigned char", "UChar_t", "short", "Short_t", "unsigned short", "UShort_t", "int", "Int_t",
      "unsigned int", "UInt_t", "long", "Long_t", "unsigned long", "ULong_t", "long long", "Long64_t",
      "unsigned long long", "ULong64_t"};
   int depth = 0;
   while (true) {
      bool unwrapped = false;
      for (const char *prefix : {"ROOT::VecOps::RVec<", "ROOT::RVec<", "std::vector<", "vector<"}) {
         const std::string p = prefix;
         if (type.compare(0, p.size(), p) == 0 && type.back() == '>') {
            type = type.substr(p.size(), type.size() - p.size() - 1);
            while (!type.empty() && type.back() == ' ')
               type.pop_back();
            ++depth, unwrapped = true;
            break;
         }
      }
      if (!unwrapped)
         break;
   }
   return numeric.count(type) && depth <= 2 ? depth : -1;
}

/// Checks column b of df for the description (present; numeric; one value per object where it
/// is an object feature or the sort key, `input` telling which; one per entry for a label or
/// weight) and returns the expression that flattens it to doubles. Throws naming the column
/// and its type.
inline std::string FlatColumn(ROOT::RDF::RNode &df, const std::string &b, const TTreeDataDescription &desc, bool input)
{
   if (!df.HasColumn(b))
      throw std::invalid_argument("RDataFrame has no column '" + b + "'");
   const std::string type = df.GetColumnType(b);
   const int depth = NumericDepth(type);
   const std::string what = "RDataFrame column '" + b + "' has type " + type;
   if (depth < 0)
      throw std::invalid_argument(what + ": not a number (the reader takes numbers, their arrays, "
                                         "std::vector and std::vector<std::vector> of them)");
   if (desc.HasObjects() && (input || b == desc.sortBy) && depth != 1)
      throw std::invalid_argument(what + ": object branches need one value per object (a vector of numbers); "
                                         "per-event values cannot enter a sequence of objects");
   if ((b == desc.labelBranch || b == desc.weightBranch) && depth != 0)
      throw std::invalid_argument(what + ": a label or weight branch holds one number per entry");
   return "tmva_lstm::detail::FlatValues(" + b + ")";
}

class TValuesColumn final : public VEntryColumn {
public:
   explicit TValuesColumn(std::string name) { fName = std::move(name); }
   void SetEntry(const ROOT::RVec<double> &values) { fValues = &values; }
   size_t Size() const override { return fValues->size(); }
   double At(size_t k) const override { return (*fValues)[k]; }
   void CopyTo(float *out) const override { Copy(out); }
   void CopyTo(double *out) const override { Copy(out); }

private:
   template <typename Real>
   void Copy(Real *out) const
   {
      for (size_t k = 0; k < fValues->size(); ++k)
         out[k] = Real((*fValues)[k]);
   }
   const ROOT::RVec<double> *fValues = nullptr;
};

} // namespace detail

template <typename Real>
class TDataFrameReader {
public:
   /// Checks every column (present, numeric, per object where the description needs objects,
   /// scalar for label and weight) and books one Take per column; nothing runs yet. Throws naming
   /// the column and its type.
   TDataFrameReader(ROOT::RDF::RNode df, const TTreeDataDescription &desc) : fDesc(desc)
   {
      fDesc.trees.clear(), fDesc.treeLabels.clear(); // the frame is the source; the class comes with Read
      fDesc.Check();
      const std::vector<std::string> branches = desc.Branches();
      const size_t nInputs = desc.InputBranches().size();
      ROOT::RDF::RNode node = df;
      for (size_t k = 0; k < branches.size(); ++k) {
         const std::string &b = branches[k];
         const std::string flat = "__tmva_lstm_flat_" + std::to_string(k);
         node = node.Define(flat, detail::FlatColumn(df, b, desc, k < nInputs));
         fTaken.push_back(node.template Take<ROOT::RVec<double>>(flat));
         fColumns.push_back(std::make_unique<detail::TValuesColumn>(b));
      }
      fEntries = node.template Take<ULong64_t>("rdfentry_");
   }

   TDataFrameReader(TDataFrameReader &&) = delete; // holds booked results; one overload for PyROOT

   /// Runs the event loop (once) and returns the samples; `label` is their class when the
   /// description has no label branch.
   TDataSet<Real> Read(double label = 0)
   {
      if (ROOT::IsImplicitMTEnabled())
         throw std::runtime_error("TDataFrameReader: ROOT::EnableImplicitMT is on; the event loop must run in entry "
                                  "order (ROOT::DisableImplicitMT() first)");
      const size_t T = fDesc.timeSteps, D = fDesc.inputSize, nInputs = fDesc.InputBranches().size();
      const std::vector<std::string> branches = fDesc.Branches();
      auto column = [&](const std::string &b) -> detail::TValuesColumn * {
         if (b.empty())
            return nullptr;
         for (size_t k = 0; k < branches.size(); ++k)
            if (branches[k] == b)
               return fColumns[k].get();
         return nullptr;
      };
      std::vector<const VEntryColumn *> inputs;
      for (size_t k = 0; k < nInputs; ++k)
         inputs.push_back(fColumns[k].get());
      const detail::TValuesColumn *labels = column(fDesc.labelBranch), *weights = column(fDesc.weightBranch),
                                  *sortKey = column(fDesc.sortBy);
      const std::vector<ULong64_t> &entries = *fEntries; // runs the event loop
      TDataSet<Real> data(T * D, 1);
      TSampleAssembler<Real> assembler(fDesc);
      for (size_t i = 0; i < entries.size(); ++i) {
         for (size_t k = 0; k < fColumns.size(); ++k)
            fColumns[k]->SetEntry((*fTaken[k])[i]);
         auto where = [&](const std::string &b) {
            return "RDataFrame entry " + std::to_string(entries[i]) + (b.empty() ? "" : " column '" + b + "'");
         };
         assembler.Append(inputs, sortKey, labels ? labels->At(0) : label, weights ? weights->At(0) : 1.0, where,
                          data);
      }
      return data;
   }

private:
   TTreeDataDescription fDesc;
   std::vector<ROOT::RDF::RResultPtr<std::vector<ROOT::RVec<double>>>> fTaken;
   std::vector<std::unique_ptr<detail::TValuesColumn>> fColumns;
   ROOT::RDF::RResultPtr<std::vector<ULong64_t>> fEntries;
};

} // namespace tmva_lstm
