"""`python notebooks/generate.py`: write notebooks/*.ipynb (no outputs) from one place,
so every training notebook's parameters cell lists every TrainConfig field with its
default and comment. Rerun it after adding a TrainConfig field."""
import dataclasses
import re
import sys
from pathlib import Path

import nbformat as nbf

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
sys.path.insert(0, str(ROOT / "src"))
from npcnn.config import TrainConfig  # noqa: E402

SRC = (ROOT / "src/npcnn/config.py").read_text()
COMMENTS = dict(re.findall(r"^    (\w+): [^=]+= [^#\n]+#\s*(.+)$", SRC, re.M))
TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool"}


def field_lines(overrides=None):
    overrides = overrides or {}
    lines = ["# TrainConfig fields (see npcnn.config)"]
    for f in dataclasses.fields(TrainConfig):
        v = overrides.get(f.name, f.default)
        t = TYPES.get(str(f.type), "list")
        if t == "list":
            v = list(v)
        # papermill's --help-notebook skips a line holding two "=": none in comments.
        comment = COMMENTS.get(f.name, f.name.replace("_", " ")).replace(" = ", ": ")
        lines.append(f"{f.name}: {t} = {v!r}  # {comment}")
    return lines


IMPORTS = ("from npcnn import claims, plots\n"
           "from npcnn import sweep as sweeps  # the parameter `sweep` names a field")


def md(s):
    return nbf.v4.new_markdown_cell(s.strip())


def code(s, tags=None):
    c = nbf.v4.new_code_cell(s.strip())
    if tags:
        c.metadata["tags"] = tags
    return c


def notebook(cells):
    nb = nbf.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "npcnn", "display_name": "npcnn (.venv)",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


RUN_OPTS = [
    'jobs: int = 0  # worker processes for the runs; 0: one per core',
    'runs_dir: str = ""  # run store root; "": $NPCNN_RUNS or <repo>/runs',
    'scheduler: str = ""  # Dask scheduler to train on, e.g. tcp://host:8786; "": $NPCNN_SCHEDULER'
    ' or local worker processes',
]
# Trains what the run store lacks (locally or on the Dask cluster), printing a line as
# each run finishes or fails.
RUN = ("sweeps.run(points, jobs=opts.jobs, runs_dir=opts.runs_dir, scheduler=opts.scheduler,\n"
       "           progress=sweeps.ProgressPrinter())")

# ---------------------------------------------------------------------------- sweep
sweep_params = "\n".join([
    *field_lines(),
    "",
    "# the study",
    'title: str = "One run of the seed\'s network"  # heading of the page',
    'note: str = ""  # a sentence under the heading: why these runs',
    'sweep: str = ""  # TrainConfig field to sweep; "": just the configuration above',
    "values: list = []  # values of the swept field, one run each",
    "extra: list = []  # more runs as overrides of the base, e.g. [{schedule: constant}]",
    "claim: int = 0  # the seed's claim (1-8) this study tests; 0: none",
    "headline: bool = False  # compare the first run and the best other with the seed's headline",
    "show_iter_loss: bool = False  # also plot the per-iteration training loss of each run",
    *RUN_OPTS,
])

