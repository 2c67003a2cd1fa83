// Writes the b-jet toy (trees bjets, ljets; per-track std::vector<float> branches trk_pt, trk_eta,
// trk_dphi, trk_d0sig, trk_z0sig; jet_pt, jet_eta, ntrk), reproducibly from the seed; the Python
// `tmva_lstm.data.make_track_data` calls the same code (tmva_lstm/TrackData.h).
//   root -l -b -q 'macros/make_tracks.C("data/tracks.root", 5000, 5000, 1)'
int make_tracks(const char *path = "data/tracks.root", int nB = 5000, int nLight = 5000, int seed = 1)
{
   try {
      if (nB < 0 || nLight < 0 || seed < 0)
         throw std::invalid_argument("make_tracks: the counts and the seed must be >= 0");
      gSystem->mkdir(gSystem->GetDirName(path), true);
      tmva_lstm::MakeTrackData(path, nB, nLight, seed);
      std::cout << "wrote " << path << ": " << nB << " b-jets + " << nLight << " light jets, seed " << seed
                << std::endl;
   } catch (const std::exception &e) {
      Error("make_tracks", "%s", e.what());
      return 1;
   }
   return 0;
}
