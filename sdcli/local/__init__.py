"""The embedded local stack: moto's server as the AWS control plane plus our own API Gateway data plane.

The core never imports this package; only the CLI starts it.
"""
