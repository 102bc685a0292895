"""Layer 0, on JAX and NumPy alone: what every other package builds on.

    errors     error types and the boundary checks (`check_*`) that raise them
    transform  `Transform` (init, update), `EmptyState`, `identity`, `stateless`, `apply_updates`
    tree       pytree helpers: zeros, casts, norms, finiteness, differences
    precision  the dtype rules compute in (at least float32), |x|**2 for complex, refusals
    io         files written whole or not at all (`replace_file`), write errors that name the file
    limits     numbers the rest agrees on (int32 counter range, multi-host timeout)
    names      the names a run can be given (datasets, activations, optimizers, ...), without JAX
    cache      where compiled programs and generated datasets are kept between runs

Nothing is re-exported here, so importing one piece (the command line's errors, names
and limits) does not import the rest, nor JAX.
"""
