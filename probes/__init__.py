"""probes: what measures work and writes it to the ledger, through the ledger's Python API.

One package per concern, each with its own ``cli.py`` where it has commands:

- :mod:`probes.gpu`: the meters (NVML, null, and the fakes in :mod:`probes.gpu.testing`), GPU
  model names, and the usages a metered window yields.
- :mod:`probes.run`: the run wrapper (``receipts run``, ``runs``, ``ledger merge``) and the
  metered-run session every probe writes through.
- :mod:`probes.tokens`: token counts of dataset fields (``receipts tokens count``).
- :mod:`probes.api`: LLM-API usage, live or from a log (``receipts import api-log``).
- :mod:`probes.labelling`: labelling time, by timer or from Label Studio exports.
- :mod:`probes.funnel`: curation funnels, each step metered (``receipts funnel``).
- :mod:`probes.training`: the Hugging Face ``TrainerCallback``.
- :mod:`probes.evals`: budget-forced evals and the eval importers (``receipts eval``).
- :mod:`probes.slurm`: Slurm accounting (``receipts import sacct``, ``reconcile``).

Shared by several: :mod:`probes.errors` (the base exception), :mod:`probes.subjects` (the subject
an import writes to and the cost of its runs), :mod:`probes.ids`, :mod:`probes.importer_cli` and
:mod:`probes.lazy`. :mod:`probes.cli` mounts every package's commands. The package itself exports
nothing.
"""
