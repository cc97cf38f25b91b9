# Two entry points that set everything up on a fresh machine:
#   make demo   build the built-in data set, train the attention network on it (with GMSD's map, on
#               content-aware labels), evaluate it
#   make test   run the test suite
#   make model  train the built-in model (three seeds side by side, about an hour on a 2-core CPU) and
#               ship it into models/ if the mean over the seeds beats -GMSD and HaarPSI on every built-in
#               set and the model shipped now on people's ratings (live_dev), when that folder is there
# Both create (or reuse) the virtual environment in .venv from requirements*.txt.

PYTHON_BASE ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
DEMO_DIR ?= runs/demo
DATA_DIR ?= data/synthetic
export PYTHONUNBUFFERED := 1

.PHONY: demo test venv clean-demo model

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON_BASE) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-test.txt
	touch $@

test: venv
	$(PYTHON) -m pytest tests -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

demo: venv
	$(PYTHON) demo.py --data-dir $(DATA_DIR) --out $(DEMO_DIR) --config configs/attention_synthetic_gms.txt --content-labels 1

model: venv
	$(PYTHON) benchmarks/demo_seeds.py --config configs/attention_built_in_gms.txt --data-dir data/synthetic_built_in_proc10 \
		--train-crops-per-image 64 --procedural 10 --content-labels 1 --seeds 3 --jobs 3 --out runs/built_in_gms_proc_seeds
	$(PYTHON) ship_model.py --study runs/built_in_gms_proc_seeds --out models

clean-demo:
	rm -rf $(DEMO_DIR)
