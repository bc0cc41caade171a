from bluegreen.cli import entrypoint

entrypoint()
