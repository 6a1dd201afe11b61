"""Files of a complaint for staff: list, upload (checked by their bytes), download."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.complaints import visible
from api.schema import ERROR_RESPONSE
from api.serializers import validated
from api.work import STAFF, TAGS, ComplaintRows, checked_uploads, staff
from complaints import scanning, services
from complaints.models import Attachment


class AttachmentOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField(source="original_name")
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    uploaded_at = serializers.DateTimeField(source="created_at")
    uploaded_by = serializers.SerializerMethodField()
    reply = serializers.IntegerField(
        source="reply_id", allow_null=True, help_text="The reply it was sent with, if any."
    )
    download_url = serializers.SerializerMethodField()
    scan_status = serializers.ChoiceField(
        choices=Attachment.Scan.choices,
        help_text="The malware scan: only `clean` and `not_scanned` files can be downloaded.",
    )
    scan_result = serializers.CharField(help_text="The signature found, or why a scan failed.")

    @extend_schema_field(serializers.CharField())
    def get_uploaded_by(self, attachment: Attachment) -> str:
        user = attachment.uploaded_by
        if user is None:
            return _("the petitioner")
        return str(user.get_full_name() or user.get_username())

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, attachment: Attachment) -> str | None:
        if not attachment.file:
            return None  # anonymised: the file is gone, its row stays
        if attachment.scan_status not in scanning.OPENABLE:
            return None  # pending, quarantined or unscannable: not to be opened
        path = reverse("api:attachment-download", args=[attachment.pk])
        return self.context["request"].build_absolute_uri(path)


# --- Files ------------------------------------------------------------------------------


class AttachmentUpload(serializers.Serializer[Any]):
    file = serializers.ListField(
        child=serializers.FileField(),
        allow_empty=False,
        help_text="One or several `file` parts; each is checked by its bytes.",
    )

    def validate_file(self, files: list[Any]) -> list[Any]:
        return checked_uploads(files)


# The files just added: a plain list (a list view's answers would be documented as pages).
ADDED_FILES = OpenApiResponse(
    response={"type": "array", "items": {"$ref": "#/components/schemas/AttachmentOut"}},
    description="The files added, in the order sent.",
)


class AttachmentList(ComplaintRows):
    serializer_class = AttachmentOut

    def get_queryset(self) -> QuerySet[Attachment]:
        return self.complaint().attachments.select_related("uploaded_by")

    @extend_schema(
        operation_id="complaints_attachments",
        summary="The complaint's files, oldest first",
        tags=TAGS,
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="complaints_add_attachments",
        summary="Add files to the complaint",
        tags=TAGS,
        request={"multipart/form-data": AttachmentUpload},
        responses={201: ADDED_FILES},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = self.complaint()
        data = validated(AttachmentUpload, request)
        with transaction.atomic():  # all the files, or none
            stored = [
                services.add_attachment(
                    complaint_id=complaint.pk, upload=upload, actor=staff(request)
                )
                for upload in data["file"]
            ]
        data = AttachmentOut(stored, many=True, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class AttachmentDownload(APIView):
    """A file of a complaint within your reach, always as a download (never rendered)."""

    permission_classes = STAFF

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The file is sent whatever the caller accepts; errors answer in JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="complaints_download_attachment",
        summary="Download a file",
        tags=TAGS,
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                response=OpenApiTypes.BINARY,
                description="The file, as an attachment (its media type is in the list).",
            ),
            # Waiting for its malware scan, quarantined, or not scannable.
            409: ERROR_RESPONSE,
        },
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        found = Attachment.objects.filter(pk=pk).first()
        if found is None or not found.file:  # anonymised: the file is gone, its row stays
            raise Http404
        visible(request, found.complaint_id)
        # Bytes to save, whatever they are (the type is in the list of files): nothing
        # between here and the caller is tempted to render them. A file waiting for or
        # failing its malware scan is refused with 409 (AttachmentUnavailable).
        return scanning.download_response(found, request=request)
