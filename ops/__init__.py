"""Operations plumbing: process heartbeats and the ``/healthz`` probe.

The worker and beat each leave a heartbeat row; ``/healthz`` reports database and
broker reachability and how old those heartbeats are.
"""
