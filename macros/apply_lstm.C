// Scores a ROOT file with a trained model inside RDataFrame, in C++ only, on several threads:
//   root -l -b -q 'macros/apply_lstm.C("out/model.root", "data/time_data_t10_d30.root")'
//   root -l -b -q 'macros/apply_lstm.C("out/tracks/model.root", "data/tracks.root", "tracks")'
// tmva_lstm::RReader loads the model (thread-safe); DefineScore adds its score as a column, made
// from the same columns as for training (for the tracks: the same jagged track branches, sorted
// by |d0 significance| and cut at the model's T). The class trees (sgn/bkg, bjets/ljets) give a
// ROC AUC over every entry, and the score histograms of each class go to `out`.
int apply_lstm(const char *model = "out/model.root", const char *file = "data/time_data_t10_d30.root",
               const char *task = "tutorial", const char *out = "out/apply_lstm.root", int threads = 2)
{
   using namespace tmva_lstm;
   try {
      if (std::string(task) != "tutorial" && std::string(task) != "tracks")
         throw std::invalid_argument(std::string("task must be tutorial or tracks, got '") + task + "'");
      if (threads > 0)
         ROOT::EnableImplicitMT(threads);
      auto reader = std::make_shared<const RReader>(model);
      const TTreeDataDescription desc = std::string(task) == "tracks"
                                           ? TTreeDataDescription::Tracks(reader->GetTimeSteps())
                                           : TTreeDataDescription::Tutorial(reader->GetTimeSteps(), reader->GetInputSize());
      if (gSystem->AccessPathName(file))
         throw std::invalid_argument(std::string("no file '") + file + "'");
      std::vector<double> scores, labels;
      std::vector<ROOT::RDF::RResultPtr<TH1D>> histograms;
      for (size_t k = 0; k < desc.trees.size(); ++k) {
         ROOT::RDataFrame df(desc.trees[k], file);
         auto scored = DefineScore(df, "score", reader, desc);
         const std::string name = "score_" + desc.trees[k];
         histograms.push_back(scored.Histo1D({name.c_str(), (desc.trees[k] + ";score;entries").c_str(), 50, 0., 1.},
                                             "score"));
         const std::vector<float> s = *scored.Take<float>("score");
         scores.insert(scores.end(), s.begin(), s.end());
         labels.insert(labels.end(), s.size(), desc.treeLabels[k]);
      }
      const std::vector<double> weights(scores.size(), 1.0);
      const TRocCurve roc = RocCurve(labels.data(), scores.data(), weights.data(), scores.size());
      std::printf("scored %zu entries of %s with %s on %d threads: ROC AUC %.4f\n", scores.size(), file, model,
                  ROOT::GetThreadPoolSize(), roc.auc);
      gSystem->mkdir(gSystem->GetDirName(out), true);
      TFile output(out, "RECREATE");
      if (output.IsZombie())
         throw std::runtime_error(std::string("cannot write '") + out + "'");
      for (auto &h : histograms)
         h->Write();
      std::cout << "wrote " << out << std::endl;
   } catch (const std::exception &e) {
      Error("apply_lstm", "%s", e.what());
      return 1;
   }
   return 0;
}
