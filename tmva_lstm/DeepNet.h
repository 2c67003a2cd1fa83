// TDeepNet: layers in sequence, a loss on the last output; TOptimizer: SGD with momentum or Adam
// over every parameter of a net. (TMVA's TDeepNet and VOptimizer roles.)
#pragma once

#include "BasicGRULayer.h"
#include "BasicLSTMLayer.h"
#include "BasicRNNLayer.h"
#include "DenseLayer.h"
#include "Functions.h"
#include "GeneralLayer.h"
#include "Options.h"

#include <algorithm>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

/// The recurrent layer a booking token describes (spec.kind == kRecurrent): LSTM, GRU or RNN,
/// one direction or both (TBidirectionalLayer). f1, f2: gate and candidate activations (the RNN
/// takes f2); forgetGateBias: an LSTM's b_f. Weights: call Initialize.
template <typename Architecture_t>
std::unique_ptr<VGeneralLayer<Architecture_t>>
MakeRecurrentLayer(const TLayerSpec &s, size_t batchSize, EActivationFunction f1, EActivationFunction f2,
                   typename Architecture_t::Scalar_t forgetGateBias = 0)
{
   auto make = [&](TDirection direction) -> std::unique_ptr<VRecurrentLayer<Architecture_t>> {
      const auto init = EInitialization::kGlorotUniform;
      switch (s.cell) {
      case ERecurrentCell::kGRU:
         return std::make_unique<TBasicGRULayer<Architecture_t>>(batchSize, s.stateSize, s.inputSize, s.timeSteps,
                                                                 s.rememberState, s.returnSequence, s.resetGateAfter,
                                                                 f1, f2, init, 0, std::move(direction));
      case ERecurrentCell::kRNN:
         return std::make_unique<TBasicRNNLayer<Architecture_t>>(batchSize, s.stateSize, s.inputSize, s.timeSteps,
                                                                 s.rememberState, s.returnSequence, f2, init, 0,
                                                                 std::move(direction));
      default: {
         auto lstm = std::make_unique<TBasicLSTMLayer<Architecture_t>>(batchSize, s.stateSize, s.inputSize,
                                                                       s.timeSteps, s.rememberState, s.returnSequence,
                                                                       f1, f2, init, 0, std::move(direction));
         lstm->SetForgetGateBias(forgetGateBias);
         return lstm;
      }
      }
   };
   if (!s.bidirectional)
      return make({});
   TDirection forward, reverse;
   forward.outputStride = reverse.outputStride = 2 * s.stateSize;
   reverse.reverse = true, reverse.outputOffset = s.stateSize, reverse.addInputGradient = true;
   reverse.suffix = "_reverse";
   return std::make_unique<TBidirectionalLayer<Architecture_t>>(make(forward), make(reverse));
}

template <typename Architecture_t>
class TDeepNet {
public:
   using Scalar_t = typename Architecture_t::Scalar_t;
   using Matrix_t = typename Architecture_t::Matrix_t;
   using Layer_t = VGeneralLayer<Architecture_t>;

   /// inputCols: per-sample input width (T·D for a leading LSTM).
   TDeepNet(size_t batchSize, size_t inputCols, ELossFunction loss)
      : fBatchSize(batchSize), fInputCols(inputCols), fLoss(loss), fGradInput(batchSize, inputCols)
   {
      if (batchSize == 0 || inputCols == 0)
         throw std::invalid_argument("TDeepNet: batch size and input width must be > 0");
   }

