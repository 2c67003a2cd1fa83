// Activation functions and weight initialisations, in TMVA's names (TMVA/DNN/Functions.h).
// Every activation here has a derivative that is a function of its output y = f(z): the
// backward pass needs only the stored gate values, never the pre-activations.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cctype>
#include <cstring>
#include <stdexcept>
#include <string>

#include "MatrixView.h" // TMVA_LSTM_HOST_DEVICE

namespace tmva_lstm {

enum class EActivationFunction { kIdentity = 0, kRelu = 1, kSigmoid = 2, kTanh = 3 };

enum class EInitialization { kGauss, kUniform, kZero, kGlorotNormal, kGlorotUniform };

/// Losses, per sample averaged over the K outputs (MSE, BCE) and weighted-averaged over samples.
enum class ELossFunction {
   kMeanSquaredError,   ///< ℓ = (1/K) Σ_k (o_k − y_k)²
   kCrossEntropy,       ///< binary cross-entropy on logits: ℓ = (1/K) Σ_k softplus(o_k) − y_k o_k
   kSoftmaxCrossEntropy ///< ℓ = −Σ_k y_k log softmax(o)_k
};

enum class EOptimizer { kSGD, kAdam };

/// exp(x) in plain arithmetic, so that loops over it vectorise (std::exp is an opaque call).
/// Cephes' method: x = n ln2 + r, |r| ≤ ln2/2, exp(r) by a polynomial (float) or a rational
/// function (double), 2^n built in the exponent bits. Within 2 ulp of std::exp; the argument
/// is clamped to the range where the result is a normal number.
TMVA_LSTM_HOST_DEVICE inline float Exp(float x)
{
   x = std::min(std::max(x, -87.33f), 88.0f);
   const float shift = 12582912.f;                  // 1.5·2^23: adding it rounds to an integer
   const float t = x * 1.44269504088896341f + shift; // x / ln2
   const float n = t - shift;
   const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f; // x − n ln2, ln2 in two parts
   float p = 1.9875691500e-4f;
   p = p * r + 1.3981999507e-3f;
   p = p * r + 8.3334519073e-3f;
   p = p * r + 4.1665795894e-2f;
   p = p * r + 1.6666665459e-1f;
   p = p * r + 5.0000001201e-1f;
   p = p * r * r + r + 1.0f;
   int32_t bits;
   std::memcpy(&bits, &t, sizeof bits);                       // low mantissa bits of t hold n
   const int32_t scale = (bits - 0x4B400000 + 127) << 23;     // the float 2^n
   float two_n;
   std::memcpy(&two_n, &scale, sizeof two_n);
   return p * two_n;
}

TMVA_LSTM_HOST_DEVICE inline double Exp(double x)
{
   x = std::min(std::max(x, -708.0), 709.0);
   const double shift = 6755399441055744.0; // 1.5·2^52
   const double t = x * 1.4426950408889634074 + shift;
   const double n = t - shift;
   const double r = (x - n * 6.93145751953125e-1) - n * 1.42860682030941723212e-6;
   const double rr = r * r;
   const double px = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr + 9.99999999999999999910e-1);
   const double qx = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr + 2.27265548208155028766e-1) * rr +
                     2.00000000000000000009e0;
   const double e = 1.0 + 2.0 * px / (qx - px);
   int64_t bits;
   std::memcpy(&bits, &t, sizeof bits);
   const int64_t scale = (bits - 0x4338000000000000LL + 1023) << 52;
   double two_n;
   std::memcpy(&two_n, &scale, sizeof two_n);
   return e * two_n;
}

struct Identity {
   template <typename Real> TMVA_LSTM_HOST_DEVICE static Real f(Real z) { return z; }
   template <typename Real> TMVA_LSTM_HOST_DEVICE static Real dfFromY(Real) { return Real(1); }
};
struct Relu {
   template <typename Real> TMVA_LSTM_HOST_DEVICE static Real f(Real z) { return z > Real(0) ? z : Real(0); }
   template <typename Real> TMVA_LSTM_HOST_DEVICE static Real dfFromY(Real y) { return y > Real(0) ? Real(1) : Real(0); }
};
struct Sigmoid {
   template <typename Real> TMVA_LSTM_HOST_DEVICE static Real f(Real z) { return Real(1) / (Real(1) + Exp(-z)); }
   template <typename Real> TMVA_LSTM_HOST_DEVICE static Real dfFromY(Real y) { return y * (Real(1) - y); }   // σ' = s(1−s)
};
struct Tanh {
   template <typename Real> TMVA_LSTM_HOST_DEVICE static Real f(Real z) { return Real(2) / (Real(1) + Exp(Real(-2) * z)) - Real(1); }
   template <typename Real> TMVA_LSTM_HOST_DEVICE static Real dfFromY(Real y) { return Real(1) - y * y; }     // tanh' = 1−t²
};

/// Calls fn(F{}) with the functor type that `act` names: kernels are instantiated per
/// activation, so the element-wise loops hold no switch.
template <typename Fn>
decltype(auto) DispatchActivation(EActivationFunction act, Fn &&fn)
{
   switch (act) {
   case EActivationFunction::kIdentity: return fn(Identity{});
   case EActivationFunction::kRelu: return fn(Relu{});
   case EActivationFunction::kSigmoid: return fn(Sigmoid{});
   case EActivationFunction::kTanh: return fn(Tanh{});
   }
   throw std::invalid_argument("unknown activation function code " + std::to_string(int(act)));
}

