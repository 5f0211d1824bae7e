"""``python -m srgrpo.train``: see :mod:`srgrpo.train.command`."""

import sys

from srgrpo.train.command import main

sys.exit(main())
