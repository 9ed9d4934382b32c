"""Shared by the manifest rules (CR116-CR118): a workload written the way a hand-made repository often has it."""

from __future__ import annotations

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders-api
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app: orders-api
  template:
    metadata:
      labels:
        app: orders-api
    spec:
      containers:
        - name: orders-api
          image: registry.example.com/orders-api:1.4.2
          ports:
            - containerPort: 8080
"""
PROBES = """          readinessProbe:
            httpGet: {path: /health/ready, port: 8080}
          livenessProbe:
            httpGet: {path: /health/live, port: 8080}
"""
RESOURCES = """          resources:
            requests: {cpu: 100m, memory: 256Mi}
            limits: {memory: 512Mi}
"""
PDB = """---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: orders-api
  namespace: shop
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app: orders-api
"""
FILE = "deploy/orders-api.yaml"
COMPLETE = DEPLOYMENT + PROBES + RESOURCES + PDB
