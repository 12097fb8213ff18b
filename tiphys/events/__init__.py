"""Argo Events inside `tiphys server`: EventSources (webhook, github, calendar) listening on
their own ports, Sensors (dependencies, filters, triggers) and Argo Workflows' own events API
(WorkflowEventBinding)."""
