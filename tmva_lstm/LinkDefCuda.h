// rootcling: the CUDA architecture (libTMVALSTMCuda), the same classes and functions as
// LinkDef.h instantiated for TCuda<float|double>.
#ifdef __CLING__
#pragma link off all globals;
#pragma link off all classes;
#pragma link off all functions;
#pragma link C++ nestedclasses;

#pragma link C++ class tmva_lstm::TCudaMatrix<float>-;
#pragma link C++ class tmva_lstm::TCudaMatrix<double>-;
#pragma link C++ class tmva_lstm::TCuda<float>-;
#pragma link C++ class tmva_lstm::TCuda<double>-;
#pragma link C++ class tmva_lstm::VGeneralLayer<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::VGeneralLayer<tmva_lstm::TCuda<double> >-;
#pragma link C++ class tmva_lstm::TParameter<tmva_lstm::TCudaMatrix<float> >-;
#pragma link C++ class tmva_lstm::TParameter<tmva_lstm::TCudaMatrix<double> >-;
#pragma link C++ class std::vector<tmva_lstm::TParameter<tmva_lstm::TCudaMatrix<float> > >-;
#pragma link C++ class std::vector<tmva_lstm::TParameter<tmva_lstm::TCudaMatrix<double> > >-;
#pragma link C++ class tmva_lstm::VRecurrentLayer<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::TBasicLSTMLayer<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::TBasicGRULayer<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::TBasicRNNLayer<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::TBidirectionalLayer<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::VRecurrentLayer<tmva_lstm::TCuda<double> >-;
#pragma link C++ class tmva_lstm::TBasicLSTMLayer<tmva_lstm::TCuda<double> >-;
#pragma link C++ class tmva_lstm::TBasicGRULayer<tmva_lstm::TCuda<double> >-;
#pragma link C++ class tmva_lstm::TBasicRNNLayer<tmva_lstm::TCuda<double> >-;
#pragma link C++ class tmva_lstm::TBidirectionalLayer<tmva_lstm::TCuda<double> >-;
#pragma link C++ class tmva_lstm::TDenseLayer<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::TDenseLayer<tmva_lstm::TCuda<double> >-;
#pragma link C++ class tmva_lstm::TReshapeLayer<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::TReshapeLayer<tmva_lstm::TCuda<double> >-;
#pragma link C++ class tmva_lstm::TDeepNet<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::TDeepNet<tmva_lstm::TCuda<double> >-;
#pragma link C++ class tmva_lstm::TOptimizer<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::TOptimizer<tmva_lstm::TCuda<double> >-;
#pragma link C++ class tmva_lstm::TStreamTrainer<tmva_lstm::TCuda<float> >-;
#pragma link C++ class tmva_lstm::TStreamTrainer<tmva_lstm::TCuda<double> >-;
#pragma link C++ function tmva_lstm::BuildDeepNet<tmva_lstm::TCuda<float> >;
#pragma link C++ function tmva_lstm::MakeRecurrentLayer<tmva_lstm::TCuda<float> >;
#pragma link C++ function tmva_lstm::BuildDeepNet<tmva_lstm::TCuda<double> >;
#pragma link C++ function tmva_lstm::MakeRecurrentLayer<tmva_lstm::TCuda<double> >;
#pragma link C++ function tmva_lstm::Train<tmva_lstm::TCuda<float> >;
#pragma link C++ function tmva_lstm::Train<tmva_lstm::TCuda<double> >;
#pragma link C++ function tmva_lstm::Predict<tmva_lstm::TCuda<float> >;
#pragma link C++ function tmva_lstm::Predict<tmva_lstm::TCuda<double> >;
#pragma link C++ function tmva_lstm::EvaluateLoss<tmva_lstm::TCuda<float> >;
#pragma link C++ function tmva_lstm::EvaluateLoss<tmva_lstm::TCuda<double> >;
#pragma link C++ function tmva_lstm::SaveModel<tmva_lstm::TCuda<float> >;
#pragma link C++ function tmva_lstm::SaveModel<tmva_lstm::TCuda<double> >;
#pragma link C++ function tmva_lstm::LoadModel<tmva_lstm::TCuda<float> >;
#pragma link C++ function tmva_lstm::LoadModel<tmva_lstm::TCuda<double> >;
#endif
