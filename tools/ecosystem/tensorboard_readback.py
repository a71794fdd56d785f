"""Reads duet's TensorBoard event files back with Python tensorboard's EventMultiplexer (the reader
behind `tensorboard --logdir ... --load_fast=false`) and writes every scalar as JSON:
{"run|tag": [[step, value], ...]}.

    node_modules/.bin/jiti tools/ecosystem/tensorboard_sample.ts /tmp/tb
    /work/pyenv/bin/python tools/ecosystem/tensorboard_readback.py /tmp/tb/run/tensorboard \
        > packages/pipeline/test/fixtures/tensorboard/readback.json

packages/pipeline/test/Tensorboard.test.ts checks the writer against this committed output.
"""
import json
import sys

import tensorboard
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.util import tensor_util

# The scalars plugin's path: simple_value events become scalar tensors (data_compat), as in TensorBoard.
mux = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"scalars": 0})
mux.AddRunsFromDirectory(sys.argv[1])
mux.Reload()
lines = []
points = 0
for run in sorted(mux.Runs()):
    for tag in sorted(mux.GetAccumulator(run).Tags()["tensors"]):
        values = [[e.step, float(tensor_util.make_ndarray(e.tensor_proto))] for e in mux.Tensors(run, tag)]
        points += len(values)
        lines.append(f" {json.dumps(run + '|' + tag)}: {json.dumps(values)}")
sys.stdout.write('{"tensorboard": %s, "scalars": {\n%s\n}}\n' % (json.dumps(tensorboard.__version__), ",\n".join(lines)))
print(f"{len(mux.Runs())} runs, {len(lines)} tags, {points} points", file=sys.stderr)
