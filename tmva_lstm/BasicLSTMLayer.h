// TBasicLSTMLayer: an LSTM layer in the style of TMVA's, forward and backpropagation through
// time. The equations and names are those of docs/lstm-math.md; python/tmva_lstm/oracle.py
// is the same computation in NumPy and reads side by side with this file.
//
// Layout. Users hand over x as B×(T·D) (sample-major, as NumPy's (B, T, D)). Inside, every
// per-step quantity is time-major, (T·B)×N with step t in rows [t·B, (t+1)·B), so each step is
// one contiguous GEMM operand and the all-steps GEMMs (x Wᵀ, DZᵀ X, DZᵀ H_prev, DZ W) are single
// calls. The state stacks fH and fC have T+1 blocks: block 0 is h_0 / c_0, block t is h_t / c_t,
// so H_prev is simply the first T blocks of fH.
//
// Memory is allocated in the constructor only: Forward and Backward allocate nothing.
#pragma once

#include "Functions.h"
#include "GeneralLayer.h"

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

enum class EGate { kInput = 0, kForget = 1, kCandidate = 2, kOutput = 3 };

template <typename Architecture_t>
class TBasicLSTMLayer : public VGeneralLayer<Architecture_t> {
public:
   using Scalar_t = typename Architecture_t::Scalar_t;
   using Matrix_t = typename Architecture_t::Matrix_t;
   using View_t = typename Architecture_t::View_t;
   using ConstView_t = typename Architecture_t::ConstView_t;

   /// Sizes as in TMVA: B, H, D, T. f1 is the gate activation (σ), f2 the candidate and cell
   /// output activation (tanh). Weights are drawn from `init` with `seed`; biases start at zero.
   TBasicLSTMLayer(size_t batchSize, size_t stateSize, size_t inputSize, size_t timeSteps,
                   bool rememberState = false, bool returnSequence = false,
                   EActivationFunction f1 = EActivationFunction::kSigmoid,
                   EActivationFunction f2 = EActivationFunction::kTanh,
                   EInitialization init = EInitialization::kGlorotUniform, uint64_t seed = 0);

   /// Draw new weights (per gate block, fan-in D or H, fan-out H); zero the biases.
   void Initialize(EInitialization init, std::mt19937_64 &rng);
   void Initialize(EInitialization init, uint64_t seed)
   {
      std::mt19937_64 rng(seed);
      Initialize(init, rng);
   }
   /// b_f = value for every unit (1 is the usual choice: remember by default at the start).
   void SetForgetGateBias(Scalar_t value);
   /// h_0 = c_0 = 0, and forget any state carried by rememberState.
   void InitState();
   void ResetState() override { InitState(); }

   /// input: B×(T·D). output: B×(T·H) with returnSequence, else B×H (h_T).
   void Forward(const Matrix_t &input, Matrix_t &output) override;
   /// gradOutput: ∂L/∂output, shaped like output. gradInput: B×(T·D), receives ∂L/∂x.
   /// dhT, dcT (B×H, optional): ∂L/∂h_T and ∂L/∂c_T from an exposed final state.
   /// Afterwards the weight gradients and ∂L/∂h_0, ∂L/∂c_0 are readable.
   void Backward(const Matrix_t &gradOutput, Matrix_t &gradInput, const Matrix_t *dhT, const Matrix_t *dcT);
   void Backward(const Matrix_t &gradOutput, Matrix_t &gradInput) override
   {
      Backward(gradOutput, gradInput, nullptr, nullptr);
   }

   /// One forward step t (0-based) for the batch rows [first, first + n): z_t = x_t Wᵀ (already
   /// in place) + h_{t-1} Uᵀ + b, the gates, c_t, h_t. Rows are independent, so slices of the
   /// batch run the whole recursion side by side (Architecture_t::ParallelForBatch).
   void CellForward(size_t t, size_t first, size_t n);
   /// One BPTT step t for the rows [first, first + n): the gate deltas dz_t and the cell carry,
   /// then dh_next = dz_t U.
   void CellBackward(size_t t, ConstView_t dY_t, size_t first, size_t n);

