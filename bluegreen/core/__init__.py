"""Engine-neutral algorithms: they decide what happens and in which order, and ask an
engine (bluegreen.engines) to do it. Nothing here imports a database driver."""
