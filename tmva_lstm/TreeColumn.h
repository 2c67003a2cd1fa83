// One numeric branch of a TTree, of any element type and layout, read through a TTreeReader
// (needs ROOT). Per entry it gives a flat run of values: row-major for fixed multi-dimensional
// arrays, the inner vectors one after another for std::vector<std::vector<T>>. The element type
// is the branch's own, found from its streamer information, so no branch is ever read as a type
// it does not hold (TTreeReaderArray<float> on a double branch reads garbage, with only a line on
// stderr). python/tmva_lstm/data.py reads the same layouts with uproot.
#pragma once

#include "Samples.h"

#include <TBranch.h>
#include <TClass.h>
#include <TDataType.h>
#include <TLeaf.h>
#include <TLeafC.h>
#include <TTree.h>
#include <TTreeReader.h>
#include <TTreeReaderArray.h>
#include <TTreeReaderValue.h>
#include <TVirtualCollectionProxy.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

/// How a branch lays out its values within an entry.
enum class EColumnLayout {
   kScalar,      ///< x/F: one value
   kFixedArray,  ///< x[300]/F, x[10][30]/F: the same count in every entry
   kCountedArray, ///< x[n]/F: a count branch gives the length
   kVector,      ///< std::vector<T>
   kNestedVector ///< std::vector<std::vector<T>>
};

class VTreeColumn : public VEntryColumn {
public:
   /// TTreeReader's setup status after the first entry; < 0 means it could not attach.
   virtual int SetupStatus() const = 0;
   /// Whether ROOT failed to read this entry's values (a damaged basket): TTreeReader then hands
   /// out empty arrays or stale values and only prints an error.
   virtual bool ReadFailed() const = 0;

   /// The branch's type as ROOT names it, with its layout: Float_t, Short_t[2][3], UChar_t[n],
   /// vector<float>, vector<vector<int> >.
   const std::string &TypeName() const { return fTypeName; }
   EColumnLayout Layout() const { return fLayout; }
   bool PerObject() const { return fLayout == EColumnLayout::kCountedArray || fLayout == EColumnLayout::kVector; }

   /// A column for `branch` of `tree`; throws naming the tree, the branch and its type when the
   /// branch is missing or not numeric.
   static std::unique_ptr<VTreeColumn> Make(TTreeReader &reader, TTree *tree, const std::string &treeName,
                                            const std::string &branch);

protected:
   std::string fTypeName;
   EColumnLayout fLayout = EColumnLayout::kScalar;
};

namespace detail {

template <typename T>
class TScalarColumn final : public VTreeColumn {
public:
   TScalarColumn(TTreeReader &reader, const std::string &branch) : fValue(reader, branch.c_str()) {}
   size_t Size() const override { return 1; }
   double At(size_t) const override { return double(Get()); }
   void CopyTo(float *out) const override { out[0] = float(Get()); }
   void CopyTo(double *out) const override { out[0] = double(Get()); }
   int SetupStatus() const override { return fValue.GetSetupStatus(); }
   bool ReadFailed() const override { return fValue.GetReadStatus() == ROOT::Internal::TTreeReaderValueBase::kReadError; }

private:
   T Get() const { return *fValue; }
   mutable TTreeReaderValue<T> fValue; // its operator* is not const
};

/// Fixed and counted arrays, std::vector<T>.
template <typename T>
class TArrayColumn final : public VTreeColumn {
public:
   TArrayColumn(TTreeReader &reader, const std::string &branch) : fArray(reader, branch.c_str()) {}
   size_t Size() const override { return Array().GetSize(); }
   double At(size_t k) const override { return double(Array()[k]); }
   void CopyTo(float *out) const override { Copy(out); }
   void CopyTo(double *out) const override { Copy(out); }
   int SetupStatus() const override { return fArray.GetSetupStatus(); }
   bool ReadFailed() const override { return fArray.GetReadStatus() == ROOT::Internal::TTreeReaderValueBase::kReadError; }

private:
   TTreeReaderArray<T> &Array() const { return fArray; }
   template <typename Real>
   void Copy(Real *out) const
   {
      auto &a = Array();
      const size_t n = a.GetSize();
      if (n == 0)
         return;
      // Element access goes through a virtual call per value; arrays and std::vector (not
      // std::vector<bool>) lie contiguous in memory, so read them through one pointer.
      const T *first = &a[0];
      if (n == 1 || &a[n - 1] == first + (n - 1)) {
         for (size_t k = 0; k < n; ++k)
            out[k] = Real(first[k]);
         return;
      }
      for (size_t k = 0; k < n; ++k)
         out[k] = Real(a[k]);
   }
   mutable TTreeReaderArray<T> fArray; // its operator[] is not const
};

template <typename T>
class TNestedColumn final : public VTreeColumn {
public:
   TNestedColumn(TTreeReader &reader, const std::string &branch) : fValue(reader, branch.c_str()) {}
   size_t Size() const override
   {
      size_t n = 0;
      for (const auto &v : Get())
         n += v.size();
      return n;
   }
   double At(size_t k) const override
   {
      for (const auto &v : Get()) {
         if (k < v.size())
            return double(v[k]);
         k -= v.size();
      }
      throw std::out_of_range("TNestedColumn::At");
   }
   void CopyTo(float *out) const override { Copy(out); }
   void CopyTo(double *out) const override { Copy(out); }
   int SetupStatus() const override { return fValue.GetSetupStatus(); }
   bool ReadFailed() const override { return fValue.GetReadStatus() == ROOT::Internal::TTreeReaderValueBase::kReadError; }

private:
   const std::vector<std::vector<T>> &Get() const
   {
      return *fValue;
   }
   template <typename Real>
   void Copy(Real *out) const
   {
      for (const auto &v : Get())
         for (const T &x : v)
            *out++ = Real(x);
   }
   mutable TTreeReaderValue<std::vector<std::vector<T>>> fValue;
};

/// Calls fn(T{}) with the C++ type of a ROOT numeric type code; false for a non-numeric one.
template <typename Fn>
bool DispatchNumeric(int type, Fn &&fn)
{
   switch (type) {
   case kChar_t: fn(Char_t{}); return true;
   case kUChar_t: fn(UChar_t{}); return true;
   case kShort_t: fn(Short_t{}); return true;
   case kUShort_t: fn(UShort_t{}); return true;
   case kInt_t: fn(Int_t{}); return true;
   case kUInt_t: fn(UInt_t{}); return true;
   case kLong_t: fn(Long_t{}); return true;
   case kULong_t: fn(ULong_t{}); return true;
   case kLong64_t: fn(Long64_t{}); return true;
   case kULong64_t: fn(ULong64_t{}); return true;
   case kFloat_t: fn(Float_t{}); return true;
   case kFloat16_t: fn(Float16_t{}); return true;
   case kDouble_t: fn(Double_t{}); return true;
   case kDouble32_t: fn(Double32_t{}); return true;
   case kBool_t: fn(Bool_t{}); return true;
   default: return false;
   }
}

} // namespace detail

