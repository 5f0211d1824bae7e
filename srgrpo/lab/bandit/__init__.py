"""The bandit lab (``python -m srgrpo.lab bandit``): every advantage method on a contextual bandit, in seconds.

:mod:`.runs` is the bandit and its runs over seeds, :mod:`.figures` draws and tabulates their summary, :mod:`.command`
is the command. Inside the package: command > runs > figures.
"""
