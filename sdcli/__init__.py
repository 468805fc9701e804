"""sdcli: deploy, seed and query a serverless service-discovery catalog, on AWS or an embedded local stack."""

__version__ = "0.1.0"
