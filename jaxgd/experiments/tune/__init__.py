"""`jaxgd tune`: a fair optimizer comparison. Each optimizer gets the same budget of
quasi-random trials in its search space, is selected on validation data, re-run over
seeds and tested once; the report gives bootstrap intervals, probabilities of
improvement and, over several datasets, performance profiles.

    trials   search spaces from the command line; Sobol points inside them
    study    splits, the tuning and re-run sweeps, selection, time to target
    report   tables, summary.json, trials.csv, seeds.csv, figures
"""
