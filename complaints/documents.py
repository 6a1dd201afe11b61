"""Printable documents: the reply letter sent by post, and a copy of a person's data. A4 PDF.

Both are built with reportlab's flowables, so long texts wrap and run over as many pages
as they need; every page carries the organisation, the reference and its number.

Chinese needs a font with Chinese glyphs. A TrueType font is embedded when one is found:
``PDF_FONT_PATH``, else the first installed of the usual Debian fonts (WenQuanYi, Droid
Sans Fallback, AR PL). Otherwise the documents use STSong-Light, a CID font built into
reportlab that PDF readers supply themselves (Adobe's Asian font pack), so a bare server
still produces readable Chinese. OpenType fonts with PostScript outlines (Noto CJK) cannot
be embedded by reportlab and are skipped; so is a font without Chinese glyphs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from complaints.models import Complaint, Petitioner, Reply, Survey

logger = logging.getLogger(__name__)

# Installed by Debian's fonts-wqy-zenhei, fonts-wqy-microhei, fonts-droid-fallback and
# fonts-arphic-uming: TrueType outlines, which reportlab can embed.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
BUILT_IN_FONT = "STSong-Light"
MARGIN = 20 * mm


# --- Fonts ------------------------------------------------------------------------------


def font_name() -> str:
    """The registered font the documents are set in (see the module's docstring)."""
    configured = settings.PDF_FONT_PATH
    paths = [configured] if configured else [p for p in FONT_CANDIDATES if Path(p).is_file()]
    for path in paths:
        if name := _truetype(path):
            return name
    return _built_in()


@cache
def _truetype(path: str) -> str | None:
    name = "Sutong-" + hashlib.sha256(path.encode()).hexdigest()[:10]
    try:
        font = TTFont(name, path, subfontIndex=0)
    except (TTFError, OSError) as error:
        logger.warning("PDF font %s cannot be used: %s", path, error)
        return None
    if ord("中") not in font.face.charToGlyph:
        logger.warning("PDF font %s has no Chinese glyphs; not used", path)
        return None
    pdfmetrics.registerFont(font)
    return name


@cache
def _built_in() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(BUILT_IN_FONT))
    return BUILT_IN_FONT


# --- Building blocks --------------------------------------------------------------------


def organisation_name() -> str:
    return settings.ORGANISATION_NAME or _("Sutong complaint office")


class _Styles:
    """Paragraph styles in one font; sizes and colours stand in for bold (CID has none)."""

    def __init__(self, font: str) -> None:
        def style(name: str, **options: Any) -> ParagraphStyle:
            base = {"fontName": font, "fontSize": 10.5, "leading": 16, "wordWrap": "CJK"}
            return ParagraphStyle(name, **{**base, **options})

        self.body = style("body", spaceAfter=4)
        self.small = style("small", fontSize=8.5, leading=12, textColor=colors.HexColor("#555555"))
        self.label = style("label", fontSize=9, leading=14, textColor=colors.HexColor("#555555"))
        self.right = style("right", alignment=TA_RIGHT)
        self.sender = style("sender", fontSize=15, leading=20, spaceAfter=14)
        self.title = style("title", fontSize=13, leading=19, spaceBefore=8, spaceAfter=8)
        self.heading = style(
            "heading",
            fontSize=12,
            leading=17,
            spaceBefore=12,
            spaceAfter=4,
            textColor=colors.HexColor("#1d5c3a"),
        )
        self.subheading = style("subheading", fontSize=10.5, spaceBefore=6, spaceAfter=2)


def _paragraphs(text: str, style: ParagraphStyle) -> list[Flowable]:
    """User text as paragraphs: escaped (it is not markup), a flowable per line, so a
    long text breaks across pages between lines; blank lines become space."""
    flowables: list[Flowable] = []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        if line.strip():
            flowables.append(Paragraph(escape(line), style))
        else:
            flowables.append(Spacer(1, style.leading / 2))
    return flowables


