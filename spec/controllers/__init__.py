"""The kube-controller-manager's controllers modelled here: ReplicaSet and Deployment."""
