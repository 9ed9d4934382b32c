"""The kit's alerts: one record per alert, from which rules, tests and runbooks are rendered."""
