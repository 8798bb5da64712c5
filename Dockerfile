# syntax=docker/dockerfile:1
# One image for the three services of the codes service: the API (the default command), the email
# worker (`flask --app wsgi worker`) and the Discord bot (`python -m bot`). See docs/deploy.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=wsgi

WORKDIR /app

# Dependencies in their own layer: rebuilt only when requirements.txt changes. Every dependency
# ships wheels (psycopg's binary included), so the image needs no compiler.
COPY requirements.txt ./
RUN pip install -r requirements.txt

RUN groupadd --system --gid 10001 codes \
    && useradd --system --uid 10001 --gid codes --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin codes

# The code belongs to root and is read-only to the service; only instance/ is writable (.eml
# files when SMTP_HOST is unset; a SQLite database if DATABASE_URL is left at its default).
COPY . .
RUN mkdir -p instance && chown codes:codes instance

USER codes
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "docker/healthcheck.py"]

CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
