"""Console URLs of complaints (included under /console/ by intake.console_urls)."""

from django.urls import path

from complaints.console import page, privacy, queues

urlpatterns = [
    path("queue/", queues.queue, name="queue"),
    path("queue/bulk/", queues.bulk, name="queue_bulk"),
    path("filters/save/", queues.save_filter, name="save_filter"),
    path("filters/<int:pk>/delete/", queues.delete_filter, name="delete_filter"),
    path("complaints/<int:pk>/", page.complaint, name="complaint"),
    path("complaints/<int:pk>/do/<slug:action>/", page.act, name="complaint_act"),
    path("complaints/<int:pk>/reveal/", privacy.reveal, name="reveal"),
    path("attachments/<int:pk>/", page.attachment, name="attachment"),
]
