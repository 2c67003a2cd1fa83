// TDataSet: samples in host memory, as the trainer, the predictions and the tree reader pass
// them around.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

/// The index of the first of n values that is not finite, or n. A reduction without an early exit
/// first, which vectorises (a NaN fails the comparison too); the search only when it finds one.
template <typename Real>
size_t FirstNotFinite(const Real *v, size_t n)
{
   int bad = 0; // an int, not a bool: GCC vectorises this reduction only so
   for (size_t k = 0; k < n; ++k)
      bad |= !(std::abs(v[k]) <= std::numeric_limits<Real>::max());
   return bad ? size_t(std::find_if(v, v + n, [](Real x) { return !std::isfinite(x); }) - v) : n;
}

/// x (n × inputCols), y (n × outputCols), w (n), and optionally the sequence length of each
/// sample (n; the steps past it are padding). Either every sample has a length or none has.
template <typename Real>
struct TDataSet {
   std::vector<Real> x, y, w, lengths;
   size_t inputCols = 0, outputCols = 0;

   TDataSet() = default;
   TDataSet(size_t nInputCols, size_t nOutputCols) : inputCols(nInputCols), outputCols(nOutputCols) {}
   size_t GetNSamples() const { return w.size(); }
   bool HasLengths() const { return !lengths.empty(); }

   /// Keeps the first n samples (capacity stays: a reused buffer allocates once).
   void Resize(size_t n)
   {
      x.resize(n * inputCols), y.resize(n * outputCols), w.resize(n);
      if (HasLengths())
         lengths.resize(n);
   }
   size_t GetCapacity() const { return w.capacity(); }
   /// Room for n samples without reallocation (their lengths too, with withLengths).
   void Reserve(size_t n, bool withLengths)
   {
      x.reserve(n * inputCols), y.reserve(n * outputCols), w.reserve(n);
      if (withLengths)
         lengths.reserve(n);
   }
   /// Swaps samples a and b.
   void SwapSamples(size_t a, size_t b)
   {
      std::swap_ranges(x.begin() + a * inputCols, x.begin() + (a + 1) * inputCols, x.begin() + b * inputCols);
      std::swap_ranges(y.begin() + a * outputCols, y.begin() + (a + 1) * outputCols, y.begin() + b * outputCols);
      std::swap(w[a], w[b]);
      if (HasLengths())
         std::swap(lengths[a], lengths[b]);
   }
   /// Appends samples [first, first + n) of another data set of the same widths (checked there).
   void AppendFrom(const TDataSet &other, size_t first, size_t n)
   {
      if (other.inputCols != inputCols || other.outputCols != outputCols)
         throw std::invalid_argument("data set: widths differ");
      Append(other.x.data() + first * inputCols, other.y.data() + first * outputCols, other.w.data() + first, n,
             other.HasLengths() ? other.lengths.data() + first : nullptr);
   }

   /// The samples at `index`, in that order.
   TDataSet Subset(const std::vector<size_t> &index) const
   {
      TDataSet out(inputCols, outputCols);
      for (size_t s : index)
         out.Append(x.data() + s * inputCols, y.data() + s * outputCols, w.data() + s, 1,
                    HasLengths() ? lengths.data() + s : nullptr);
      return out;
   }

   /// Append n samples (and their lengths, or nullptr); throws naming the first NaN/inf, a
   /// negative weight or a length that is not a whole number ≥ 0.
   void Append(const Real *xs, const Real *ys, const Real *ws, size_t n, const Real *lens = nullptr)
   {
      auto check = [](const Real *v, size_t count, const char *what, size_t cols) {
         const size_t k = FirstNotFinite(v, count);
         if (k < count)
            throw std::invalid_argument(std::string("data set: ") + what + " of sample " + std::to_string(k / cols) +
                                        " is " + (std::isnan(v[k]) ? "NaN" : "inf"));
      };
      if (n && GetNSamples() && (lens != nullptr) != HasLengths())
         throw std::invalid_argument("data set: either every sample has a length or none has");
      check(xs, n * inputCols, "an input value", inputCols);
      check(ys, n * outputCols, "a target value", outputCols);
      check(ws, n, "the weight", 1);
      for (size_t k = 0; k < n; ++k)
         if (ws[k] < 0)
            throw std::invalid_argument("data set: the weight of sample " + std::to_string(k) + " is negative");
      for (size_t k = 0; lens && k < n; ++k)
         if (!(lens[k] >= 0 && lens[k] == std::floor(lens[k])))
            throw std::invalid_argument("data set: the length of sample " + std::to_string(k) + " is " +
                                        std::to_string(lens[k]) + ", not a whole number >= 0");
      x.insert(x.end(), xs, xs + n * inputCols);
      y.insert(y.end(), ys, ys + n * outputCols);
      w.insert(w.end(), ws, ws + n);
      if (lens)
         lengths.insert(lengths.end(), lens, lens + n);
   }
};

} // namespace tmva_lstm
