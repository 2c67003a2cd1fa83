// One LSTM training step (layer forward + backward of a summed loss) of the C++ library, timed
// without Python or ROOT, on either architecture. bench/gpu_bench.py runs it on the GPU machine
// (which has no ROOT) beside PyTorch's cuDNN LSTM.
//
//   lstm_step_bench <cpu|cuda> <float32|float64> B T D H [reps] [eager|graph][-steps]
//
// Prints one JSON object: the median, minimum and all step times in milliseconds. The step is
// the same as `tmva-lstm bench`: returnSequence, dY = 1 (∂Σy/∂y), every gradient computed.
// eager (the default) makes the calls each step and times each step to the end of its work;
// graph records the step once (Arch::Graph_t: a CUDA graph) and times rounds of kRound launches
// back to back, per step, as gpu_bench.py times cuDNN's replayed graph. -steps: on cuda, the
// layer's step-by-step loop even where the fused recurrence applies (TCuda::SetFusedRecurrence).
#include "BasicLSTMLayer.h"
#include "Cpu.h"
#ifdef TMVA_LSTM_HAVE_CUDA
#include "Cuda.h"
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace tmva_lstm;

namespace {

constexpr int kRound = 10;

template <typename Arch>
std::vector<double> TimeSteps(size_t B, size_t T, size_t D, size_t H, int reps, bool graph)
{
   using Real = typename Arch::Scalar_t;
   TBasicLSTMLayer<Arch> layer(B, H, D, T, false, true);
   typename Arch::Matrix_t x(B, T * D), y(B, T * H), dy(B, T * H), dx(B, T * D);
   std::mt19937_64 rng(0);
   std::uniform_real_distribution<double> u(-1, 1);
   std::vector<Real> hx(B * T * D), ones(B * T * H, Real(1));
   for (auto &v : hx)
      v = Real(u(rng));
   Arch::CopyFromHost(x.View(), hx.data(), hx.size(), "x");
   Arch::CopyFromHost(dy.View(), ones.data(), ones.size(), "dy");
   auto step = [&] {
      layer.Forward(x, y);
      layer.Backward(dy, dx);
   };
   for (int k = 0; k < 3; ++k) // warm up: first touch, cuBLAS heuristics, worker threads
      step();
   Arch::Synchronize();
   std::optional<typename Arch::Graph_t> recorded;
   if (graph)
      recorded.emplace(step);
   const int perRep = graph ? kRound : 1;
   std::vector<double> ms;
   for (int k = 0; k < reps; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < perRep; ++i)
         graph ? recorded->Launch() : step();
      Arch::Synchronize();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / perRep);
   }
   return ms;
}

template <typename Real>
std::vector<double> Run(const std::string &arch, size_t B, size_t T, size_t D, size_t H, int reps, bool graph,
                        bool fused)
{
   if (arch == "cpu")
      return TimeSteps<TCpu<Real>>(B, T, D, H, reps, graph);
#ifdef TMVA_LSTM_HAVE_CUDA
   if (arch == "cuda") {
      TCuda<Real>::SetFusedRecurrence(fused);
      return TimeSteps<TCuda<Real>>(B, T, D, H, reps, graph);
   }
#endif
   throw std::invalid_argument("architecture '" + arch + "' is not available in this build (cpu" +
#ifdef TMVA_LSTM_HAVE_CUDA
                               std::string(", cuda") +
#else
                               std::string() +
#endif
                               ")");
}

/// A positive integer argument, or an error naming it.
size_t Positive(const char *name, const char *text)
{
   try {
      size_t used = 0;
      const long value = std::stol(text, &used);
      if (used == std::string(text).size() && value > 0)
         return size_t(value);
   } catch (const std::exception &) {
   }
   throw std::invalid_argument(std::string(name) + " must be a positive integer, got '" + text + "'");
}

} // namespace

int main(int argc, char **argv)
{
   if (argc < 7 || argc > 9) {
      std::fprintf(stderr, "usage: %s <cpu|cuda> <float32|float64> B T D H [reps] [eager|graph]\n", argv[0]);
      return 2;
   }
   try {
      const std::string arch = argv[1], dtype = argv[2];
      const size_t B = Positive("B", argv[3]), T = Positive("T", argv[4]), D = Positive("D", argv[5]),
                   H = Positive("H", argv[6]);
      const int reps = argc >= 8 ? int(Positive("reps", argv[7])) : 20;
      const std::string mode = argc == 9 ? argv[8] : "eager";
      if (mode != "eager" && mode != "graph" && mode != "eager-steps" && mode != "graph-steps")
         throw std::invalid_argument("mode must be eager, graph, eager-steps or graph-steps, got '" + mode + "'");
      const bool graph = mode.rfind("graph", 0) == 0, fused = mode.find("-steps") == std::string::npos;
      std::vector<double> ms;
      if (dtype == "float32")
         ms = Run<float>(arch, B, T, D, H, reps, graph, fused);
      else if (dtype == "float64")
         ms = Run<double>(arch, B, T, D, H, reps, graph, fused);
      else
         throw std::invalid_argument("dtype must be float32 or float64, got '" + dtype + "'");
      std::vector<double> sorted = ms;
      std::sort(sorted.begin(), sorted.end());
      std::printf("{\"arch\": \"%s\", \"mode\": \"%s\", \"dtype\": \"%s\", \"B\": %zu, \"T\": %zu, \"D\": %zu, \"H\": %zu, "
                  "\"median_ms\": %.6f, \"min_ms\": %.6f, \"ms\": [",
                  arch.c_str(), mode.c_str(), dtype.c_str(), B, T, D, H, sorted[sorted.size() / 2], sorted.front());
      for (size_t k = 0; k < ms.size(); ++k)
         std::printf("%s%.6f", k ? ", " : "", ms[k]);
      std::printf("]}\n");
   } catch (const std::exception &e) {
      std::fprintf(stderr, "lstm_step_bench: %s\n", e.what());
      return 1;
   }
   return 0;
}
