"""Objects that are not workflows, managed kubectl-style (`tiphys apply|get|delete`):
ConfigMaps, Secrets, (Cluster)WorkflowTemplates, and every kind registered in kinds.py."""
