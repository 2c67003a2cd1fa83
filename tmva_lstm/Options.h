// TMVA booking strings (MethodDL's options) parsed into a network description, e.g.
//   InputLayout=10|30:Layout=LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR:
//   TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,BatchSize=100,MaxEpochs=20,ConvergenceSteps=10
#pragma once

#include "Functions.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tmva_lstm {

enum class ERecurrentCell { kLSTM, kGRU, kRNN };

struct TLayerSpec {
   enum EKind { kRecurrent, kDense, kReshape } kind;
   std::string token;    ///< as booked, for error messages
   ERecurrentCell cell = ERecurrentCell::kLSTM;        // recurrent
   size_t stateSize = 0, inputSize = 0, timeSteps = 0; // recurrent
   bool rememberState = false, returnSequence = false; // recurrent
   bool resetGateAfter = false;                        // GRU
   bool bidirectional = false;                         // recurrent
   /// DENSE: its width, 0 = as many as the outputs (a bare "LINEAR", "SIGMOID", ...);
   /// RESHAPE|d|h|w|FLAT: d·h·w, which must equal the values it flattens (0: RESHAPE|FLAT)
   size_t width = 0;
   EActivationFunction activation = EActivationFunction::kIdentity;
};

/// One phase of TrainingStrategy (phases are separated by '|').
struct TTrainingPhase {
   double learningRate = 1e-3;
   double momentum = 0.0;
   EOptimizer optimizer = EOptimizer::kAdam;
   size_t batchSize = 100;
   size_t maxEpochs = 20;
   size_t convergenceSteps = 10; ///< stop after this many epochs without a better validation loss
   size_t testRepetitions = 1;   ///< validate after every this many epochs (TMVA's TestRepetitions)
   double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8; // Adam
   /// DropConfig: entry l is the probability that each input value of layer l is dropped
   /// during training (inverted dropout: the kept ones are scaled by 1/(1−p)); missing: 0.
   std::vector<double> dropout;
};

struct TNetSpec {
   std::string options; ///< the booking string as given
   size_t timeSteps = 0, inputSize = 0;
   std::vector<TLayerSpec> layers;
   std::vector<TTrainingPhase> phases;
   ELossFunction loss = ELossFunction::kCrossEntropy;
   EInitialization init = EInitialization::kGlorotUniform;
   std::string architecture = "CPU";
   uint64_t seed = 1;
   double forgetGateBias = 0;
   double validationFraction = 0.2;

   size_t GetInputCols() const { return timeSteps * inputSize; }
};

/// Throws std::invalid_argument quoting the offending token for anything unknown or malformed.
TNetSpec ParseBookingOptions(const std::string &options);

/// The booking string of `spec`, every setting written out: it parses to the same network and
/// training (doubles to the last bit).
std::string FormatBookingOptions(const TNetSpec &spec);

} // namespace tmva_lstm