   /// A recurrent layer as a booking token describes it (spec.kind == kRecurrent): LSTM, GRU or
   /// RNN, one direction or both. forgetGateBias: b_f of an LSTM.
   Layer_t *AddRecurrentLayer(const TLayerSpec &spec, Scalar_t forgetGateBias = 0)
   {
      if (spec.inputSize * spec.timeSteps != GetOutputCols())
         throw std::invalid_argument("recurrent layer: input " + std::to_string(spec.timeSteps) + "x" +
                                     std::to_string(spec.inputSize) + " does not match the " +
                                     std::to_string(GetOutputCols()) + " values per sample coming from below");
      return Add(MakeRecurrentLayer<Architecture_t>(spec, fBatchSize, EActivationFunction::kSigmoid,
                                                    EActivationFunction::kTanh, forgetGateBias));
   }
   /// TMVA's names for one-directional layers.
   TBasicLSTMLayer<Architecture_t> *AddBasicLSTMLayer(size_t stateSize, size_t inputSize, size_t timeSteps,
                                                      bool rememberState = false, bool returnSequence = false)
   {
      return static_cast<TBasicLSTMLayer<Architecture_t> *>(AddRecurrentLayer(
         Recurrent(ERecurrentCell::kLSTM, stateSize, inputSize, timeSteps, rememberState, returnSequence)));
   }
   TBasicGRULayer<Architecture_t> *AddBasicGRULayer(size_t stateSize, size_t inputSize, size_t timeSteps,
                                                    bool rememberState = false, bool returnSequence = false,
                                                    bool resetGateAfter = false)
   {
      TLayerSpec spec = Recurrent(ERecurrentCell::kGRU, stateSize, inputSize, timeSteps, rememberState, returnSequence);
      spec.resetGateAfter = resetGateAfter;
      return static_cast<TBasicGRULayer<Architecture_t> *>(AddRecurrentLayer(spec));
   }
   TBasicRNNLayer<Architecture_t> *AddBasicRNNLayer(size_t stateSize, size_t inputSize, size_t timeSteps,
                                                    bool rememberState = false, bool returnSequence = false)
   {
      return static_cast<TBasicRNNLayer<Architecture_t> *>(AddRecurrentLayer(
         Recurrent(ERecurrentCell::kRNN, stateSize, inputSize, timeSteps, rememberState, returnSequence)));
   }
   TDenseLayer<Architecture_t> *AddDenseLayer(size_t width, EActivationFunction f)
   {
      if (width == 0)
         throw std::invalid_argument("DENSE layer: width must be > 0");
      return Add(std::make_unique<TDenseLayer<Architecture_t>>(fBatchSize, GetOutputCols(), width, f));
   }
   TReshapeLayer<Architecture_t> *AddReshapeLayer()
   {
      return Add(std::make_unique<TReshapeLayer<Architecture_t>>(fBatchSize, GetOutputCols()));
   }

   /// Every layer's weights from `init`, drawn in layer order from one random stream.
   void Initialize(EInitialization init, uint64_t seed)
   {
      std::mt19937_64 rng(seed);
      for (auto &layer : fLayers)
         layer->Initialize(init, rng);
   }

   /// Dropout for training (TMVA's DropConfig): p[l] is the probability that each input value of
   /// layer l is dropped; the kept values are scaled by 1/(1 − p[l]). Masks are drawn from `seed`.
   /// Only a Forward with `training` applies it. An empty p turns it off.
   void SetDropout(const std::vector<double> &p, uint64_t seed)
   {
      if (p.size() > fLayers.size())
         throw std::invalid_argument("DropConfig has " + std::to_string(p.size()) + " entries, the network " +
                                     std::to_string(fLayers.size()) + " layers");
      fDropout.assign(fLayers.size(), 0.0);
      std::copy(p.begin(), p.end(), fDropout.begin());
      fDropRng.seed(seed);
      fDropMasks.clear(), fDropped.clear(), fHostMask.clear();
      for (size_t l = 0; l < fLayers.size(); ++l) {
         const size_t cols = fDropout[l] > 0 ? fLayers[l]->GetInputCols() : 0;
         fDropMasks.emplace_back(cols ? fBatchSize : 0, cols);
         fDropped.emplace_back(cols ? fBatchSize : 0, cols);
         fHostMask.resize(std::max(fHostMask.size(), fBatchSize * cols));
      }
      fDroppedNow.assign(fLayers.size(), false);
   }

