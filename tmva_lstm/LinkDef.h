// rootcling: what the dictionary exposes to cling, PyROOT and ROOT macros.
#ifdef __CLING__
#pragma link off all globals;
#pragma link off all classes;
#pragma link off all functions;
#pragma link C++ nestedclasses;

#pragma link C++ namespace tmva_lstm;
#pragma link C++ enum tmva_lstm::EActivationFunction;
#pragma link C++ enum tmva_lstm::EInitialization;
#pragma link C++ enum tmva_lstm::ELossFunction;
#pragma link C++ enum tmva_lstm::EOptimizer;
#pragma link C++ enum tmva_lstm::EGate;
#pragma link C++ enum tmva_lstm::ERecurrentCell;
#pragma link C++ enum tmva_lstm::EArchitecture;
#pragma link C++ enum tmva_lstm::ECellPass;
#pragma link C++ function tmva_lstm::ActivationFromName;
#pragma link C++ function tmva_lstm::ActivationName;
#pragma link C++ function tmva_lstm::InitializationFromName;
#pragma link C++ function tmva_lstm::InitializationName;
#pragma link C++ function tmva_lstm::ParseBookingOptions;
#pragma link C++ function tmva_lstm::ReadModelOptions;
#pragma link C++ function tmva_lstm::MakeTutorialData;
#pragma link C++ function tmva_lstm::MakeTrackData;
#pragma link C++ function tmva_lstm::SplitFileSpec;
#pragma link C++ function tmva_lstm::ExpandFilePattern;
#pragma link C++ function tmva_lstm::RocCurve;
#pragma link C++ function tmva_lstm::Accuracy;
#pragma link C++ function tmva_lstm::SplitIndices;
#pragma link C++ class tmva_lstm::TRocCurve-;
#pragma link C++ class tmva_lstm::TSplit-;

#pragma link C++ class tmva_lstm::TLayerSpec-;
#pragma link C++ class tmva_lstm::TDirection-;
#pragma link C++ class tmva_lstm::TGateBlock-;
#pragma link C++ class tmva_lstm::TTrainingPhase-;
#pragma link C++ class tmva_lstm::TNetSpec-;
#pragma link C++ class tmva_lstm::TEpochRecord-;
#pragma link C++ class tmva_lstm::TEpochShuffler-;
#pragma link C++ class std::vector<tmva_lstm::TEpochRecord>-;
#pragma link C++ class tmva_lstm::TTreeDataDescription-;
#pragma link C++ class tmva_lstm::TSequenceTreeReader-;
#pragma link C++ class tmva_lstm::TDataFrameReader<float>-;
#pragma link C++ class tmva_lstm::TDataFrameReader<double>-;
// ROOT ships std::vector<std::vector<T>> for float and double only; the tree reader reads (and
// users write) the integer and bool ones too, which need a compiled collection proxy.
#pragma link C++ class std::vector<std::vector<char> >+;
#pragma link C++ class std::vector<std::vector<unsigned char> >+;
#pragma link C++ class std::vector<std::vector<short> >+;
#pragma link C++ class std::vector<std::vector<unsigned short> >+;
#pragma link C++ class std::vector<std::vector<int> >+;
#pragma link C++ class std::vector<std::vector<unsigned int> >+;
#pragma link C++ class std::vector<std::vector<long> >+;
#pragma link C++ class std::vector<std::vector<unsigned long> >+;
#pragma link C++ class std::vector<std::vector<long long> >+;
#pragma link C++ class std::vector<std::vector<unsigned long long> >+;
#pragma link C++ class std::vector<std::vector<bool> >+;

