from celery import shared_task

from ops.models import Heartbeat


@shared_task(name="ops.tasks.heartbeat")
def heartbeat() -> None:
    """Scheduled by beat; running it proves broker → worker → database all work."""
    Heartbeat.beat(Heartbeat.Process.WORKER)
