// TBasicLSTMLayer: an LSTM layer in the style of TMVA's, forward and backpropagation through
// time. The equations and names are those of docs/lstm-math.md; python/tmva_lstm/oracle.py
// is the same computation in NumPy and reads side by side with this file.
//
// Layout. Users hand over x as B×(T·D) (sample-major, as NumPy's (B, T, D)); step t of it is a
// column block, copied into place by the slice that uses it, right before use. Inside, every
// per-step quantity is time-major, (T·B)×N with step t in rows [t·B, (t+1)·B), so each step is
// one block of rows. x_t, h_{t-1} and a constant 1 sit side by side in one stack fXH,
// ((T+1)·B)×(D+H+1), whose block t−1 is [x_t | h_{t-1} | 1] (block T holds h_T), and W, U, b
// side by side in fWUb = [W | U | b] (b is the weight of the constant input). Then each step is
// one GEMM forward, z_t = [x_t | h_{t-1} | 1] [W | U | b]ᵀ, and one backward,
// [dx_t | dh_{t-1}] = dz_t [W | U] (into fDXH, laid out like fXH without the 1s), and all the
// weight gradients are one GEMM over all steps after the loop: [dW | dU | db] = DZᵀ [X | H_prev | 1].
// fC has T+1 blocks c_0 … c_T.
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

   /// One forward step t (0-based) for the batch rows [first, first + n): z_t = x_t Wᵀ +
   /// h_{t-1} Uᵀ + b, the gates, c_t, h_t. Rows are independent, so slices of the batch run the
   /// whole recursion side by side (Architecture_t::ParallelFor).
   void CellForward(size_t t, size_t first, size_t n);
   /// One BPTT step t for the rows [first, first + n): the gate deltas dz_t and the cell carry,
   /// then dx_t and dh_next from dz_t.
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
   ConstView_t GetState() const { return StateCols(fXH.View()).rowBlock(fTimeSteps * fBatchSize, fBatchSize); }
   ConstView_t GetCell() const { return fC.View().rowBlock(fTimeSteps * fBatchSize, fBatchSize); }
   /// ∂L/∂h_0 and ∂L/∂c_0 after Backward (B×H), for the initial state that Forward used.
   ConstView_t GetInitialStateGradient() const { return StateCols(fDXH.View()).rowBlock(0, fBatchSize); }
   ConstView_t GetInitialCellGradient() const { return fDcNext.View(); }

private:
   /// Rows [first, first + n) of step t's block in a time-major stack (the whole block by default).
   View_t Block(View_t A, size_t t, size_t first = 0, size_t n = size_t(-1)) const
   {
      return A.rowBlock(t * fBatchSize + first, std::min(n, fBatchSize));
   }
   View_t Block(Matrix_t &A, size_t t, size_t first = 0, size_t n = size_t(-1)) const
   {
      return Block(A.View(), t, first, n);
   }
   /// Step t (columns [t·N, (t+1)·N)) of rows [first, first + n) of a sample-major B×(T·N) matrix.
   template <typename View> static View Step(View A, size_t t, size_t N, size_t first, size_t n)
   {
      return A.rowBlock(first, n).colBlock(t * N, N);
   }
   /// The x and the h columns of an [x | h] stack (fXH, fDXH).
   template <typename View> View InputCols(View A) const { return A.colBlock(0, fInputSize); }
   template <typename View> View StateCols(View A) const { return A.colBlock(fInputSize, fStateSize); }
   /// The column after them: the constant 1 in fXH, b in fWUb, db in fdWUb.
   template <typename View> View BiasCol(View A) const { return A.colBlock(fInputSize + fStateSize, 1); }
   void CheckShape(const Matrix_t &A, size_t rows, size_t cols, const char *what) const;

   size_t fBatchSize, fStateSize, fInputSize, fTimeSteps; // B, H, D, T
   bool fRememberState, fReturnSequence;
   EActivationFunction fF1, fF2;

   Matrix_t fW, fU, fB;    // parameters
   Matrix_t fdW, fdU, fdB; // their gradients
   Matrix_t fH0, fC0;      // initial state for the next Forward

   Matrix_t fWUb, fdWUb; // 4H×(D+H+1)  [W | U | b] packed at each Forward; [dW | dU | db] from one GEMM

   Matrix_t fXH;    // ((T+1)·B)×(D+H+1)  block t−1: [x_t | h_{t-1} | 1]; block T: [− | h_T | 1]
   Matrix_t fGates; // (T·B)×4H  i, f, g, o after Forward; dz after Backward
   Matrix_t fC;     // ((T+1)·B)×H  c_0 … c_T
   Matrix_t fDXH;   // ((T+1)·B)×(D+H)  block t−1: [∂L/∂x_t | ∂L/∂h_{t-1}]; block T: [− | ∂L/∂h_T]
   Matrix_t fDcNext; // B×H  BPTT cell carry; ∂L/∂c_0 at the end
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
   fWUb = Matrix_t(4 * H, D + H + 1), fdWUb = Matrix_t(4 * H, D + H + 1);
   fXH = Matrix_t((T + 1) * B, D + H + 1), fGates = Matrix_t(T * B, 4 * H), fC = Matrix_t((T + 1) * B, H);
   fDXH = Matrix_t((T + 1) * B, D + H), fDcNext = Matrix_t(B, H);
   const std::vector<Scalar_t> ones((T + 1) * B, Scalar_t(1));
   Architecture_t::CopyFromHost(BiasCol(fXH.View()), ones.data(), ones.size(), "constant input");
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
   const size_t B = fBatchSize, H = fStateSize, D = fInputSize, T = fTimeSteps;
   CheckShape(input, B, GetInputCols(), "input (B x T*D)");
   CheckShape(output, B, GetOutputCols(), "output");
   // The parameters are W, U, b (what optimizers and model files see); the GEMMs want them side
   // by side. Packing costs O(parameters), nothing against a step's O(T·B·parameters).
   Architecture_t::Copy(InputCols(fWUb.View()), fW.View());
   Architecture_t::Copy(StateCols(fWUb.View()), fU.View());
   Architecture_t::Copy(BiasCol(fWUb.View()), fB.View());
   Architecture_t::Copy(StateCols(Block(fXH, 0)), fH0.View());
   Architecture_t::Copy(Block(fC, 0), fC0.View());
   Architecture_t::ParallelFor(B, [&](size_t first, size_t n) {
      for (size_t t = 0; t < T; ++t) {
         Architecture_t::Copy(InputCols(Block(fXH, t, first, n)), Step(input.View(), t, D, first, n));
         CellForward(t, first, n);
         if (fReturnSequence)
            Architecture_t::Copy(Step(output.View(), t, H, first, n), StateCols(Block(fXH, t + 1, first, n)));
      }
   });
   if (!fReturnSequence)
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
   // z_t = x_t Wᵀ + h_{t-1} Uᵀ + b = [x_t | h_{t-1} | 1] [W | U | b]ᵀ: all four gates in one GEMM.
   Architecture_t::Gemm(z, Block(fXH, t, first, n), false, fWUb.View(), true);
   Architecture_t::LstmCellForward(fF1, fF2, z, Block(fC, t, first, n), Block(fC, t + 1, first, n),
                                   StateCols(Block(fXH, t + 1, first, n)));
}

