"""``python -m deepalloc``: the same as the ``deepalloc`` command."""

import deepalloc.cli

raise SystemExit(deepalloc.cli.main())
