"""The recipe study (``python -m srgrpo.lab recipe``): which CPU recipe makes the main job learn *every* time?

Declared before its first run (:mod:`.plan`), tuned on seeds and problems no result of the kit is measured on, and
resumable: every finished run is a file of its own (:mod:`.runs`); :mod:`.analysis` ranks the configurations by the
declared rule; :mod:`.figures` draws the confirmation seeds from their results files; :mod:`.command` is the
command. Inside the package: command > runs | analysis | figures > plan.
"""
