"""`tiphys server`: Argo Server's REST API over the Tiphys store, with an in-process controller.

Layout: `app` builds the Starlette application; `controller` runs submitted workflows;
`hub` fans workflow changes out to watchers; `workflows`, `templates` and `info` hold the
routes of each resource; `selectors` the Kubernetes list options; `openapi` the document
served at /openapi.json; `cli` the `tiphys server` command.
"""
