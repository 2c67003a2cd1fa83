// A toy of b-jets against light jets, reproducible from a seed (needs ROOT): the second default
// data set, for sequences of objects of varying number. Each jet has a Poisson number of tracks
// (mean 5 in b-jets, 4.5 in light jets; 0 happens). Per track:
//   trk_pt    transverse momentum [GeV], 1 + an exponential of mean 4 (b: mean 4.5, harder fragmentation)
//   trk_eta   η − η_jet, Gaussian of width 0.1
//   trk_dphi  φ − φ_jet, Gaussian of width 0.1
//   trk_d0sig transverse impact-parameter significance d0/σ(d0)
//   trk_z0sig longitudinal impact-parameter significance z0/σ(z0)
// Prompt tracks have d0sig and z0sig Gaussian of width 1. Displaced tracks have |d0sig| = 0.5 + an
// exponential of mean 2.5 and z0sig Gaussian of width 2: in a b-jet, min(ntrk, Poisson(2)) tracks
// come from the B decay, with d0sig lifetime-signed (positive with probability 0.8); in a light
// jet each track is displaced with probability 0.05 (K_S, Λ, conversions), either sign. So b-jets
// differ most in their largest |d0sig|, which is why the tracks are sorted by it. Per jet also jet_pt (GeV, 20 + an exponential of mean 40) and jet_eta
// (uniform in ±2.5), the same distributions for both classes. Trees "bjets" and "ljets", the
// track branches std::vector<float>, jet_pt and jet_eta float, ntrk int.
#pragma once

#include "TutorialData.h" // detail::WriteDataSet

#include <TFile.h>
#include <TRandom3.h>
#include <TTree.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

inline void MakeTrackData(const std::string &path, size_t nB, size_t nLight, uint32_t seed = 1)
{
   detail::WriteDataSet(path, seed, [&](TFile &, TRandom3 &rng) {
      for (int isB = 1; isB >= 0; --isB) {
         TTree tree(isB ? "bjets" : "ljets", isB ? "b-jets" : "light jets");
         std::vector<float> pt, eta, dphi, d0sig, z0sig;
         float jetPt = 0, jetEta = 0;
         int ntrk = 0;
         tree.Branch("trk_pt", &pt);
         tree.Branch("trk_eta", &eta);
         tree.Branch("trk_dphi", &dphi);
         tree.Branch("trk_d0sig", &d0sig);
         tree.Branch("trk_z0sig", &z0sig);
         tree.Branch("jet_pt", &jetPt, "jet_pt/F");
         tree.Branch("jet_eta", &jetEta, "jet_eta/F");
         tree.Branch("ntrk", &ntrk, "ntrk/I");
         const size_t n = isB ? nB : nLight;
         for (size_t jet = 0; jet < n; ++jet) {
            jetPt = float(20 + rng.Exp(40));
            jetEta = float(rng.Uniform(-2.5, 2.5));
            ntrk = int(rng.Poisson(isB ? 5 : 4.5));
            const int fromB = isB ? std::min(ntrk, int(rng.Poisson(2))) : 0;
            pt.clear(), eta.clear(), dphi.clear(), d0sig.clear(), z0sig.clear();
            for (int k = 0; k < ntrk; ++k) {
               const bool displaced = isB ? k < fromB : rng.Uniform() < 0.05;
               pt.push_back(float(1 + rng.Exp(isB ? 4.5 : 4)));
               eta.push_back(float(rng.Gaus(0, 0.1)));
               dphi.push_back(float(rng.Gaus(0, 0.1)));
               if (displaced) {
                  const double sign = rng.Uniform() < (isB ? 0.8 : 0.5) ? 1 : -1;
                  d0sig.push_back(float(sign * (0.5 + rng.Exp(2.5))));
                  z0sig.push_back(float(rng.Gaus(0, 2)));
               } else {
                  d0sig.push_back(float(rng.Gaus(0, 1)));
                  z0sig.push_back(float(rng.Gaus(0, 1)));
               }
            }
            // the B-decay tracks are drawn first: shuffle so that the stored order tells nothing
            for (int k = ntrk - 1; k > 0; --k) {
               const int j = int(rng.Integer(UInt_t(k + 1)));
               for (auto *v : {&pt, &eta, &dphi, &d0sig, &z0sig})
                  std::swap((*v)[size_t(k)], (*v)[size_t(j)]);
            }
            tree.Fill();
         }
         tree.Write();
      }
   });
}

} // namespace tmva_lstm
