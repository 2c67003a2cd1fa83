// Host-side argument checks shared by the architectures (Cpu.cxx, Cuda.cu): the shapes a GEMM
// or a copy accepts, and the checks on data coming from or going to the host. Where the memory
// lives does not matter here; only the views' shapes and the host values are read.
#pragma once

#include "Cpu.h"
#include "DataSet.h"

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace tmva_lstm {
namespace checks {

/// m, n, k of C (m×n) = op(A) op(B) with inner dimension k; throws if the shapes do not fit.
struct TGemmShape {
   size_t m, n, k;
};

template <typename CView, typename AView, typename BView>
TGemmShape GemmShape(const CView &C, const AView &A, bool transA, const BView &B, bool transB)
{
   const size_t m = transA ? A.cols : A.rows, k = transA ? A.rows : A.cols;
   const size_t kB = transB ? B.cols : B.rows, n = transB ? B.rows : B.cols;
   if (k != kB || C.rows != m || C.cols != n)
      throw std::logic_error("Gemm: shapes do not match");
   return {m, n, k};
}

/// How Copy(dst, src) moves the elements: one flat run (both contiguous, same size), row by row
/// (same shape), or a row into a column or back (two vectors of the same length, each walked
/// with its own step).
struct TCopyPlan {
   enum EKind { kFlat, kRows, kVector } kind;
   size_t dstStep = 1, srcStep = 1; // kVector only
};

template <typename DstView, typename SrcView>
TCopyPlan PlanCopy(const DstView &dst, const SrcView &src)
{
   if (dst.contiguous() && src.contiguous()) {
      if (dst.size() != src.size())
         throw std::logic_error("Copy: sizes do not match");
      return {TCopyPlan::kFlat};
   }
   if (dst.rows == src.rows && dst.cols == src.cols)
      return {TCopyPlan::kRows};
   const bool vectors = (dst.rows == 1 || dst.cols == 1) && (src.rows == 1 || src.cols == 1);
   if (!vectors || dst.size() != src.size())
      throw std::logic_error("Copy: shapes do not match");
   return {TCopyPlan::kVector, dst.cols == 1 ? dst.ld : 1, src.cols == 1 ? src.ld : 1};
}

/// CopyFromHost's checks: n values for dst, all finite (`what` names the quantity).
template <typename View, typename Real>
void CheckFromHost(const View &dst, const Real *src, size_t n, const std::string &what)
{
   if (n != dst.size())
      throw std::invalid_argument(what + ": expected " + std::to_string(dst.rows) + "x" + std::to_string(dst.cols) +
                                  " = " + std::to_string(dst.size()) + " values, got " + std::to_string(n));
   const size_t k = FirstNotFinite(src, n);
   if (k < n)
      throw std::invalid_argument(what + ": element " + std::to_string(k) + " is " + (std::isnan(src[k]) ? "NaN" : "inf"));
}

/// CopyToHost's check: the destination holds exactly the view's values.
template <typename View>
void CheckToHost(size_t n, const View &src)
{
   if (n != src.size())
      throw std::invalid_argument("CopyToHost: destination holds " + std::to_string(n) + " values, source has " +
                                  std::to_string(src.size()));
}

/// GatherStep/ScatterStep: `step` (n × N) is one step of `sequence` (n × T·stride, N ≤ stride).
template <typename StepView, typename SequenceView>
void CheckStep(const StepView &step, const SequenceView &sequence, size_t stride, size_t T)
{
   if (step.rows != sequence.rows || step.cols > stride || sequence.cols < (T - 1) * stride + step.cols)
      throw std::logic_error("GatherStep/ScatterStep: shapes do not match");
}

template <typename AView, typename BView>
void RequireSameShape(const char *what, const AView &A, const BView &B)
{
   if (A.rows != B.rows || A.cols != B.cols)
      throw std::logic_error(std::string(what) + ": shapes do not match");
}

template <typename AView, typename BView>
void RequireTransposedShape(const char *what, const AView &A, const BView &B)
{
   if (A.rows != B.cols || A.cols != B.rows)
      throw std::logic_error(std::string(what) + ": shapes are not transposes of each other");
}

/// The flat element-wise kernels (activations, optimizer steps) work on whole matrices.
template <typename... Views>
void RequireContiguous(const char *what, const Views &...views)
{
   if (!(views.contiguous() && ...))
      throw std::logic_error(std::string(what) + ": needs contiguous matrices");
}

} // namespace checks
} // namespace tmva_lstm
