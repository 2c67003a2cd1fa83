// TDenseLayer: y = f(x Wᵀ + b), W (N_out×N_in), b (1×N_out).
#pragma once

#include "Functions.h"
#include "GeneralLayer.h"

#include <random>
#include <string>

namespace tmva_lstm {

template <typename Architecture_t>
class TDenseLayer : public VGeneralLayer<Architecture_t> {
public:
   using Base = VGeneralLayer<Architecture_t>;
   using typename Base::Matrix_t;
   using typename Base::View_t;

   TDenseLayer(size_t batchSize, size_t inputCols, size_t width, EActivationFunction f) try
      : fBatchSize(batchSize), fF(f), fW(width, inputCols), fB(1, width), fdW(width, inputCols), fdB(1, width),
        fDZ(batchSize, width)
   {
   } catch (const TAllocationError &e) {
      throw TAllocationError("TDenseLayer (B=" + std::to_string(batchSize) + " inputs=" + std::to_string(inputCols) +
                             " width=" + std::to_string(width) + "): " + e.what());
   }

   void Initialize(EInitialization init, std::mt19937_64 &rng) override
   {
      Architecture_t::InitializeWeights(fW, init, fW.GetNcols(), fW.GetNrows(), rng);
      Architecture_t::Zero(fB.View());
   }

   void Forward(const Matrix_t &input, Matrix_t &output) override
   {
      fInput = &input, fOutput = &output;
      Architecture_t::Gemm(output.View(), input.View(), false, fW.View(), true); // z = x Wᵀ
      Architecture_t::AddRowVector(output.View(), fB.View());                    //   + b
      Architecture_t::ActivationForward(fF, output.View());                      // y = f(z)
   }

   void Backward(const Matrix_t &gradOutput, Matrix_t &gradInput) override
   {
      Architecture_t::Copy(fDZ.View(), gradOutput.View());
      Architecture_t::ActivationBackward(fF, fDZ.View(), fOutput->View());            // dz = dy ⊙ f'
      Architecture_t::Gemm(fdW.View(), fDZ.View(), true, fInput->View(), false);      // dW = dzᵀ x
      Architecture_t::SumColumns(fdB.View(), fDZ.View());                             // db = Σ rows dz
      Architecture_t::Gemm(gradInput.View(), fDZ.View(), false, fW.View(), false);    // dx = dz W
   }

   size_t GetBatchSize() const override { return fBatchSize; }
   size_t GetInputCols() const override { return fW.GetNcols(); }
   size_t GetOutputCols() const override { return fW.GetNrows(); }
   EActivationFunction GetActivation() const { return fF; }
   std::string GetLayout() const override
   {
      return "DENSE|" + std::to_string(fW.GetNrows()) + "|" + NameOf(kActivationNames, fF, true);
   }
   std::vector<typename Base::Parameter_t> GetParameters() override { return {{"W", &fW, &fdW}, {"b", &fB, &fdB}}; }
   std::vector<std::pair<std::string, View_t>> GetNamedWeights() override
   {
      return {{"W", fW.View()}, {"b", fB.View()}};
   }

   Matrix_t &GetWeights() { return fW; }
   Matrix_t &GetBiases() { return fB; }
   Matrix_t &GetWeightGradients() { return fdW; }
   Matrix_t &GetBiasGradients() { return fdB; }

private:
   size_t fBatchSize;
   EActivationFunction fF;
   Matrix_t fW, fB, fdW, fdB;
   Matrix_t fDZ; // B×N_out, ∂L/∂z
   const Matrix_t *fInput = nullptr, *fOutput = nullptr; // owned by the net, alive until Backward
};

/// RESHAPE|FLAT: rows are already flat samples, so flattening is a copy either way.
template <typename Architecture_t>
class TReshapeLayer : public VGeneralLayer<Architecture_t> {
public:
   using Base = VGeneralLayer<Architecture_t>;
   using typename Base::Matrix_t;
   using typename Base::View_t;

   TReshapeLayer(size_t batchSize, size_t cols) : fBatchSize(batchSize), fCols(cols) {}
   void Forward(const Matrix_t &input, Matrix_t &output) override { Architecture_t::Copy(output.View(), input.View()); }
   void Backward(const Matrix_t &gradOutput, Matrix_t &gradInput) override
   {
      Architecture_t::Copy(gradInput.View(), gradOutput.View());
   }
   size_t GetBatchSize() const override { return fBatchSize; }
   size_t GetInputCols() const override { return fCols; }
   size_t GetOutputCols() const override { return fCols; }
   std::string GetLayout() const override { return "RESHAPE|FLAT"; }
   std::vector<typename Base::Parameter_t> GetParameters() override { return {}; }
   std::vector<std::pair<std::string, View_t>> GetNamedWeights() override { return {}; }

private:
   size_t fBatchSize, fCols;
};

} // namespace tmva_lstm
