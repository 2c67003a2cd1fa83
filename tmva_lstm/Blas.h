// The CBLAS calls TCpu makes, overloaded on float/double. Private to Cpu.cxx.
// scipy-openblas32 (PyPI) prefixes every symbol with scipy_; a system CBLAS does not.
#pragma once

#include <cblas.h>
#include <stdexcept>

#ifdef TMVA_LSTM_SCIPY_OPENBLAS
#define TMVA_LSTM_CBLAS(name) scipy_cblas_##name
#define TMVA_LSTM_OPENBLAS_SET_NUM_THREADS scipy_openblas_set_num_threads
#define TMVA_LSTM_OPENBLAS_GET_NUM_THREADS scipy_openblas_get_num_threads
#else
#define TMVA_LSTM_CBLAS(name) cblas_##name
#ifdef TMVA_LSTM_HAVE_OPENBLAS_SET_NUM_THREADS
#define TMVA_LSTM_OPENBLAS_SET_NUM_THREADS openblas_set_num_threads
#define TMVA_LSTM_OPENBLAS_GET_NUM_THREADS openblas_get_num_threads
#endif
#endif

namespace tmva_lstm {
namespace blas {

inline CBLAS_TRANSPOSE Op(bool trans) { return trans ? CblasTrans : CblasNoTrans; }

inline void Gemm(bool transA, bool transB, size_t m, size_t n, size_t k, float alpha, const float *A, size_t lda,
                 const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
   TMVA_LSTM_CBLAS(sgemm)(CblasRowMajor, Op(transA), Op(transB), m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

inline void Gemm(bool transA, bool transB, size_t m, size_t n, size_t k, double alpha, const double *A, size_t lda,
                 const double *B, size_t ldb, double beta, double *C, size_t ldc)
{
   TMVA_LSTM_CBLAS(dgemm)(CblasRowMajor, Op(transA), Op(transB), m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

/// Whether this BLAS lets us set its thread count (OpenBLAS); otherwise its environment does.
constexpr bool kHasThreadControl =
#ifdef TMVA_LSTM_OPENBLAS_SET_NUM_THREADS
   true;
#else
   false;
#endif

inline void SetNumThreads(int n)
{
#ifdef TMVA_LSTM_OPENBLAS_SET_NUM_THREADS
   TMVA_LSTM_OPENBLAS_SET_NUM_THREADS(n);
#else
   (void)n;
#endif
}

/// 0 when unknown.
inline int GetNumThreads()
{
#ifdef TMVA_LSTM_OPENBLAS_GET_NUM_THREADS
   return TMVA_LSTM_OPENBLAS_GET_NUM_THREADS();
#else
   return 0;
#endif
}

} // namespace blas
} // namespace tmva_lstm
