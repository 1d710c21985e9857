"""The gRPC front end: one module per verb group, combined in service.py."""
