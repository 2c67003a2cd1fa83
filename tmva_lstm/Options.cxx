#include "Options.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <stdexcept>

namespace tmva_lstm {

namespace {

std::vector<std::string> Split(const std::string &s, char sep)
{
   std::vector<std::string> parts;
   size_t start = 0;
   for (size_t k = 0; k <= s.size(); ++k)
      if (k == s.size() || s[k] == sep) {
         parts.push_back(s.substr(start, k - start));
         start = k + 1;
      }
   return parts;
}

std::string Upper(std::string s)
{
   std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
   return s;
}

[[noreturn]] void Fail(const std::string &what, const std::string &token)
{
   throw std::invalid_argument("booking options: " + what + " in '" + token + "'");
}

size_t ParseCount(const std::string &text, const std::string &token, bool allowZero = false)
{
   size_t used = 0;
   unsigned long long value = 0;
   try {
      if (text.empty() || !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); }))
         throw std::invalid_argument(text);
      value = std::stoull(text, &used);
   } catch (const std::exception &) {
      Fail("expected a non-negative integer, got '" + text + "'", token);
   }
   if (used != text.size() || (!allowZero && value == 0))
      Fail("expected a positive integer, got '" + text + "'", token);
   return size_t(value);
}

double ParseNumber(const std::string &text, const std::string &token)
{
   size_t used = 0;
   double value = 0;
   try {
      value = std::stod(text, &used);
   } catch (const std::exception &) {
      Fail("expected a number, got '" + text + "'", token);
   }
   if (used != text.size() || !std::isfinite(value))
      Fail("expected a number, got '" + text + "'", token);
   return value;
}

bool ParseFlag(const std::string &text, const std::string &token)
{
   if (text == "0" || Upper(text) == "FALSE")
      return false;
   if (text == "1" || Upper(text) == "TRUE")
      return true;
   Fail("expected 0 or 1, got '" + text + "'", token);
}

/// A value from one of Functions.h's name tables, by its TMVA name; the error lists the valid ones.
template <typename E, size_t N>
E ParseName(const TNameEntry<E> (&table)[N], const std::string &text, const char *what, const std::string &token)
{
   try {
      return FromName(table, text, what, true);
   } catch (const std::invalid_argument &e) {
      Fail(e.what(), token);
   }
}

TLayerSpec ParseLayer(const std::string &token)
{
   const std::vector<std::string> f = Split(token, '|');
   const std::string kind = Upper(f[0]);
   TLayerSpec spec{TLayerSpec::kDense, token};
   if (kind == "LSTM" || kind == "GRU" || kind == "RNN") {
      // KIND|state|input|time[|rememberState[|returnSequence]] (GRU: [|resetGateAfter]), then
      // our extension: a last field BIDIRECTIONAL.
      spec.kind = TLayerSpec::kRecurrent;
      spec.cell = kind == "LSTM" ? ERecurrentCell::kLSTM : kind == "GRU" ? ERecurrentCell::kGRU : ERecurrentCell::kRNN;
      std::vector<std::string> fields(f.begin(), f.end());
      if (fields.size() > 1 && Upper(fields.back()) == "BIDIRECTIONAL") {
         spec.bidirectional = true;
         fields.pop_back();
      }
      const std::string last = Upper(fields.back());
      if (fields.size() > 4 && !last.empty() && !std::isdigit((unsigned char)last[0]) && last != "TRUE" &&
          last != "FALSE")
         Fail("unknown field '" + fields.back() + "' (the one named field is BIDIRECTIONAL, last)", token);
      const size_t most = kind == "GRU" ? 7 : 6;
      if (fields.size() < 4 || fields.size() > most)
         Fail(kind + " takes " + kind + "|stateSize|inputSize|timeSteps[|rememberState[|returnSequence" +
                 (kind == "GRU" ? "[|resetGateAfter]" : "") + "]][|BIDIRECTIONAL], got " +
                 std::to_string(f.size()) + " fields",
              token);
      spec.stateSize = ParseCount(fields[1], token), spec.inputSize = ParseCount(fields[2], token);
      spec.timeSteps = ParseCount(fields[3], token);
      spec.rememberState = fields.size() > 4 && ParseFlag(fields[4], token);
      spec.returnSequence = fields.size() > 5 && ParseFlag(fields[5], token);
      spec.resetGateAfter = fields.size() > 6 && ParseFlag(fields[6], token);
      if (spec.bidirectional && spec.rememberState)
         Fail("a BIDIRECTIONAL layer cannot remember its state between batches (rememberState must be 0)", token);
   } else if (kind == "DENSE") { // DENSE|width|activation
      if (f.size() != 3)
         Fail("DENSE takes DENSE|width|activation", token);
      spec.width = ParseCount(f[1], token);
      spec.activation = ParseName(kActivationNames, f[2], "activation", token);
   } else if (kind == "RESHAPE") { // RESHAPE|FLAT, or TMVA's RESHAPE|depth|height|width|FLAT
      if ((f.size() != 2 && f.size() != 5) || Upper(f.back()) != "FLAT")
         Fail("RESHAPE takes RESHAPE|FLAT or RESHAPE|depth|height|width|FLAT (only flattening is available)", token);
      spec.kind = TLayerSpec::kReshape;
      if (f.size() == 5) {
         const size_t d = ParseCount(f[1], token), h = ParseCount(f[2], token), w = ParseCount(f[3], token);
         if (h > SIZE_MAX / d || w > SIZE_MAX / (d * h))
            Fail("depth x height x width overflows", token);
         spec.width = d * h * w;
      }
   } else if (f.size() == 1 && FindName(kActivationNames, f[0], true)) {
      spec.activation = FindName(kActivationNames, f[0], true)->value;
      spec.width = 0; // the output layer: as wide as the outputs
   } else if (kind == "CONV" || kind == "MAXPOOL" || kind == "BNORM") {
      Fail("layer type " + kind + " is not available in tmva-lstm", token);
   } else {
      Fail("unknown layer", token);
   }
   return spec;
}

