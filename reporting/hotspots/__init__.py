"""Hotspots and early warning (热点与预警) for supervisors and department heads.

- ``spikes``: categories, keywords and areas suddenly more frequent than their baseline
  (the rule is in ``reporting.hotspots.spikes``).
- ``repeat_petitioners``: one person with many complaints in a month, masked.
- ``clusters``: recent complaints that say the same thing.
- ``alert_supervisors``: the hourly early warning, once per spike and day.

Everything reads complaints in bounded time windows and writes nothing but notifications.
"""

from reporting.hotspots.alerts import alert_supervisors
from reporting.hotspots.clusters import Cluster, ClusterReport, clusters
from reporting.hotspots.repeats import ComplaintRef, RepeatPetitioner, repeat_petitioners
from reporting.hotspots.spikes import WINDOWS, Dimension, Spike, Window, spikes

__all__ = [
    "WINDOWS",
    "Cluster",
    "ClusterReport",
    "ComplaintRef",
    "Dimension",
    "RepeatPetitioner",
    "Spike",
    "Window",
    "alert_supervisors",
    "clusters",
    "repeat_petitioners",
    "spikes",
]
