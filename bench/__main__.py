"""python -m bench [options]: what `bench/run` runs (see bench/README.md)."""

import sys

from bench.harness import main

sys.exit(main(sys.argv[1:]))