TTrainingPhase ParsePhase(const std::string &text)
{
   TTrainingPhase phase;
   std::set<std::string> seen; // each option once: a second one would silently win
   for (const std::string &item : Split(text, ',')) {
      const size_t eq = item.find('=');
      if (eq == std::string::npos)
         Fail("expected Key=Value", item);
      const std::string key = Upper(item.substr(0, eq)), value = item.substr(eq + 1);
      if (!seen.insert(key).second)
         Fail("training option '" + item.substr(0, eq) + "' given twice in one phase", item);
      if (key == "LEARNINGRATE")
         phase.learningRate = ParseNumber(value, item);
      else if (key == "MOMENTUM")
         phase.momentum = ParseNumber(value, item);
      else if (key == "BATCHSIZE")
         phase.batchSize = ParseCount(value, item);
      else if (key == "MAXEPOCHS")
         phase.maxEpochs = ParseCount(value, item);
      else if (key == "CONVERGENCESTEPS")
         phase.convergenceSteps = ParseCount(value, item);
      else if (key == "OPTIMIZER")
         phase.optimizer = ParseName(kOptimizerNames, value, "optimizer", item);
      else if (key == "ADAM_BETA1")
         phase.beta1 = ParseNumber(value, item);
      else if (key == "ADAM_BETA2")
         phase.beta2 = ParseNumber(value, item);
      else if (key == "ADAM_EPSILON")
         phase.epsilon = ParseNumber(value, item);
      else if (key == "TESTREPETITIONS")
         phase.testRepetitions = ParseCount(value, item);
      else if (key == "REPETITIONS") // TMVA's MethodDNN option; MethodDL reads it not, nor do we
         ParseCount(value, item, true);
      else if (key == "REGULARIZATION") {
         if (Upper(value) != "NONE")
            Fail("regularization is not available in tmva-lstm (use Regularization=None)", item);
      } else if (key == "WEIGHTDECAY") {
         if (ParseNumber(value, item) != 0)
            Fail("weight decay is not available in tmva-lstm (use WeightDecay=0)", item);
      } else if (key == "DROPCONFIG") { // drop probabilities per layer, e.g. 0.0+0.5+0.5
         phase.dropout.clear();
         for (const std::string &p : Split(value, '+')) {
            const double d = ParseNumber(p, item);
            if (!(d >= 0 && d < 1))
               Fail("a dropout probability must be in [0, 1), got '" + p + "'", item);
            phase.dropout.push_back(d);
         }
      } else
         Fail("unknown training option '" + item.substr(0, eq) + "'", item);
   }
   if (!(phase.learningRate > 0))
      Fail("LearningRate must be > 0", text);
   if (!(phase.momentum >= 0 && phase.momentum < 1))
      Fail("Momentum must be in [0, 1)", text);
   if (!(phase.beta1 >= 0 && phase.beta1 < 1) || !(phase.beta2 >= 0 && phase.beta2 < 1))
      Fail("ADAM_BETA1 and ADAM_BETA2 must be in [0, 1)", text);
   if (!(phase.epsilon > 0))
      Fail("ADAM_EPSILON must be > 0", text);
   return phase;
}

} // namespace

