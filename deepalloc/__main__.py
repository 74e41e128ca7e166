"""``python -m deepalloc``: the same as the ``deepalloc`` command."""

from deepalloc.cli import main

raise SystemExit(main())
