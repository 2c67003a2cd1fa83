// Activation functions and weight initialisations, in TMVA's names (TMVA/DNN/Functions.h).
// Every activation here has a derivative that is a function of its output y = f(z): the
// backward pass needs only the stored gate values, never the pre-activations.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>

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

struct Identity {
   template <typename Real> static Real f(Real z) { return z; }
   template <typename Real> static Real dfFromY(Real) { return Real(1); }
};
struct Relu {
   template <typename Real> static Real f(Real z) { return z > Real(0) ? z : Real(0); }
   template <typename Real> static Real dfFromY(Real y) { return y > Real(0) ? Real(1) : Real(0); }
};
struct Sigmoid {
   template <typename Real> static Real f(Real z) { return Real(1) / (Real(1) + std::exp(-z)); }
   template <typename Real> static Real dfFromY(Real y) { return y * (Real(1) - y); }   // σ' = s(1−s)
};
struct Tanh {
   template <typename Real> static Real f(Real z) { return std::tanh(z); }
   template <typename Real> static Real dfFromY(Real y) { return Real(1) - y * y; }     // tanh' = 1−t²
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

inline const char *ActivationName(EActivationFunction act)
{
   switch (act) {
   case EActivationFunction::kIdentity: return "identity";
   case EActivationFunction::kRelu: return "relu";
   case EActivationFunction::kSigmoid: return "sigmoid";
   case EActivationFunction::kTanh: return "tanh";
   }
   return "?";
}

/// The name in TMVA booking strings: TANH, SIGMOID, RELU, LINEAR.
inline std::string ActivationTmvaName(EActivationFunction act)
{
   if (act == EActivationFunction::kIdentity)
      return "LINEAR";
   std::string name = ActivationName(act);
   for (char &c : name)
      c = char(c - 'a' + 'A');
   return name;
}

inline EActivationFunction ActivationFromName(const std::string &name)
{
   for (auto act : {EActivationFunction::kIdentity, EActivationFunction::kRelu, EActivationFunction::kSigmoid,
                    EActivationFunction::kTanh})
      if (name == ActivationName(act))
         return act;
   throw std::invalid_argument("unknown activation function '" + name +
                               "' (expected identity, relu, sigmoid or tanh)");
}

inline const char *LossName(ELossFunction loss)
{
   switch (loss) {
   case ELossFunction::kMeanSquaredError: return "mse";
   case ELossFunction::kCrossEntropy: return "bce";
   case ELossFunction::kSoftmaxCrossEntropy: return "softmax_ce";
   }
   return "?";
}

inline const char *InitializationName(EInitialization init)
{
   switch (init) {
   case EInitialization::kGauss: return "gauss";
   case EInitialization::kUniform: return "uniform";
   case EInitialization::kZero: return "zero";
   case EInitialization::kGlorotNormal: return "xavier_normal";
   case EInitialization::kGlorotUniform: return "xavier_uniform";
   }
   return "?";
}

inline EInitialization InitializationFromName(const std::string &name)
{
   for (auto init : {EInitialization::kGauss, EInitialization::kUniform, EInitialization::kZero,
                     EInitialization::kGlorotNormal, EInitialization::kGlorotUniform})
      if (name == InitializationName(init))
         return init;
   throw std::invalid_argument("unknown weight initialisation '" + name +
                               "' (expected gauss, uniform, zero, xavier_normal or xavier_uniform)");
}

} // namespace tmva_lstm
