"""A small client of Argo Server's REST API as `tiphys server` speaks it (over httpx).

    config.py   where the server is (--server / TIPHYS_SERVER) and the token (--token / TIPHYS_TOKEN)
    errors.py   HTTP answers and transport failures turned into TiphysError subclasses
    api.py      `Client`: workflows, logs, watches, WorkflowTemplates, ClusterWorkflowTemplates

The CLI's server mode (tiphys/cli/remote.py) is its main user; it is also usable on its own:

    from tiphys.client import Client
    with Client("http://127.0.0.1:2746", token=None) as c:
        c.create_workflow("default", wf)

`import tiphys.client.config` stays cheap (no httpx): the CLI asks it on every command.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Client"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from tiphys.client.api import Client
        return Client
    raise AttributeError(name)
