"""Numbers the packages agree on."""

MAX_INT32 = 2**31 - 1  # epochs and update counts are int32 counters on the device
MAX_FLOAT32 = 3.4028234663852886e38  # the largest float32: a run computes in float32
DEFAULT_INIT_TIMEOUT = 120.0  # seconds for every process of a multi-process run to join
MAX_SWEEP_RUNS = 2**20  # runs in one sweep grid: beyond this the grid alone fills gigabytes of host memory
MAX_INIT_TIMEOUT = 7 * 24 * 3600.0  # a week: longer is a typo, and JAX holds it in an int
