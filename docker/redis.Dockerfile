# Redis, the Celery broker of docker-compose.yml: Debian bookworm's redis-server on the debootstrap
# base, as the redis user. The compose file sets its password (REDIS_PASSWORD from .env).
ARG BASE=greencert-debian:bookworm
FROM ${BASE}
RUN apt-get update -qq && apt-get install -y -qq redis-server >/dev/null && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--save", "", "--appendonly", "no"]
