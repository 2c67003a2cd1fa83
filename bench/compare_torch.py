"""Train the tutorial network with tmva-lstm and with PyTorch on the identical split, from the
identical initial weights, and print both test ROC AUCs (and training times).

    python bench/compare_torch.py [--file data/time_data_t10_d30.root] [--seed 1] [--threads 2]
                                  [--dtype float32|float64]

Needs torch (pip install '.[torch]'). Both sides: the same dtype (float32 by default), Adam (lr 1e-3, ε 1e-8), batch 100,
BCE on logits, at most 20 epochs, early stopping after 10 without a better validation loss with
the best weights restored, and the very same minibatches in the same order (tmva_lstm's
TEpochShuffler): the two runs differ only by floating-point rounding.
"""

import argparse
import copy
import os
import time

import numpy as np
import torch

from tmva_lstm import Net, _cpp, data, metrics
from tmva_lstm.workflow import TUTORIAL_OPTIONS, load_splits


class TorchTutorialNet(torch.nn.Module):
    """LSTM|10|30|10|0|1, RESHAPE|FLAT, DENSE|64|TANH, LINEAR."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(30, 10, batch_first=True)
        self.dense = torch.nn.Linear(100, 64)
        self.out = torch.nn.Linear(64, 1)

    def forward(self, x):
        hs, _ = self.lstm(x)
        return self.out(torch.tanh(self.dense(hs.flatten(1))))

    def copy_from(self, net):
        """Take tmva-lstm's weights: W → weight_ih, U → weight_hh, b → bias_ih. bias_hh is held at
        zero: trained too, it would double the bias's Adam step, a different network from ours."""
        p = {k: torch.from_numpy(v) for k, v in net.parameters.items()}
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(p["layer0_LSTM/W"]), self.lstm.weight_hh_l0.copy_(p["layer0_LSTM/U"])
            self.lstm.bias_ih_l0.copy_(p["layer0_LSTM/b"][0]), self.lstm.bias_hh_l0.zero_()
            self.dense.weight.copy_(p["layer2_DENSE/W"]), self.dense.bias.copy_(p["layer2_DENSE/b"][0])
            self.out.weight.copy_(p["layer3_DENSE/W"]), self.out.bias.copy_(p["layer3_DENSE/b"][0])
        self.lstm.bias_hh_l0.requires_grad_(False)


def train_torch(model, splits, seed, epochs=20, patience=10, batch=100, lr=1e-3):
    (x, y, w), (xv, yv, wv) = splits["train"], splits["valid"]
    x, y, w = torch.from_numpy(x), torch.from_numpy(y)[:, None], torch.from_numpy(w)[:, None]
    xv, yv, wv = torch.from_numpy(xv), torch.from_numpy(yv)[:, None], torch.from_numpy(wv)[:, None]
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    loss = lambda xb, yb, wb: (bce(model(xb), yb) * wb).sum() / wb.sum()  # noqa: E731 (weighted mean, as ours)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, eps=1e-8)
    shuffler = _cpp.ns.TEpochShuffler(len(y), seed)  # the minibatch order tmva-lstm's Train uses
    with torch.no_grad():
        best, best_state, since = loss(xv, yv, wv).item(), copy.deepcopy(model.state_dict()), 0
    for epoch in range(epochs):
        order = torch.from_numpy(np.array(shuffler.Next(), dtype=np.int64))
        for first in range(0, len(y), batch):
            idx = order[first:first + batch]
            optimizer.zero_grad()
            loss(x[idx], y[idx], w[idx]).backward()
            optimizer.step()
        with torch.no_grad():
            valid = loss(xv, yv, wv).item()
        if valid < best:
            best, best_state, since = valid, copy.deepcopy(model.state_dict()), 0
        else:
            since += 1
        if since >= patience:
            break
    model.load_state_dict(best_state)
    return epoch + 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default="data/time_data_t10_d30.root")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="float64 shows that the two trainings agree to rounding, not only in AUC")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = np.dtype(args.dtype)
    torch.set_default_dtype(getattr(torch, args.dtype))
    if not os.path.exists(args.file):
        data.make_tutorial_data(args.file, 2000, 2000, seed=1)

    ours = Net(TUTORIAL_OPTIONS, dtype=dtype)
    splits = load_splits(args.file, data.Description.tutorial(), seed=args.seed,
                         valid_fraction=ours.spec.validationFraction)
    splits = {name: tuple(a.astype(dtype) for a in arrays) for name, arrays in splits.items()}
    model = TorchTutorialNet()
    model.copy_from(ours)  # identical initial weights

    (x, y, w), (xv, yv, wv) = splits["train"], splits["valid"]
    start = time.perf_counter()
    ours.fit(x, y, w, x_valid=xv, y_valid=yv, w_valid=wv, seed=args.seed, verbose=False)
    ours_seconds = time.perf_counter() - start
    start = time.perf_counter()
    torch_epochs = train_torch(model, splits, args.seed)
    torch_seconds = time.perf_counter() - start

    xt, yt, wt = splits["test"]
    ours_auc = metrics.roc_auc(yt, ours.predict(xt)[:, 0], wt)
    with torch.no_grad():
        torch_auc = metrics.roc_auc(yt, torch.sigmoid(model(torch.from_numpy(xt)))[:, 0].numpy(), wt)
    print(f"data {args.file}: {len(splits['train'][1])} train / {len(yv)} valid / {len(yt)} test, seed {args.seed}, "
          f"{args.dtype}")
    print(f"{'':<10} {'ROC AUC':>8} {'epochs':>7} {'train s':>8}")
    print(f"{'tmva-lstm':<10} {ours_auc:>8.4f} {len(ours.history):>7} {ours_seconds:>8.2f}")
    print(f"{'torch':<10} {torch_auc:>8.4f} {torch_epochs:>7} {torch_seconds:>8.2f}")
    print(f"AUC difference (ours - torch): {ours_auc - torch_auc:+.2e}; "
          f"training time ratio ours/torch: {ours_seconds / torch_seconds:.2f} (torch {torch.__version__}, "
          f"{args.threads} threads)")


if __name__ == "__main__":
    main()
