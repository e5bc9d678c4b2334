"""The kube-scheduler's placement rules: object view, Filter and Score plugins, pod-by-pod scheduling, z3 placement.

The model's scheduler component (spec core) and the ``kubespec schedule`` command share these modules.
"""
