# The two commands of the README. Everything else is `greencert --help`.
.PHONY: demo serve test test-stack lint install browser redis clean

VENV := .venv
UV := $(shell command -v uv 2>/dev/null)

install: $(VENV)/.installed

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
	cd dbt_project && ../$(VENV)/bin/sqlfluff lint models tests --disable-progress-bar

# The report test renders the nightly report in headless Chromium (Debian's package `chromium`);
# installed here when running as root, otherwise that one test is skipped outside CI.
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || apt-get install -y -qq chromium >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: lint browser
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The Celery executor's broker is Debian's `redis-server` (started by the project on loopback,
# greencert.serve.redis); installed here when running as root and missing. The Debian package's
# own service is not used (no systemd here; the Stack starts its own instance).
redis:
	@command -v redis-server >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] \
		|| DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null)

# The tests of the whole stack as it is run (tests/stack: the real scheduler and triggerer, Celery
# workers, docker compose); `make test` leaves them out
test-stack: install browser redis
	$(VENV)/bin/pytest -m stack tests/stack $(PYTEST_ARGS)

clean:
	-$(VENV)/bin/greencert warehouse stop
	rm -rf var expectations/gx dbt_project/target dbt_project/logs
