// Writes the TMVA RNN tutorial data set (trees sgn, bkg; branches vars_time0..9, 30 floats each),
// reproducibly from the seed; the Python `tmva_lstm.data.make_tutorial_data` calls the same code.
//   root -l -b -q 'macros/make_dataset.C("data/time_data_t10_d30.root", 2000, 2000, 1)'
void make_dataset(const char *path = "data/time_data_t10_d30.root", int nSignal = 2000, int nBackground = 2000,
                  int seed = 1)
{
   try {
      gSystem->mkdir(gSystem->GetDirName(path), true);
      tmva_lstm::MakeTutorialData(path, nSignal, nBackground, seed);
      std::cout << "wrote " << path << ": " << nSignal << " signal + " << nBackground << " background, seed " << seed
                << std::endl;
   } catch (const std::exception &e) {
      Error("make_dataset", "%s", e.what());
   }
}
