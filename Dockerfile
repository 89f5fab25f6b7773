# Voltroam hub: migrations run on start, then the hub serves on port 8080.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:////data/voltroam.db \
    SECRET_KEY_FILE=/data/voltroam.key

RUN useradd --create-home --uid 10001 voltroam \
    && mkdir /data && chown voltroam /data

WORKDIR /srv/voltroam
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
COPY openapi ./openapi
RUN pip install -e .

USER voltroam
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"

# `voltroam serve` upgrades the schema to the newest migration before it listens.
CMD ["voltroam", "serve"]
