// Seeded fuzzing of the booking-string parser: valid TMVA booking strings, mutated, each case
// parsed in a child process (fork) so that a crash or a hang is seen and counted, not suffered.
// A case ends in one of:
//   refused   std::invalid_argument whose message starts "booking options:";
//   accepted  and then FormatBookingOptions of it parses again to the same canonical string,
//             and, where the sizes are small, both build networks with the same layout (or both
//             are refused when built: layers that do not chain, counted apart);
//   failure   anything else: another exception type, a round trip that differs, a signal, or no
//             answer within kCaseSeconds.
// Used by tests/cpp/fuzz_booking.cxx (ctest, also under the sanitizers) and by
// tests/test_booking.py (through cppyy).
#pragma once

#include "Cpu.h"
#include "DeepNet.h"
#include "Options.h"

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace tmva_lstm {
namespace fuzz {

/// Child exit codes.
enum EOutcome { kRefused = 10, kAccepted = 11, kOtherException = 12, kRoundTrip = 13, kBuildDiffers = 14, kUnbuildable = 15 };

constexpr unsigned kCaseSeconds = 10;

/// The strings the mutations start from: every layer kind and option the grammar has.
inline const std::vector<std::string> &Seeds()
{
   static const std::vector<std::string> seeds = {
      "InputLayout=10|30:Layout=LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR:"
      "TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,BatchSize=100,MaxEpochs=20,ConvergenceSteps=10",
      "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=None:WeightInitialization=XAVIERUNIFORM:"
      "InputLayout=1|10|30:BatchLayout=256|10|30:Layout=GRU|8|30|10|0|1|1|BIDIRECTIONAL,RESHAPE|1|1|160|FLAT,"
      "DENSE|16|RELU,SIGMOID:TrainingStrategy=LearningRate=0.01,Momentum=0.9,Optimizer=SGD,BatchSize=256,"
      "MaxEpochs=3,DropConfig=0.0+0.5+0.1|LearningRate=1e-4,BatchSize=256,ADAM_BETA1=0.8,ADAM_EPSILON=1e-7:"
      "Architecture=CPU:RandomSeed=7:ValidationSize=25%",
      "InputLayout=5|4:Layout=RNN|6|4|5|1|0,DENSE|3|IDENTITY,DENSE|1|LINEAR:ErrorStrategy=SUMOFSQUARES:"
      "ForgetGateBias=1:ValidationSize=0.3:TrainingStrategy=BatchSize=32,Repetitions=1,Regularization=None,"
      "WeightDecay=0",
      "InputLayout=3|2:Layout=LSTM|4|2|3|0|0|BIDIRECTIONAL,GRU|5|8|1|0|0|0,LINEAR:Architecture=STANDARD:"
      "ErrorStrategy=MUTUALEXCLUSIVE:WeightInitialization=GAUSS:BatchLayout=1|16|6:"
      "TrainingStrategy=BatchSize=16,TestRepetitions=2,Optimizer=ADAM,ADAM_BETA2=0.99"};
   return seeds;
}

/// One random edit: characters, fields, options, numbers.
inline std::string Mutate(std::string s, std::mt19937_64 &rng)
{
   static const std::string alphabet = "|,:=+%.-_!0123456789eEFLATRUSNDGHIBOMXYZ ";
   static const std::vector<std::string> numbers = {
      "0",   "-1",  "1",    "2",         "0.5",   "1e308", "1e-400", "nan",   "inf",  "-0",
      "1.0", "0x1", "1e3",  "4294967296", "18446744073709551615", "18446744073709551616", "99999999999999999999", "3.",
      "",    "+1",  "TRUE", "false",     "FLAT"};
   auto pick = [&](size_t n) { return n ? size_t(rng() % n) : size_t(0); };
   auto cut = [&](char sep) { // the [begin, end) ranges of s split at sep
      std::vector<std::pair<size_t, size_t>> parts;
      size_t start = 0;
      for (size_t k = 0; k <= s.size(); ++k)
         if (k == s.size() || s[k] == sep)
            parts.emplace_back(start, k), start = k + 1;
      return parts;
   };
   const char seps[] = {':', ',', '|', '='};
   switch (rng() % 10) {
   case 0: // delete a character
      if (!s.empty())
         s.erase(pick(s.size()), 1);
      break;
   case 1: // insert a character
      s.insert(pick(s.size() + 1), 1, alphabet[pick(alphabet.size())]);
      break;
   case 2: // replace a character
      if (!s.empty())
         s[pick(s.size())] = alphabet[pick(alphabet.size())];
      break;
   case 3: // repeat a field (an option, a layer, a training option, a layer field)
   case 4: { // delete a field
      const char sep = seps[pick(4)];
      const auto parts = cut(sep);
      const auto [b, e] = parts[pick(parts.size())];
      if (rng() % 2 == 0 || parts.size() < 2)
         s.insert(e, sep + s.substr(b, e - b));
      else
         s.erase(b ? b - 1 : b, e - b + 1);
      break;
   }
   case 5:
   case 6: { // replace a number, or a whole field, by an edge value
      const auto parts = cut("|,=+"[pick(4)]);
      const auto [b, e] = parts[pick(parts.size())];
      size_t d = b;
      while (d < e && !std::isdigit((unsigned char)s[d]))
         ++d;
      if (d == e)
         d = b;
      size_t f = d;
      while (f < e && (std::isdigit((unsigned char)s[f]) || s[f] == '.' || s[f] == 'e' || s[f] == '-'))
         ++f;
      s.replace(d, (f > d ? f : e) - d, numbers[pick(numbers.size())]);
      break;
   }
   case 7: { // swap two options
      const auto parts = cut(':');
      if (parts.size() > 1) {
         auto a = parts[pick(parts.size())], c = parts[pick(parts.size())];
         if (a.first > c.first)
            std::swap(a, c);
         if (a != c) {
            const std::string first = s.substr(a.first, a.second - a.first),
                              second = s.substr(c.first, c.second - c.first);
            s.replace(c.first, c.second - c.first, first);
            s.replace(a.first, a.second - a.first, second);
         }
      }
      break;
   }
   case 8: // truncate
      s.resize(pick(s.size() + 1));
      break;
   default: // change the case of a character
      if (!s.empty()) {
         char &ch = s[pick(s.size())];
         ch = std::islower((unsigned char)ch) ? char(std::toupper((unsigned char)ch)) : char(std::tolower((unsigned char)ch));
      }
   }
   return s;
}

/// Whether every size in the spec is small enough to build the network in a test.
inline bool Buildable(const TNetSpec &spec)
{
   if (spec.timeSteps > 64 || spec.inputSize > 64)
      return false;
   for (const TLayerSpec &layer : spec.layers)
      if (layer.stateSize > 256 || layer.inputSize > 256 || layer.timeSteps > 64 || layer.width > 4096)
         return false;
   return true;
}

/// The layout of the network spec builds on the CPU, or "refused" when its layers do not chain.
inline std::string BuiltLayout(const TNetSpec &spec)
{
   try {
      return BuildDeepNet<TCpu<float>>(spec, 2, 1)->GetLayout();
   } catch (const std::invalid_argument &) {
      return "refused";
   }
}

/// What a child does with one string; returns its exit code.
inline int RunCase(const std::string &options)
{
   try {
      TNetSpec spec;
      try {
         spec = ParseBookingOptions(options);
      } catch (const std::invalid_argument &e) {
         return std::string(e.what()).rfind("booking options:", 0) == 0 ? kRefused : kOtherException;
      }
      const std::string canonical = FormatBookingOptions(spec);
      const TNetSpec again = ParseBookingOptions(canonical);
      if (FormatBookingOptions(again) != canonical) {
         std::fprintf(stderr, "canonical form differs on re-parse:\n  %s\n  %s\n", canonical.c_str(),
                      FormatBookingOptions(again).c_str());
         return kRoundTrip;
      }
      if (!Buildable(spec))
         return kAccepted;
      const std::string layout = BuiltLayout(spec);
      if (layout != BuiltLayout(again)) {
         std::fprintf(stderr, "networks differ: %s | %s\n", layout.c_str(), BuiltLayout(again).c_str());
         return kBuildDiffers;
      }
      return layout == "refused" ? kUnbuildable : kAccepted;
   } catch (const std::exception &e) {
      std::fprintf(stderr, "%s\n", e.what());
      return kOtherException;
   }
}

struct TReport {
   size_t cases = 0, refused = 0, unbuildable = 0;
   std::vector<std::string> accepted;
   std::vector<std::string> failures; ///< "what: string"
};

/// `cases` mutated strings (1–3 edits each) from `seed`, each in a child process.
inline TReport FuzzBookingStrings(uint64_t seed, size_t cases)
{
   std::mt19937_64 rng(seed);
   TReport report;
   std::fflush(nullptr); // nothing buffered twice through fork
   for (size_t k = 0; k < cases; ++k) {
      std::string s = Seeds()[rng() % Seeds().size()];
      for (size_t edits = 1 + rng() % 3; edits > 0; --edits)
         s = Mutate(s, rng);
      const pid_t pid = fork();
      if (pid < 0)
         throw std::runtime_error("fuzz: fork failed");
      if (pid == 0) {
         alarm(kCaseSeconds); // a hang ends in SIGALRM
         _exit(RunCase(s));
      }
      int status = 0;
      waitpid(pid, &status, 0);
      ++report.cases;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      if (code == kRefused)
         ++report.refused;
      else if (code == kAccepted)
         report.accepted.push_back(s);
      else if (code == kUnbuildable)
         ++report.unbuildable;
      else
         report.failures.push_back(
            (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
             : code == kRoundTrip ? std::string("round trip differs")
             : code == kBuildDiffers ? std::string("networks differ")
                                     : "exit " + std::to_string(code)) +
            ": " + s);
   }
   return report;
}

} // namespace fuzz
} // namespace tmva_lstm