   /// lengths: per-sample sequence lengths (B×1) for the recurrent layers, or nullptr.
   /// training: apply dropout (SetDropout).
   void Forward(const Matrix_t &input, const Matrix_t *lengths = nullptr, bool training = false)
   {
      if (fLayers.empty())
         throw std::logic_error("TDeepNet: no layers");
      if (input.GetNrows() != fBatchSize || input.GetNcols() != fInputCols)
         throw std::invalid_argument("TDeepNet: input must be " + std::to_string(fBatchSize) + "x" +
                                     std::to_string(fInputCols) + ", got " + std::to_string(input.GetNrows()) + "x" +
                                     std::to_string(input.GetNcols()));
      for (size_t l = 0; l < fLayers.size(); ++l) {
         const Matrix_t *in = l == 0 ? &input : &fOutputs[l - 1];
         fDroppedNow[l] = training && fDropout[l] > 0;
         if (fDroppedNow[l]) {
            DrawMask(l);
            Architecture_t::Copy(fDropped[l].View(), in->View());
            Architecture_t::Hadamard(fDropped[l].View(), fDropMasks[l].View());
            in = &fDropped[l];
         }
         fLayers[l]->SetLengths(lengths);
         fLayers[l]->Forward(*in, fOutputs[l]);
      }
   }

   /// After Forward: the loss gradient at the output, then every layer's Backward, top down.
   void Backward(const Matrix_t &Y, const Matrix_t &weights)
   {
      CheckTruth(Y, weights);
      Architecture_t::LossGradient(fLoss, fGradients.back().View(), fOutputs.back().View(), Y.View(), weights.View());
      for (size_t l = fLayers.size(); l-- > 0;) {
         Matrix_t &gradInput = l == 0 ? fGradInput : fGradients[l - 1];
         fLayers[l]->Backward(fGradients[l], gradInput);
         if (fDroppedNow[l]) // through the dropout: the same mask
            Architecture_t::Hadamard(gradInput.View(), fDropMasks[l].View());
      }
   }

   /// The loss of the last Forward.
   Scalar_t Loss(const Matrix_t &Y, const Matrix_t &weights) const
   {
      CheckTruth(Y, weights);
      return Architecture_t::Loss(fLoss, fOutputs.back().View(), Y.View(), weights.View());
   }

   /// The last Forward's outputs turned into predictions (σ for cross-entropy, softmax for softmax).
   void Prediction(Matrix_t &out) const
   {
      Architecture_t::Copy(out.View(), fOutputs.back().View());
      Architecture_t::OutputFunction(fLoss, out.View());
   }

   void ResetState()
   {
      for (auto &layer : fLayers)
         layer->ResetState();
   }

