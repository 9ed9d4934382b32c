"""Deployment planning: the policy a plan follows (``policy``) and the planner that applies it."""
