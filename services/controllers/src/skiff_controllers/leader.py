"""The Lease elector lives in skiff_client.leader (shared with the scheduler); re-exported here."""

from skiff_client.leader import LeaderElector

__all__ = ["LeaderElector"]
