"""Collects the executor contract suite (contract.py) for every backend it lists."""
from contract import *  # noqa: F401,F403  (the tests, the `backend` and `docker_url` fixtures)