   size_t GetBatchSize() const { return fBatchSize; }
   /// Whether a layer carries its state from batch to batch, row by row (rememberState).
   bool RemembersState() const
   {
      return std::any_of(fLayers.begin(), fLayers.end(), [](const auto &l) { return l->RemembersState(); });
   }
   size_t GetInputCols() const { return fInputCols; }
   size_t GetOutputCols() const { return fLayers.empty() ? fInputCols : fLayers.back()->GetOutputCols(); }
   ELossFunction GetLossFunction() const { return fLoss; }
   size_t GetDepth() const { return fLayers.size(); }
   Layer_t &GetLayerAt(size_t l) { return *fLayers.at(l); }
   const Matrix_t &GetOutput() const { return fOutputs.back(); }
   /// "layer<l>_<KIND>", e.g. layer0_LSTM: the prefix of the layer's weights in model files.
   std::string GetLayerName(size_t l) const
   {
      const std::string layout = fLayers.at(l)->GetLayout();
      return "layer" + std::to_string(l) + "_" + layout.substr(0, layout.find('|'));
   }
   const Matrix_t &GetInputGradient() const { return fGradInput; }
   /// TMVA's Layout= value, e.g. "LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,DENSE|1|IDENTITY".
   std::string GetLayout() const
   {
      std::string layout;
      for (auto &layer : fLayers)
         layout += (layout.empty() ? "" : ",") + layer->GetLayout();
      return layout;
   }
   std::vector<TParameter<Matrix_t>> GetParameters()
   {
      std::vector<TParameter<Matrix_t>> all;
      for (auto &layer : fLayers)
         for (auto &p : layer->GetParameters())
            all.push_back(p);
      return all;
   }

private:
   template <typename Layer>
   Layer *Add(std::unique_ptr<Layer> layer)
   {
      Layer *raw = layer.get();
      fOutputs.emplace_back(fBatchSize, raw->GetOutputCols());
      fGradients.emplace_back(fBatchSize, raw->GetOutputCols());
      fLayers.push_back(std::move(layer));
      fDropout.push_back(0.0), fDroppedNow.push_back(false);
      return raw;
   }
   static TLayerSpec Recurrent(ERecurrentCell cell, size_t stateSize, size_t inputSize, size_t timeSteps,
                               bool rememberState, bool returnSequence)
   {
      TLayerSpec spec{TLayerSpec::kRecurrent, ""};
      spec.cell = cell, spec.stateSize = stateSize, spec.inputSize = inputSize, spec.timeSteps = timeSteps;
      spec.rememberState = rememberState, spec.returnSequence = returnSequence;
      return spec;
   }
   /// Layer l's dropout mask: 0, or 1/(1 − p) where kept.
   void DrawMask(size_t l)
   {
      const double p = fDropout[l];
      const size_t n = fDropMasks[l].GetNoElements();
      std::uniform_real_distribution<double> u(0.0, 1.0);
      for (size_t k = 0; k < n; ++k)
         fHostMask[k] = u(fDropRng) < p ? Scalar_t(0) : Scalar_t(1 / (1 - p));
      Architecture_t::CopyFromHost(fDropMasks[l].View(), fHostMask.data(), n, "dropout mask");
   }
   void CheckTruth(const Matrix_t &Y, const Matrix_t &weights) const
   {
      if (fLayers.empty())
         throw std::logic_error("TDeepNet: no layers");
      if (Y.GetNrows() != fBatchSize || Y.GetNcols() != GetOutputCols())
         throw std::invalid_argument("TDeepNet: truth must be " + std::to_string(fBatchSize) + "x" +
                                     std::to_string(GetOutputCols()));
      if (weights.GetNrows() != 1 || weights.GetNcols() != fBatchSize)
         throw std::invalid_argument("TDeepNet: weights must be 1x" + std::to_string(fBatchSize));
   }

   size_t fBatchSize, fInputCols;
   ELossFunction fLoss;
   std::vector<std::unique_ptr<Layer_t>> fLayers;
   std::vector<Matrix_t> fOutputs;   // fOutputs[l]: output of layer l (B × its width)
   std::vector<Matrix_t> fGradients; // fGradients[l]: ∂L/∂fOutputs[l]
   Matrix_t fGradInput;              // ∂L/∂input
   std::vector<double> fDropout;     // per layer: probability of dropping an input value
   std::vector<bool> fDroppedNow;    // the last Forward applied layer l's dropout
   std::vector<Matrix_t> fDropMasks, fDropped; // per layer with dropout: mask, and the masked input
   std::vector<Scalar_t> fHostMask;
   std::mt19937_64 fDropRng;
};

/// One optimizer state per parameter; Step() after each Backward.
template <typename Architecture_t>
class TOptimizer {
public:
   using Scalar_t = typename Architecture_t::Scalar_t;
   using Matrix_t = typename Architecture_t::Matrix_t;

   TOptimizer(TDeepNet<Architecture_t> &net, EOptimizer type, Scalar_t learningRate, Scalar_t momentum = 0,
              Scalar_t beta1 = 0.9, Scalar_t beta2 = 0.999, Scalar_t epsilon = 1e-8)
      : fType(type), fLearningRate(learningRate), fMomentum(momentum), fBeta1(beta1), fBeta2(beta2),
        fEpsilon(epsilon), fParameters(net.GetParameters())
   {
      if (!(learningRate > 0))
         throw std::invalid_argument("optimizer: learning rate must be > 0");
      for (auto &p : fParameters) {
         fFirst.emplace_back(p.value->GetNrows(), p.value->GetNcols());
         if (type == EOptimizer::kAdam)
            fSecond.emplace_back(p.value->GetNrows(), p.value->GetNcols());
      }
   }

