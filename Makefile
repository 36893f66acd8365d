# The two commands of the quick start: `make demo` and `make test`.
# Each sets up .venv (locked dependencies) and the system packages it needs.
.PHONY: setup demo test bench lint lock clean

setup:
	@bash ci/setup.sh

demo: setup
	.venv/bin/jtrader demo

test: setup
	bash ci/test.sh

bench: setup
	.venv/bin/python -m bench

lint: setup
	bash ci/lint.sh

# Re-resolve requirements.lock after editing the dependencies in pyproject.toml.
lock:
	.venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
