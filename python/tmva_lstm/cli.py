"""The tmva-lstm command: gradcheck, demo, train, evaluate, export, bench."""

import argparse
import itertools
import os
import string
import sys

DEFAULT_SHAPES = ["1,1,1,1", "4,3,5,7", "16,10,30,10", "2,8,4,200"]


def _shape(text):
    try:
        B, H, D, T = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must be B,H,D,T (four integers), got {text!r}") from None
    return B, H, D, T


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def gradcheck(args):
    from .gradcheck import TOLERANCE, compare, quantities

    tolerance = args.tolerance if args.tolerance is not None else TOLERANCE[args.dtype]
    ctype = "float" if args.dtype == "float32" else "double"
    worst = 0.0
    for cell in args.cell:
        name = {"lstm": "TBasicLSTMLayer", "gru": "TBasicGRULayer", "rnn": "TBasicRNNLayer"}[cell]
        print(f"tmva-lstm gradcheck: C++ {name}<TCpu<{ctype}>> vs NumPy oracle, max relative error "
              f"(tolerance {tolerance:g}); seq: returnSequence, rem: rememberState, len: random lengths, "
              f"bi: bidirectional" + (", after: resetGateAfter" if cell == "gru" else ""))
        for bidirectional in (False, True):
            qs = quantities(cell, bidirectional)
            print(f"{'B,H,D,T':>14} {'seq':>3} {'rem':>3} {'len':>3} {'bi':>3} {'after':>5} "
                  + " ".join(f"{q:>8}" for q in qs))
            for B, H, D, T in args.shapes:
                for sequence, remember, lengths, after in itertools.product(
                        (False, True), (False, True), (False, True), (False, True) if cell == "gru" else (False,)):
                    if bidirectional and remember:
                        continue
                    errors = compare(B, H, D, T, cell=cell, dtype=args.dtype, return_sequence=sequence,
                                     remember_state=remember, lengths=lengths, bidirectional=bidirectional,
                                     reset_gate_after=after, seed=args.seed)
                    worst = max(worst, *errors.values())
                    flags = (sequence, remember, lengths, bidirectional)
                    print(f"{f'{B},{H},{D},{T}':>14} " + " ".join(f"{int(v):>3}" for v in flags) +
                          f" {int(after):>5} " + " ".join(f"{errors[q]:8.1e}" for q in qs))
    ok = worst <= tolerance
    print(f"worst {worst:.2e}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def _step_branches(pattern, time_steps):
    """The per-step branch names from a pattern holding {t} (and no other field)."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as e:
        raise SystemExit(f"tmva-lstm: --step-branches '{pattern}': {e}") from None
    if fields != {"t"}:
        raise SystemExit(f"tmva-lstm: --step-branches must name each step's branch with {{t}}, the step number "
                         f"(e.g. vars_time{{t}}); '{pattern}' has " +
                         (f"the field(s) {', '.join('{' + f + '}' for f in sorted(fields))}" if fields else "no {t}"))
    return [pattern.format(t=t) for t in range(time_steps)]


def _description(args):
    from .data import Description

    labels = [] if args.label_branch else [float(v) for v in args.tree_labels]
    if not args.label_branch and len(labels) != len(args.trees):
        raise SystemExit(f"tmva-lstm: --tree-labels needs one class per tree ({len(args.trees)} trees)")
    common = dict(tree_labels=labels, label_branch=args.label_branch or "", weight_branch=args.weight_branch or "")
    if args.object_branches:
        if args.array_branch:
            raise SystemExit("tmva-lstm: give --object-branches or --array-branch, not both")
        return Description.objects(args.trees, args.object_branches, args.max_length, sort_by=args.sort_by or "",
                                   sort_abs=args.sort_abs, sort_descending=not args.sort_ascending, **common)
    if args.sort_by or args.sort_abs or args.sort_ascending:
        raise SystemExit("tmva-lstm: --sort-by, --sort-abs and --sort-ascending need --object-branches")
    steps = [] if args.array_branch else _step_branches(args.step_branches, args.time_steps)
    return Description(trees=args.trees, time_steps=args.time_steps, input_size=args.input_size,
                       step_branches=steps, array_branch=args.array_branch or "", **common)


def _data_options(p, file_required=True):
    p.add_argument("--file", action="append", required=file_required, metavar="FILE[:TREE]",
                   help="ROOT file with the samples; repeat it, or give a glob ('data/*.root'); "
                        "FILE:TREE reads only that tree from FILE")
    p.add_argument("--trees", nargs="+", default=["sgn", "bkg"], help="tree names, dir/tree in folders "
                   "(default: sgn bkg)")
    p.add_argument("--tree-labels", nargs="+", default=["1", "0"], help="class of each tree (default: 1 0)")
    p.add_argument("--label-branch", help="take the class from this branch instead of the tree")
    p.add_argument("--weight-branch", help="per-entry weights")
    p.add_argument("--step-branches", default="vars_time{t}",
                   help="per-step branch names, {t} = step (default: vars_time{t})")
    p.add_argument("--array-branch", help="one branch of T*D values instead of per-step branches")
    p.add_argument("--time-steps", type=int, default=10)
    p.add_argument("--input-size", type=int, default=30)
    g = p.add_argument_group("jagged object collections (e.g. the tracks of a jet)")
    g.add_argument("--object-branches", nargs="+", metavar="BRANCH",
                   help="one branch per object feature (std::vector or x[n]), the same count per entry; "
                        "the samples get lengths")
    g.add_argument("--sort-by", metavar="BRANCH", help="order the objects by this per-object branch")
    g.add_argument("--sort-abs", action="store_true", help="... by its absolute value")
    g.add_argument("--sort-ascending", action="store_true", help="... smallest first (default: largest first)")
    g.add_argument("--max-length", type=_int_at_least(1), default=15,
                   help="keep the first N objects after sorting, pad to N (default: 15)")
    p.add_argument("--reader", choices=["root", "uproot"], default="root")
    p.add_argument("--safe-read", action="store_true",
                   help="read the files in a child process: a file that crashes ROOT's reader gives an error "
                        "(the samples are copied back once; not with --stream)")
    p.add_argument("--seed", type=int, default=1, help="split, shuffling (default: 1)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")


def _run_training(args, options, files, description=None):
    from .data import expand
    from .workflow import format_metrics, train

    comm = None
    if getattr(args, "distributed", None) == "mpi":
        from .distributed import mpi

        comm = mpi()
    say = print if comm is None or comm.Rank() == 0 else (lambda *_: None)  # rank 0 speaks for all
    say(f"tmva-lstm: training on {' '.join(expand(files))}\n  booking: {options}"
        + (f"\n  data-parallel over {comm.Size()} MPI processes" if comm else ""))
    stream = dict(stream=args.stream, buffer_size=args.buffer_size, chunk_entries=args.chunk_entries) \
        if hasattr(args, "stream") else {}
    try:
        net, results, seconds = train(files, description or _description(args), options, out_dir=args.out,
                                      reader=args.reader, seed=args.seed, dtype=args.dtype, distributed=comm,
                                      safe_read=args.safe_read, **stream)
    except (ValueError, TypeError, OSError, RuntimeError, MemoryError) as e:
        if comm is None:
            raise
        from .distributed import abort

        abort(comm, f"tmva-lstm train: error on MPI rank {comm.Rank()}: {e}")  # the others must not wait
    if results is None:  # not rank 0
        return 0
    print(f"  network: {net.layout}  ({len(net.history)} epochs, {seconds:.1f} s)")
    print(format_metrics(results))
    print(f"wrote {os.path.join(args.out, 'model.root')}, loss.png, roc.png, metrics.json")
    return 0


def _made_if_absent(files, default, make, what):
    """The demo's files: `default` unless --file was given; one plain path that does not exist yet
    is written by make(path)."""
    import glob

    files = files or [default]
    if len(files) == 1 and not glob.has_magic(files[0]) and ":" not in files[0] and not os.path.exists(files[0]):
        print(f"tmva-lstm: making {what} {files[0]}")
        make(files[0])
    return files


def demo(args):
    from .data import Description, make_track_data, make_tutorial_data
    from .workflow import DEFAULT_DATA, TRACKS_DATA, TRACKS_OPTIONS, TUTORIAL_OPTIONS, compare, format_comparison

    if args.task == "tracks":
        if args.compare:
            raise SystemExit("tmva-lstm demo: --compare is for --task tutorial")
        files = _made_if_absent(args.file, TRACKS_DATA, lambda p: make_track_data(p, 5000, 5000, seed=args.seed),
                                f"the b-jet toy (5000 b-jets + 5000 light jets, seed {args.seed})")
        description = Description.tracks(args.max_length)
        options = TRACKS_OPTIONS.replace("InputLayout=15|", f"InputLayout={args.max_length}|").replace(
            "LSTM|16|5|15|", f"LSTM|16|5|{args.max_length}|")
        return _run_training(args, options, files, description)
    files = _made_if_absent(args.file, DEFAULT_DATA, lambda p: make_tutorial_data(p, 2000, 2000, seed=args.seed),
                            f"the tutorial data set (2000 signal + 2000 background, seed {args.seed})")
    if not args.compare:
        return _run_training(args, TUTORIAL_OPTIONS, files)
    print(f"tmva-lstm: the TMVA RNN tutorial's RNN, LSTM and GRU networks on {' '.join(files)}")
    results = compare(files, _description(args), out_dir=args.out, reader=args.reader, seed=args.seed,
                      dtype=args.dtype, safe_read=args.safe_read)
    print("test split:")
    print(format_comparison(results))
    print(f"wrote {os.path.join(args.out, 'roc_compare.png')}, metrics_compare.json, model_<cell>.root")
    return 0


def train_command(args):
    return _run_training(args, args.options, args.file)


def evaluate_command(args):
    from .net import Net
    from .workflow import evaluate, format_metrics, load_splits

    net = Net.load(args.model, dtype=args.dtype)
    parts = load_splits(args.file, _description(args), reader=args.reader, seed=args.seed,  # that part alone
                        valid_fraction=net.spec.validationFraction, dtype=args.dtype, parts=[args.split],
                        safe_read=args.safe_read)
    print(f"tmva-lstm: {args.model} ({net.layout}) on {' '.join(args.file)}")
    print(format_metrics({name: evaluate(net, samples, name) for name, samples in parts.items()}))
    return 0


def export_command(args):
    from .net import Net

    net = Net.load(args.model)
    net.export_onnx(args.onnx, lengths=args.lengths)
    inputs = "x (batch, T, D)" + (", sequence_lens (batch,)" if args.lengths else "")
    print(f"wrote {args.onnx}: {net.layout}; inputs {inputs}; output y (batch, {net.n_outputs})")
    return 0


def apply_command(args):
    from .workflow import apply

    if args.reader != "root" or args.safe_read:
        raise ValueError("apply streams with the ROOT reader, in this process (no --reader uproot, no --safe-read)")
    client = None
    if args.dask_workers or args.dask_scheduler:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ImportError("--dask-workers/--dask-scheduler need dask.distributed: pip install dask distributed") \
                from None
        cluster = None if args.dask_scheduler else LocalCluster(n_workers=args.dask_workers, threads_per_worker=1,
                                                                 processes=True)
        client = Client(args.dask_scheduler or cluster)
    files = [os.path.abspath(f) if ":" not in f else f for f in args.file]  # workers have their own directory
    try:
        counts = apply(os.path.abspath(args.model), files, _description(args), args.out,
                       chunk_entries=args.chunk_entries, dtype=args.dtype, client=client)
    finally:
        if client is not None:
            client.close()
            if cluster is not None:
                cluster.close()
    trees = ", ".join(f"{tree} ({n} entries)" for tree, n in counts.items())
    print(f"wrote {args.out}: branch score per entry of {trees}; add it as a friend of the input trees")
    return 0


def bench_command(args):
    import json

    from . import bench

    print(f"tmva-lstm bench: one training step (layer forward + backward of a summed loss), {args.threads} threads, "
          f"median of >= {args.reps}, {args.rounds} alternating rounds" +
          ("" if bench.have_torch() else "; torch not installed, no comparison"))
    print(bench.HEADER)
    result = bench.run(args.configs, args.dtypes, args.threads, args.reps, args.rounds, cells=args.cells)
    print("GEMM ceiling (2048^3 through TCpu::Gemm, best of 10): " +
          ", ".join(f"{d} {g:.0f} GFLOP/s" for d, g in result["info"]["gemm_ceiling_gflops"].items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.json}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tmva-lstm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("gradcheck", help="compare the C++ recurrent layers with the NumPy oracle")
    p.add_argument("--cell", nargs="+", choices=["lstm", "gru", "rnn"], default=["lstm", "gru", "rnn"],
                   help="which cells (default: all three)")
    p.add_argument("--shapes", nargs="+", type=_shape, default=[_shape(s) for s in DEFAULT_SHAPES],
                   metavar="B,H,D,T", help=f"layer shapes (default: {' '.join(DEFAULT_SHAPES)})")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tolerance", type=float, help="default: 1e-10 for float64, 1e-4 for float32")
    p.set_defaults(run=gradcheck)

    from .workflow import TUTORIAL_OPTIONS

    p = commands.add_parser("demo", help="the TMVA RNN tutorial (or the b-jet tracks): make data if absent, train, "
                            "evaluate, save")
    _data_options(p, file_required=False)
    p.add_argument("--task", choices=["tutorial", "tracks"], default="tutorial",
                   help="tutorial: TMVA's RNN tutorial on data/time_data_t10_d30.root; tracks: an LSTM over the "
                        "tracks of b-jets and light jets (data/tracks.root), sorted by |d0 significance|, "
                        "with lengths (default: tutorial)")
    p.add_argument("--out", default="out", help="model, plots and metrics go here (default: out)")
    p.add_argument("--compare", action="store_true",
                   help="train the tutorial's RNN, LSTM and GRU networks; one ROC plot and a table of AUCs")
    p.set_defaults(run=demo)

    p = commands.add_parser("train", help="train a booked network on a ROOT file")
    _data_options(p)
    p.add_argument("--options", default=TUTORIAL_OPTIONS, help="TMVA booking options (default: the tutorial's)")
    p.add_argument("--stream", action="store_true",
                   help="read the files chunk by chunk every epoch (ROOT reader): memory follows --buffer-size, "
                        "not the data")
    p.add_argument("--buffer-size", type=_int_at_least(1), default=100_000,
                   help="--stream: samples in the shuffle buffer (default: 100000)")
    p.add_argument("--chunk-entries", type=_int_at_least(1), default=10_000,
                   help="--stream: entries read at a time (default: 10000)")
    p.add_argument("--distributed", choices=["mpi"],
                   help="data-parallel over the processes of mpiexec -n K (or srun): each trains on its share "
                        "of the samples, B/K rows of each batch; rank 0 writes and prints (needs mpi4py)")
    p.add_argument("--out", default="out", help="model, plots and metrics go here (default: out)")
    p.set_defaults(run=train_command)

    p = commands.add_parser("evaluate", help="evaluate a saved model on a ROOT file")
    _data_options(p)
    p.add_argument("--model", required=True, help="model file written by train/demo")
    p.add_argument("--split", choices=["test", "valid", "train", "all"], default="test",
                   help="which split of the file (same --seed as training), or all of it (default: test)")
    p.set_defaults(run=evaluate_command)

    p = commands.add_parser("export", help="write a saved model as an ONNX file (ONNX Runtime, SOFIE)")
    p.add_argument("--model", required=True, help="model file written by train/demo")
    p.add_argument("--onnx", required=True, help="the ONNX file to write")
    p.add_argument("--lengths", action="store_true",
                   help="a second input sequence_lens (batch,) int32: each sample's steps, as predict's lengths")
    p.set_defaults(run=export_command)

    p = commands.add_parser("apply", help="score every entry of ROOT files; write a tree of scores per input tree")
    _data_options(p)
    p.add_argument("--model", required=True, help="model file written by train/demo")
    p.add_argument("--out", required=True, help="the ROOT file of score trees to write")
    p.add_argument("--chunk-entries", type=_int_at_least(1), default=100_000,
                   help="entries read and scored at a time (default: 100000)")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--dask-workers", type=_int_at_least(1),
                       help="score the files in parallel on a Dask LocalCluster of N worker processes")
    scale.add_argument("--dask-scheduler", help="... or on a running Dask cluster (its scheduler address)")
    p.set_defaults(run=apply_command)

    p = commands.add_parser("bench", help="time one LSTM/GRU training step against torch.nn.LSTM/GRU")
    p.add_argument("--cells", nargs="+", choices=["lstm", "gru"], default=["lstm", "gru"])
    p.add_argument("--configs", nargs="+", choices=["S", "M", "L", "XL"], default=["S", "M", "L", "XL"])
    p.add_argument("--dtypes", nargs="+", choices=["float32", "float64"], default=["float32", "float64"])
    p.add_argument("--threads", type=_int_at_least(1), default=2)
    p.add_argument("--reps", type=_int_at_least(1), default=20, help="timed steps per measurement (at least)")
    p.add_argument("--rounds", type=_int_at_least(1), default=3,
                   help="ours/torch measurements back to back, alternately")
    p.add_argument("--json", help="also write the results here")
    p.set_defaults(run=bench_command)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError, RuntimeError, ImportError) as e:
        print(f"tmva-lstm {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
