"""Grafana: operator dashboards as code, provisioning files and an idempotent push."""
