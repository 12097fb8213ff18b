"""Tiphys: run Argo Workflows manifests on one machine, as Argo would."""

__version__ = "0.1.0"
