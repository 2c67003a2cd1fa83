// VRecurrentLayer: the time loop every recurrent cell shares — forward over t = 1 … T and
// backpropagation through time — written once. TBasicLSTMLayer, TBasicGRULayer and
// TBasicRNNLayer derive from it and supply their cell: its GEMM blocks (which weight block feeds
// which block of z), its element-wise passes (Kernels.h, shared by TCpu and TCuda) and its names.
// The equations and names are those of docs/lstm-math.md; python/tmva_lstm/oracle.py is the same
// computation in NumPy.
//
// Layout. Users hand over x as B×(T·D) (sample-major, as NumPy's (B, T, D)); step t of it is
// gathered into place by the slice that uses it, right before use. Inside, every per-step
// quantity is time-major, (T·B)×N with step t in rows [t·B, (t+1)·B). x_t, h_{t-1} and a
// constant 1 sit side by side in one stack fXH, ((T+1)·B)×(D+H+1), whose block t−1 is
// [x_t | h_{t-1} | 1] (block T holds h_T), and the weights in fWUb, G·H×(D+H+1): block k is
// [W_k | U_k | b_k] or zeros where the cell takes no such term. Then each step is one GEMM
// forward, z_t = [x_t | h_{t-1} | 1] fWUbᵀ, and one backward, [dx_t | dh_{t-1}] = dz_t [W | U]
// (into fDXH, laid out like fXH without the 1s), and all the weight gradients are one GEMM over
// all steps after the loop: fdWUb = DZᵀ [X | H_prev | 1].
//
// Lengths (ONNX sequence_lens, PyTorch packed sequences): sample r has len_r ≤ T steps and is
// right-padded. At t ≥ len_r its state is held, its output is 0, its dz is 0 and ∂L/∂h passes
// through; so h_T, c_T are the state after step len_r − 1, and the gradients are exact. Work is
// skipped past the lengths: ParallelFor cuts the batch into slices of equal total length; a slice
// stops at its longest sample; at step t its GEMMs and cell passes run on its rows up to the last
// one still inside its sequence (ActiveRows), the rest only hold their state. A batch sorted
// longest first (TBatchLoader sorts) thus costs in proportion to the sum of its lengths, but for
// the weight-gradient GEMM, which runs to the batch's longest sample.
//
// An architecture may run the whole loop in one pass instead (RecurrenceForward/Backward, given
// the stacks as a TRecurrence): TCuda does, in one kernel, where the weights fit in a block's
// shared memory and a per-step GEMM would spend its time launching. The results are the same.
//
// Memory is allocated in the constructor only: Forward and Backward allocate nothing.
#pragma once

#include "Functions.h"
#include "GeneralLayer.h"
#include "Kernels.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace tmva_lstm {

/// Where block k of z takes its terms: block w of W, u of U, b of b (each H rows), or none (−1).
struct TGateBlock {
   int w, u, b;
};

/// One direction of a layer: a plain layer has the defaults; TBidirectionalLayer runs two.
struct TDirection {
   bool reverse = false;          ///< run from each sample's last step to its first
   size_t outputStride = 0;       ///< output columns per step (0: H; 2H when two directions share it)
   size_t outputOffset = 0;       ///< this direction's first column within a step of the output
   bool addInputGradient = false; ///< add ∂L/∂x into gradInput instead of writing it
   std::string suffix;            ///< appended to parameter names ("_reverse")
};

template <typename Architecture_t>
class VRecurrentLayer : public VGeneralLayer<Architecture_t> {
public:
   using Scalar_t = typename Architecture_t::Scalar_t;
   using Matrix_t = typename Architecture_t::Matrix_t;
   using View_t = typename Architecture_t::View_t;
   using ConstView_t = typename Architecture_t::ConstView_t;
   using Parameter_t = TParameter<Matrix_t>;

   /// Draw new weights (per gate block, fan-in D or H, fan-out H); zero the biases.
   void Initialize(EInitialization init, std::mt19937_64 &rng) override;
   void Initialize(EInitialization init, uint64_t seed)
   {
      std::mt19937_64 rng(seed);
      Initialize(init, rng);
   }
   /// h_0 (= c_0) = 0, and forget any state carried by rememberState.
   void InitState();
   void ResetState() override { InitState(); }

