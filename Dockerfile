# The issuer image: `issuer migrate && issuer serve` against ISSUER_DATABASE_URL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ISSUER_KEYS_DIR=/var/lib/issuer/keys
WORKDIR /app
COPY pyproject.toml README.md ./
COPY issuer ./issuer
COPY migrations ./migrations
RUN pip install --no-cache-dir -e '.[server]' \
    && useradd --system --home-dir /var/lib/issuer --create-home issuer \
    && mkdir -p /var/lib/issuer/keys && chown -R issuer /var/lib/issuer
USER issuer
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["sh", "-c", "issuer migrate && exec issuer serve --host 0.0.0.0 --port 8000"]
