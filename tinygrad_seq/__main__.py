"""`python -m tinygrad_seq ...` runs the `tinygrad-seq` command (see tinygrad_seq.nn.lm.cli)."""

import sys

from tinygrad_seq.nn.lm.cli import main

if __name__ == "__main__":
    sys.exit(main())