inline std::unique_ptr<VTreeColumn> VTreeColumn::Make(TTreeReader &reader, TTree *tree, const std::string &treeName,
                                                      const std::string &branch)
{
   TBranch *b = tree->GetBranch(branch.c_str());
   if (!b)
      throw std::invalid_argument("tree '" + treeName + "' has no branch '" + branch + "'");
   auto refuse = [&](const std::string &type, const std::string &why) {
      return std::invalid_argument("tree '" + treeName + "' branch '" + branch + "' has type " + type + ": " + why);
   };
   const std::string notNumeric =
      "not a number (the reader takes numbers, their arrays, std::vector and std::vector<std::vector> of them)";
   TClass *cls = nullptr;
   EDataType type = kOther_t;
   if (b->GetExpectedType(cls, type) != 0)
      throw refuse("unknown", "ROOT cannot tell the type of its values");
   std::unique_ptr<VTreeColumn> column;
   std::string typeName;
   EColumnLayout layout = EColumnLayout::kScalar;
   int element = type;
   if (!cls) { // a leaf-list branch: x/F, x[10][30]/F, x[n]/F
      if (b->GetListOfLeaves()->GetEntries() != 1)
         throw refuse("leaf list '" + std::string(b->GetTitle()) + "'", "one leaf per branch is needed");
      auto *leaf = static_cast<TLeaf *>(b->GetListOfLeaves()->At(0));
      typeName = leaf->GetTypeName();
      if (dynamic_cast<TLeafC *>(leaf))
         throw refuse("char[] (a C string)", notNumeric);
      const std::string title = leaf->GetTitle(); // e.g. x[10][30]: the dimensions after the name
      const size_t bracket = title.find('[');
      if (leaf->GetLeafCount())
         layout = EColumnLayout::kCountedArray;
      else if (bracket != std::string::npos)
         layout = EColumnLayout::kFixedArray;
      if (bracket != std::string::npos)
         typeName += title.substr(bracket);
   } else {
      typeName = cls->GetName();
      TVirtualCollectionProxy *proxy = cls->GetCollectionProxy();
      if (!proxy || proxy->GetCollectionType() != ROOT::kSTLvector)
         throw refuse(typeName, notNumeric);
      layout = EColumnLayout::kVector;
      element = proxy->GetType();
      if (TClass *inner = proxy->GetValueClass()) {
         TVirtualCollectionProxy *innerProxy = inner->GetCollectionProxy();
         if (!innerProxy || innerProxy->GetCollectionType() != ROOT::kSTLvector || innerProxy->GetValueClass())
            throw refuse(typeName, notNumeric);
         layout = EColumnLayout::kNestedVector;
         element = innerProxy->GetType();
      }
   }
   const bool numeric = detail::DispatchNumeric(element, [&](auto tag) {
      using T = decltype(tag);
      if (layout == EColumnLayout::kScalar)
         column = std::make_unique<detail::TScalarColumn<T>>(reader, branch);
      else if (layout == EColumnLayout::kNestedVector)
         column = std::make_unique<detail::TNestedColumn<T>>(reader, branch);
      else
         column = std::make_unique<detail::TArrayColumn<T>>(reader, branch);
   });
   if (!numeric)
      throw refuse(typeName, notNumeric);
   column->fName = branch, column->fTypeName = typeName, column->fLayout = layout;
   return column;
}

} // namespace tmva_lstm