#pragma link C++ class tmva_lstm::TMatrixView<float>-;
#pragma link C++ class tmva_lstm::TMatrixView<double>-;
#pragma link C++ class tmva_lstm::TMatrixView<const float>-;
#pragma link C++ class tmva_lstm::TMatrixView<const double>-;
#pragma link C++ class tmva_lstm::TCpuMatrix<float>-;
#pragma link C++ class tmva_lstm::TCpuMatrix<double>-;
#pragma link C++ class tmva_lstm::TCpu<float>-;
#pragma link C++ class tmva_lstm::TCpu<double>-;
#pragma link C++ class tmva_lstm::TDataSet<float>-;
#pragma link C++ class tmva_lstm::TDataSet<double>-;

#pragma link C++ class tmva_lstm::VGeneralLayer<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::VGeneralLayer<tmva_lstm::TCpu<double> >-;
#pragma link C++ class tmva_lstm::TParameter<tmva_lstm::TCpuMatrix<float> >-;
#pragma link C++ class tmva_lstm::TParameter<tmva_lstm::TCpuMatrix<double> >-;
#pragma link C++ class std::vector<tmva_lstm::TParameter<tmva_lstm::TCpuMatrix<float> > >-;
#pragma link C++ class std::vector<tmva_lstm::TParameter<tmva_lstm::TCpuMatrix<double> > >-;
#pragma link C++ class tmva_lstm::VRecurrentLayer<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::TBasicLSTMLayer<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::TBasicGRULayer<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::TBasicRNNLayer<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::TBidirectionalLayer<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::VRecurrentLayer<tmva_lstm::TCpu<double> >-;
#pragma link C++ class tmva_lstm::TBasicLSTMLayer<tmva_lstm::TCpu<double> >-;
#pragma link C++ class tmva_lstm::TBasicGRULayer<tmva_lstm::TCpu<double> >-;
#pragma link C++ class tmva_lstm::TBasicRNNLayer<tmva_lstm::TCpu<double> >-;
#pragma link C++ class tmva_lstm::TBidirectionalLayer<tmva_lstm::TCpu<double> >-;
#pragma link C++ class tmva_lstm::TDenseLayer<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::TDenseLayer<tmva_lstm::TCpu<double> >-;
#pragma link C++ class tmva_lstm::TReshapeLayer<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::TReshapeLayer<tmva_lstm::TCpu<double> >-;
#pragma link C++ class tmva_lstm::TDeepNet<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::TDeepNet<tmva_lstm::TCpu<double> >-;
#pragma link C++ class tmva_lstm::TOptimizer<tmva_lstm::TCpu<float> >-;
#pragma link C++ class tmva_lstm::TOptimizer<tmva_lstm::TCpu<double> >-;

#pragma link C++ function tmva_lstm::BuildDeepNet<tmva_lstm::TCpu<float> >;
#pragma link C++ function tmva_lstm::MakeRecurrentLayer<tmva_lstm::TCpu<float> >;
#pragma link C++ function tmva_lstm::BuildDeepNet<tmva_lstm::TCpu<double> >;
#pragma link C++ function tmva_lstm::MakeRecurrentLayer<tmva_lstm::TCpu<double> >;
#pragma link C++ function tmva_lstm::Train<tmva_lstm::TCpu<float> >;
#pragma link C++ function tmva_lstm::Train<tmva_lstm::TCpu<double> >;
#pragma link C++ function tmva_lstm::Predict<tmva_lstm::TCpu<float> >;
#pragma link C++ function tmva_lstm::Predict<tmva_lstm::TCpu<double> >;
#pragma link C++ function tmva_lstm::EvaluateLoss<tmva_lstm::TCpu<float> >;
#pragma link C++ function tmva_lstm::EvaluateLoss<tmva_lstm::TCpu<double> >;
#pragma link C++ function tmva_lstm::SaveModel<tmva_lstm::TCpu<float> >;
#pragma link C++ function tmva_lstm::SaveModel<tmva_lstm::TCpu<double> >;
#pragma link C++ function tmva_lstm::LoadModel<tmva_lstm::TCpu<float> >;
#pragma link C++ function tmva_lstm::LoadModel<tmva_lstm::TCpu<double> >;
#endif