   size_t GetBatchSize() const override { return fBatchSize; }
   size_t GetStateSize() const { return fStateSize; }
   size_t GetInputSize() const { return fInputSize; }
   size_t GetTimeSteps() const { return fTimeSteps; }
   bool DoesRememberState() const { return fRememberState; }
   bool DoesReturnSequence() const { return fReturnSequence; }
   EActivationFunction GetGateActivation() const { return fF1; }
   EActivationFunction GetCandidateActivation() const { return fF2; }
   size_t GetInputCols() const override { return fTimeSteps * fInputSize; }
   size_t GetOutputCols() const override { return fReturnSequence ? fTimeSteps * fStateSize : fStateSize; }
   /// TMVA's token: LSTM|state|input|time|rememberState|returnSequence.
   std::string GetLayout() const override
   {
      return "LSTM|" + std::to_string(fStateSize) + "|" + std::to_string(fInputSize) + "|" + std::to_string(fTimeSteps) +
             "|" + std::to_string(int(fRememberState)) + "|" + std::to_string(int(fReturnSequence));
   }
   std::vector<TParameter<Matrix_t>> GetParameters() override
   {
      return {{"W", &fW, &fdW}, {"U", &fU, &fdU}, {"b", &fB, &fdB}};
   }
   std::vector<std::pair<std::string, View_t>> GetNamedWeights() override
   {
      std::vector<std::pair<std::string, View_t>> named;
      const char *gates[] = {"i", "f", "g", "o"};
      for (size_t g = 0; g < 4; ++g)
         named.push_back({std::string("W_") + gates[g], GetWeightsInput(EGate(g))});
      for (size_t g = 0; g < 4; ++g)
         named.push_back({std::string("U_") + gates[g], GetWeightsState(EGate(g))});
      for (size_t g = 0; g < 4; ++g)
         named.push_back({std::string("b_") + gates[g], GetBiases(EGate(g))});
      return named;
   }

   /// Stacked parameters, gate order i, f, g, o: W (4H×D), U (4H×H), b (1×4H).
   Matrix_t &GetWeightsInput() { return fW; }
   Matrix_t &GetWeightsState() { return fU; }
   Matrix_t &GetBiases() { return fB; }
   /// W_gate (H×D), U_gate (H×H), b_gate (1×H) by name.
   View_t GetWeightsInput(EGate g) { return fW.View().rowBlock(size_t(g) * fStateSize, fStateSize); }
   View_t GetWeightsState(EGate g) { return fU.View().rowBlock(size_t(g) * fStateSize, fStateSize); }
   View_t GetBiases(EGate g) { return {fB.View().data + size_t(g) * fStateSize, 1, fStateSize}; }

   /// Gradients after Backward: dW (4H×D), dU (4H×H), db (1×4H).
   Matrix_t &GetWeightInputGradients() { return fdW; }
   Matrix_t &GetWeightStateGradients() { return fdU; }
   Matrix_t &GetBiasGradients() { return fdB; }

   /// The initial state the next Forward starts from (B×H); with rememberState it is the last
   /// Forward's final state.
   Matrix_t &GetInitialState() { return fH0; }
   Matrix_t &GetInitialCell() { return fC0; }
   /// h_T and c_T of the last Forward (B×H).
   ConstView_t GetState() const { return Block(fH, fTimeSteps); }
   ConstView_t GetCell() const { return Block(fC, fTimeSteps); }
   /// ∂L/∂h_0 and ∂L/∂c_0 after Backward (B×H), for the initial state that Forward used.
   Matrix_t &GetInitialStateGradient() { return fDhNext; }
   Matrix_t &GetInitialCellGradient() { return fDcNext; }

private:
   /// Rows [first, first + n) of step t's block in a time-major stack (the whole block by default).
   View_t Block(Matrix_t &A, size_t t, size_t first = 0, size_t n = size_t(-1))
   {
      return A.View().rowBlock(t * fBatchSize + first, std::min(n, fBatchSize));
   }
   ConstView_t Block(const Matrix_t &A, size_t t) const { return A.View().rowBlock(t * fBatchSize, fBatchSize); }
   void CheckShape(const Matrix_t &A, size_t rows, size_t cols, const char *what) const;

   size_t fBatchSize, fStateSize, fInputSize, fTimeSteps; // B, H, D, T
   bool fRememberState, fReturnSequence;
   EActivationFunction fF1, fF2;

   Matrix_t fW, fU, fB;    // parameters
   Matrix_t fdW, fdU, fdB; // their gradients
   Matrix_t fH0, fC0;      // initial state for the next Forward

   Matrix_t fX;     // (T·B)×D   inputs, time-major
   Matrix_t fGates; // (T·B)×4H  i, f, g, o after Forward; dz after Backward
   Matrix_t fH;     // ((T+1)·B)×H  h_0 … h_T
   Matrix_t fC;     // ((T+1)·B)×H  c_0 … c_T
   Matrix_t fDY;    // (T·B)×H   ∂L/∂h_t from above, time-major (returnSequence only)
   Matrix_t fDX;    // (T·B)×D   ∂L/∂x, time-major
   Matrix_t fDhNext, fDcNext; // B×H BPTT carries; ∂L/∂h_0, ∂L/∂c_0 at the end
   bool fGatesHoldForward = false; // Backward consumes the gate values in place
};