   /// Per-sample lengths (B×1, whole numbers 0 … T) for the next Forward, or nullptr: all T.
   void SetLengths(const Matrix_t *lengths) override;
   /// input: B×(T·D). output: B×(T·H) with returnSequence, else B×H (the final state).
   void Forward(const Matrix_t &input, Matrix_t &output) override;
   void Forward(const Matrix_t &input, Matrix_t &output, const Matrix_t *lengths)
   {
      SetLengths(lengths);
      Forward(input, output);
   }
   /// gradOutput: ∂L/∂output, shaped like output. gradInput: B×(T·D), receives ∂L/∂x.
   /// dhT, dcT (B×H, optional): ∂L/∂h_T and (LSTM) ∂L/∂c_T from an exposed final state.
   /// Afterwards the weight gradients and ∂L/∂h_0 (∂L/∂c_0) are readable.
   void Backward(const Matrix_t &gradOutput, Matrix_t &gradInput, const Matrix_t *dhT, const Matrix_t *dcT);
   void Backward(const Matrix_t &gradOutput, Matrix_t &gradInput) override
   {
      Backward(gradOutput, gradInput, nullptr, nullptr);
   }

   /// One forward step t for the batch rows [first, first + n): z_t = [x_t | h_{t-1} | 1] fWUbᵀ,
   /// then the cell. Rows are independent, so slices of the batch run the whole recursion side
   /// by side (Architecture_t::ParallelFor).
   virtual void CellForward(size_t t, size_t first, size_t n);
   /// One BPTT step t for the rows [first, first + n): the cell's deltas dz_t and carries, then
   /// [dx_t | dh_{t-1}] = dz_t [W | U].
   virtual void CellBackward(size_t t, ConstView_t dY_t, size_t first, size_t n);

   size_t GetBatchSize() const override { return fBatchSize; }
   size_t GetStateSize() const { return fStateSize; }
   size_t GetInputSize() const { return fInputSize; }
   size_t GetTimeSteps() const { return fTimeSteps; }
   bool DoesRememberState() const { return fRememberState; }
   bool RemembersState() const override { return fRememberState; }
   bool DoesReturnSequence() const { return fReturnSequence; }
   bool IsReverse() const { return fDir.reverse; }
   EActivationFunction GetGateActivation() const { return fF1; }
   EActivationFunction GetCandidateActivation() const { return fF2; }
   size_t GetInputCols() const override { return fTimeSteps * fInputSize; }
   size_t GetOutputCols() const override { return fReturnSequence ? fTimeSteps * fOutStride : fOutStride; }
   /// TMVA's token: KIND|state|input|time|rememberState|returnSequence (GRU: |resetGateAfter).
   std::string GetLayout() const override
   {
      return std::string(fKind) + "|" + std::to_string(fStateSize) + "|" + std::to_string(fInputSize) + "|" +
             std::to_string(fTimeSteps) + "|" + std::to_string(int(fRememberState)) + "|" +
             std::to_string(int(fReturnSequence)) + LayoutExtra();
   }
   std::vector<Parameter_t> GetParameters() override
   {
      return {{fParamNames[0].c_str(), &fW, &fdW}, {fParamNames[1].c_str(), &fU, &fdU}, {fParamNames[2].c_str(), &fB, &fdB}};
   }
   std::vector<std::pair<std::string, View_t>> GetNamedWeights() override;

   /// Stacked parameters, one H-row block per gate: W (P·H×D), U (P·H×H), b (1×P·H).
   Matrix_t &GetWeightsInput() { return fW; }
   Matrix_t &GetWeightsState() { return fU; }
   Matrix_t &GetBiases() { return fB; }
   /// Gradients after Backward: dW, dU, db, shaped like the parameters.
   Matrix_t &GetWeightInputGradients() { return fdW; }
   Matrix_t &GetWeightStateGradients() { return fdU; }
   Matrix_t &GetBiasGradients() { return fdB; }
   /// W, U (H×D, H×H) and b (1×H) of gate k, in the order of GetGateNames().
   View_t GetWeightsInput(size_t k) { return fW.View().rowBlock(k * fStateSize, fStateSize); }
   View_t GetWeightsState(size_t k) { return fU.View().rowBlock(k * fStateSize, fStateSize); }
   View_t GetBiases(size_t k) { return {fB.View().data + k * fStateSize, 1, fStateSize}; }
   const std::vector<std::string> &GetGateNames() const { return fGateNames; }

   /// The initial state the next Forward starts from (B×H); with rememberState it is the last
   /// Forward's final state.
   Matrix_t &GetInitialState() { return fH0; }
   /// The final state of the last Forward (B×H): each sample's state after its last step.
   ConstView_t GetState() const { return StateCols(fXH.View()).rowBlock(fTimeSteps * fBatchSize, fBatchSize); }
   /// ∂L/∂h_0 after Backward (B×H), for the initial state that Forward used.
   ConstView_t GetInitialStateGradient() const { return StateCols(fDXH.View()).rowBlock(0, fBatchSize); }

protected:
   /// kind: the token's name; gateNames: the P parameter blocks; blocks: the G blocks of z;
   /// pass: the cell's element-wise pass (Kernels.h); hasCell: an LSTM cell state c.
   VRecurrentLayer(const char *kind, std::vector<std::string> gateNames, std::vector<TGateBlock> blocks,
                   ECellPass pass, bool hasCell, size_t batchSize, size_t stateSize, size_t inputSize,
                   size_t timeSteps, bool rememberState, bool returnSequence, EActivationFunction f1,
                   EActivationFunction f2, TDirection direction);

