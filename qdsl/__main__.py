"""`python -m qdsl` is the `qdsl` console script."""
import sys

from .cli import main

sys.exit(main())