template <typename Architecture_t>
TBasicLSTMLayer<Architecture_t>::TBasicLSTMLayer(size_t batchSize, size_t stateSize, size_t inputSize,
                                                 size_t timeSteps, bool rememberState, bool returnSequence,
                                                 EActivationFunction f1, EActivationFunction f2,
                                                 EInitialization init, uint64_t seed)
   : fBatchSize(batchSize), fStateSize(stateSize), fInputSize(inputSize), fTimeSteps(timeSteps),
     fRememberState(rememberState), fReturnSequence(returnSequence), fF1(f1), fF2(f2)
{
   if (batchSize == 0 || stateSize == 0 || inputSize == 0 || timeSteps == 0)
      throw std::invalid_argument("TBasicLSTMLayer: batch size, state size, input size and time steps must be > 0, got B=" +
                                  std::to_string(batchSize) + " H=" + std::to_string(stateSize) +
                                  " D=" + std::to_string(inputSize) + " T=" + std::to_string(timeSteps));
   DispatchActivation(f1, [](auto) {}); // throw on an unknown activation code
   DispatchActivation(f2, [](auto) {});
   const size_t B = batchSize, H = stateSize, D = inputSize, T = timeSteps;
   fW = Matrix_t(4 * H, D), fU = Matrix_t(4 * H, H), fB = Matrix_t(1, 4 * H);
   fdW = Matrix_t(4 * H, D), fdU = Matrix_t(4 * H, H), fdB = Matrix_t(1, 4 * H);
   fH0 = Matrix_t(B, H), fC0 = Matrix_t(B, H);
   fX = Matrix_t(T * B, D), fGates = Matrix_t(T * B, 4 * H);
   fH = Matrix_t((T + 1) * B, H), fC = Matrix_t((T + 1) * B, H);
   if (returnSequence)
      fDY = Matrix_t(T * B, H);
   fDX = Matrix_t(T * B, D);
   fDhNext = Matrix_t(B, H), fDcNext = Matrix_t(B, H);
   Initialize(init, seed);
}

template <typename Architecture_t>
void TBasicLSTMLayer<Architecture_t>::Initialize(EInitialization init, std::mt19937_64 &rng)
{
   const size_t H = fStateSize, D = fInputSize;
   // Each gate's block is its own H×D (or H×H) layer: fan-in D (or H), fan-out H.
   Matrix_t block(H, D), stateBlock(H, H);
   for (size_t g = 0; g < 4; ++g) {
      Architecture_t::InitializeWeights(block, init, D, H, rng);
      Architecture_t::Copy(GetWeightsInput(EGate(g)), block.View());
      Architecture_t::InitializeWeights(stateBlock, init, H, H, rng);
      Architecture_t::Copy(GetWeightsState(EGate(g)), stateBlock.View());
   }
   Architecture_t::Zero(fB.View());
}

template <typename Architecture_t>
void TBasicLSTMLayer<Architecture_t>::SetForgetGateBias(Scalar_t value)
{
   const std::vector<Scalar_t> bf(fStateSize, value);
   Architecture_t::CopyFromHost(GetBiases(EGate::kForget), bf.data(), bf.size(), "forget-gate bias");
}

template <typename Architecture_t>
void TBasicLSTMLayer<Architecture_t>::InitState()
{
   Architecture_t::Zero(fH0.View());
   Architecture_t::Zero(fC0.View());
}

template <typename Architecture_t>
void TBasicLSTMLayer<Architecture_t>::CheckShape(const Matrix_t &A, size_t rows, size_t cols, const char *what) const
{
   if (A.GetNrows() != rows || A.GetNcols() != cols)
      throw std::invalid_argument(std::string("TBasicLSTMLayer: ") + what + " must be " + std::to_string(rows) + "x" +
                                  std::to_string(cols) + ", got " + std::to_string(A.GetNrows()) + "x" +
                                  std::to_string(A.GetNcols()));
}