// ---- Names: one table per kind. Each entry is the value, this library's name (Python, model
// internals) and TMVA's booking-string name; a value may appear again under an alias (TMVA
// accepts IDENTITY for LINEAR, STANDARD for CPU). Lookups throw listing the valid names. --------

template <typename E>
struct TNameEntry {
   E value;
   const char *name;     ///< tmva_lstm's: "tanh", "xavier_uniform", "bce", "adam", "cpu"
   const char *tmvaName; ///< TMVA's booking strings: "TANH", "XAVIERUNIFORM", "CROSSENTROPY", ...
};

enum class EArchitecture { kCpu, kGpu };

inline constexpr TNameEntry<EActivationFunction> kActivationNames[] = {
   {EActivationFunction::kIdentity, "identity", "LINEAR"}, {EActivationFunction::kRelu, "relu", "RELU"},
   {EActivationFunction::kSigmoid, "sigmoid", "SIGMOID"},  {EActivationFunction::kTanh, "tanh", "TANH"},
   {EActivationFunction::kIdentity, "identity", "IDENTITY"}};
inline constexpr TNameEntry<EInitialization> kInitializationNames[] = {
   {EInitialization::kGlorotNormal, "xavier_normal", "XAVIER"},
   {EInitialization::kGlorotUniform, "xavier_uniform", "XAVIERUNIFORM"},
   {EInitialization::kGauss, "gauss", "GAUSS"},
   {EInitialization::kUniform, "uniform", "UNIFORM"},
   {EInitialization::kZero, "zero", "ZERO"}};
inline constexpr TNameEntry<ELossFunction> kLossNames[] = {
   {ELossFunction::kCrossEntropy, "bce", "CROSSENTROPY"},
   {ELossFunction::kMeanSquaredError, "mse", "SUMOFSQUARES"},
   {ELossFunction::kSoftmaxCrossEntropy, "softmax_ce", "MUTUALEXCLUSIVE"}};
inline constexpr TNameEntry<EOptimizer> kOptimizerNames[] = {{EOptimizer::kAdam, "adam", "ADAM"},
                                                             {EOptimizer::kSGD, "sgd", "SGD"}};
inline constexpr TNameEntry<EArchitecture> kArchitectureNames[] = {{EArchitecture::kCpu, "cpu", "CPU"},
                                                                   {EArchitecture::kGpu, "cuda", "GPU"},
                                                                   {EArchitecture::kCpu, "cpu", "STANDARD"}};

namespace detail {
inline bool SameName(const std::string &a, const char *b, bool ignoreCase)
{
   if (a.size() != std::strlen(b))
      return false;
   for (size_t k = 0; k < a.size(); ++k)
      if (ignoreCase ? std::toupper((unsigned char)a[k]) != std::toupper((unsigned char)b[k]) : a[k] != b[k])
         return false;
   return true;
}
} // namespace detail

/// The entry named `name` in `table`: tmva_lstm's names exactly, or TMVA's case-insensitively
/// (`tmva`); nullptr if there is none.
template <typename E, size_t N>
const TNameEntry<E> *FindName(const TNameEntry<E> (&table)[N], const std::string &name, bool tmva = false)
{
   for (const auto &entry : table)
      if (detail::SameName(name, tmva ? entry.tmvaName : entry.name, tmva))
         return &entry;
   return nullptr;
}

/// The value FindName finds; else throws std::invalid_argument naming `what` and listing every
/// valid name.
template <typename E, size_t N>
E FromName(const TNameEntry<E> (&table)[N], const std::string &name, const char *what, bool tmva = false)
{
   if (const TNameEntry<E> *entry = FindName(table, name, tmva))
      return entry->value;
   std::string valid;
   for (const auto &entry : table) {
      const std::string n = tmva ? entry.tmvaName : entry.name;
      if (valid.find(n) == std::string::npos) // aliases share a tmva_lstm name
         valid += (valid.empty() ? "" : ", ") + n;
   }
   throw std::invalid_argument(std::string("unknown ") + what + " '" + name + "' (expected one of: " + valid + ")");
}

/// The first name of `value` in `table` (tmva_lstm's, or TMVA's with `tmva`).
template <typename E, size_t N>
const char *NameOf(const TNameEntry<E> (&table)[N], E value, bool tmva = false)
{
   for (const auto &entry : table)
      if (entry.value == value)
         return tmva ? entry.tmvaName : entry.name;
   return "?";
}

inline const char *ActivationName(EActivationFunction act) { return NameOf(kActivationNames, act); }
inline EActivationFunction ActivationFromName(const std::string &name)
{
   return FromName(kActivationNames, name, "activation function");
}
inline const char *InitializationName(EInitialization init) { return NameOf(kInitializationNames, init); }
inline EInitialization InitializationFromName(const std::string &name)
{
   return FromName(kInitializationNames, name, "weight initialisation");
}

} // namespace tmva_lstm