   /// Rows [first, first + n) do not run step t: zero what else of theirs the weight-gradient
   /// GEMMs read (the GRU's r ⊙ h_{t-1}).
   virtual void SkipRows(size_t /*t*/, size_t /*first*/, size_t /*n*/) {}
   /// A step is GemmForward and the cell's one pass (backward: the pass and GemmBackward), so an
   /// architecture may run the whole loop in one go (RecurrenceForward/Backward). Not so for
   /// cells that override CellForward/CellBackward with more (the GRU with the reset gate before).
   virtual bool OneGemmStep() const { return true; }
   /// Fields after the six common ones in the layout token.
   virtual std::string LayoutExtra() const { return ""; }
   /// After the loop: the weight gradients from the first `rows` rows of the stacks.
   virtual void WeightGradients(size_t rows);

   /// Rows [first, first + n) of step t's block in a time-major stack (the whole block by default).
   View_t Block(View_t A, size_t t, size_t first = 0, size_t n = size_t(-1)) const
   {
      return A.rowBlock(t * fBatchSize + first, std::min(n, fBatchSize));
   }
   View_t Block(Matrix_t &A, size_t t, size_t first = 0, size_t n = size_t(-1)) const
   {
      return Block(A.View(), t, first, n);
   }
   /// The x and the h columns of an [x | h] stack (fXH, fDXH).
   template <typename View> View InputCols(View A) const { return A.colBlock(0, fInputSize); }
   template <typename View> View StateCols(View A) const { return A.colBlock(fInputSize, fStateSize); }
   /// The column after them: the constant 1 in fXH, b in fWUb, db in fdWUb.
   template <typename View> View BiasCol(View A) const { return A.colBlock(fInputSize + fStateSize, 1); }
   /// The stacks, sizes and direction as one description (Kernels.h).
   TRecurrence<Scalar_t> Stacks();
   /// The views of step t's rows [first, first + n) that the cell passes read and write.
   TCellStep<Scalar_t> StepViews(size_t t, size_t first, size_t n) { return Stacks().Step(t).Rows(first, n); }
   /// z_t = [x_t | h_{t-1} | 1] fWUbᵀ and [dx_t | dh_{t-1}] = dz_t [W | U], for rows [first, first + n).
   void GemmForward(size_t t, size_t first, size_t n);
   void GemmBackward(size_t t, size_t first, size_t n);
   void CheckShape(const Matrix_t &A, size_t rows, size_t cols, const char *what) const;

   const char *fKind;
   std::vector<std::string> fGateNames;
   std::vector<TGateBlock> fBlocks;
   ECellPass fPass;
   bool fHasCell;
   size_t fBatchSize, fStateSize, fInputSize, fTimeSteps; // B, H, D, T
   bool fRememberState, fReturnSequence;
   EActivationFunction fF1, fF2;
   TDirection fDir;
   size_t fOutStride;
   std::vector<std::string> fParamNames; // W, U, b (+ suffix)

   Matrix_t fW, fU, fB;    // parameters
   Matrix_t fdW, fdU, fdB; // their gradients
   Matrix_t fH0, fC0;      // initial state for the next Forward

   Matrix_t fWUb, fdWUb; // G·H×(D+H+1)  packed at each Forward; their gradients from one GEMM
   Matrix_t fWUbT;       // fWUbᵀ, for a forward GEMM the architecture runs faster with it (else empty)