template <typename Architecture_t>
void TBasicLSTMLayer<Architecture_t>::Forward(const Matrix_t &input, Matrix_t &output)
{
   const size_t B = fBatchSize, T = fTimeSteps;
   CheckShape(input, B, GetInputCols(), "input (B x T*D)");
   CheckShape(output, B, GetOutputCols(), "output");
   Architecture_t::BatchToTimeMajor(fX.View(), input.View(), T);
   Architecture_t::Copy(Block(fH, 0), fH0.View());
   Architecture_t::Copy(Block(fC, 0), fC0.View());
   // x_t Wᵀ for all t: one GEMM over T·B rows.
   Architecture_t::Gemm(fGates.View(), fX.View(), false, fW.View(), true);
   Architecture_t::ParallelForBatch(B, [&](size_t first, size_t n) {
      for (size_t t = 0; t < T; ++t)
         CellForward(t, first, n);
   });
   if (fReturnSequence)
      Architecture_t::TimeToBatchMajor(output.View(), fH.View().rowBlock(B, T * B), T);
   else
      Architecture_t::Copy(output.View(), GetState());
   if (fRememberState) { // the next batch starts where this one ended
      Architecture_t::Copy(fH0.View(), GetState());
      Architecture_t::Copy(fC0.View(), GetCell());
   }
   fGatesHoldForward = true;
}

template <typename Architecture_t>
void TBasicLSTMLayer<Architecture_t>::CellForward(size_t t, size_t first, size_t n)
{
   View_t z = Block(fGates, t, first, n);
   // z_t += h_{t-1} Uᵀ: the four gates in one 4H-wide GEMM.
   Architecture_t::Gemm(z, Block(fH, t, first, n), false, fU.View(), true, 1, 1);
   Architecture_t::LstmCellForward(fF1, fF2, z, fB.View(), Block(fC, t, first, n), Block(fC, t + 1, first, n),
                                   Block(fH, t + 1, first, n));
}

template <typename Architecture_t>
void TBasicLSTMLayer<Architecture_t>::Backward(const Matrix_t &gradOutput, Matrix_t &gradInput, const Matrix_t *dhT,
                                               const Matrix_t *dcT)
{
   const size_t B = fBatchSize, H = fStateSize, T = fTimeSteps;
   if (!fGatesHoldForward)
      throw std::logic_error("TBasicLSTMLayer::Backward: needs a Forward first (each Forward allows one Backward)");
   CheckShape(gradOutput, B, GetOutputCols(), "output gradient");
   CheckShape(gradInput, B, GetInputCols(), "input gradient (B x T*D)");
   if (dhT)
      CheckShape(*dhT, B, H, "dL/dh_T");
   if (dcT)
      CheckShape(*dcT, B, H, "dL/dc_T");
   // dh_next = ∂L/∂h_T, dc_next = ∂L/∂c_T from an exposed final state, zeros if none.
   dhT ? Architecture_t::Copy(fDhNext.View(), dhT->View()) : Architecture_t::Zero(fDhNext.View());
   dcT ? Architecture_t::Copy(fDcNext.View(), dcT->View()) : Architecture_t::Zero(fDcNext.View());
   if (fReturnSequence)
      Architecture_t::BatchToTimeMajor(fDY.View(), gradOutput.View(), T);
   fGatesHoldForward = false;
   Architecture_t::ParallelForBatch(B, [&](size_t first, size_t n) {
      for (size_t t = T; t-- > 0;) {
         const ConstView_t dY_t = fReturnSequence ? Block(fDY, t, first, n)
                                  : t == T - 1    ? gradOutput.View().rowBlock(first, n)
                                                  : ConstView_t{};
         CellBackward(t, dY_t, first, n);
      }
   });
   // After the loop, over all T·B rows at once (fGates now holds DZ):
   ConstView_t DZ = fGates.View();
   Architecture_t::Gemm(fdW.View(), DZ, true, fX.View(), false);                       // dW = DZᵀ X
   Architecture_t::Gemm(fdU.View(), DZ, true, fH.View().rowBlock(0, T * B), false);   // dU = DZᵀ H_prev
   Architecture_t::SumColumns(fdB.View(), DZ);                                                // db = Σ rows of DZ
   Architecture_t::Gemm(fDX.View(), DZ, false, fW.View(), false);                      // dX = DZ W
   Architecture_t::TimeToBatchMajor(gradInput.View(), fDX.View(), T);
   // fDhNext, fDcNext now hold ∂L/∂h_0, ∂L/∂c_0.
}

template <typename Architecture_t>
void TBasicLSTMLayer<Architecture_t>::CellBackward(size_t t, ConstView_t dY_t, size_t first, size_t n)
{
   View_t dz = Block(fGates, t, first, n), dhNext = fDhNext.View().rowBlock(first, n);
   Architecture_t::LstmCellBackward(fF1, fF2, dz, Block(fC, t, first, n), Block(fC, t + 1, first, n), dY_t, dhNext,
                                    fDcNext.View().rowBlock(first, n));
   // dh_next = dz_t U: the only GEMM inside the loop.
   Architecture_t::Gemm(dhNext, dz, false, fU.View(), false);
}

} // namespace tmva_lstm
