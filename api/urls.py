"""``/api/v1/``: every endpoint, the schema and the docs. Unknown addresses answer JSON 404."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api import (
    complaints,
    errors,
    files,
    kpis,
    petitioners,
    reference,
    replies,
    root,
    submissions,
    tokens,
    work,
)
from api.intake import IntakeView
from api.webhooks import api_urls as webhook_urls
from ops.csp import csp_override

urlpatterns = [
    path("", root.Root.as_view(), name="root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path(
        "docs/redoc/",
        # Redoc injects its styles at run time and searches in a blob: worker; nothing
        # else of Sutong's policy (ops.csp) is relaxed, scripts still need the nonce.
        csp_override(style_src=("'self'", "'unsafe-inline'"), worker_src=("'self'", "blob:"))(
            SpectacularRedocView.as_view(url_name="api:schema")
        ),
        name="redoc",
    ),
    path("intake/", IntakeView.as_view(), name="intake"),
    path("complaints/", complaints.ComplaintList.as_view(), name="complaints"),
    path("complaints/<id:pk>/", complaints.ComplaintRead.as_view(), name="complaint"),
    path(
        "complaints/<id:pk>/personal-data/",
        complaints.RevealPersonalData.as_view(),
        name="personal-data",
    ),
    *(
        path(
            f"complaints/<id:pk>/{action.replace('_', '-')}/",
            complaints.transition_view(action),
            name=f"complaint-{action.replace('_', '-')}",
        )
        for action in complaints.ACTIONS
    ),
]

# Who is calling, reference data, petitioner look-up, key figures; the caller's own tokens.

urlpatterns += [
    path("me/", reference.Me.as_view(), name="me"),
    path("categories/", reference.CategoryList.as_view(), name="categories"),
    path("departments/", reference.DepartmentList.as_view(), name="departments"),
    path("petitioners/", petitioners.PetitionerSearch.as_view(), name="petitioners"),
    path("petitioners/<id:pk>/", petitioners.PetitionerRead.as_view(), name="petitioner"),
    path("kpis/", kpis.KpiRead.as_view(), name="kpis"),
    path("tokens/", tokens.TokenList.as_view(), name="tokens"),
    path("tokens/<id:pk>/", tokens.TokenDetail.as_view(), name="token"),
]

# Working on a complaint (staff): timeline, notes, files, the reply and survey, co-handling.

urlpatterns += [
    path("complaints/<id:pk>/events/", work.EventList.as_view(), name="complaint-events"),
    path("complaints/<id:pk>/notes/", work.NoteList.as_view(), name="complaint-notes"),
    path("complaints/<id:pk>/plan/", work.RecordPlan.as_view(), name="complaint-plan"),
    path("complaints/<id:pk>/contact/", work.RecordContact.as_view(), name="complaint-contact"),
    path(
        "complaints/<id:pk>/attachments/",
        files.AttachmentList.as_view(),
        name="complaint-attachments",
    ),
    path(
        "attachments/<id:pk>/download/",
        files.AttachmentDownload.as_view(),
        name="attachment-download",
    ),
    path("complaints/<id:pk>/replies/", replies.ReplyList.as_view(), name="complaint-replies"),
    path(
        "complaints/<id:pk>/reply-draft/",
        replies.ReplyDraft.as_view(),
        name="complaint-reply-draft",
    ),
    path(
        "complaints/<id:pk>/reply-draft/approve/",
        replies.ApproveReply.as_view(),
        name="complaint-reply-approve",
    ),
    path(
        "complaints/<id:pk>/reply-draft/return/",
        replies.ReturnReply.as_view(),
        name="complaint-reply-return",
    ),
    path(
        "complaints/<id:pk>/delivery/", replies.RecordDelivery.as_view(), name="complaint-delivery"
    ),
    path("complaints/<id:pk>/survey/", replies.SurveyRounds.as_view(), name="complaint-survey"),
    path(
        "complaints/<id:pk>/co-handling/", work.CoHandling.as_view(), name="complaint-co-handling"
    ),
    path(
        "co-handling/<id:task_id>/complete/",
        work.CompleteCoHandling.as_view(),
        name="co-handling-complete",
    ),
    path(
        "complaints/<id:pk>/deadlines/<id:deadline_id>/extension/",
        work.RequestExtension.as_view(),
        name="complaint-extension",
    ),
    path("extensions/<id:pk>/decide/", work.DecideExtension.as_view(), name="extension-decide"),
]

# A channel client's own complaints.

urlpatterns += [
    path("submissions/", submissions.SubmissionList.as_view(), name="submissions"),
    path("submissions/<id:pk>/", submissions.SubmissionRead.as_view(), name="submission"),
    path(
        "submissions/<id:pk>/supplement/",
        submissions.Supplement.as_view(),
        name="submission-supplement",
    ),
    path(
        "submissions/<id:pk>/withdraw/",
        submissions.Withdraw.as_view(),
        name="submission-withdraw",
    ),
    path(
        "submissions/<id:pk>/survey/",
        submissions.AnswerSurvey.as_view(),
        name="submission-survey",
    ),
]

# Subscriptions to complaint events and their deliveries.

urlpatterns += webhook_urls

# Last: whatever matched nothing above.
urlpatterns.append(re_path(r"^[\s\S]*$", errors.not_found))
