"""Steps as Kubernetes Pods: building them as Argo does (podspec.py, merge.py, helper.py), and
the cluster objects that govern them (ResourceQuota, LimitRange, PriorityClass)."""
