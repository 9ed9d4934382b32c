"""Deploying a plan to Kubernetes through Argo Rollouts (see engine)."""
