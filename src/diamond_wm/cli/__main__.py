"""`python -m diamond_wm.cli ...` runs `diamond ...` (as torchrun launches it: `torchrun ... -m diamond_wm.cli train`)."""

import sys

from diamond_wm.cli.main import main

sys.exit(main())
