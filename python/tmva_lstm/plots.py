"""PNG pictures with ROOT (batch mode): loss curves and the ROC curve."""

import array

from ._cpp import ROOT, root_messages_from
from ._io import replacing


def _save(canvas, path):
    with root_messages_from(ROOT.kWarning), replacing(str(path)) as tmp:  # its "Info: ... created" names tmp
        canvas.SaveAs(tmp)
    canvas.Close()


def loss_curves(history, path):
    """Training and validation loss per epoch."""
    ROOT.gROOT.SetBatch(True)
    epochs = array.array("d", range(1, len(history) + 1))
    train = ROOT.TGraph(len(epochs), epochs, array.array("d", [h["train_loss"] for h in history]))
    tested = [(e, h["valid_loss"]) for e, h in zip(epochs, history) if h["valid_loss"] is not None]  # TestRepetitions
    valid = ROOT.TGraph(len(tested), array.array("d", [e for e, _ in tested]), array.array("d", [v for _, v in tested]))
    canvas = ROOT.TCanvas("loss", "loss", 800, 600)
    frame = ROOT.TMultiGraph("losses", "Loss per epoch;epoch;loss")
    for graph, colour, label in ((train, ROOT.kBlue, "training"), (valid, ROOT.kRed, "validation")):
        graph.SetLineColor(colour), graph.SetMarkerColor(colour), graph.SetMarkerStyle(20), graph.SetTitle(label)
        frame.Add(graph, "LP")
    frame.Draw("A")
    canvas.BuildLegend(0.6, 0.7, 0.88, 0.88)
    _save(canvas, path)


def roc(curves, path):
    """Background rejection (1 − FPR) against signal efficiency (TPR), as TMVA draws it, one line
    per entry of curves = {name: (fpr, tpr, auc)}, overlaid."""
    ROOT.gROOT.SetBatch(True)
    canvas = ROOT.TCanvas("roc", "roc", 800, 600)
    frame = ROOT.TMultiGraph("rocs", "ROC curve;signal efficiency;background rejection")
    colours = (ROOT.kBlue, ROOT.kRed, ROOT.kGreen + 2, ROOT.kMagenta, ROOT.kOrange + 1)
    for k, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        graph = ROOT.TGraph(len(tpr), array.array("d", tpr), array.array("d", 1 - fpr))
        graph.SetTitle(f"{name} (AUC = {auc:.4f})")
        graph.SetLineColor(colours[k % len(colours)]), graph.SetLineWidth(2)
        frame.Add(graph, "L")
    frame.Draw("A")
    canvas.BuildLegend(0.15, 0.15, 0.55, 0.15 + 0.07 * len(curves))
    _save(canvas, path)