sweep_nb = notebook([
    md("""
# A study of the seed's CNN on MNIST

Below: what this study varies and which of the seed's claims it tests, the runs, their
curves, and the verdict on the claim, computed from the measured numbers.
"""),
    code(IMPORTS),
    code(sweep_params, tags=["parameters"]),
    code("""
cfg, opts = sweeps.read_params(globals())
points = sweeps.plan(cfg, opts.sweep, opts.values, opts.extra)
sweeps.header(opts.title, cfg, points, claims.CLAIMS.get(opts.claim, ""), opts.note)
"""),
    md("""
## The runs

Each configuration is trained once into the run store (`runs/<config hash>/`) and read
back afterwards; the table is measured on the 10,000 MNIST test images. A run that
trains without NaN but ends below 0.2 test accuracy is marked *collapsed*, with the
fraction of its first ReLU layer's units that are zero for all of 1,000 test images.
"""),
    code(f"""
results = {RUN}
sweeps.summary_table(results)
"""),
    md("## Test accuracy per epoch"),
    code('plots.curves(results, "test_acc")'),
    md("## Test loss per epoch"),
    code('plots.curves(results, "test_loss")'),
    md("""
## Learning rate per epoch

With the plateau rule the learning rate halves when the newest validation loss is
within 0.001 of the mean of the last 10.
"""),
    code("plots.lr_curves(results)"),
    code("plots.iter_loss(results) if opts.show_iter_loss else None"),
    md("## The seed's claim beside our measurement"),
    code("claims.verdict(opts.claim, results, headline=opts.headline)"),
    md("""
## Rerun this page

The parameters cell holds every field of `npcnn.config.TrainConfig` (the seed's
defaults) and the study; papermill overrides them, e.g.

    papermill notebooks/sweep.ipynb out.ipynb -p lr 0.05
    papermill notebooks/sweep.ipynb out.ipynb -y "{sweep: momentum, values: [0, 0.5, 0.9]}"
    papermill notebooks/sweep.ipynb out.ipynb -f params/momentum.yaml

Finished runs are read back from the run store, never retrained.
"""),
])

# ---------------------------------------------------------------------- cnn_vs_mlp
mlp_extra = [
    {"label": "MLP 784-100-10", "model": "mlp", "hidden": [100], "init_std": 0.01},
    {"label": "MLP 784-100-50-10", "model": "mlp", "hidden": [100, 50], "init_std": 0.01},
]
cvm_params = "\n".join([
    *field_lines(),
    "",
    f"extra: list = {mlp_extra!r}  # the MLPs, as overrides of the CNN above",
    *RUN_OPTS,
])
cvm_nb = notebook([
    md("""
# CNN vs MLP

The seed compared its CNN with multilayer perceptrons: one hidden layer + ReLU, and
784-100-50-10 (84,060 parameters against the CNN's 2,158). Here all three train with
the same optimizer, schedule and epochs; the MLPs start from a small init (std 0.01),
which the seed found they prefer.
"""),
    code(IMPORTS),
    code(cvm_params, tags=["parameters"]),
    code("""
cfg, opts = sweeps.read_params(globals())
points = sweeps.plan(cfg, extra=opts.extra)
sweeps.header("CNN vs MLP", cfg, points, claims.CLAIMS[7])
"""),
    md("## Side by side"),
    code(f"""
results = {RUN}
sweeps.compare_table(results)
"""),
    md("## Test accuracy per epoch"),
    code('plots.curves(results, "test_acc")'),
    md("## Test loss per epoch"),
    code('plots.curves(results, "test_loss")'),
    md("## The seed's claim beside our measurement"),
    code("claims.verdict(7, results)"),
])