   Matrix_t fXH;      // ((T+1)·B)×(D+H+1)  block t−1: [x_t | h_{t-1} | 1]; block T: [− | h_T | 1]
   Matrix_t fGates;   // (T·B)×G·H  the cell's values after Forward; dz after Backward
   Matrix_t fC;       // ((T+1)·B)×H  LSTM: c_0 … c_T
   Matrix_t fTau;     // (T·B)×H  LSTM: tanh(c_t) of each step, for the backward
   Matrix_t fDXH;     // ((T+1)·B)×(D+H)  block t−1: [∂L/∂x_t | ∂L/∂h_{t-1} by the GEMM]
   Matrix_t fDY;      // B×H  ∂L/∂h_t from above, gathered (returnSequence)
   Matrix_t fDhCarry; // B×H  ∂L/∂h_t by other paths (GRU's u ⊙ dh, masked steps, ∂L/∂h_T)
   Matrix_t fDcCarry; // B×H  LSTM: BPTT cell carry; ∂L/∂c_0 at the end
   Matrix_t fLengths; // B×1
   std::vector<Scalar_t> fHostLengths;
   bool fHaveLengths = false;
   size_t fMaxLength; // the longest sample of the batch
   bool fGatesHoldForward = false; // Backward consumes the gate values in place

private:
   ConstView_t Lengths(size_t first, size_t n) const
   {
      return fHaveLengths ? fLengths.View().rowBlock(first, n) : ConstView_t{};
   }
   /// Rows [first, first + k) hold every sample of rows [first, first + n) that is inside its
   /// sequence at step t: the GEMMs and cell passes of step t run on those k rows only (all n
   /// without lengths). When the batch is sorted longest first (TBatchLoader does), they are
   /// exactly the samples still running.
   size_t ActiveRows(size_t first, size_t n, size_t t) const
   {
      if (!fHaveLengths)
         return n;
      while (n > 0 && fHostLengths[first + n - 1] <= Scalar_t(t))
         --n;
      return n;
   }
   /// The time loop over the batch rows [first, first + n), step by step (ParallelFor's slices).
   void ForwardSlice(ConstView_t input, View_t output, size_t first, size_t n);
   void BackwardSlice(ConstView_t gradOutput, View_t gradInput, size_t first, size_t n);
   /// Each row's work for ParallelFor's slices: its length (nullptr: all alike).
   const Scalar_t *SliceWork() const { return fHaveLengths ? fHostLengths.data() : nullptr; }
   /// The longest sample among rows [first, first + n): where the slice's time loop stops.
   size_t SliceSteps(size_t first, size_t n) const
   {
      if (!fHaveLengths)
         return fTimeSteps;
      return size_t(*std::max_element(fHostLengths.begin() + first, fHostLengths.begin() + first + n));
   }
   /// Rows [first, first + n) of an output-shaped matrix, from this direction's first column.
   template <typename View> View OutputRows(View A, size_t first, size_t n) const
   {
      return A.rowBlock(first, n).colBlock(fDir.outputOffset, A.cols - fDir.outputOffset);
   }
};

/// Two directions over the same input, their outputs side by side: [h_t forward | h_t reverse]
/// per step (2H), or the two final states (2H) without returnSequence. The reverse direction
/// runs over each sample's own length, as PyTorch's packed bidirectional layers do.
template <typename Architecture_t>
class TBidirectionalLayer : public VGeneralLayer<Architecture_t> {
public:
   using Matrix_t = typename Architecture_t::Matrix_t;
   using View_t = typename Architecture_t::View_t;
   using Layer_t = VRecurrentLayer<Architecture_t>;

   /// forward, reverse: made with TDirection {false, 2H, 0} and {true, 2H, H, true, "_reverse"}.
   TBidirectionalLayer(std::unique_ptr<Layer_t> forward, std::unique_ptr<Layer_t> reverse)
      : fForward(std::move(forward)), fReverse(std::move(reverse))
   {
   }
   void Initialize(EInitialization init, std::mt19937_64 &rng) override
   {
      fForward->Initialize(init, rng);
      fReverse->Initialize(init, rng);
   }
   void SetLengths(const Matrix_t *lengths) override
   {
      fForward->SetLengths(lengths);
      fReverse->SetLengths(lengths);
   }
   void Forward(const Matrix_t &input, Matrix_t &output) override
   {
      fForward->Forward(input, output);
      fReverse->Forward(input, output);
   }
   void Backward(const Matrix_t &gradOutput, Matrix_t &gradInput) override
   {
      fForward->Backward(gradOutput, gradInput);
      fReverse->Backward(gradOutput, gradInput); // adds its ∂L/∂x
   }
   void ResetState() override
   {
      fForward->ResetState();
      fReverse->ResetState();
   }
   size_t GetBatchSize() const override { return fForward->GetBatchSize(); }
   size_t GetInputCols() const override { return fForward->GetInputCols(); }
   size_t GetOutputCols() const override { return fForward->GetOutputCols(); }
   std::string GetLayout() const override { return fForward->GetLayout() + "|BIDIRECTIONAL"; }
   bool RemembersState() const override { return fForward->RemembersState() || fReverse->RemembersState(); }
   std::vector<TParameter<Matrix_t>> GetParameters() override
   {
      auto all = fForward->GetParameters();
      for (auto &p : fReverse->GetParameters())
         all.push_back(p);
      return all;
   }
   std::vector<std::pair<std::string, View_t>> GetNamedWeights() override
   {
      auto all = fForward->GetNamedWeights();
      for (auto &w : fReverse->GetNamedWeights())
         all.push_back(w);
      return all;
   }
   Layer_t &GetForwardLayer() { return *fForward; }
   Layer_t &GetReverseLayer() { return *fReverse; }

private:
   std::unique_ptr<Layer_t> fForward, fReverse;
};

// ---- implementation ---------------------------------------------------------------------------

