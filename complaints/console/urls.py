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
    path(
        "complaints/<int:pk>/replies/<int:reply_pk>/letter.pdf",
        page.reply_letter,
        name="reply_letter",
    ),
    path("attachments/<int:pk>/", page.attachment, name="attachment"),
]

# Personal data requests (copies and erasure): complaints.console.datarequests.
from complaints.console import datarequests  # noqa: E402

urlpatterns += [
    path("data-requests/", datarequests.request_list, name="data_requests"),
    path("data-requests/new/", datarequests.record, name="data_request_new"),
    path("data-requests/<int:pk>/", datarequests.detail, name="data_request"),
    path(
        "data-requests/<int:pk>/copy.<str:file_format>",
        datarequests.download,
        name="data_request_download",
    ),
]