TNetSpec ParseBookingOptions(const std::string &options)
{
   TNetSpec spec;
   spec.options = options;
   bool haveInput = false, haveLayout = false;
   std::vector<size_t> batchLayout;
   std::set<std::string> seen; // each option once: a second one would silently win
   std::string text = options; // TMVA removes the spaces before it parses (MethodDL::ParseKeyValueString)
   text.erase(std::remove_if(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); }), text.end());
   for (const std::string &option : Split(text, ':')) {
      if (option.empty())
         continue;
      const size_t eq = option.find('=');
      if (eq == std::string::npos) {
         const std::string u = Upper(option); // TMVA's flags: help, verbose, silent
         if (u == "H" || u == "!H" || u == "V" || u == "!V" || u == "SILENT" || u == "!SILENT")
            continue;
         Fail("expected Key=Value", option);
      }
      const std::string key = Upper(option.substr(0, eq)), value = option.substr(eq + 1);
      if (!seen.insert(key).second)
         Fail("option '" + option.substr(0, eq) + "' given twice", option);
      if (key == "INPUTLAYOUT") { // time|input, or 1|time|input
         std::vector<std::string> f = Split(value, '|');
         if (f.size() == 3 && f[0] == "1")
            f.erase(f.begin());
         if (f.size() != 2)
            Fail("InputLayout takes timeSteps|inputSize", option);
         spec.timeSteps = ParseCount(f[0], option), spec.inputSize = ParseCount(f[1], option);
         haveInput = true;
      } else if (key == "BATCHLAYOUT") { // depth|height|width, checked below as TMVA's MethodDL checks it
         for (const std::string &f : Split(value, '|'))
            batchLayout.push_back(ParseCount(f, option));
         if (batchLayout.size() != 3)
            Fail("BatchLayout takes depth|height|width", option);
      } else if (key == "LAYOUT") {
         for (const std::string &token : Split(value, ','))
            spec.layers.push_back(ParseLayer(token));
         haveLayout = true;
      } else if (key == "TRAININGSTRATEGY") {
         for (const std::string &phase : Split(value, '|'))
            spec.phases.push_back(ParsePhase(phase));
      } else if (key == "ERRORSTRATEGY") {
         spec.loss = ParseName(kLossNames, value, "ErrorStrategy", option);
      } else if (key == "WEIGHTINITIALIZATION") {
         spec.init = ParseName(kInitializationNames, value, "WeightInitialization", option);
      } else if (key == "ARCHITECTURE") {
         spec.architecture = NameOf(kArchitectureNames, ParseName(kArchitectureNames, value, "Architecture", option), true);
      } else if (key == "RANDOMSEED") {
         spec.seed = ParseCount(value, option, true);
      } else if (key == "FORGETGATEBIAS") {
         spec.forgetGateBias = ParseNumber(value, option);
      } else if (key == "VALIDATIONSIZE") { // a fraction, or a percentage "20%"
         const bool percent = !value.empty() && value.back() == '%';
         const double v = ParseNumber(percent ? value.substr(0, value.size() - 1) : value, option);
         if (!percent && v >= 1) // the split hashes each entry, so it cannot take an exact count
            Fail("ValidationSize as an event count (TMVA's ValidationSize=" + value +
                    ") is not supported here; give a fraction (0.2) or a percentage (20%)",
                 option);
         spec.validationFraction = percent ? v / 100 : v;
         if (!(spec.validationFraction > 0 && spec.validationFraction < 1))
            Fail("ValidationSize must be between 0 and 1 (or 0% and 100%)", option);
      } else if (key == "VARTRANSFORM") {
         if (Upper(value) != "NONE")
            Fail("variable transformations are not available in tmva-lstm (use VarTransform=None)", option);
      } else {
         Fail("unknown option '" + option.substr(0, eq) + "'", option);
      }
   }
   if (!haveInput)
      Fail("InputLayout=timeSteps|inputSize is required", options);
   if (!haveLayout || spec.layers.empty())
      Fail("Layout=... is required", options);
   if (spec.phases.empty())
      spec.phases.push_back(TTrainingPhase{});
   if (!batchLayout.empty()) // B|T|D (depth = batch size) or 1|B|T·D, for every phase's BatchSize
      for (const TTrainingPhase &phase : spec.phases) {
         const size_t depth = batchLayout[0], height = batchLayout[1], width = batchLayout[2];
         const size_t cols = spec.GetInputCols();
         const bool byDepth = depth == phase.batchSize && height <= cols && width <= cols && height * width == cols;
         const bool byHeight = depth == 1 && height == phase.batchSize && width == cols;
         if (!byDepth && !byHeight)
            Fail("BatchLayout must be BatchSize|timeSteps|inputSize or 1|BatchSize|timeSteps*inputSize (BatchSize " +
                    std::to_string(phase.batchSize) + ", InputLayout " + std::to_string(spec.timeSteps) + "|" +
                    std::to_string(spec.inputSize) + ")",
                 "BatchLayout=" + std::to_string(depth) + "|" + std::to_string(height) + "|" + std::to_string(width));
      }
   return spec;
}

