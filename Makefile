# The two commands of the README. Everything else is `greencert --help`.
.PHONY: demo serve test test-stack test-compose lint evaluate install browser fonts redis clean stack-deps dockerd dockerd-stop wheelhouse stack-images

VENV := .venv
UV := $(shell command -v uv 2>/dev/null)

install: $(VENV)/.installed fonts

# Install exactly what uv.lock pins (uv itself comes from PyPI if the machine lacks it).
$(VENV)/.installed: uv.lock pyproject.toml
ifeq ($(UV),)
	python3 -m pip install --quiet --disable-pip-version-check uv==0.13.9
endif
	uv sync --frozen --quiet
	@touch $@

demo: install
	$(VENV)/bin/greencert demo $(ARGS)

# Airflow as deployed on loopback (api-server, scheduler, dag-processor, triggerer), until Ctrl-C
serve: install
	$(VENV)/bin/greencert serve $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd dbt_project && ../$(VENV)/bin/sqlfluff lint models tests --disable-progress-bar

# dbt-project-evaluator (vendored, offline: vendor/README.md) on a copy of dbt_project/
evaluate: install
	$(VENV)/bin/python vendor/evaluate_dbt_project.py

# The report test renders the nightly report in headless Chromium (Debian's package `chromium`);
# installed here when running as root, otherwise that one test is skipped outside CI.
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || apt-get install -y -qq chromium >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# The report's charts are drawn with a CJK font (Debian's fonts-noto-cjk, report/charts.py),
# installed here when running as root; otherwise the command to run is printed.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
fonts:
	@[ -e $(CJK_FONT) ] || fc-list :lang=zh family 2>/dev/null | grep -q . || { [ "$$(id -u)" = 0 ] \
		&& { apt-get install -y -qq fonts-noto-cjk >/dev/null 2>&1 \
			|| (apt-get update -qq && apt-get install -y -qq fonts-noto-cjk >/dev/null); } \
		|| echo "the report's charts need a CJK font: sudo apt-get install fonts-noto-cjk"; }

test: lint browser fonts
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# --- docker-compose.yml (README "Run it on a server"): images built with no registry, no index ---
COMPOSE := $(VENV)/bin/docker-compose
WHEELHOUSE := var/wheelhouse
# the classic builder (Debian's engine has no buildx); the output in var/docker/build.log, its tail on failure
docker_build = @echo "docker build $(1)"; DOCKER_BUILDKIT=0 docker build $(1) . >var/docker/build.log 2>&1 \
	|| { tail -40 var/docker/build.log; exit 1; }
STACK_DEBS := docker.io debootstrap

# Debian's Docker engine and debootstrap, installed when running as root
stack-deps:
	@if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then \
		[ "$$(id -u)" = 0 ] || { echo "needs Debian's $(STACK_DEBS) (apt-get install, as root)"; exit 1; }; \
		apt-get install -y -qq $(STACK_DEBS) >/dev/null 2>&1 \
			|| (apt-get update -qq && apt-get install -y -qq $(STACK_DEBS) >/dev/null); fi

# a Docker engine: started if none answers (docker/dockerd.sh), stopped by dockerd-stop
dockerd: stack-deps
	@docker/dockerd.sh start

dockerd-stop:
	@docker/dockerd.sh stop

# the Python packages of the images, from uv.lock, as wheels (the air-gapped install's one download)
wheelhouse: $(WHEELHOUSE)/requirements.txt
$(WHEELHOUSE)/requirements.txt: uv.lock pyproject.toml docker/wheelhouse.sh | install
	docker/wheelhouse.sh $(WHEELHOUSE)

# the base image from debootstrap (once), then every image of docker-compose.yml (Docker's cache;
# the virtualenv stage is tagged, greencert-venv:local, so its cache outlives a prune)
stack-images: dockerd wheelhouse
	@mkdir -p var/docker
	@docker/base-image.sh greencert-debian:bookworm
	$(call docker_build,-f docker/postgres.Dockerfile --build-arg PG_MAJOR=16 -t greencert-postgres:16)
	$(call docker_build,-f docker/postgres.Dockerfile --build-arg PG_MAJOR=18 -t greencert-postgres:18)
	$(call docker_build,-f docker/redis.Dockerfile -t greencert-redis:local)
	$(call docker_build,-f docker/Dockerfile --target venv -t greencert-venv:local)
	$(call docker_build,-f docker/Dockerfile -t greencert:local)

# The Celery executor's broker is Debian's `redis-server` (started by the project on loopback,
# greencert.serve.redis); installed here when running as root and missing. The Debian package's
# own service is not used (no systemd here; the Stack starts its own instance).
redis:
	@command -v redis-server >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] \
		|| DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null)

# The tests of the whole stack as it is run (tests/stack: the real scheduler and triggerer, Celery
# workers); `make test` leaves them out. The docker compose test is its own target (below).
test-stack: install browser redis
	$(VENV)/bin/pytest -m "stack and not compose" tests/stack $(PYTEST_ARGS)

# docker-compose.yml started for real, its images built first; a Docker engine this target started
# is stopped again, whatever the outcome. Not yet part of CI (see README "Run it on a server").
test-compose: install dockerd
	@started=$$([ -f var/docker/dockerd.pid ] && echo 1 || echo 0); \
	$(MAKE) --no-print-directory stack-images && \
		GREENCERT_COMPOSE=$(abspath $(COMPOSE)) $(VENV)/bin/pytest -m compose tests/stack/test_compose.py $(PYTEST_ARGS); rc=$$?; \
	[ $$started = 0 ] || docker/dockerd.sh stop; exit $$rc

clean:
	-$(VENV)/bin/greencert warehouse stop
	rm -rf var expectations/gx dbt_project/target dbt_project/logs
