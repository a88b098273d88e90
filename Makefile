# The two commands of the README. Everything else is `greencert --help`.
.PHONY: demo test lint install clean

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

lint: install
	$(VENV)/bin/ruff check .
	cd dbt_project && ../$(VENV)/bin/sqlfluff lint models tests --disable-progress-bar

test: lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

clean:
	-$(VENV)/bin/greencert warehouse stop
	rm -rf var expectations/gx dbt_project/target dbt_project/logs