namespace {

/// A double that reads back bit for bit.
std::string Exact(double v)
{
   char buf[32];
   std::snprintf(buf, sizeof buf, "%.17g", v);
   return buf;
}

std::string FormatLayer(const TLayerSpec &layer)
{
   const auto flag = [](bool b) { return b ? "1" : "0"; };
   switch (layer.kind) {
   case TLayerSpec::kRecurrent: {
      const char *kind = layer.cell == ERecurrentCell::kLSTM ? "LSTM" : layer.cell == ERecurrentCell::kGRU ? "GRU" : "RNN";
      return std::string(kind) + "|" + std::to_string(layer.stateSize) + "|" + std::to_string(layer.inputSize) + "|" +
             std::to_string(layer.timeSteps) + "|" + flag(layer.rememberState) + "|" + flag(layer.returnSequence) +
             (layer.cell == ERecurrentCell::kGRU ? std::string("|") + flag(layer.resetGateAfter) : "") +
             (layer.bidirectional ? "|BIDIRECTIONAL" : "");
   }
   case TLayerSpec::kReshape: return layer.width ? "RESHAPE|1|1|" + std::to_string(layer.width) + "|FLAT" : "RESHAPE|FLAT";
   case TLayerSpec::kDense: break;
   }
   const std::string activation = NameOf(kActivationNames, layer.activation, true);
   return layer.width ? "DENSE|" + std::to_string(layer.width) + "|" + activation : activation;
}

std::string FormatPhase(const TTrainingPhase &p)
{
   std::string s = "LearningRate=" + Exact(p.learningRate) + ",Momentum=" + Exact(p.momentum) +
                   ",Optimizer=" + NameOf(kOptimizerNames, p.optimizer, true) +
                   ",BatchSize=" + std::to_string(p.batchSize) + ",MaxEpochs=" + std::to_string(p.maxEpochs) +
                   ",ConvergenceSteps=" + std::to_string(p.convergenceSteps) +
                   ",TestRepetitions=" + std::to_string(p.testRepetitions) + ",ADAM_BETA1=" + Exact(p.beta1) +
                   ",ADAM_BETA2=" + Exact(p.beta2) + ",ADAM_EPSILON=" + Exact(p.epsilon);
   for (size_t l = 0; l < p.dropout.size(); ++l)
      s += (l ? "+" : ",DropConfig=") + Exact(p.dropout[l]);
   return s;
}

} // namespace

std::string FormatBookingOptions(const TNetSpec &spec)
{
   std::string layout, phases;
   for (const TLayerSpec &layer : spec.layers)
      layout += (layout.empty() ? "" : ",") + FormatLayer(layer);
   for (const TTrainingPhase &phase : spec.phases)
      phases += (phases.empty() ? "" : "|") + FormatPhase(phase);
   return "InputLayout=" + std::to_string(spec.timeSteps) + "|" + std::to_string(spec.inputSize) + ":Layout=" + layout +
          ":ErrorStrategy=" + NameOf(kLossNames, spec.loss, true) +
          ":WeightInitialization=" + NameOf(kInitializationNames, spec.init, true) +
          ":Architecture=" + spec.architecture + ":RandomSeed=" + std::to_string(spec.seed) +
          ":ForgetGateBias=" + Exact(spec.forgetGateBias) + ":ValidationSize=" + Exact(spec.validationFraction) +
          ":TrainingStrategy=" + phases;
}

} // namespace tmva_lstm
