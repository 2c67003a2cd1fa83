// The time-series data set of TMVA's RNN tutorial (TMVA_RNN_Classification.C), reproducible
// from a seed (needs ROOT). Per event and time step j, a 30-bin histogram on [0, 10] is filled
// with 1000 draws of a Gaussian whose mean and width are modulated in j — with sin for
// background, cos for signal — and every bin gets Gaussian noise of width 10. Trees "sgn" and
// "bkg", branches vars_time0 … vars_time{T-1}, each a std::vector<float> of D bins.
#pragma once

#include "Replace.h"

#include <TFile.h>
#include <TMath.h>
#include <TRandom3.h>
#include <TTree.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

namespace detail {

/// Writes a generated data set through write(file, rng) into a temporary file, then renames it into
/// place (Replace.h): a failed run never leaves a half-written file at path, and runs writing the
/// same path at once each write their own file. Shared by the data generators.
template <typename Write>
void WriteDataSet(const std::string &path, uint32_t seed, Write write)
{
   ReplaceFile(path, [&](const std::string &tmp) {
      std::unique_ptr<TFile> file(TFile::Open(tmp.c_str(), "RECREATE"));
      if (!file || file->IsZombie())
         throw std::runtime_error("cannot write '" + tmp + "'");
      TRandom3 rng(seed == 0 ? 1 : seed); // TRandom3(0) would seed from the clock
      write(*file, rng);
      file->Close();
      if (file->TestBit(TFile::kWriteError))
         throw std::runtime_error("writing '" + tmp + "' failed (disk full?)");
   });
}

} // namespace detail

inline void MakeTutorialData(const std::string &path, size_t nSignal, size_t nBackground, uint32_t seed = 1,
                             size_t timeSteps = 10, size_t inputSize = 30)
{
   if (timeSteps == 0 || inputSize == 0)
      throw std::invalid_argument("MakeTutorialData: time steps and input size must be > 0");
   detail::WriteDataSet(path, seed, [&](TFile &, TRandom3 &rng) {
      const double lo = 0, hi = 10, binWidth = (hi - lo) / double(inputSize);
      for (int isSignal = 1; isSignal >= 0; --isSignal) {
         TTree tree(isSignal ? "sgn" : "bkg", isSignal ? "signal" : "background");
         std::vector<std::vector<float>> x(timeSteps, std::vector<float>(inputSize));
         for (size_t j = 0; j < timeSteps; ++j)
            tree.Branch(("vars_time" + std::to_string(j)).c_str(), &x[j]);
         const size_t n = isSignal ? nSignal : nBackground;
         std::vector<double> counts(inputSize);
         for (size_t event = 0; event < n; ++event) {
            for (size_t j = 0; j < timeSteps; ++j) {
               const double phase = TMath::Pi() * double(j) / double(timeSteps);
               const double mean = 5. + 0.2 * (isSignal ? std::cos(phase) : std::sin(phase));
               const double sigma = 4. + 0.3 * (isSignal ? std::cos(phase) : std::sin(phase));
               std::fill(counts.begin(), counts.end(), 0.0);
               for (int draw = 0; draw < 1000; ++draw) { // TH1::FillRandom("gaus", 1000) on [0, 10)
                  double v;
                  do
                     v = rng.Gaus(mean, sigma);
                  while (v < lo || v >= hi);
                  counts[size_t((v - lo) / binWidth)] += 1;
               }
               for (size_t k = 0; k < inputSize; ++k)
                  x[j][k] = float(counts[k] + rng.Gaus(0, 10));
            }
            tree.Fill();
         }
         tree.Write();
      }
   });
}

} // namespace tmva_lstm
