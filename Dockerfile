FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CASETRAIL_DATA_DIR=/var/lib/casetrail

WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY projections ./projections
COPY service ./service
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /var/lib/casetrail --create-home casetrail

USER casetrail
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"

CMD ["casetrail", "serve", "--host", "0.0.0.0", "--port", "8000"]
