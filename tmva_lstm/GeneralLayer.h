// VGeneralLayer: what TDeepNet needs of a layer. Activations flow as B×N matrices, one row a
// sample (an LSTM's B×(T·D) input is a flattened (B, T, D) batch).
#pragma once

#include "Functions.h"

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace tmva_lstm {

/// A trainable parameter and its gradient, whole (what the optimizer steps), by name.
template <typename Matrix_t>
struct TParameter {
   const char *name; ///< "W", "U", "b": within its layer
   Matrix_t *value;
   Matrix_t *gradient;
};

template <typename Architecture_t>
class VGeneralLayer {
public:
   using Matrix_t = typename Architecture_t::Matrix_t;
   using View_t = typename Architecture_t::View_t;

   using Parameter_t = TParameter<Matrix_t>;

   virtual ~VGeneralLayer() = default;

   /// Draw new weights from `init` (TDeepNet passes every layer the same stream, in order).
   virtual void Initialize(EInitialization /*init*/, std::mt19937_64 & /*rng*/) {}
   /// Per-sample sequence lengths (B×1) for the next Forward, or nullptr for full length;
   /// layers without a time axis ignore them.
   virtual void SetLengths(const Matrix_t * /*lengths*/) {}

   virtual void Forward(const Matrix_t &input, Matrix_t &output) = 0;
   /// gradOutput = ∂L/∂output → gradInput = ∂L/∂input; the parameter gradients are left readable.
   virtual void Backward(const Matrix_t &gradOutput, Matrix_t &gradInput) = 0;

   virtual size_t GetBatchSize() const = 0;
   virtual size_t GetInputCols() const = 0;  ///< per sample
   virtual size_t GetOutputCols() const = 0; ///< per sample
   /// The layer's booking token, e.g. "LSTM|10|30|10|0|1".
   virtual std::string GetLayout() const = 0;
   virtual std::vector<Parameter_t> GetParameters() = 0;
   /// The weights under their true names (LSTM: W_i … U_o, b_i … b_o), as views of the parameters.
   virtual std::vector<std::pair<std::string, View_t>> GetNamedWeights() = 0;
   /// Start of an epoch: zero any state carried between batches.
   virtual void ResetState() {}
   /// Whether row r of a batch continues from row r of the one before (rememberState): then the
   /// rows of a batch keep their order.
   virtual bool RemembersState() const { return false; }
};

} // namespace tmva_lstm
