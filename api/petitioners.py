"""``GET /petitioners/?q=``: petitioners of the complaints within the caller's reach.

Masked exactly as on the complaint page (``complaints.privacy``). Searching by phone,
e-mail or ID number needs ``view_personal_data`` and is in the audit log (``log_lookup``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import audit
from accounts.models import User
from api.permissions import StaffOnly
from api.serializers import (
    ComplaintSummary,
    PetitionerOut,
    petitioner_of,
)
from complaints import permissions
from complaints.contacts import normalize_phone
from complaints.models import Complaint, Petitioner
from intake.services import normalize_email

# --- Petitioners ------------------------------------------------------------------------

PERSONAL_LOOKUPS = {
    "phone": "petitioner__phone",
    "email": "petitioner__email__iexact",
    "id_number": "petitioner__id_number__iexact",
}
SEARCH_FIELDS = ("name", *PERSONAL_LOOKUPS)
_ID_NUMBER = re.compile(r"\d{17}[\dXx]")
_PHONE = re.compile(r"\+?\d{5,15}")
_PHONE_SEPARATORS = re.compile(r"[\s\-().·/]")
# The complaints of one petitioner listed on their page, newest first.
COMPLAINTS_SHOWN = 100


def guess_field(text: str) -> str:
    """What ``text`` looks like: an e-mail, a Chinese ID number, a phone number, else a name."""
    compact = _PHONE_SEPARATORS.sub("", text)
    if "@" in text:
        return "email"
    if _ID_NUMBER.fullmatch(compact):
        return "id_number"
    if _PHONE.fullmatch(compact):
        return "phone"
    return "name"


class PetitionerQuery(serializers.Serializer[Any]):
    q = serializers.CharField(
        min_length=2,
        max_length=100,
        help_text="A name (or organisation), or else an exact phone number, e-mail address "
        "or ID number: these need the permission to see personal data, and are logged.",
    )
    by = serializers.ChoiceField(
        choices=SEARCH_FIELDS,
        required=False,
        help_text="What `q` is; by default guessed from its shape.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        text = data["q"].strip()
        field = data.get("by") or guess_field(text)
        try:
            if field == "phone":
                text = normalize_phone(text)
            elif field == "email":
                text = normalize_email(text)
        except ValueError as error:
            raise serializers.ValidationError(
                {"q": _("This is not a valid phone number or e-mail address.")}
            ) from error
        return {"by": field, "value": text}


def within_reach(user: User) -> QuerySet[Complaint]:
    """Complaints with a petitioner that ``user`` may see."""
    return permissions.visible_to(Complaint.objects.filter(petitioner__isnull=False), user)


def log_lookup(request: Request, field: str) -> None:
    """Note who searched petitioners by which kind of personal data — never the value.

    A look-up answers masked values only, so nothing unmasked is shown and no
    ``personal_data.viewed`` event is written; but a search by a phone number, e-mail or
    ID number tells whether that person complained, so each one is an audit entry
    (``personal_data.searched``, with the token used).
    """
    audit.personal_data_searched(request, field=field, via="api")


@dataclass(frozen=True)
class Shown:
    """The complaints through which one petitioner is shown to one user, newest first."""

    anonymous: bool
    complaint_ids: list[int]


def shown_complaints(user: User, petitioner_ids: list[int]) -> dict[int, Shown]:
    """For each petitioner, their complaints within ``user``'s reach that a look-up shows.

    A look-up never ties a complaint filed anonymously to a name: a petitioner with named
    complaints within reach is shown through those only; one with anonymous complaints
    only is shown as "Anonymous" (``privacy.petitioner_view`` withholds who they are).
    """
    rows = (
        within_reach(user)
        .filter(petitioner_id__in=petitioner_ids)
        .order_by("-received_at", "-pk")
        .values_list("pk", "petitioner_id", "is_anonymous", "received_at")
    )
    named: dict[int, list[int]] = defaultdict(list)
    hidden: dict[int, list[int]] = defaultdict(list)
    for pk, petitioner_id, anonymous, _received in rows:
        (hidden if anonymous else named)[petitioner_id].append(pk)
    shown = {pk: Shown(False, ids) for pk, ids in named.items()}
    for pk, ids in hidden.items():
        shown.setdefault(pk, Shown(True, ids))
    return shown


class PetitionerMatch(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    petitioner = PetitionerOut()
    complaint_count = serializers.IntegerField(
        help_text="Their complaints that you can see (anonymous ones apart from named ones)."
    )
    latest_complaint = serializers.IntegerField(help_text="The newest of them.")


class PetitionerDetail(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    petitioner = PetitionerOut()
    complaint_count = serializers.IntegerField()
    complaints = ComplaintSummary(
        many=True, help_text=f"The newest {COMPLAINTS_SHOWN} of them, newest first."
    )


def _need_view(user: User) -> None:
    if not user.has_perm(permissions.perm("view_complaint")):
        raise exceptions.PermissionDenied(_("You may not see complaints."))


class PetitionerSearch(generics.ListAPIView):
    """Petitioners of complaints within your reach, masked; newest first, page by page."""

    permission_classes = [*APIView.permission_classes, StaffOnly]
    serializer_class = PetitionerMatch
    queryset = Petitioner.objects.none()  # for the schema; the look-up is in ``list``

    @extend_schema(
        operation_id="petitioners_search",
        summary="Look up petitioners by name, phone, e-mail or ID number",
        tags=["petitioners"],
        parameters=[PetitionerQuery],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user: User = request.user  # type: ignore[assignment]
        _need_view(user)
        query = PetitionerQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        field, value = query.validated_data["by"], query.validated_data["value"]
        if field == "name":
            # The name of an anonymous petitioner is withheld: it never matches.
            matching = within_reach(user).filter(
                Q(petitioner__name__icontains=value) | Q(petitioner__organisation__icontains=value),
                is_anonymous=False,
            )
        else:
            if not user.has_perm(permissions.perm("view_personal_data")):
                raise exceptions.PermissionDenied(
                    _(
                        "Searching by phone, e-mail or ID number needs the permission to see "
                        "personal data. Search by name instead."
                    )
                )
            log_lookup(request, field)
            matching = within_reach(user).filter(**{PERSONAL_LOOKUPS[field]: value})
        found = Petitioner.objects.filter(pk__in=matching.values("petitioner_id"))
        page = self.paginate_queryset(found) or []
        shown = shown_complaints(user, [p.pk for p in page])
        newest = Complaint.objects.select_related("petitioner").in_bulk(
            [s.complaint_ids[0] for s in shown.values()]
        )
        results = [
            {
                "id": p.pk,
                "petitioner": petitioner_of(newest[shown[p.pk].complaint_ids[0]], user),
                "complaint_count": len(shown[p.pk].complaint_ids),
                "latest_complaint": shown[p.pk].complaint_ids[0],
            }
            for p in page
            if p.pk in shown
        ]
        return self.get_paginated_response(PetitionerMatch(results, many=True).data)


class PetitionerRead(APIView):
    permission_classes = [*APIView.permission_classes, StaffOnly]

    @extend_schema(
        operation_id="petitioners_read",
        summary="A petitioner and their complaints within your reach",
        tags=["petitioners"],
        responses={200: PetitionerDetail},
    )
    def get(self, request: Request, pk: int) -> Response:
        user: User = request.user  # type: ignore[assignment]
        _need_view(user)
        shown = shown_complaints(user, [pk]).get(pk)
        if shown is None:
            if Petitioner.objects.filter(pk=pk).exists():
                permissions.log_denial(user, f"petitioner:{pk}", request=request._request)
            raise exceptions.NotFound(_("Not found, or not within your reach."))
        ids = shown.complaint_ids[:COMPLAINTS_SHOWN]
        loaded = Complaint.objects.select_related(
            "petitioner", "category", "department", "assignee"
        ).in_bulk(ids)
        complaints = [loaded[i] for i in ids]
        body = {
            "id": pk,
            "petitioner": petitioner_of(complaints[0], user),
            "complaint_count": len(shown.complaint_ids),
            "complaints": complaints,
        }
        return Response(PetitionerDetail(body, context={"request": request}).data)
