"""One Python process of test_foreign_writer.py: the reference writer running the shared workload.
    python_worker.py DOC DB ITERATIONS INDEX
Prints one line: "checkpoints N commits N" (the RESTART checkpoints it ran and its commits)."""
import sys

import reference_writer as rw
import workload

doc, db, iterations, index = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
writer = rw.Writer(db, rw.schema_statements(doc))
f = {key: writer.declare(family) for key, family in workload.families().items()}
writer.info(f["build"], {"version": "1.0"})
writer.set(f["workers"], {}, 1)
for i in range(iterations):
    exemplar = {"trace_id": "py%d-%d" % (index, i)} if i % 7 == 0 else None
    writer.inc(f["jobs"], {"queue": workload.queue(i)}, 1, exemplar)
    writer.add(f["level"], {}, 2)
    writer.add(f["inflight"], {}, 1)
    v = workload.VALUES[i % len(workload.VALUES)]
    writer.observe(f["seconds"], {}, v, {"trace_id": "py%d-%d" % (index, i)} if i % 5 == 0 else None)
    n = workload.NATIVE[i % len(workload.NATIVE)]
    writer.observe(f["native"], {}, n)
    writer.observe(f["spread"], {}, n)
    writer.observe(f["latency"], {}, 0.25)
    writer.set_state(f["state"], {}, workload.STATES[i % 2])
    writer.add(f["inflight"], {}, -1)
writer.close()
print("checkpoints %d commits %d" % (writer.checkpoints, writer.commits))
