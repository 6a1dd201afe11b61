"""The REST API at ``/api/v1/``: one adapter over the services, for channels and staff scripts."""
