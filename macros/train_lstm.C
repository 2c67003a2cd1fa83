// Trains the TMVA RNN tutorial network on a ROOT file, in C++ only, through the compiled
// library (loaded by ../rootlogon.C), and saves the model:
//   root -l -b -q 'macros/train_lstm.C("data/time_data_t10_d30.root")'
// Same booking string, split and training loop as `tmva-lstm train`. Architecture=GPU in the
// options trains on the CUDA architecture (libTMVALSTMCuda, loaded by rootlogon.C where built).
const char *kTutorialOptions =
   "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=None:WeightInitialization=XAVIERUNIFORM:RandomSeed=1:"
   "ValidationSize=20%:InputLayout=10|30:Layout=LSTM|10|30|10|0|1,RESHAPE|FLAT,DENSE|64|TANH,LINEAR:"
   "TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,BatchSize=100,MaxEpochs=20,ConvergenceSteps=10";

/// Build, train, evaluate and save on one architecture (TCpu<float> or TCuda<float>).
template <typename Arch>
int TrainAndSave(const tmva_lstm::TNetSpec &spec, const tmva_lstm::TDataSet<float> &train,
                 const tmva_lstm::TDataSet<float> &valid, const tmva_lstm::TDataSet<float> &test, const char *model,
                 int seed)
{
   try {
      auto net = tmva_lstm::BuildDeepNet<Arch>(spec, spec.phases[0].batchSize, 1);
      std::cout << "network (" << Arch::Name() << "): " << net->GetLayout() << std::endl;
      for (size_t k = 0; k < spec.phases.size(); ++k)
         tmva_lstm::Train<Arch>(*net, spec.phases[k], train, valid, seed + k);

      const std::vector<float> p = tmva_lstm::Predict<Arch>(*net, test);
      const std::vector<double> score(p.begin(), p.end()), y(test.y.begin(), test.y.end()),
         w(test.w.begin(), test.w.end());
      const tmva_lstm::TRocCurve roc = tmva_lstm::RocCurve(y.data(), score.data(), w.data(), y.size());
      std::printf("test: ROC AUC %.4f  accuracy %.4f  loss %.4f\n", roc.auc,
                  tmva_lstm::Accuracy(y.data(), score.data(), w.data(), y.size()),
                  tmva_lstm::EvaluateLoss<Arch>(*net, test));
      gSystem->mkdir(gSystem->GetDirName(model), true);
      tmva_lstm::SaveModel<Arch>(*net, spec.options, model);
      std::cout << "wrote " << model << std::endl;
   } catch (const std::exception &e) {
      Error("train_lstm", "%s", e.what());
      return 1;
   }
   return 0;
}

int train_lstm(const char *file = "data/time_data_t10_d30.root", const char *model = "out/model_macro.root",
               const char *options = kTutorialOptions, int seed = 1)
{
   using namespace tmva_lstm;
   try {
      const TNetSpec spec = ParseBookingOptions(options);
      TSequenceTreeReader reader(file, TTreeDataDescription::Tutorial(spec.timeSteps, spec.inputSize));
      // the entry split of the Python workflow: a hash of (file, tree, entry, seed) picks each part
      TEntrySplit split;
      split.seed = seed, split.testFraction = 0.2, split.validFraction = spec.validationFraction;
      auto part = [&](int p) {
         split.part = p;
         return reader.ReadAll<float>(split);
      };
      const TDataSet<float> train = part(0), valid = part(1), test = part(2);
      std::cout << "samples: " << train.GetNSamples() << " train, " << valid.GetNSamples() << " validation, "
                << test.GetNSamples() << " test" << std::endl;
      if (spec.architecture != "GPU")
         return TrainAndSave<TCpu<float>>(spec, train, valid, test, model, seed);
      // TCuda exists only in a CUDA build, so this line is compiled only when asked for.
      if (!TClass::GetClass("tmva_lstm::TCuda<float>")) {
         Error("train_lstm", "Architecture=GPU: this build of tmva-lstm has no CUDA architecture");
         return 1;
      }
      return int(gROOT->ProcessLine(TString::Format(
         "TrainAndSave<tmva_lstm::TCuda<float>>(*(const tmva_lstm::TNetSpec *)%p, "
         "*(const tmva_lstm::TDataSet<float> *)%p, *(const tmva_lstm::TDataSet<float> *)%p, "
         "*(const tmva_lstm::TDataSet<float> *)%p, \"%s\", %d);",
         (void *)&spec, (void *)&train, (void *)&valid, (void *)&test, model, seed)));
   } catch (const std::exception &e) {
      Error("train_lstm", "%s", e.what());
      return 1;
   }
}