def _facts(rows: Iterable[tuple[str, str]], styles: _Styles) -> Table | Spacer:
    """Label/value pairs as a two-column table; empty values are left out."""
    cells = [
        [Paragraph(escape(label), styles.label), Paragraph(escape(value), styles.body)]
        for label, value in rows
        if value
    ]
    if not cells:
        return Spacer(1, 0)
    table = Table(cells, colWidths=[38 * mm, None], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return table


def _date(value: datetime | str | None, *, with_time: bool = False) -> str:
    """A date in the active language (2026年11月22日, Nov. 22, 2026); "" for none."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return ""
    return date_format(
        timezone.localtime(value), "SHORT_DATETIME_FORMAT" if with_time else "DATE_FORMAT"
    )


def _build(story: Sequence[Flowable], *, title: str, reference: str) -> bytes:
    """The PDF of ``story`` on A4, each page footed with organisation, reference, page."""
    font = font_name()
    sender = organisation_name()
    page_label = _("Page %(number)s")

    def footer(canvas: Canvas, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillColor(colors.HexColor("#555555"))
        text = f"{sender} · {reference} · {page_label % {'number': document.page}}"
        canvas.drawString(MARGIN, 12 * mm, text)
        canvas.restoreState()

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 5 * mm,
        title=title,
        author=sender,
        creator="Sutong",
    )
    document.build(list(story), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def tracking_url() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("intake:track")


# --- The reply letter -------------------------------------------------------------------


def letter_language(complaint: Complaint) -> str:
    """The petitioner's language when it is one the site speaks, else the default."""
    language = complaint.petitioner.language if complaint.petitioner else ""
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def reply_letter_pdf(complaint: Complaint, reply: Reply, *, survey_url: str = "") -> bytes:
    """The reply as a printed letter (书面答复), in the petitioner's language.

    Addressed with the petitioner's name and postal address in full: it goes in the
    envelope. Dated the day the reply was sent (today for one not sent yet), with the
    tracking code, the subject, the text, the department that handled it and where to
    follow the matter online; with ``survey_url``, also where to say whether they are
    satisfied (a letter cannot carry a link to click, so the address is printed).
    """
    with translation.override(letter_language(complaint)):
        styles = _Styles(font_name())
        person = complaint.petitioner
        name = person.name if person else ""
        recipient = [name, person.organisation if person else ""]
        recipient += (person.address if person else "").splitlines()
        department = str(complaint.department) if complaint.department else ""
        story: list[Flowable] = [Paragraph(escape(organisation_name()), styles.sender)]
        story += [Paragraph(escape(line), styles.body) for line in recipient if line.strip()]
        story += [
            Spacer(1, 10 * mm),
            _facts(
                [
                    (_("Date"), _date(reply.sent_at or timezone.now())),
                    (_("Tracking code"), complaint.tracking_code),
                ],
                styles,
            ),
            Paragraph(
                escape(_("Reply to your matter “%(title)s”") % {"title": complaint.title}),
                styles.title,
            ),
            Paragraph(
                escape(_("Dear %(name)s,") % {"name": name} if name else _("Dear petitioner,")),
                styles.body,
            ),
            Spacer(1, 2 * mm),
            *_paragraphs(reply.body, styles.body),
            Spacer(1, 8 * mm),
        ]
        if department:
            story.append(
                Paragraph(
                    escape(_("Handled by: %(department)s") % {"department": department}),
                    styles.right,
                )
            )
        story += [
            Paragraph(escape(organisation_name()), styles.right),
            Paragraph(escape(_date(reply.sent_at or timezone.now())), styles.right),
            Spacer(1, 10 * mm),
            Paragraph(
                escape(
                    _(
                        "You can follow your matter at %(url)s with the tracking code "
                        "%(code)s and the secret you received."
                    )
                    % {"url": tracking_url(), "code": complaint.tracking_code}
                ),
                styles.small,
            ),
        ]
        if survey_url:
            story.append(
                Paragraph(
                    escape(
                        _("Tell us whether you are satisfied with our reply: %(url)s")
                        % {"url": survey_url}
                    ),
                    styles.small,
                )
            )
        return _build(
            story,
            title=_("Reply to %(code)s") % {"code": complaint.tracking_code},
            reference=complaint.tracking_code,
        )


# --- The copy of a person's data --------------------------------------------------------


def _label(choices: Callable[[str], Any], code: str | None) -> str:
    if not code:
        return ""
    try:
        return str(choices(code).label)
    except ValueError:
        return code


def _yes_no(value: bool | None) -> str:
    if value is None:
        return ""
    return _("yes") if value else _("no")


def export_pdf(data: Mapping[str, Any]) -> bytes:
    """A readable copy of ``complaints.rights.export_data``'s result, in the active language.

    The same content as the JSON, nothing more: the petitioner's details, then each matter
    with its replies, surveys, attachment names and public timeline.
    """
    styles = _Styles(font_name())
    person = data.get("petitioner") or {}
    complaints = data.get("complaints") or []
    reference = complaints[0]["tracking_code"] if len(complaints) == 1 else _("personal data")
    story: list[Flowable] = [
        Paragraph(escape(data.get("organisation") or organisation_name()), styles.sender),
        Paragraph(escape(_("Copy of your personal data")), styles.title),
        Paragraph(
            escape(
                _(
                    "Made on %(date)s. It holds what we keep about you and the matters "
                    "you brought to us, as of that day."
                )
                % {"date": _date(data.get("generated_at"), with_time=True)}
            ),
            styles.body,
        ),
        Paragraph(escape(_("About you")), styles.heading),
        _facts(_person_rows(person), styles),
    ]
    for complaint in complaints:
        story += _complaint_story(complaint, styles)
    return _build(story, title=_("Copy of your personal data"), reference=reference)


def _person_rows(person: Mapping[str, Any]) -> list[tuple[str, str]]:
    language = dict(settings.LANGUAGES).get(person.get("language") or "", "")
    return [
        (_("Name"), person.get("name") or ""),
        (_("Type"), _label(Petitioner.Type, person.get("type"))),
        (_("Organisation"), person.get("organisation") or ""),
        (_("Phone"), person.get("phone") or ""),
        (_("E-mail"), person.get("email") or ""),
        (_("ID number"), person.get("id_number") or ""),
        (_("Address"), person.get("address") or ""),
        (_("Language"), str(language)),
    ]


def _complaint_story(complaint: Mapping[str, Any], styles: _Styles) -> list[Flowable]:
    title = f"{complaint['tracking_code']} — {complaint.get('title') or ''}"
    story: list[Flowable] = [
        Paragraph(escape(title), styles.heading),
        _facts(
            [
                (_("Received"), _date(complaint.get("received_at"), with_time=True)),
                (_("Kind"), _label(Complaint.Kind, complaint.get("kind"))),
                (_("Channel"), _label(Complaint.Channel, complaint.get("channel"))),
                (_("Category"), complaint.get("category") or ""),
                (_("Department"), complaint.get("department") or ""),
                (_("Status"), _label(Complaint.Status, complaint.get("status"))),
                (_("Closed"), _date(complaint.get("closed_at"), with_time=True)),
                (_("Where"), complaint.get("location") or ""),
            ],
            styles,
        ),
        Paragraph(escape(_("Your matter")), styles.subheading),
        *_paragraphs(complaint.get("content") or "", styles.body),
    ]
    for reply in complaint.get("replies") or []:
        heading = _("Our reply of %(date)s") % {"date": _date(reply.get("sent_at"))}
        story += [Paragraph(escape(heading), styles.subheading)]
        story += _paragraphs(reply.get("body") or "", styles.body)
        if reply.get("attachments"):
            files = ", ".join(reply["attachments"])
            story.append(
                Paragraph(escape(_("Attached: %(files)s") % {"files": files}), styles.small)
            )
    for survey in complaint.get("surveys") or []:
        story += [
            Paragraph(
                escape(_("Satisfaction survey, round %(round)s") % {"round": survey.get("round")}),
                styles.subheading,
            ),
            _facts(
                [
                    (_("Answered"), _date(survey.get("answered_at"), with_time=True)),
                    (_("Resolved"), _yes_no(survey.get("resolved"))),
                    (_("Satisfaction"), str(survey.get("rating") or "")),
                    (_("Outcome"), _label(Survey.Outcome, survey.get("outcome"))),
                    (_("Comment"), survey.get("comment") or ""),
                ],
                styles,
            ),
        ]
    if complaint.get("attachments"):
        story += [
            Paragraph(escape(_("Attachments")), styles.subheading),
            Paragraph(escape(", ".join(complaint["attachments"])), styles.body),
        ]
    timeline = complaint.get("timeline") or []
    if timeline:
        story.append(Paragraph(escape(_("Progress")), styles.subheading))
    for entry in timeline:
        line = f"{_date(entry.get('at'), with_time=True)}  {entry.get('event') or ''}"
        story.append(Paragraph(escape(line), styles.body))
        if entry.get("text"):
            story += _paragraphs(entry["text"], styles.small)
    return story
