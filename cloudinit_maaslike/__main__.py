"""`python -m cloudinit_maaslike` is the `maaslike` command."""

import sys

from .cli import main

sys.exit(main())
