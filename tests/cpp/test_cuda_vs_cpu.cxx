// TCuda against TCpu: the same layers (LSTM, GRU in both forms, RNN; lengths; reverse and
// bidirectional; TCuda's fused recurrence and its step-by-step loop) and the same networks, the
// same inputs and weights, every
// output and gradient compared (relative to the largest reference value: ≤ 1e-12 in double,
// ≤ 1e-5 in float). ROOT-free; exits 77 (ctest: skipped) on a machine without a usable GPU.
// Run it under compute-sanitizer (memcheck, racecheck) on the GPU machine as well.
#include "BasicGRULayer.h"
#include "BasicLSTMLayer.h"
#include "BasicRNNLayer.h"
#include "Cpu.h"
#include "Cuda.h"
#include "DeepNet.h"
#include "Options.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <vector>

using namespace tmva_lstm;

namespace {

int gFailures = 0, gChecks = 0;
std::string gMode; // which way TCuda runs the recurrence, in each line's name

template <typename Real>
std::vector<Real> Random(size_t n, std::mt19937_64 &rng, double scale = 1.0)
{
   std::uniform_real_distribution<double> u(-scale, scale);
   std::vector<Real> v(n);
   for (auto &x : v)
      x = Real(u(rng));
   return v;
}

template <typename Arch>
std::vector<typename Arch::Scalar_t> Host(typename Arch::ConstView_t v)
{
   std::vector<typename Arch::Scalar_t> out(v.size());
   Arch::CopyToHost(out.data(), out.size(), v);
   return out;
}

template <typename Real>
void Compare(const std::string &what, const std::vector<Real> &cpu, const std::vector<Real> &gpu)
{
   const double tolerance = sizeof(Real) == 8 ? 1e-12 : 1e-5;
   double maxErr = 0, maxRef = 0;
   for (size_t k = 0; k < cpu.size(); ++k) {
      maxErr = std::fmax(maxErr, std::fabs(double(cpu[k]) - double(gpu[k])));
      maxRef = std::fmax(maxRef, std::fabs(double(cpu[k])));
   }
   const double rel = maxErr / std::fmax(maxRef, 1e-30);
   const bool ok = cpu.size() == gpu.size() && rel <= tolerance;
   ++gChecks, gFailures += !ok;
   if (!ok || std::getenv("VERBOSE"))
      std::printf("%s %s%-60s max rel err %.2e\n", ok ? "ok  " : "FAIL", gMode.c_str(), what.c_str(), rel);
}

/// Puts the same host values into a CPU and a GPU matrix view.
template <typename Real>
void Set(TMatrixView<Real> cpu, TMatrixView<Real> gpu, const std::vector<Real> &values)
{
   TCpu<Real>::CopyFromHost(cpu, values.data(), values.size(), "cpu");
   TCuda<Real>::CopyFromHost(gpu, values.data(), values.size(), "gpu");
}

template <typename Real>
void CompareLayer(size_t B, size_t H, size_t D, size_t T, bool remember, bool sequence, uint64_t seed)
{
   using Cpu = TCpu<Real>;
   using Gpu = TCuda<Real>;
   const std::string name = std::string(sizeof(Real) == 8 ? "double" : "float") + " B=" + std::to_string(B) +
                            " H=" + std::to_string(H) + " D=" + std::to_string(D) + " T=" + std::to_string(T) +
                            (remember ? " remember" : "") + (sequence ? " sequence" : "");
   std::mt19937_64 rng(seed);
   TBasicLSTMLayer<Cpu> cpu(B, H, D, T, remember, sequence, EActivationFunction::kSigmoid, EActivationFunction::kTanh,
                            EInitialization::kGlorotUniform, seed);
   TBasicLSTMLayer<Gpu> gpu(B, H, D, T, remember, sequence, EActivationFunction::kSigmoid, EActivationFunction::kTanh,
                            EInitialization::kGlorotUniform, seed);
   Set<Real>(cpu.GetBiases().View(), gpu.GetBiases().View(), Random<Real>(4 * H, rng, 0.5));
   Set<Real>(cpu.GetInitialState().View(), gpu.GetInitialState().View(), Random<Real>(B * H, rng));
   Set<Real>(cpu.GetInitialCell().View(), gpu.GetInitialCell().View(), Random<Real>(B * H, rng));
   Compare(name + " W (same seed)", Host<Cpu>(cpu.GetWeightsInput().View()), Host<Gpu>(gpu.GetWeightsInput().View()));

   const size_t outCols = cpu.GetOutputCols();
   typename Cpu::Matrix_t xc(B, T * D), yc(B, outCols), dyc(B, outCols), dxc(B, T * D), dhc(B, H), dcc(B, H);
   typename Gpu::Matrix_t xg(B, T * D), yg(B, outCols), dyg(B, outCols), dxg(B, T * D), dhg(B, H), dcg(B, H);
   // With rememberState, a first batch leaves the state the compared pass starts from.
   for (int pass = 0; pass < (remember ? 2 : 1); ++pass) {
      Set<Real>(xc.View(), xg.View(), Random<Real>(B * T * D, rng));
      cpu.Forward(xc, yc);
      gpu.Forward(xg, yg);
   }
   Compare(name + " output", Host<Cpu>(yc.View()), Host<Gpu>(yg.View()));
   Compare(name + " h_T", Host<Cpu>(cpu.GetState()), Host<Gpu>(gpu.GetState()));
   Compare(name + " c_T", Host<Cpu>(cpu.GetCell()), Host<Gpu>(gpu.GetCell()));

   Set<Real>(dyc.View(), dyg.View(), Random<Real>(B * outCols, rng));
   Set<Real>(dhc.View(), dhg.View(), Random<Real>(B * H, rng));
   Set<Real>(dcc.View(), dcg.View(), Random<Real>(B * H, rng));
   cpu.Backward(dyc, dxc, &dhc, &dcc);
   gpu.Backward(dyg, dxg, &dhg, &dcg);
   Compare(name + " dx", Host<Cpu>(dxc.View()), Host<Gpu>(dxg.View()));
   Compare(name + " dW", Host<Cpu>(cpu.GetWeightInputGradients().View()),
           Host<Gpu>(gpu.GetWeightInputGradients().View()));
   Compare(name + " dU", Host<Cpu>(cpu.GetWeightStateGradients().View()),
           Host<Gpu>(gpu.GetWeightStateGradients().View()));
   Compare(name + " db", Host<Cpu>(cpu.GetBiasGradients().View()), Host<Gpu>(gpu.GetBiasGradients().View()));
   Compare(name + " dh0", Host<Cpu>(cpu.GetInitialStateGradient()), Host<Gpu>(gpu.GetInitialStateGradient()));
   Compare(name + " dc0", Host<Cpu>(cpu.GetInitialCellGradient()), Host<Gpu>(gpu.GetInitialCellGradient()));
}

/// Every recurrent cell through TDeepNet's factory, with lengths, reversed and bidirectional:
/// output, dx and every parameter gradient.
template <typename Real>
void CompareRecurrent(const std::string &token, size_t B, size_t T, size_t D, bool lengths, uint64_t seed)
{
   using Cpu = TCpu<Real>;
   using Gpu = TCuda<Real>;
   const TNetSpec spec = ParseBookingOptions("InputLayout=" + std::to_string(T) + "|" + std::to_string(D) +
                                             ":Layout=" + token + ",RESHAPE|FLAT,LINEAR");
   const TLayerSpec &s = spec.layers.at(0);
   auto cpu = MakeRecurrentLayer<Cpu>(s, B, EActivationFunction::kSigmoid, EActivationFunction::kTanh);
   auto gpu = MakeRecurrentLayer<Gpu>(s, B, EActivationFunction::kSigmoid, EActivationFunction::kTanh);
   std::mt19937_64 rc(seed), rg(seed), rng(seed + 1);
   cpu->Initialize(EInitialization::kGlorotUniform, rc);
   gpu->Initialize(EInitialization::kGlorotUniform, rg);
   const std::string name = std::string(sizeof(Real) == 8 ? "double " : "float ") + token + " B=" + std::to_string(B) +
                            (lengths ? " lengths" : "");
   auto pc = cpu->GetParameters();
   auto pg = gpu->GetParameters();
   for (size_t k = 0; k < pc.size(); ++k) // biases too, so no term hides behind a zero
      Set<Real>(pc[k].value->View(), pg[k].value->View(), Random<Real>(pc[k].value->GetNoElements(), rng, 0.5));
   const size_t in = cpu->GetInputCols(), out = cpu->GetOutputCols();
   typename Cpu::Matrix_t xc(B, in), yc(B, out), dyc(B, out), dxc(B, in), lc(B, 1);
   typename Gpu::Matrix_t xg(B, in), yg(B, out), dyg(B, out), dxg(B, in), lg(B, 1);
   std::vector<Real> len(B);
   for (size_t r = 0; r < B; ++r)
      len[r] = Real((r * 7 + 3) % (T + 1));
   Set<Real>(lc.View(), lg.View(), len);
   cpu->SetLengths(lengths ? &lc : nullptr), gpu->SetLengths(lengths ? &lg : nullptr);
   Set<Real>(xc.View(), xg.View(), Random<Real>(B * in, rng));
   cpu->Forward(xc, yc), gpu->Forward(xg, yg);
   Compare(name + " output", Host<Cpu>(yc.View()), Host<Gpu>(yg.View()));
   Set<Real>(dyc.View(), dyg.View(), Random<Real>(B * out, rng));
   cpu->Backward(dyc, dxc), gpu->Backward(dyg, dxg);
   Compare(name + " dx", Host<Cpu>(dxc.View()), Host<Gpu>(dxg.View()));
   for (size_t k = 0; k < pc.size(); ++k)
      Compare(name + " d" + pc[k].name, Host<Cpu>(pc[k].gradient->View()), Host<Gpu>(pg[k].gradient->View()));
}

/// The whole network from a booking string: loss, every parameter gradient, and the weights
/// after three optimizer steps.
template <typename Real>
void CompareNetwork(const std::string &layout, const std::string &loss, const std::string &optimizer, size_t K)
{
   using Cpu = TCpu<Real>;
   using Gpu = TCuda<Real>;
   const size_t B = 8, T = 5, D = 3;
   const std::string options = "InputLayout=" + std::to_string(T) + "|" + std::to_string(D) + ":Layout=" + layout +
                               ":ErrorStrategy=" + loss + ":WeightInitialization=XAVIER:RandomSeed=7:" +
                               "TrainingStrategy=LearningRate=0.01,BatchSize=" + std::to_string(B) +
                               ",Optimizer=" + optimizer;
   const TNetSpec spec = ParseBookingOptions(options);
   auto cpu = BuildDeepNet<Cpu>(spec, B, K);
   auto gpu = BuildDeepNet<Gpu>(spec, B, K);
   TOptimizer<Cpu> cpuOpt(*cpu, spec.phases.at(0).optimizer, Real(0.01), Real(0.9));
   TOptimizer<Gpu> gpuOpt(*gpu, spec.phases.at(0).optimizer, Real(0.01), Real(0.9));
   std::mt19937_64 rng(11);
   typename Cpu::Matrix_t xc(B, T * D), yc(B, K), wc(1, B);
   typename Gpu::Matrix_t xg(B, T * D), yg(B, K), wg(1, B);
   std::vector<Real> y(B * K), w(B);
   for (size_t r = 0; r < B; ++r) {
      w[r] = Real(0.5 + 0.1 * r);
      for (size_t k = 0; k < K; ++k)
         y[r * K + k] = loss == "SUMOFSQUARES" ? Real(0.3 * k - 0.2 * r) : Real((r + k) % K == 0);
   }
   Set<Real>(yc.View(), yg.View(), y);
   Set<Real>(wc.View(), wg.View(), w);
   const std::string name = std::string(sizeof(Real) == 8 ? "double" : "float") + " net " + layout + " " + loss +
                            " " + optimizer;
   for (int step = 0; step < 3; ++step) {
      Set<Real>(xc.View(), xg.View(), Random<Real>(B * T * D, rng));
      cpu->Forward(xc), gpu->Forward(xg);
      Compare(name + " loss", std::vector<Real>{cpu->Loss(yc, wc)}, std::vector<Real>{gpu->Loss(yg, wg)});
      cpu->Backward(yc, wc), gpu->Backward(yg, wg);
      auto pc = cpu->GetParameters();
      auto pg = gpu->GetParameters();
      for (size_t k = 0; k < pc.size(); ++k)
         Compare(name + " d" + pc[k].name + " step " + std::to_string(step), Host<Cpu>(pc[k].gradient->View()),
                 Host<Gpu>(pg[k].gradient->View()));
      cpuOpt.Step(), gpuOpt.Step();
   }
   auto pc = cpu->GetParameters();
   auto pg = gpu->GetParameters();
   for (size_t k = 0; k < pc.size(); ++k)
      Compare(name + " " + pc[k].name + " after 3 steps", Host<Cpu>(pc[k].value->View()),
              Host<Gpu>(pg[k].value->View()));
   typename Cpu::Matrix_t predc(B, K);
   typename Gpu::Matrix_t predg(B, K);
   cpu->Prediction(predc), gpu->Prediction(predg);
   Compare(name + " prediction", Host<Cpu>(predc.View()), Host<Gpu>(predg.View()));
}

/// quick: the small shapes only (every code path, for the slow compute-sanitizer runs).
template <typename Real>
void RunAll(bool quick)
{
   const size_t shapes[][4] = {{1, 1, 1, 1},   {4, 3, 5, 7},    {16, 10, 30, 10}, {33, 17, 9, 13},
                               {2, 8, 4, 200}, {256, 64, 30, 10}, {64, 256, 64, 20}};
   uint64_t seed = 1;
   for (const auto &s : shapes)
      for (bool remember : {false, true})
         for (bool sequence : {false, true})
            if (!quick || s[0] * s[3] <= 16 * 10)
               CompareLayer<Real>(s[0], s[1], s[2], s[3], remember, sequence, seed++);
   for (const char *token : {"LSTM|6|3|7|0|1", "LSTM|6|3|7|0|0", "GRU|6|3|7|0|1", "GRU|6|3|7|0|0|1", "RNN|6|3|7|0|1",
                             "GRU|6|3|7|0|1|0|BIDIRECTIONAL", "LSTM|6|3|7|0|0|BIDIRECTIONAL", "GRU|33|3|7|0|1|1"})
      for (bool lengths : {false, true})
         for (size_t B : {5, 40})
            if (!quick || B == 5)
               CompareRecurrent<Real>(token, B, 7, 3, lengths, seed++);
   CompareNetwork<Real>("LSTM|6|3|5|0|1,RESHAPE|FLAT,DENSE|1|LINEAR", "CROSSENTROPY", "ADAM", 1);
   CompareNetwork<Real>("GRU|6|3|5|0|1,RNN|4|6|5|0|1|BIDIRECTIONAL,RESHAPE|FLAT,DENSE|2|TANH,LINEAR",
                        "MUTUALEXCLUSIVE", "SGD", 3);
   CompareNetwork<Real>("LSTM|6|3|5|0|0,DENSE|4|TANH,DENSE|3|LINEAR", "MUTUALEXCLUSIVE", "SGD", 3);
   CompareNetwork<Real>("LSTM|4|3|5|0|1,LSTM|5|4|5|0|0,DENSE|2|LINEAR", "SUMOFSQUARES", "ADAM", 2);
}

} // namespace

int main(int argc, char **argv)
{
   const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
   try {
      TCuda<double>::CheckDevice();
   } catch (const std::exception &e) {
      std::printf("skipped: %s\n", e.what());
      return 77;
   }
   try {
      // Both ways TCuda runs a recurrent layer: its time loop in one kernel where that applies
      // (all but the largest shapes here), and step by step.
      for (bool fused : {true, false}) {
         TCuda<double>::SetFusedRecurrence(fused);
         gMode = fused ? "fused " : "steps ";
         RunAll<double>(quick);
         RunAll<float>(quick);
      }
   } catch (const std::exception &e) {
      std::printf("FAIL: exception: %s\n", e.what());
      return 1;
   }
   std::printf("%d of %d comparisons failed\n", gFailures, gChecks);
   return gFailures ? 1 : 0;
}
