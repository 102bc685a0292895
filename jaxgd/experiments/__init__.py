"""Layer 3: runs as a researcher sets them up: configured, run, written, compared, drawn.

    config     `TrainConfig`, its validation and the resume rules
    fields     how a field is declared once (flag, help, default, choices, check), flag parsers
    build      config -> dataset, network, loss, update rule, metrics
    run        `train`: a configured run, each impl (hand, optax), with checkpoints; `write_run`
    runfolder  a train run's folder: checkpoints while it trains, results at the end
    outdir     output folders jaxgd owns: claimed, staged, published after success
    lock       one run per output folder
    records    metrics.csv and params.npz on disk
    sweep/     many runs in one program (vmap over seeds and hyperparameters)
    compare    several optimizers over seeds
    plots      figures of a run folder (matplotlib)

Nothing is re-exported here: the command line imports `config` without JAX.
"""