template <typename Architecture_t>
void TBasicLSTMLayer<Architecture_t>::Backward(const Matrix_t &gradOutput, Matrix_t &gradInput, const Matrix_t *dhT,
                                               const Matrix_t *dcT)
{
   const size_t B = fBatchSize, H = fStateSize, D = fInputSize, T = fTimeSteps;
   if (!fGatesHoldForward)
      throw std::logic_error("TBasicLSTMLayer::Backward: needs a Forward first (each Forward allows one Backward)");
   CheckShape(gradOutput, B, GetOutputCols(), "output gradient");
   CheckShape(gradInput, B, GetInputCols(), "input gradient (B x T*D)");
   if (dhT)
      CheckShape(*dhT, B, H, "dL/dh_T");
   if (dcT)
      CheckShape(*dcT, B, H, "dL/dc_T");
   // dh_next = ∂L/∂h_T, dc_next = ∂L/∂c_T from an exposed final state, zeros if none.
   const View_t dhNextT = StateCols(Block(fDXH, T));
   dhT ? Architecture_t::Copy(dhNextT, dhT->View()) : Architecture_t::Zero(dhNextT);
   dcT ? Architecture_t::Copy(fDcNext.View(), dcT->View()) : Architecture_t::Zero(fDcNext.View());
   fGatesHoldForward = false;
   Architecture_t::ParallelFor(B, [&](size_t first, size_t n) {
      for (size_t t = T; t-- > 0;) {
         const ConstView_t dY_t = fReturnSequence ? Step(gradOutput.View(), t, H, first, n)
                                  : t == T - 1    ? gradOutput.View().rowBlock(first, n)
                                                  : ConstView_t{};
         CellBackward(t, dY_t, first, n);
         Architecture_t::Copy(Step(gradInput.View(), t, D, first, n), InputCols(Block(fDXH, t, first, n)));
      }
   });
   // After the loop, over all T·B rows at once (fGates now holds DZ):
   ConstView_t DZ = fGates.View();
   // [dW | dU | db] = DZᵀ [X | H_prev | 1]
   Architecture_t::Gemm(fdWUb.View(), DZ, true, fXH.View().rowBlock(0, T * B), false);
   Architecture_t::Copy(fdW.View(), InputCols(fdWUb.View()));
   Architecture_t::Copy(fdU.View(), StateCols(fdWUb.View()));
   Architecture_t::Copy(fdB.View(), BiasCol(fdWUb.View()));
   // Block 0 of fDXH now holds ∂L/∂h_0 in its h columns, fDcNext ∂L/∂c_0.
}

template <typename Architecture_t>
void TBasicLSTMLayer<Architecture_t>::CellBackward(size_t t, ConstView_t dY_t, size_t first, size_t n)
{
   View_t dz = Block(fGates, t, first, n);
   Architecture_t::LstmCellBackward(fF1, fF2, dz, Block(fC, t, first, n), Block(fC, t + 1, first, n), dY_t,
                                    StateCols(Block(fDXH, t + 1, first, n)), fDcNext.View().rowBlock(first, n));
   // [dx_t | dh_{t-1}] = dz_t [W | U]: the only GEMM inside the loop; dh_{t-1} is step t−1's dh_next.
   Architecture_t::Gemm(Block(fDXH, t, first, n), dz, false, fWUb.View().colBlock(0, fInputSize + fStateSize), false);
}

} // namespace tmva_lstm