template <typename Architecture_t>
VRecurrentLayer<Architecture_t>::VRecurrentLayer(const char *kind, std::vector<std::string> gateNames,
                                                 std::vector<TGateBlock> blocks, ECellPass pass, bool hasCell,
                                                 size_t batchSize, size_t stateSize, size_t inputSize,
                                                 size_t timeSteps, bool rememberState, bool returnSequence,
                                                 EActivationFunction f1, EActivationFunction f2, TDirection direction)
   : fKind(kind), fGateNames(std::move(gateNames)), fBlocks(std::move(blocks)), fPass(pass), fHasCell(hasCell),
     fBatchSize(batchSize), fStateSize(stateSize), fInputSize(inputSize), fTimeSteps(timeSteps),
     fRememberState(rememberState), fReturnSequence(returnSequence), fF1(f1), fF2(f2), fDir(std::move(direction)),
     fOutStride(fDir.outputStride ? fDir.outputStride : stateSize), fMaxLength(timeSteps)
{
   const std::string name = std::string("TBasic") + kind + "Layer";
   if (batchSize == 0 || stateSize == 0 || inputSize == 0 || timeSteps == 0)
      throw std::invalid_argument(name + ": batch size, state size, input size and time steps must be > 0, got B=" +
                                  std::to_string(batchSize) + " H=" + std::to_string(stateSize) +
                                  " D=" + std::to_string(inputSize) + " T=" + std::to_string(timeSteps));
   DispatchActivation(f1, [](auto) {}); // throw on an unknown activation code
   DispatchActivation(f2, [](auto) {});
   for (const char *p : {"W", "U", "b"})
      fParamNames.push_back(p + fDir.suffix);
   const size_t B = batchSize, H = stateSize, D = inputSize, T = timeSteps;
   const size_t P = fGateNames.size(), G = fBlocks.size();
   try { // every size product checked: a huge size is an error naming the layer, never a wrap-around
      if (H > size_t(-1) / 8 || D > size_t(-1) / 8 || T > size_t(-1) / 8)
         throw TAllocationError("a size beyond 2^61 overflows the address space");
      const size_t PH = CheckedProduct(P, H), GH = CheckedProduct(G, H), K = D + H + 1;
      const size_t TB = CheckedProduct(T, B), T1B = CheckedProduct(T + 1, B);
      fW = Matrix_t(PH, D), fU = Matrix_t(PH, H), fB = Matrix_t(1, PH);
      fdW = Matrix_t(PH, D), fdU = Matrix_t(PH, H), fdB = Matrix_t(1, PH);
      fH0 = Matrix_t(B, H), fC0 = Matrix_t(hasCell ? B : 0, H);
      fWUb = Matrix_t(GH, K), fdWUb = Matrix_t(GH, K);
      if (Architecture_t::GemmPrefersUntransposedB(B, GH, K))
         fWUbT = Matrix_t(K, GH);
      fXH = Matrix_t(T1B, K), fGates = Matrix_t(TB, GH), fC = Matrix_t(hasCell ? T1B : 0, H);
      fTau = Matrix_t(hasCell ? TB : 0, H);
      fDXH = Matrix_t(T1B, D + H), fDY = Matrix_t(returnSequence ? B : 0, H);
      fDhCarry = Matrix_t(B, H), fDcCarry = Matrix_t(hasCell ? B : 0, H);
      fLengths = Matrix_t(B, 1), fHostLengths.assign(B, Scalar_t(0));
   } catch (const TAllocationError &e) {
      throw TAllocationError(name + " (B=" + std::to_string(B) + " H=" + std::to_string(H) + " D=" +
                             std::to_string(D) + " T=" + std::to_string(T) + "): " + e.what());
   } catch (const std::bad_alloc &) {
      throw TAllocationError(name + " (B=" + std::to_string(B) + " H=" + std::to_string(H) + " D=" +
                             std::to_string(D) + " T=" + std::to_string(T) + "): out of host memory");
   }
   const std::vector<Scalar_t> ones((T + 1) * B, Scalar_t(1));
   Architecture_t::CopyFromHost(BiasCol(fXH.View()), ones.data(), ones.size(), "constant input");
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::Initialize(EInitialization init, std::mt19937_64 &rng)
{
   const size_t H = fStateSize, D = fInputSize;
   // Each gate's block is its own H×D (or H×H) layer: fan-in D (or H), fan-out H.
   Matrix_t block(H, D), stateBlock(H, H);
   for (size_t k = 0; k < fGateNames.size(); ++k) {
      Architecture_t::InitializeWeights(block, init, D, H, rng);
      Architecture_t::Copy(GetWeightsInput(k), block.View());
      Architecture_t::InitializeWeights(stateBlock, init, H, H, rng);
      Architecture_t::Copy(GetWeightsState(k), stateBlock.View());
   }
   Architecture_t::Zero(fB.View());
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::InitState()
{
   Architecture_t::Zero(fH0.View());
   Architecture_t::Zero(fC0.View());
}

template <typename Architecture_t>
std::vector<std::pair<std::string, typename Architecture_t::View_t>> VRecurrentLayer<Architecture_t>::GetNamedWeights()
{
   std::vector<std::pair<std::string, View_t>> named;
   auto add = [&](const char *what, auto getter) {
      for (size_t k = 0; k < fGateNames.size(); ++k)
         named.push_back({what + (fGateNames[k].empty() ? "" : "_" + fGateNames[k]) + fDir.suffix, getter(k)});
   };
   add("W", [this](size_t k) { return GetWeightsInput(k); });
   add("U", [this](size_t k) { return GetWeightsState(k); });
   add("b", [this](size_t k) { return GetBiases(k); });
   return named;
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::CheckShape(const Matrix_t &A, size_t rows, size_t cols, const char *what) const
{
   if (A.GetNrows() != rows || A.GetNcols() != cols)
      throw std::invalid_argument(std::string("TBasic") + fKind + "Layer: " + what + " must be " + std::to_string(rows) +
                                  "x" + std::to_string(cols) + ", got " + std::to_string(A.GetNrows()) + "x" +
                                  std::to_string(A.GetNcols()));
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::SetLengths(const Matrix_t *lengths)
{
   fHaveLengths = false, fMaxLength = fTimeSteps;
   if (!lengths)
      return;
   CheckShape(*lengths, fBatchSize, 1, "lengths (B x 1)");
   Architecture_t::CopyToHost(fHostLengths.data(), fHostLengths.size(), lengths->View());
   for (size_t r = 0; r < fBatchSize; ++r) {
      const Scalar_t len = fHostLengths[r];
      if (!(len >= 0 && len <= Scalar_t(fTimeSteps) && len == std::floor(len)))
         throw std::invalid_argument(std::string("TBasic") + fKind + "Layer: the length of sample " +
                                     std::to_string(r) + " is " + std::to_string(len) +
                                     "; lengths must be whole numbers from 0 to T = " + std::to_string(fTimeSteps));
   }
   Architecture_t::Copy(fLengths.View(), lengths->View());
   fHaveLengths = true;
   fMaxLength = size_t(*std::max_element(fHostLengths.begin(), fHostLengths.end()));
}

template <typename Architecture_t>
TRecurrence<typename Architecture_t::Scalar_t> VRecurrentLayer<Architecture_t>::Stacks()
{
   const View_t C = fHasCell ? fC.View() : View_t{}, Tau = fHasCell ? fTau.View() : View_t{};
   const View_t dcCarry = fHasCell ? fDcCarry.View() : View_t{};
   return {fBatchSize,      fTimeSteps,  fInputSize,    fStateSize,             fBlocks.size(),
           fWUb.View(),     fXH.View(),  fGates.View(), C,                      Tau,
           fDXH.View(),     fDhCarry.View(), dcCarry,   Lengths(0, fBatchSize), fDir.reverse,
           fOutStride,      fReturnSequence, fDir.addInputGradient};
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::GemmForward(size_t t, size_t first, size_t n)
{
   // z_t = x_t Wᵀ + h_{t-1} Uᵀ + b = [x_t | h_{t-1} | 1] fWUbᵀ: every gate in one GEMM.
   if (fWUbT.GetNoElements() > 0)
      Architecture_t::Gemm(Block(fGates, t, first, n), Block(fXH, t, first, n), false, fWUbT.View(), false);
   else
      Architecture_t::Gemm(Block(fGates, t, first, n), Block(fXH, t, first, n), false, fWUb.View(), true);
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::GemmBackward(size_t t, size_t first, size_t n)
{
   // [dx_t | dh_{t-1}] = dz_t [W | U]: the only GEMM inside the loop; dh_{t-1} is step t−1's dhNext.
   Architecture_t::Gemm(Block(fDXH, t, first, n), Block(fGates, t, first, n), false,
                        fWUb.View().colBlock(0, fInputSize + fStateSize), false);
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::CellForward(size_t t, size_t first, size_t n)
{
   GemmForward(t, first, n);
   Architecture_t::CellForward(fPass, fF1, fF2, StepViews(t, first, n), t);
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::CellBackward(size_t t, ConstView_t dY_t, size_t first, size_t n)
{
   TCellStep<Scalar_t> s = StepViews(t, first, n);
   s.dY = dY_t;
   Architecture_t::CellBackward(fPass, fF1, fF2, s, t);
   GemmBackward(t, first, n);
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::Forward(const Matrix_t &input, Matrix_t &output)
{
   const size_t B = fBatchSize, H = fStateSize, T = fTimeSteps;
   CheckShape(input, B, GetInputCols(), "input (B x T*D)");
   CheckShape(output, B, GetOutputCols(), "output");
   // The parameters are W, U, b (what optimizers and model files see); the GEMMs want them side
   // by side. Packing costs O(parameters), nothing against a step's O(T·B·parameters).
   TBlockCopies<Scalar_t> pack;
   for (size_t k = 0; k < fBlocks.size(); ++k) {
      const View_t rows = fWUb.View().rowBlock(k * H, H);
      const TGateBlock &g = fBlocks[k];
      if (g.w >= 0)
         pack.Add(InputCols(rows), GetWeightsInput(g.w));
      if (g.u >= 0)
         pack.Add(StateCols(rows), GetWeightsState(g.u));
      if (g.b >= 0)
         pack.Add(BiasCol(rows), GetBiases(g.b));
   }
   pack.Add(StateCols(Block(fXH, 0)), fH0.View());
   if (fHasCell)
      pack.Add(Block(fC, 0), fC0.View());
   Architecture_t::CopyBlocks(pack);
   if (fWUbT.GetNoElements() > 0)
      Architecture_t::Transpose(fWUbT.View(), fWUb.View());
   const ConstView_t x = input.View();
   const View_t y = output.View();
   if (!(OneGemmStep() && Architecture_t::RecurrenceForward(fPass, fF1, fF2, Stacks(), x, OutputRows(y, 0, B))))
      Architecture_t::ParallelFor(B, [&](size_t first, size_t n) { ForwardSlice(x, y, first, n); }, SliceWork());
   if (!fReturnSequence)
      Architecture_t::Copy(output.View().colBlock(fDir.outputOffset, H), GetState());
   if (fRememberState) { // the next batch starts where this one ended
      Architecture_t::Copy(fH0.View(), GetState());
      if (fHasCell)
         Architecture_t::Copy(fC0.View(), Block(fC, T));
   }
   fGatesHoldForward = true;
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::ForwardSlice(ConstView_t input, View_t output, size_t first, size_t n)
{
   const size_t D = fInputSize, T = fTimeSteps;
   const ConstView_t len = Lengths(first, n);
   const size_t steps = SliceSteps(first, n);
   const View_t out = OutputRows(output, first, n);
   for (size_t t = 0; t < T; ++t) {
      if (t < steps) {
         Architecture_t::GatherStep(InputCols(Block(fXH, t, first, n)), input.rowBlock(first, n), t, D, T, len,
                                    fDir.reverse);
         const size_t active = ActiveRows(first, n, t);
         if (active > 0)
            CellForward(t, first, active);
         if (active < n) { // past every length: the state is held
            const size_t rest = first + active, m = n - active;
            Architecture_t::Copy(StateCols(Block(fXH, t + 1, rest, m)), StateCols(Block(fXH, t, rest, m)));
            if (fHasCell)
               Architecture_t::Copy(Block(fC, t + 1, rest, m), Block(fC, t, rest, m));
            SkipRows(t, rest, m);
         }
      } else if (t < fMaxLength) { // past the slice's lengths, not the batch's: the weight-gradient
                                   // GEMM reads these rows (times dz = 0), so zeros, never an
                                   // earlier batch's values (inf·0)
         Architecture_t::Zero(InputCols(Block(fXH, t, first, n)));
         Architecture_t::Zero(StateCols(Block(fXH, t + 1, first, n)));
         SkipRows(t, first, n);
      }
      if (fReturnSequence) // past every length of the slice this only writes the zeros
         Architecture_t::ScatterStep(out, StateCols(Block(fXH, t + 1, first, n)), t, fOutStride, T, len,
                                     fDir.reverse, false);
   }
   if (steps < T) { // the final state is where the slice's longest sample ended
      Architecture_t::Copy(StateCols(Block(fXH, T, first, n)), StateCols(Block(fXH, steps, first, n)));
      if (fHasCell)
         Architecture_t::Copy(Block(fC, T, first, n), Block(fC, steps, first, n));
   }
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::Backward(const Matrix_t &gradOutput, Matrix_t &gradInput, const Matrix_t *dhT,
                                               const Matrix_t *dcT)
{
   const size_t B = fBatchSize, H = fStateSize;
   if (!fGatesHoldForward)
      throw std::logic_error(std::string("TBasic") + fKind +
                             "Layer::Backward: needs a Forward first (each Forward allows one Backward)");
   CheckShape(gradOutput, B, GetOutputCols(), "output gradient");
   CheckShape(gradInput, B, GetInputCols(), "input gradient (B x T*D)");
   if (dhT)
      CheckShape(*dhT, B, H, "dL/dh_T");
   if (dcT && !fHasCell)
      throw std::invalid_argument(std::string("TBasic") + fKind +
                                  "Layer::Backward: this cell has no cell state c, so no dL/dc_T");
   if (dcT)
      CheckShape(*dcT, B, H, "dL/dc_T");
   // ∂L/∂h_T reaches each sample's last step through the carry: from an exposed final state,
   // and from the output when that is h_T alone. ∂L/∂c_T likewise.
   dhT ? Architecture_t::Copy(fDhCarry.View(), dhT->View()) : Architecture_t::Zero(fDhCarry.View());
   if (!fReturnSequence)
      Architecture_t::Add(fDhCarry.View(), gradOutput.View().colBlock(fDir.outputOffset, H));
   if (fHasCell)
      dcT ? Architecture_t::Copy(fDcCarry.View(), dcT->View()) : Architecture_t::Zero(fDcCarry.View());
   fGatesHoldForward = false;
   const ConstView_t dy = gradOutput.View();
   const View_t dx = gradInput.View();
   if (!(OneGemmStep() && Architecture_t::RecurrenceBackward(fPass, fF1, fF2, Stacks(), OutputRows(dy, 0, B), dx)))
      Architecture_t::ParallelFor(B, [&](size_t first, size_t n) { BackwardSlice(dy, dx, first, n); }, SliceWork());
   WeightGradients(fMaxLength * B);
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::BackwardSlice(ConstView_t gradOutput, View_t gradInput, size_t first, size_t n)
{
   const size_t D = fInputSize, T = fTimeSteps;
   const ConstView_t len = Lengths(first, n);
   const size_t steps = SliceSteps(first, n);
   const ConstView_t dOut = OutputRows(gradOutput, first, n);
   const View_t dIn = gradInput.rowBlock(first, n);
   for (size_t t = T; t-- > steps;) { // past every length of the slice: dz = 0, dx = 0
      Architecture_t::Zero(Block(fGates, t, first, n));
      Architecture_t::ScatterStep(dIn, InputCols(Block(fDXH, t, first, n)), t, D, T, len, fDir.reverse,
                                  fDir.addInputGradient);
   }
   Architecture_t::Zero(StateCols(Block(fDXH, steps, first, n)));
   for (size_t t = steps; t-- > 0;) {
      const size_t active = ActiveRows(first, n, t);
      ConstView_t dY_t;
      if (fReturnSequence && !len.data && !fDir.reverse) { // step t of every row: read in place
         dY_t = dOut.colBlock(t * fOutStride, fStateSize).rowBlock(0, active);
      } else if (fReturnSequence) {
         const View_t dY = fDY.View().rowBlock(first, n);
         Architecture_t::GatherStep(dY, dOut, t, fOutStride, T, len, fDir.reverse);
         dY_t = dY.rowBlock(0, active);
      }
      if (active > 0)
         CellBackward(t, dY_t, first, active);
      if (active < n) { // past every length: dz = 0, ∂L/∂h_t passes to h_{t-1}, and no GEMM ran
         const size_t rest = first + active, m = n - active;
         Architecture_t::Zero(Block(fGates, t, rest, m));
         Architecture_t::Add(fDhCarry.View().rowBlock(rest, m), StateCols(Block(fDXH, t + 1, rest, m)));
         Architecture_t::Zero(StateCols(Block(fDXH, t, rest, m)));
      }
      Architecture_t::ScatterStep(dIn, InputCols(Block(fDXH, t, first, n)), t, D, T, len, fDir.reverse,
                                  fDir.addInputGradient);
   }
   // ∂L/∂h_0: through the GEMM of step 1, and by the carry.
   Architecture_t::Add(StateCols(Block(fDXH, 0, first, n)), fDhCarry.View().rowBlock(first, n));
}

template <typename Architecture_t>
void VRecurrentLayer<Architecture_t>::WeightGradients(size_t rows)
{
   // [dW | dU | db] = DZᵀ [X | H_prev | 1] over every step at once (fGates now holds DZ); steps
   // past the longest sample hold no gradient.
   if (rows == 0)
      Architecture_t::Zero(fdWUb.View());
   else
      Architecture_t::Gemm(fdWUb.View(), fGates.View().rowBlock(0, rows), true, fXH.View().rowBlock(0, rows), false);
   const size_t H = fStateSize;
   TBlockCopies<Scalar_t> unpack;
   for (size_t k = 0; k < fBlocks.size(); ++k) {
      const View_t rowsK = fdWUb.View().rowBlock(k * H, H);
      const TGateBlock &g = fBlocks[k];
      if (g.w >= 0)
         unpack.Add(fdW.View().rowBlock(g.w * H, H), InputCols(rowsK));
      if (g.u >= 0)
         unpack.Add(fdU.View().rowBlock(g.u * H, H), StateCols(rowsK));
      if (g.b >= 0)
         unpack.Add(View_t{fdB.View().data + g.b * H, 1, H}, BiasCol(rowsK));
   }
   Architecture_t::CopyBlocks(unpack);
}

} // namespace tmva_lstm
