# The distributor, the seeder and client-fetch in one image (python:3.11-slim, no curl: health
# checks use python). The server extra brings the swarm extra (libtorrent's manylinux wheel).
FROM python:3.11-slim

WORKDIR /src
COPY . /src
RUN pip install --no-cache-dir ".[server]" \
    && useradd --create-home --uid 10001 app \
    && mkdir -p /data /keys /cache \
    && chown app /data /keys /cache

USER app
ENV DISTRIBUTOR_DATA_DIR=/data \
    DISTRIBUTOR_HOST=0.0.0.0 \
    DISTRIBUTOR_PORT=8080
# 8080: the distributor (API, tracker, web seed); 6881: BitTorrent (seeder, client-fetch).
EXPOSE 8080 6881
CMD ["distributor", "serve"]
