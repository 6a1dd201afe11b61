# One image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/var/lib/sutong STATIC_ROOT=/app/staticfiles
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY config config
COPY accounts accounts
COPY complaints complaints
COPY intake intake
COPY routing routing
COPY reporting reporting
COPY ops ops
RUN pip install --no-cache-dir -c constraints.txt .

COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && useradd --system --home /app sutong && mkdir -p "$VAR_DIR" && chown sutong "$VAR_DIR"
USER sutong

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "--no-control-socket"]
