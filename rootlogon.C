// Run by ROOT at start-up in this directory: loads the tmva-lstm library (installed by
// `pip install .` into the Python environment that `python3` runs) so that macros/ can use it.
// Elsewhere: gSystem->Load("<site-packages>/tmva_lstm/lib/libTMVALSTM.so") and
// gInterpreter->AddIncludePath("<site-packages>/tmva_lstm/include").
{
   TString dir = gSystem->GetFromPipe(
      "python3 -c \"import importlib.util as u; s = u.find_spec('tmva_lstm'); "
      "print(s.submodule_search_locations[0] if s else '')\" 2>/dev/null");
   if (dir.Length())
      gInterpreter->AddIncludePath(dir + "/include"); // before loading: the dictionary parses the headers
   if (!dir.Length() || gSystem->Load(dir + "/lib/libTMVALSTM.so") < 0)
      Warning("rootlogon", "tmva-lstm is not installed for python3: run pip install . first");
   else {
      // Declared up front, so that templates in macros (train_lstm.C) see the whole API.
      gInterpreter->Declare("#include \"DeepNet.h\"\n#include \"Trainer.h\"\n#include \"Metrics.h\"\n"
                            "#include \"ModelIO.h\"\n#include \"TreeReader.h\"\n#include \"RReader.h\"");
      if (!gSystem->AccessPathName(dir + "/lib/libTMVALSTMCuda.so")) // the CUDA architecture, where built
         gSystem->Load(dir + "/lib/libTMVALSTMCuda.so");
   }
}
