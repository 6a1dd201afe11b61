from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ops.health import health_report


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while database and broker are reachable, else 503.

    Stale worker or beat heartbeats show as ``"status": "degraded"``; with ``?strict=1``
    they give 503 too, for monitors that page someone when background work stops.
    """
    report = health_report()
    healthy = report.reachable and (report.fresh or request.GET.get("strict") != "1")
    return JsonResponse(report.as_dict(), status=200 if healthy else 503)
