"""The tmva-lstm command."""

import argparse
import sys

DEFAULT_SHAPES = ["1,1,1,1", "4,3,5,7", "16,10,30,10", "2,8,4,200"]


def _shape(text):
    try:
        B, H, D, T = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must be B,H,D,T (four integers), got {text!r}") from None
    return B, H, D, T


def gradcheck(args):
    from .gradcheck import QUANTITIES, TOLERANCE, compare

    tolerance = args.tolerance if args.tolerance is not None else TOLERANCE[args.dtype]
    header = f"{'B,H,D,T':>14} {'seq':>3} {'rem':>3} " + " ".join(f"{q:>8}" for q in QUANTITIES)
    print(f"tmva-lstm gradcheck: C++ TBasicLSTMLayer<TCpu<{'float' if args.dtype == 'float32' else 'double'}>> "
          f"vs NumPy oracle, max relative error (tolerance {tolerance:g})")
    print(header)
    worst = 0.0
    for B, H, D, T in args.shapes:
        for return_sequence in (False, True):
            for remember_state in (False, True):
                errors = compare(B, H, D, T, dtype=args.dtype, return_sequence=return_sequence,
                                 remember_state=remember_state, seed=args.seed)
                worst = max(worst, *errors.values())
                print(f"{f'{B},{H},{D},{T}':>14} {int(return_sequence):>3} {int(remember_state):>3} "
                      + " ".join(f"{errors[q]:8.1e}" for q in QUANTITIES))
    ok = worst <= tolerance
    print(f"worst {worst:.2e}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tmva-lstm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("gradcheck", help="compare the C++ layer with the NumPy oracle")
    p.add_argument("--shapes", nargs="+", type=_shape, default=[_shape(s) for s in DEFAULT_SHAPES],
                   metavar="B,H,D,T", help=f"layer shapes (default: {' '.join(DEFAULT_SHAPES)})")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tolerance", type=float, help="default: 1e-10 for float64, 1e-4 for float32")
    p.set_defaults(run=gradcheck)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
