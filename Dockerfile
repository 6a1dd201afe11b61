# One image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    VAR_DIR=/var/lib/sutong MEDIA_ROOT=/var/lib/sutong/media STATIC_ROOT=/app/staticfiles
WORKDIR /app

# Dependencies first, so a change to the code alone reuses this layer. The s3 extra
# (django-storages, boto3) lets MEDIA_STORAGE=s3 put media in a bucket.
COPY pyproject.toml constraints.txt README.md ./
COPY config config
COPY accounts accounts
COPY api api
COPY complaints complaints
COPY intake intake
COPY notifications notifications
COPY ops ops
COPY reporting reporting
COPY routing routing
COPY sla sla
RUN pip install --no-cache-dir -c constraints.txt ".[s3]"

COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
# The media and beat folders exist in the image, owned by the app's user, so the named
# volumes mounted there start with that owner.
RUN useradd --system --home /app sutong \
    && mkdir -p "$VAR_DIR" "$MEDIA_ROOT" "$VAR_DIR/beat" \
    && chown -R sutong "$VAR_DIR"
USER sutong

EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
