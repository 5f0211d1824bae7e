"""``python -m srgrpo.plots``: see :mod:`srgrpo.plots.command`."""

import sys

from srgrpo.plots.command import main

sys.exit(main())
