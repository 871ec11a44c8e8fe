# The server's image (also runs the partner demo): docker-compose.yml builds it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY pyproject.toml README.md /src/
COPY oauth_server /src/oauth_server
COPY partners_demo /src/partners_demo
RUN pip install "/src[postgres]" \
    && rm -rf /src \
    && useradd --system --uid 10001 --home-dir /data --no-create-home app \
    && mkdir -p /data \
    && chown app:app /data

# Settings come from the environment at run time (docker-compose.yml); no secret here.
# Only where each app keeps its files: a writable folder, a volume in the compose file.
ENV OAUTH_SERVER_INSTANCE=/data/instance \
    PARTNERS_DEMO_INSTANCE=/data/partners_demo
USER app
WORKDIR /data
EXPOSE 8000
CMD ["gunicorn", "--config", "python:oauth_server.gunicorn_conf", "oauth_server:create_app()"]
