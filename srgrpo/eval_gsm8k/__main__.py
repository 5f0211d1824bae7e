"""``python -m srgrpo.eval_gsm8k``: see :mod:`srgrpo.eval_gsm8k.command`."""

import sys

from srgrpo.eval_gsm8k.command import main

sys.exit(main())