   void Step()
   {
      ++fStep;
      for (size_t k = 0; k < fParameters.size(); ++k) {
         auto &p = fParameters[k];
         if (fType == EOptimizer::kSGD)
            Architecture_t::SgdStep(p.value->View(), p.gradient->View(), fFirst[k].View(), fLearningRate, fMomentum);
         else
            Architecture_t::AdamStep(p.value->View(), p.gradient->View(), fFirst[k].View(), fSecond[k].View(),
                                     fLearningRate, fBeta1, fBeta2, fEpsilon, fStep);
      }
   }
   size_t GetStep() const { return fStep; }

private:
   EOptimizer fType;
   Scalar_t fLearningRate, fMomentum, fBeta1, fBeta2, fEpsilon;
   std::vector<TParameter<Matrix_t>> fParameters;
   std::vector<Matrix_t> fFirst, fSecond; // SGD: velocity; Adam: first and second moments
   size_t fStep = 0;
};

/// The network a booking string describes, for nOutputs outputs and a fixed batch size.
/// Layer widths must chain; an error names the layer token that does not fit.
template <typename Architecture_t>
std::unique_ptr<TDeepNet<Architecture_t>> BuildDeepNet(const TNetSpec &spec, size_t batchSize, size_t nOutputs)
{
   if (spec.architecture != "CPU" && std::string(Architecture_t::Name()) == "cpu")
      throw std::invalid_argument("booking options: Architecture=" + spec.architecture +
                                  " requested, but this network is being built for the CPU");
   auto net = std::make_unique<TDeepNet<Architecture_t>>(batchSize, spec.GetInputCols(), spec.loss);
   for (size_t l = 0; l < spec.layers.size(); ++l) {
      const TLayerSpec &layer = spec.layers[l];
      try {
         switch (layer.kind) {
         case TLayerSpec::kRecurrent:
            net->AddRecurrentLayer(layer, typename Architecture_t::Scalar_t(spec.forgetGateBias));
            break;
         case TLayerSpec::kDense: net->AddDenseLayer(layer.width ? layer.width : nOutputs, layer.activation); break;
         case TLayerSpec::kReshape:
            if (layer.width && layer.width != net->GetOutputCols())
               throw std::invalid_argument("depth x height x width is " + std::to_string(layer.width) +
                                           ", but the layer flattens " + std::to_string(net->GetOutputCols()) +
                                           " values per sample");
            net->AddReshapeLayer();
            break;
         }
      } catch (const std::invalid_argument &e) {
         const bool afterBidirectional = l > 0 && spec.layers[l - 1].bidirectional;
         throw std::invalid_argument(std::string("booking options: ") + e.what() + " in '" + layer.token + "'" +
                                     (afterBidirectional ? " (the layer before is BIDIRECTIONAL: its output has 2 x " +
                                                               std::to_string(spec.layers[l - 1].stateSize) +
                                                               " values per step)"
                                                         : ""));
      }
   }
   for (const TTrainingPhase &phase : spec.phases)
      if (phase.dropout.size() > spec.layers.size())
         throw std::invalid_argument("booking options: DropConfig has " + std::to_string(phase.dropout.size()) +
                                     " entries, the Layout " + std::to_string(spec.layers.size()) + " layers");
   if (net->GetOutputCols() != nOutputs)
      throw std::invalid_argument("booking options: the last layer '" + spec.layers.back().token + "' has " +
                                  std::to_string(net->GetOutputCols()) + " outputs, the data " +
                                  std::to_string(nOutputs));
   net->Initialize(spec.init, spec.seed);
   return net;
}

} // namespace tmva_lstm
