// rootcling: what the dictionary exposes to cling, PyROOT and ROOT macros.
#ifdef __CLING__
#pragma link off all globals;
#pragma link off all classes;
#pragma link off all functions;
#pragma link C++ nestedclasses;

#pragma link C++ namespace tmva_lstm;
#pragma link C++ enum tmva_lstm::EActivationFunction;
#pragma link C++ enum tmva_lstm::EInitialization;
#pragma link C++ enum tmva_lstm::EGate;
#pragma link C++ function tmva_lstm::ActivationFromName;
#pragma link C++ function tmva_lstm::ActivationName;
#pragma link C++ function tmva_lstm::InitializationFromName;
#pragma link C++ function tmva_lstm::InitializationName;

#pragma link C++ class tmva_lstm::TMatrixView<float>-;
#pragma link C++ class tmva_lstm::TMatrixView<double>-;
#pragma link C++ class tmva_lstm::TMatrixView<const float>-;
#pragma link C++ class tmva_lstm::TMatrixView<const double>-;
#pragma link C++ class tmva_lstm::TCpuMatrix<float>-;
#pragma link C++ class tmva_lstm::TCpuMatrix<double>-;
#pragma link C++ class tmva_lstm::TCpu<float>-;
#pragma link C++ class tmva_lstm::TCpu<double>-;
#pragma link C++ class tmva_lstm::TBasicLSTMLayer<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::TBasicLSTMLayer<tmva_lstm::TCpu<double> >-;
#endif