# -------------------------------------------------------------------- feature maps
fm_params = "\n".join([
    *field_lines({"channels": 16, "epochs": 100}),
    "",
    "digits: int = 6  # test digits shown (one per class, 0, 1, 2, ...)",
    "n_wrong: int = 12  # misclassified test digits shown",
    *RUN_OPTS,
])
fm_nb = notebook([
    md("""
# What the network learned

The seed visualized the first conv layer's output after ReLU of its best network after
100 epochs and saw digit shapes and local edges. Here: the configuration in the
parameters (trained, or read back from the run store), for a few test digits the
first layer's ReLU maps for every channel, the learned filters, the second layer's
maps, then the confusion matrix and misclassified digits of the 10,000 test images.
"""),
    code("from npcnn import claims, plots, runs\nfrom npcnn import sweep as sweeps"),
    code(fm_params, tags=["parameters"]),
    code("""
cfg, opts = sweeps.read_params(globals())
points = sweeps.plan(cfg)
sweeps.header("What the network learned", cfg, points, claims.CLAIMS[8])
"""),
    md("## The run"),
    code(f"""
results = {RUN}
model = runs.load_model(cfg, opts.runs_dir)
x, y = sweeps.test_set(cfg)
sweeps.summary_table(results)
"""),
    md("""
## First conv layer after ReLU

One row per digit: the digit, then the map of each channel (bright = large).
"""),
    code("digits = x[plots.one_per_digit(y, opts.digits)]\nplots.feature_maps(model, digits)"),
    md("## The first layer's filters"),
    code("plots.filters(model)"),
    md("## Second conv layer after ReLU (14 x 14)"),
    code("plots.feature_maps(model, digits, layer=1)"),
    md("## Errors on the test set"),
    code("""
pred = plots.predictions(model, x)
plots.confusion(y, pred)
"""),
    code("plots.misclassified(x, y, pred, opts.n_wrong)"),
    md("""
## The seed's claim beside our measurement

"Digit shapes" and "local edges" become numbers: for each channel, the correlation of
its first-layer ReLU map with the digit image, and with the digit's edge strength
(the magnitude of the image gradient), averaged over the digits shown above.
"""),
    code("claims.verdict(8, stats=plots.map_stats(model, digits))"),
])

# --------------------------------------------------------------------------- speed
speed_params = "\n".join([
    "channel_counts: list = [4, 8, 16, 32]  # C of both conv layers, one full epoch each",
    "batch_sizes: list = [25, 50, 100, 200, 500]  # batch sizes, one full epoch each, C 4",
    "layer_channels: int = 4  # C of the network whose layers are timed one by one",
    "naive_batch: int = 4  # images the loop-based references are timed on (then scaled)",
    "use_torch: bool = True  # time PyTorch beside npcnn when it is installed",
    "remeasure: bool = False  # measure again even if this machine's numbers are stored",
    'runs_dir: str = ""  # where the measurements are stored ("": the run store)',
])
speed_nb = notebook([
    md("""
# How training was made fast

The seed's Part 2: convolution as one matrix product (im2col), pooling without loops,
and what it buys. The seed needed about 54 s per epoch of its default network on a
4-core laptop; every number below is measured on this machine, one BLAS thread,
one measurement at a time.
"""),
    code("from npcnn import plots, speed\nfrom npcnn import sweep as sweeps"),
    code(speed_params, tags=["parameters"]),
    code("""
_, opts = sweeps.read_params(globals())
speed.environment()
"""),
    md("""
## im2col: a convolution as one matrix product

Every k x k window of the (padded) input becomes one column; the filters, reshaped to
rows, multiply all columns at once. npcnn builds the columns from a strided view
(`sliding_window_view`), never a Python loop over pixels.
"""),
    code("plots.im2col_figure()"),
    md("## Per layer: loops vs vectorized vs PyTorch"),
    code("""
m = speed.measure(opts.channel_counts, opts.batch_sizes, opts.layer_channels,
                  opts.naive_batch, opts.use_torch, opts.runs_dir, opts.remeasure)
speed.layer_rows(m)
"""),
    code("speed.layer_plot(m)"),
    md("## Seconds per epoch vs channels"),
    code("speed.epoch_rows(m)"),
    code("speed.epoch_plot(m)"),
    md("## Seconds per epoch vs batch size"),
    code("speed.batch_plot(m)"),
    md("## The seed's time beside ours"),
    code("speed.seed_rows(m)"),
])

out = ROOT / "notebooks"
out.mkdir(exist_ok=True)
for name, nb in [("sweep", sweep_nb), ("cnn_vs_mlp", cvm_nb), ("feature_maps", fm_nb),
                 ("speed", speed_nb)]:
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name}-{i}"  # stable ids: regenerating changes nothing that did not
    nbf.validate(nb)
    nbf.write(nb, out / f"{name}.ipynb")
    print("wrote", out / f"{name}.ipynb")
