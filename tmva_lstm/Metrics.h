// Classifier metrics and the train/validation/test split, for every front end (Python, CLI,
// macros).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

struct TRocCurve {
   std::vector<double> fpr, tpr; ///< one point per distinct threshold, from (0, 0) to (1, 1)
   double auc = 0;
};

/// Weighted ROC curve of `score` for labels y (> 0.5 is signal) and its area.
inline TRocCurve RocCurve(const double *y, const double *score, const double *w, size_t n)
{
   std::vector<size_t> order(n);
   std::iota(order.begin(), order.end(), size_t(0));
   std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
   double tp = 0, fp = 0;
   TRocCurve roc;
   roc.fpr.push_back(0), roc.tpr.push_back(0);
   for (size_t k = 0; k < n; ++k) {
      const size_t s = order[k];
      (y[s] > 0.5 ? tp : fp) += w ? w[s] : 1.0;
      if (k + 1 == n || score[order[k + 1]] != score[s]) // one point per distinct threshold
         roc.fpr.push_back(fp), roc.tpr.push_back(tp);
   }
   if (tp == 0 || fp == 0)
      throw std::invalid_argument("ROC curve: needs both signal and background samples");
   for (size_t k = 0; k < roc.fpr.size(); ++k)
      roc.fpr[k] /= fp, roc.tpr[k] /= tp;
   for (size_t k = 1; k < roc.fpr.size(); ++k) // trapezoids
      roc.auc += (roc.fpr[k] - roc.fpr[k - 1]) * (roc.tpr[k] + roc.tpr[k - 1]) / 2;
   return roc;
}

/// Weighted fraction of samples with (score > threshold) == (y > 0.5).
inline double Accuracy(const double *y, const double *score, const double *w, size_t n, double threshold = 0.5)
{
   double right = 0, total = 0;
   for (size_t k = 0; k < n; ++k) {
      const double wk = w ? w[k] : 1.0;
      right += wk * ((score[k] > threshold) == (y[k] > 0.5));
      total += wk;
   }
   return total > 0 ? right / total : 0.0;
}

/// A seeded shuffle of n sample indices, cut into test (testFraction of all), validation
/// (validFraction of the rest) and training (what remains).
struct TSplit {
   std::vector<size_t> train, valid, test;
};

inline TSplit SplitIndices(size_t n, double testFraction, double validFraction, uint64_t seed)
{
   if (!(testFraction > 0 && testFraction < 1 && validFraction > 0 && validFraction < 1))
      throw std::invalid_argument("split: fractions must lie between 0 and 1");
   std::vector<size_t> order(n);
   std::iota(order.begin(), order.end(), size_t(0));
   std::mt19937_64 rng(seed);
   std::shuffle(order.begin(), order.end(), rng);
   const size_t nTest = size_t(testFraction * double(n) + 0.5);
   const size_t nValid = size_t(validFraction * double(n - nTest) + 0.5);
   TSplit split;
   split.test.assign(order.begin(), order.begin() + nTest);
   split.valid.assign(order.begin() + nTest, order.begin() + nTest + nValid);
   split.train.assign(order.begin() + nTest + nValid, order.end());
   if (split.test.empty() || split.valid.empty() || split.train.empty())
      throw std::invalid_argument("split: " + std::to_string(n) + " samples leave an empty training, validation or test set");
   return split;
}

} // namespace tmva_lstm
